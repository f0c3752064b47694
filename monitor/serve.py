"""Datasette over the corpus, configured for it: metadata, stored queries, charts, feeds, limits.

Only the corpus file is served; the private alert database is never handed to Datasette
(RELIABILITY I8, S3). Datasette reads the corpus through ``mode=ro`` connections, and its one
write connection is read-only too (:class:`ReadOnlyDatabase`), while a run writes the same file
(WAL lets readers and one writer work at once). An immutable or unlocked launch is refused (S7).

Anyone who can reach the server can run read SQL, so every query is bounded in time (Datasette's
``sql_time_limit_ms``) and in size: no value larger than ``[serve] max_value_bytes`` (SQLite's
length limit refuses it before it is made, which the time limit cannot do for one function call
such as ``randomblob(1000000000)``) and no result larger than ``[serve] max_result_bytes``.
Listening beyond loopback needs ``public`` (``serve --public``).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
import sqlite3
from collections.abc import Callable
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
from monitor.errors import ConfigError
from monitor.store import web

PACKAGE = resources.files("monitor")
STATIC_ROUTE = "mkb-static"  # templates link /mkb-static/...; keep the two in step
COUNT_UP_TO = 100_000  # tables with more rows show as "Many rows" on the database page


class ResultTooLarge(sqlite3.OperationalError):
    """A query's result outgrew the server's limit (an OperationalError: Datasette answers 400)."""


class ReadOnlyDatabase(Database):
    """A served file Datasette can only read: its write connection is opened ``mode=ro`` as well,
    so no plugin, stored query or future write API can change the corpus. Every value a query
    makes or reads is at most ``max_value_bytes`` long and every result at most
    ``max_result_bytes``; what SQLite refuses in a statement or its parameters is an
    OperationalError, which Datasette answers with a 400 (other sqlite3 errors were a 500)."""

    def __init__(self, ds: Datasette, *, path: str, max_value_bytes: int, max_result_bytes: int) -> None:
        super().__init__(ds, path=path, is_mutable=True)
        self.max_value_bytes, self.max_result_bytes = max_value_bytes, max_result_bytes

    def connect(self, write: bool = False) -> Any:
        conn = super().connect(write=False)
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, self.max_value_bytes)
        conn.set_authorizer(_authorize)
        return conn

    async def execute_fn(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        def bounded(conn: sqlite3.Connection) -> Any:
            conn.row_factory = self._rows_within(self.max_result_bytes)  # a new budget for each query
            try:
                return fn(conn)
            except sqlite3.DataError as exc:  # SQLITE_TOOBIG
                raise sqlite3.OperationalError(
                    f"{exc}: this server makes and serves values of at most {self.max_value_bytes:,} bytes "
                    "([serve] max_value_bytes)") from exc
            except (sqlite3.ProgrammingError, OverflowError) as exc:  # a NUL in the SQL, a missing or huge parameter
                raise sqlite3.OperationalError(str(exc)) from exc

        return await super().execute_fn(bounded)

    @staticmethod
    def _rows_within(limit: int) -> Callable[[sqlite3.Cursor, tuple[Any, ...]], sqlite3.Row]:
        """Datasette's row factory (``sqlite3.Row``), counting the text and bytes it hands over;
        called for each row as it is fetched, so a result stops within one row of the limit."""
        left = limit

        def row(cursor: sqlite3.Cursor, values: tuple[Any, ...]) -> sqlite3.Row:
            nonlocal left
            left -= sum(len(v) if isinstance(v, str | bytes) else 8 for v in values)
            if left < 0:
                raise ResultTooLarge(f"the result is larger than this server returns ({limit:,} bytes, "
                                     "[serve] max_result_bytes): ask for fewer rows (_size) or columns (_col)")
            return sqlite3.Row(cursor, values)

        return row

    async def table_counts(self, limit: int = 10) -> dict[str, int | None]:
        """Row counts for the database page, without counting the big tables: SQLite counts a
        table in one step that Datasette's time limit cannot interrupt (2 s for the database page
        of a million documents). The largest rowid, one b-tree descent, tells a big table."""
        counts: dict[str, int | None] = {}
        for table in await self.table_names():
            try:
                largest = (await self.execute(web.largest_rowid_sql(table), log_sql_errors=False)).rows[0][0]
                counts[table] = None if (largest or 0) > COUNT_UP_TO else (
                    await self.execute(web.count_sql(table), custom_time_limit=limit)).rows[0][0]
            except (QueryInterrupted, sqlite3.DatabaseError):  # interrupted, or a table WITHOUT ROWID
                counts[table] = None
        return counts


def _authorize(action: int, arg1: str | None, arg2: str | None, database: str | None, trigger: str | None) -> int:
    """Every statement as SQLite prepares it: ``pragma_database_list``'s ``file`` column (the
    corpus's path on the server) reads as NULL; everything else is left to ``mode=ro``."""
    if action == sqlite3.SQLITE_READ and arg1 == "pragma_database_list" and arg2 == "file":
        return sqlite3.SQLITE_IGNORE
    return sqlite3.SQLITE_OK


class CorpusDatasette(Datasette):
    """Datasette whose ``/-/databases.json`` leaves out where the files are on the server."""

    def _connected_databases(self) -> list[dict[str, Any]]:
        return [{key: value for key, value in database.items() if key != "path"}
                for database in super()._connected_databases()]


def metadata() -> dict[str, Any]:
    return yaml.safe_load(PACKAGE.joinpath("metadata.yaml").read_text("utf-8"))


def settings(config: Config) -> dict[str, Any]:
    return {
        "sql_time_limit_ms": config.serve.sql_time_limit_ms,
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
    meta.setdefault("plugins", {})["mkb-monitor"] = {"search": dataclasses.asdict(config.search)}  # the one query language
    ds = CorpusDatasette(metadata=meta, settings=settings(config), cors=False, version_note="mkb-monitor",
                         template_dir=str(PACKAGE.joinpath("templates")),
                         static_mounts=[(STATIC_ROUTE, str(PACKAGE.joinpath("static")))])
    ds.add_database(ReadOnlyDatabase(ds, path=str(path), max_value_bytes=config.serve.max_value_bytes,
                                     max_result_bytes=config.serve.max_result_bytes), name=CORPUS)
    check_safe(ds)
    return ds


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` names is a loopback address (127.0.0.0/8, ::1)."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)}
    except (socket.gaierror, UnicodeError):
        return False
    return all(ipaddress.ip_address(address.split("%")[0]).is_loopback for address in addresses)


def check_host(host: str, *, public: bool) -> bool:
    """Whether ``host`` reaches beyond loopback; refused unless ``public``: the corpus, its raw
    responses and read SQL would be open to whoever can reach the address."""
    exposed = not is_loopback(host)
    if exposed and not public:
        raise ConfigError(f"{host} is not a loopback address: everyone who can reach it could read the whole "
                          "corpus and run read SQL on it; say --public to serve it there anyway")
    return exposed


def port_taken(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (in use, not allowed), or None. Asked before
    Datasette starts, so a busy port is a clear message instead of uvicorn's exit status 3. A
    name or address family this machine cannot resolve is left for the server to report."""
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except OSError:
        return None
    try:
        with socket.create_server(address[:2], family=family):
            return None
    except OSError as exc:
        return exc.strerror or str(exc)


def serve(config: Config, *, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(datasette(config).app(), host=host, port=port, log_level="warning")
