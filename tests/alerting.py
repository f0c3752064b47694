"""Shared set-up of the alert tests: a config on a temporary directory, an injectable clock, and
the corpus filled through the real pipeline from JSONL (as `mkb-monitor import` does)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from monitor import alerts, config as config_module, pipeline
from monitor.config import Config
from monitor.store import Store
from monitor.store.private import PrivateStore

FIXTURES = Path(__file__).parent / "fixtures"
GOVERNMENT = FIXTURES / "import" / "government.jsonl"


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.now = (start or datetime.now(UTC)).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def alert_settings(tmp: Path, **alerts_overrides: Any) -> dict[str, Any]:
    return {"allow_private_webhooks": True, "feed_dir": str(tmp / "feeds"), "smtp_host": "127.0.0.1",
            "smtp_timeout": 5.0, "webhook_timeout": 5.0, **alerts_overrides}


def make_config(tmp: Path, **alerts_overrides: Any) -> Config:
    return config_module.load(db=tmp / "data" / "monitor.db",
                              overrides={"alerts": alert_settings(tmp, **alerts_overrides)})


def write_toml(tmp: Path, sources: dict[str, dict[str, Any]] | None = None, **alerts_overrides: Any) -> Path:
    """A config file for the command line: these alert settings, only ``sources`` enabled."""
    lines = ["[alerts]"] + [f"{k} = {json.dumps(v)}" for k, v in alert_settings(tmp, **alerts_overrides).items()]
    for name in config_module.defaults()["sources"]:
        lines += [f"[sources.{name}]", "enabled = false"]
    for name, table in (sources or {}).items():
        lines += [f"[sources.{name}]"] + [f"{k} = {json.dumps(v)}" for k, v in table.items()]
    path = tmp / "monitor.toml"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return path


def government(n: int | None = None) -> list[dict[str, Any]]:
    lines = GOVERNMENT.read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines[:n]]


def import_jsonl(config: Config, path: Path, *, clock: FakeClock | None = None, extract: bool = False,
                 alerts_stage: bool = True) -> dict[str, int]:
    """One run of the jsonl source through the real pipeline; the alert stage's counts."""
    sc = pipeline.importing(config, path)
    stage = alerts.match_and_deliver(config, clock=clock or FakeClock()) if alerts_stage else None
    with Store.open(config) as store:
        report = pipeline.Pipeline(config, store, fetcher_for=lambda sc: None,
                                   extractor=pipeline.ModelExtractor(config.nlp) if extract else None,
                                   after_commit=stage).run(sources=[(sc, pipeline.build_source(sc))])
    assert report.total("failed") == 0 and report.alerts_error is None, report.asdict()
    return report.alerts


def save(config: Config, search: alerts.SavedSearch, *channels: tuple[str, str, str | None],
         clock: FakeClock | None = None) -> int:
    """Save a search with channels (kind, target, secret) the way `alerts add` does."""
    corpus = Store.open(config) if config.db_path.exists() else None
    try:
        with PrivateStore.open(config) as private:
            search_id = alerts.save(private, corpus, search, now=(clock or FakeClock())())
            with private.transaction():
                for kind, target, secret in channels:
                    private.add_channel(search_id, kind, target, secret)
    finally:
        if corpus is not None:
            corpus.close()
    return search_id
