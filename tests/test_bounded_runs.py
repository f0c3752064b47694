"""Bounded runs (issue 19 item 5): whatever a source hands over at once, the pipeline commits it
in parts of at most [monitor] max_batch_items, the cursor with the last part only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from monitor import config as config_module
from monitor.config import SourceConfig
from monitor.pipeline import Pipeline
from monitor.store import Store
from scrapers.base import Batch, Document, Item, Response

SC = SourceConfig(name="big", kind="jsonl", enabled=True, allowed_hosts=[], relevance=False,
                  stale_after_hours=24, options={})


class OneHugeBatch:
    """A source that discovers 120 items in one batch (a feed of thousands of entries did)."""

    kind = "big"
    name = "big"

    def __init__(self, kill_at: str | None = None) -> None:
        self.kill_at = kill_at

    def discover(self, fetcher, cursor) -> Iterator[Batch]:
        yield Batch([Item(key=f"k{n:03d}", url=f"https://example.nl/{n}") for n in range(120)], cursor="all")

    def fetch(self, fetcher, item) -> list[Response]:
        if item.key == self.kill_at:
            raise KeyboardInterrupt  # the run is killed here
        return []

    def parse(self, item, responses) -> Document:
        return Document(source="big", source_key=item.key, url=item.url, title=f"Bericht {item.key}",
                        text=f"Het mkb digitaliseert: {item.key}.", kind="news")


def run(store: Store, source: OneHugeBatch):
    config = config_module.load(overrides={"monitor": {"max_batch_items": 50}})
    return Pipeline(config, store, fetcher_for=lambda sc: None).run(sources=[(SC, source)])


def test_a_huge_batch_is_committed_in_parts_and_a_kill_loses_one_part_at_most(tmp_path):
    with Store(tmp_path / "monitor.db") as store:
        with pytest.raises(KeyboardInterrupt):
            run(store, OneHugeBatch(kill_at="k075"))
        assert store.document_count() == 50  # the first part, committed before the kill
        assert store.cursor("big") is None  # the cursor comes with the last part only
        report = run(store, OneHugeBatch()).sources[0]
        assert (report.new, report.unchanged, report.status) == (70, 50, "ok")
        assert store.cursor("big") == "all" and store.document_count() == 120
        assert [r[0] for r in store._db.execute("SELECT count(*) FROM changes")] == [120]
