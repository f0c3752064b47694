"""The pipeline: stage order, per-item failures, cursors committed with their batch, quarantine."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pytest

from models.records import Extraction, Figure
from monitor import config as config_module
from monitor.config import SourceConfig
from monitor.errors import APIError, Deferred, HTTPStatus, ParseError
from monitor.pipeline import ModelExtractor, Pipeline, reextract
from monitor.store import Store
from scrapers.base import Batch, Document, Item, Response


@dataclass
class ScriptedSource:
    """A source whose pages, failures and cursor are scripted by the test."""

    kind: ClassVar[str] = "scripted"
    name: str
    pages: list[list[str]]  # item keys per page; the cursor after page i is "page-i"
    fail_fetch: set[str] = field(default_factory=set)
    fail_parse: set[str] = field(default_factory=set)
    fail_discover_after: int | None = None
    deferred: bool = False
    seen_cursors: list[str | None] = field(default_factory=list)

    def discover(self, fetcher, cursor) -> Iterator[Batch]:
        self.seen_cursors.append(cursor)
        if self.deferred:
            raise Deferred("Retry-After: 86400")
        start = int(cursor.split("-")[1]) + 1 if cursor else 0
        for i in range(start, len(self.pages)):
            if self.fail_discover_after is not None and i > self.fail_discover_after:
                raise APIError("<Error><Message>An error has occurred.</Message></Error>")
            yield Batch([Item(key=k, url=f"https://example.nl/{k}") for k in self.pages[i]], cursor=f"page-{i}")

    def fetch(self, fetcher, item) -> list[Response]:
        if item.key in self.fail_fetch:
            raise HTTPStatus("503 after 3 attempts", url=item.url, status=503)
        return [Response(url=item.url, status=200, headers={}, content=f"<p>{item.key}</p>".encode())]

    def parse(self, item, responses) -> Document:
        if item.key in self.fail_parse:
            raise ParseError(f"cannot parse {item.key}")
        return Document(source=self.name, source_key=item.key, url=item.url, title=f"Titel {item.key}",
                        text=f"Het mkb en digitalisering: bericht {item.key}.", kind="news")


class CountingExtractor:
    version = "test-1"

    def __init__(self, poison: str | None = None) -> None:
        self.poison, self.calls = poison, 0

    def __call__(self, docs):
        self.calls += 1
        if any(self.poison and self.poison in d.text for d in docs):
            raise RuntimeError("extractor crashed")
        return [Extraction(figures=[Figure(0, 3, "Het", 1.0, None, "count", None, None, d.text)]) for d in docs]

    def organisations(self):
        return []


SC = SourceConfig(name="scripted", kind="jsonl", enabled=True, allowed_hosts=[], relevance=False,
                  stale_after_hours=24, options={})


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "monitor.db") as s:
        yield s


def run(store, source, extractor=None, **overrides):
    config = config_module.load(overrides={"monitor": {"quarantine_after": 3}, **overrides})
    pipeline = Pipeline(config, store, fetcher_for=lambda sc: None, extractor=extractor)
    return pipeline.run(sources=[(SC, source)]).sources[0]


def cursor(store):
    return store.cursor("scripted")


def test_all_items_stored_and_cursor_moves_with_each_batch(store):
    source = ScriptedSource("scripted", [["a", "b"], ["c"]])
    report = run(store, source, CountingExtractor())
    assert (report.status, report.new, report.failed) == ("ok", 3, 0)
    assert cursor(store) == "page-1"
    assert store._db.execute("SELECT count(*) FROM figures").fetchone()[0] == 3
    again = run(store, ScriptedSource("scripted", [["a", "b"], ["c"], ["d"]]))
    assert (again.new, again.discovered) == (1, 1)  # only the page after the cursor


def test_failed_item_is_recorded_run_goes_on_cursor_held(store):
    source = ScriptedSource("scripted", [["a", "b"], ["c"]], fail_fetch={"b"})
    report = run(store, source)
    assert (report.status, report.new, report.failed) == ("partial", 2, 1)
    assert report.failures[0]["stage"] == "fetch" and report.failures[0]["code"] == "fetch.status"
    assert cursor(store) is None  # never past an item that is not stored
    row = store._db.execute("SELECT stage, code, attempts FROM item_failures WHERE item_key = 'b'").fetchone()
    assert row == ("fetch", "fetch.status", 1)
    # the next run re-reads from the old cursor; "b" now works; the cursor moves to the end
    report = run(store, ScriptedSource("scripted", [["a", "b"], ["c"]]))
    assert (report.status, report.new, report.unchanged) == ("ok", 1, 2)
    assert cursor(store) == "page-1"
    assert store._db.execute("SELECT count(*) FROM item_failures").fetchone()[0] == 0


def test_poison_item_is_held_after_n_attempts_and_stops_holding_the_cursor(store):
    for attempt in range(3):
        report = run(store, ScriptedSource("scripted", [["a", "poison"]], fail_parse={"poison"}))
        assert report.status == "partial" and cursor(store) is None
    report = run(store, ScriptedSource("scripted", [["a", "poison"]], fail_parse={"poison"}))
    assert (report.status, report.held, report.failed) == ("ok", 1, 0)
    assert cursor(store) == "page-0"
    assert store._db.execute("SELECT attempts FROM item_failures").fetchone()[0] == 3


def test_extractor_crash_fails_only_the_poison_document(store):
    extractor = CountingExtractor(poison="bericht b.")
    report = run(store, ScriptedSource("scripted", [["a", "b", "c"]]), extractor)
    assert (report.new, report.failed) == (2, 1)
    assert report.failures[0]["stage"] == "extract"
    assert {r[0] for r in store._db.execute("SELECT source_key FROM document_sources")} == {"a", "c"}


def test_per_run_failure_keeps_committed_batches_and_their_cursor(store):
    report = run(store, ScriptedSource("scripted", [["a"], ["b"], ["c"]], fail_discover_after=1))
    assert (report.status, report.error_code, report.new) == ("failed", "api.error", 2)
    assert cursor(store) == "page-1"
    row = store._db.execute("SELECT last_error_code, runs_failed FROM sources WHERE name = 'scripted'").fetchone()
    assert row == ("api.error", 1)


def test_deferred_source_is_not_a_failure(store):
    report = run(store, ScriptedSource("scripted", [["a"]], deferred=True))
    assert report.status == "deferred" and report.error_code == "fetch.deferred"
    runs = store._db.execute("SELECT status FROM runs").fetchall()
    assert runs == [("deferred",)]


class PendingValidators:
    """A fetcher double that hands out validators the way monitor.http.Client does."""

    def __init__(self):
        self.pending = {}

    def take_pending_validators(self):
        taken, self.pending = self.pending, {}
        return taken


def test_validators_commit_with_their_batch_only(store):
    fetcher = PendingValidators()

    class Source(ScriptedSource):
        def discover(self, f, cursor):
            fetcher.pending["https://example.nl/feed"] = {"etag": '"v1"', "last_modified": None}
            yield from super().discover(f, cursor)

    config = config_module.load()
    Pipeline(config, store, fetcher_for=lambda sc: fetcher).run(
        sources=[(SC, Source("scripted", [["a", "b"]], fail_fetch={"b"}))])
    assert store.get_validators("https://example.nl/feed") is None  # "b" failed: next run must not get a 304
    Pipeline(config, store, fetcher_for=lambda sc: fetcher).run(sources=[(SC, Source("scripted", [["a", "b"]]))])
    assert store.get_validators("https://example.nl/feed") == {"etag": '"v1"', "last_modified": None}


def test_relevance_threshold_skips_and_records(store):
    sc = SourceConfig(**{**SC.__dict__, "relevance": True})
    config = config_module.load(overrides={"relevance": {"threshold": 1000.0}})
    report = Pipeline(config, store, fetcher_for=lambda sc: None).run(
        sources=[(sc, ScriptedSource("scripted", [["a"]]))]).sources[0]
    assert (report.new, report.skipped) == (0, 1)
    row = store._db.execute("SELECT item_key, reason, score FROM skipped_items").fetchone()
    assert row[0] == "a" and "relevance" in row[1] and row[2] is not None


def test_reextract_reads_a_page_at_a_time_and_each_document_once(store):
    run(store, ScriptedSource("scripted", [[f"d{n}" for n in range(7)]]), CountingExtractor())
    newer = CountingExtractor()
    newer.version = "test-2"
    assert store.count_for_extraction(stale_only=True, version="test-2") == 7
    pages = store.texts_for_extraction(stale_only=True, version="test-2", page=2)
    first = [next(pages) for _ in range(3)]
    with store.transaction():  # writes between pages, as reextract makes them
        for doc_id, _, _ in first:
            store.replace_extraction(doc_id, Extraction(), "test-2")
    rest = list(pages)
    assert sorted(d for d, _, _ in first + rest) == sorted(r[0] for r in store._db.execute("SELECT id FROM documents"))
    events = []
    assert reextract(store, newer, batch_size=3, progress=lambda event, **info: events.append((event, info))) == \
        {"extracted": 4, "failed": 0}
    assert events[0] == ("start", {"total": 4, "label": "re-extract"})
    assert [info["n"] for event, info in events if event == "advance"] == [3, 1]


def gold_texts_in(store, n):
    texts = [json.loads(line)["text"] for line in
             (Path(__file__).parent / "fixtures" / "gold_government.jsonl").read_text(encoding="utf8").splitlines()][:n]
    run(store, ScriptedSource("scripted", [[f"d{k}" for k in range(len(texts))]]), CountingExtractor())
    with store.transaction():
        for (doc_id,), text in zip(store._db.execute("SELECT id FROM documents ORDER BY rowid").fetchall(), texts):
            store._db.execute("UPDATE documents SET text = ? WHERE id = ?", [text, doc_id])


@pytest.mark.slow
def test_reextract_in_worker_processes_stores_what_one_process_stores(store):
    gold_texts_in(store, 6)
    extractor = ModelExtractor(dataclasses.replace(config_module.load().nlp, batch_size=2))

    def stored():
        return (store._db.execute("SELECT document_id, start, end, text, value, unit, subject, qualifier, sentence "
                                 "FROM figures ORDER BY document_id, start").fetchall(),
                store._db.execute("SELECT document_id, organisation_id, start, end, sentence "
                                 "FROM mentions ORDER BY document_id, start").fetchall())

    assert reextract(store, extractor, batch_size=2) == {"extracted": 6, "failed": 0}
    one_process = stored()
    assert reextract(store, extractor, everything=True, batch_size=2, processes=2) == {"extracted": 6, "failed": 0}
    assert stored() == one_process and one_process[0] and one_process[1]


def test_reextract_updates_stale_documents_only(store):
    run(store, ScriptedSource("scripted", [["a", "b"]]), CountingExtractor())
    newer = CountingExtractor()
    newer.version = "test-2"
    assert reextract(store, newer) == {"extracted": 2, "failed": 0}
    assert reextract(store, newer) == {"extracted": 0, "failed": 0}
    assert {r[0] for r in store._db.execute("SELECT extracted_with FROM documents")} == {"test-2"}


def test_reextract_fails_the_poison_document_alone_and_leaves_it_stale(store):
    run(store, ScriptedSource("scripted", [["a", "b", "c"]]), CountingExtractor())
    newer = CountingExtractor(poison="bericht b.")
    newer.version = "test-2"
    assert reextract(store, newer, batch_size=3) == {"extracted": 2, "failed": 1}
    versions = dict(store._db.execute("SELECT s.source_key, d.extracted_with FROM documents d "
                                      "JOIN document_sources s ON s.document_id = d.id").fetchall())
    assert versions == {"a": "test-2", "b": "test-1", "c": "test-2"}  # "b" is tried again next time
