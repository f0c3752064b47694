"""Datasette over the corpus, configured for it: metadata, stored queries, charts, feeds, limits.

Only the corpus file is served; the private alert database is never handed to Datasette
(RELIABILITY I8, S3). Datasette reads the corpus through ``mode=ro`` connections, and its one
write connection is read-only too (:class:`ReadOnlyDatabase`), while a run writes the same file
(WAL lets readers and one writer work at once). An immutable or unlocked launch is refused (S7).
"""

from __future__ import annotations

import sqlite3
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from datasette.app import Datasette
from datasette.database import Database, QueryInterrupted
from datasette.plugins import pm

from monitor import datasette_plugin
from monitor.config import Config
from monitor.datasette_plugin import CORPUS, check_safe

PACKAGE = resources.files("monitor")
STATIC_ROUTE = "mkb-static"  # templates link /mkb-static/...; keep the two in step
COUNT_UP_TO = 100_000  # tables with more rows show as "Many rows" on the database page


class ReadOnlyDatabase(Database):
    """A served file Datasette can only read: its write connection is opened ``mode=ro`` as well,
    so no plugin, stored query or future write API can change the corpus."""

    def connect(self, write: bool = False) -> Any:
        return super().connect(write=False)

    async def table_counts(self, limit: int = 10) -> dict[str, int | None]:
        """Row counts for the database page, without counting the big tables: SQLite counts a
        table in one step that Datasette's time limit cannot interrupt (2 s for the database page
        of a million documents). The largest rowid, one b-tree descent, tells a big table."""
        counts: dict[str, int | None] = {}
        for table in await self.table_names():
            try:
                largest = (await self.execute(f"select max(rowid) from [{table}]", log_sql_errors=False)).rows[0][0]
                counts[table] = None if (largest or 0) > COUNT_UP_TO else (
                    await self.execute(f"select count(*) from [{table}]", custom_time_limit=limit)).rows[0][0]
            except (QueryInterrupted, sqlite3.DatabaseError):  # interrupted, or a table WITHOUT ROWID
                counts[table] = None
        return counts


def metadata() -> dict[str, Any]:
    return yaml.safe_load(PACKAGE.joinpath("metadata.yaml").read_text("utf-8"))


def settings(config: Config) -> dict[str, Any]:
    return {
        "sql_time_limit_ms": config["serve"]["sql_time_limit_ms"],
        "suggest_facets": False,  # suggestions cost ~0.5 s a table page on a large corpus
        "default_page_size": 20,
        "truncate_cells_html": 300,
        "allow_download": False,  # the whole corpus is not a page; CSV and JSON exports still work
    }


def quiet_error_pages() -> None:
    """Datasette 0.65 prints the exception of every error page with rich when rich is installed
    (our CLI needs it); rich 13.8+ raises when that happens outside an ``except`` block, as for
    the 404 of ``//evil.example``, which turned that 404 into a 500 and logged a traceback with
    locals for every miss. Without rich, Datasette renders the error page as usual."""
    # Imported here, after datasette.app: imported first, this module registers itself with
    # Datasette's plugin manager half-initialised and Datasette is left without an error page.
    from datasette import handle_exception as datasette_errors

    datasette_errors.rich = None


def register_plugin() -> None:
    if not pm.is_registered(datasette_plugin):
        pm.register(datasette_plugin, name="mkb-monitor")


def datasette(config: Config, db_path: Path | None = None) -> Datasette:
    register_plugin()
    quiet_error_pages()
    path = Path(db_path or config.db_path)
    meta = metadata()
    meta.setdefault("plugins", {})["mkb-monitor"] = {"search": config["search"]}  # the one query language
    ds = Datasette(metadata=meta, settings=settings(config), cors=False, version_note="mkb-monitor",
                   template_dir=str(PACKAGE.joinpath("templates")),
                   static_mounts=[(STATIC_ROUTE, str(PACKAGE.joinpath("static")))])
    ds.add_database(ReadOnlyDatabase(ds, path=str(path), is_mutable=True), name=CORPUS)
    check_safe(ds)
    return ds


def serve(config: Config, *, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(datasette(config).app(), host=host, port=port, log_level="warning")
