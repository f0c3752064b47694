"""Datasette over the corpus, configured for it: metadata, search, facets, a SQL time limit.

Only the corpus file is served; the private alert database is never handed to Datasette
(RELIABILITY I8, S3). The corpus is opened read-only by Datasette's own connections, while a
run may write to it at the same time (WAL).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from datasette.app import Datasette

from monitor.config import Config


def metadata(db_name: str) -> dict[str, Any]:
    data = yaml.safe_load(resources.files("monitor").joinpath("metadata.yaml").read_text("utf-8"))
    data["databases"] = {db_name: data["databases"]["monitor"]}
    return data


def datasette(config: Config, db_path: Path | None = None) -> Datasette:
    path = Path(db_path or config.db_path)
    settings = {
        "sql_time_limit_ms": config["serve"]["sql_time_limit_ms"],
        "suggest_facets": False,  # suggestions cost ~0.5 s a table page on a large corpus
        "default_page_size": 20,
        "truncate_cells_html": 300,
    }
    return Datasette(files=[str(path)], metadata=metadata(path.stem), settings=settings,
                     cors=False, version_note="mkb-monitor")


def serve(config: Config, *, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(datasette(config).app(), host=host, port=port, log_level="warning")
