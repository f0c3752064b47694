"""The order of the stages, in one place:

    discover -> fetch -> parse -> relevance -> extract -> store -> alert

A source (``scrapers/``) discovers, fetches and parses; ``models/`` extracts; ``monitor.store``
stores; ``monitor.alerts`` matches and delivers. This module only knows the order and what a
failure at each stage means:

- a failed item (fetch, parse or extract) is recorded with its stage and reason, counted, and
  the run goes on. Its batch's cursor does not move, so the next run tries the item again; after
  ``quarantine_after`` attempts the item is held for a human and stops holding the cursor back;
- a failed run (discover raises, the store fails) is recorded on the source and leaves the
  cursor where the last committed batch put it. Whatever a source raises, a bug included, fails
  that source only: the run row is closed with the error's code and the next source runs; an
  interrupt (Ctrl-C) closes the run row as ``run.interrupted`` before it stops the run;
- a document the store refuses (a date out of range, say) fails as that item, in a savepoint of
  its batch's transaction;
- each batch is one transaction: its documents, figures, mentions, change-log rows, the HTTP
  validators of the pages that produced it, and the cursor that covers it (RELIABILITY I1).

A document the corpus never had that was published more than ``new_within_days`` before the
run is recorded as ``resurfaced``, not ``new`` (Store.put_document): a source re-sending old
documents (a mass update of the Tweede Kamer's SyncFeed) does not make new publications.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Protocol

import scrapers
from models.records import Extraction
from monitor import relevance
from monitor.config import Config, SourceConfig
from monitor.crashpoints import crashpoint
from monitor.errors import Deferred, Interrupted, StorageError, code_of
from monitor.extraction import Extractor, ExtractorService, ModelExtractor, Text
from monitor.runs import RunReport, SourceReport
from monitor.store import Store
from scrapers.base import Batch, Document, Fetcher, Item, Response, Source, options_from


class AfterCommit(Protocol):
    """What runs once the sources are stored: alert matching and delivery."""

    def __call__(self, store: Store) -> dict[str, int]: ...


Progress = Callable[..., None]  # progress(event, **info): "source", "item", "done"


@dataclass
class _Prepared:
    item: Item
    doc: Document
    responses: list[Response]
    score: float | None
    extraction: Extraction | None = None


@dataclass
class _BatchWork:
    """What one batch produced in memory, before the transaction that stores it."""

    prepared: list[_Prepared] = field(default_factory=list)
    failures: list[tuple[Item, str, BaseException]] = field(default_factory=list)  # item, stage, error
    skips: list[tuple[Item, str | None, float | None, str]] = field(default_factory=list)  # item, title, score, why


@dataclass
class Pipeline:
    config: Config
    store: Store
    fetcher_for: Callable[[SourceConfig], Fetcher | None]
    extractor: Extractor | None = None
    after_commit: AfterCommit | None = None
    progress: Progress = field(default=lambda event, **info: None)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))  # the run's time

    def run(self, names: Iterable[str] | None = None, *, sources: Sequence[tuple[SourceConfig, Source]] = ()) -> RunReport:
        """Run the named configured sources (all enabled ones by default), or the given instances."""
        todo = list(sources) or [(sc, build_source(sc)) for sc in self._selected(names)]
        if self.extractor is not None:
            # The gazetteer, with its aliases and validity, for the corpus's readers (Datasette):
            # the mentions this run stores link to these rows.
            with self.store.transaction():
                self.store.sync_organisations(self.extractor.organisations())
        report = RunReport()
        for sc, source in todo:
            report.sources.append(self.run_source(sc, source))
        if self.after_commit is not None:
            try:
                report.alerts = self.after_commit(self.store)
            except Exception as exc:  # what the sources stored stays stored; the run says what failed
                report.alerts_error = {"code": code_of(exc), "message": str(exc) or type(exc).__name__}
        return report

    def _selected(self, names: Iterable[str] | None) -> list[SourceConfig]:
        wanted = list(names or [])
        if wanted:
            return [self.config.source(n) for n in wanted]
        return self.config.sources(enabled_only=True)

    def run_source(self, sc: SourceConfig, source: Source) -> SourceReport:
        report = SourceReport(source=sc.name)
        with self.store.transaction():
            self.store.ensure_source(sc.name, sc.kind)
        run_id = self.store.start_run(sc.name)
        self.progress("source", name=sc.name)
        fetcher: Fetcher | None = None
        interrupt: BaseException | None = None
        new_since = self._new_since(sc)
        try:
            fetcher = self.fetcher_for(sc)
            cursor_held = False  # once an item fails, no later batch may move the cursor past it
            for batch in _bounded(source.discover(fetcher, self.store.cursor(sc.name)),
                                  self.config.monitor.max_batch_items):
                report.discovered += len(batch.items)
                work = self._prepare(sc, source, fetcher, batch.items, report)
                cursor_held = cursor_held or bool(work.failures) or not batch.complete
                stored_all = self._commit(sc, work, None if cursor_held else batch.cursor, fetcher, report, run_id,
                                          complete=batch.complete, new_since=new_since)
                cursor_held = cursor_held or not stored_all
            report.status = "partial" if cursor_held else "ok"
        except Deferred as exc:
            report.status, report.error, report.error_code = "deferred", str(exc), exc.code
        except Exception as exc:  # a source's failure, a bug in it included, fails that source only
            report.status, report.error, report.error_code = "failed", str(exc) or type(exc).__name__, code_of(exc)
        except BaseException as exc:  # Ctrl-C, SystemExit: close the run row, then stop
            interrupt = exc
            report.status, report.error_code = "failed", Interrupted.code
            report.error = f"interrupted ({type(exc).__name__}) before the run finished"
        finally:
            stats = getattr(fetcher, "stats", None)
            self._close(fetcher)
            report.left_out(list(getattr(source, "skipped", None) or []))
        self.store.finish_run(run_id, sc.name, status=report.status, counts=report.counts(),
                              error_code=report.error_code, error=report.error,
                              http=stats if isinstance(stats, dict) else None)
        if interrupt is not None:
            raise interrupt
        self.progress("done", name=sc.name, report=report)
        return report

    def _new_since(self, sc: SourceConfig) -> str | None:
        """The day before which a document this source sends for the first time is ``resurfaced``."""
        days = self.config.alerts.new_within_days if sc.new_within_days is None else sc.new_within_days
        return (self.clock() - timedelta(days=days)).date().isoformat() if days else None

    @staticmethod
    def _close(fetcher: Fetcher | None) -> None:
        close = getattr(fetcher, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # a client that cannot close cleanly changes nothing about the run
                pass

    # -- fetch, parse, relevance, extract: per item, in memory --

    def _prepare(self, sc: SourceConfig, source: Source, fetcher: Fetcher | None, items: list[Item],
                 report: SourceReport) -> _BatchWork:
        work = _BatchWork()
        for item in items:
            self.progress("item", name=sc.name, key=item.key)
            if self.store.failure_attempts(sc.name, item.key) >= self.config.monitor.quarantine_after:
                report.held += 1
                continue
            if item.version is not None and self.store.stored_version(sc.name, item.key) == item.version:
                report.unchanged += 1  # already stored as it is now: not fetched again
                continue
            stage = "fetch"
            try:
                responses = source.fetch(fetcher, item)
                report.fetched += bool(responses)
                crashpoint("after_fetch")
                stage = "parse"
                doc = source.parse(item, responses)
                crashpoint("after_parse")
            except Deferred:
                raise
            except Exception as exc:  # a poison item must not stop the run (RELIABILITY P9)
                work.failures.append((item, stage, exc))
                continue
            if doc is None:
                report.skipped += 1
                work.skips.append((item, None, None, "not for the corpus"))
                continue
            score = None
            if sc.relevance and not doc.deleted:
                score = relevance.score(doc.title, doc.text, self.config.relevance)
                if score < self.config.relevance.threshold:
                    report.skipped += 1
                    work.skips.append((item, doc.title, score, "below the relevance threshold"))
                    continue
            work.prepared.append(_Prepared(item, doc, responses, score))
        work.failures += self._extract(work.prepared)
        failed_keys = {item.key for item, _, _ in work.failures}
        work.prepared = [p for p in work.prepared if p.item.key not in failed_keys]
        for item, stage, exc in work.failures:
            _count_failure(report, item, stage, exc)
        return work

    def _extract(self, prepared: list[_Prepared]) -> list[tuple[Item, str, BaseException]]:
        """Extract a batch at once (the service isolates a document the extractor fails on)."""
        todo = [p for p in prepared if not p.doc.deleted and p.doc.text.strip()]
        if self.extractor is None or not todo:
            return []
        service = ExtractorService(self.extractor, batch_size=len(todo))
        results = service.extract(Text(p.item.key, p.doc.text, p.doc.published) for p in todo)
        failures: list[tuple[Item, str, BaseException]] = []
        for p, result in zip(todo, results, strict=True):  # in order: a batch may repeat an item key
            if result.error is not None:
                failures.append((p.item, "extract", result.error))
            p.extraction = result.extraction
        return failures

    # -- store: one transaction per batch --

    def _commit(self, sc: SourceConfig, work: _BatchWork, cursor: str | None, fetcher: Fetcher | None,
                report: SourceReport, run_id: int, *, complete: bool = True, new_since: str | None = None) -> bool:
        """Store a batch in one transaction; False when a document of it was refused (it is then an
        item failure, and the cursor stays)."""
        take_validators = getattr(fetcher, "take_pending_validators", None)
        refused = False
        with self.store.transaction():
            for p in work.prepared:
                try:
                    with self.store.savepoint():
                        if p.doc.source != sc.name:  # an import names the source each document came from
                            self.store.ensure_source(p.doc.source, sc.kind)
                        outcome = self.store.put_document(
                            p.doc, item=p.item, responses=p.responses if self.config.monitor.keep_raw else (),
                            extraction=p.extraction,
                            extracted_with=self.extractor.version if self.extractor else None,
                            relevance=p.score, run_id=run_id, new_since=new_since)
                except (StorageError, sqlite3.OperationalError):
                    raise  # busy, full, I/O: the batch fails as a whole
                except Exception as exc:  # this document only: out-of-range date, a value SQLite refuses
                    work.failures.append((p.item, "store", exc))
                    _count_failure(report, p.item, "store", exc)
                    refused = True
                    continue
                crashpoint("mid_upsert")
                self.store.clear_failure(sc.name, p.item.key)
                report.new += outcome.status == "new"
                report.changed += outcome.status in ("changed", "upgraded", "deleted")
                report.unchanged += outcome.status in ("unchanged", "linked")
            for item, title, score, reason in work.skips:
                self.store.record_skipped(sc.name, item.key, url=item.url, title=title, score=score, reason=reason)
            for item, stage, exc in work.failures:
                self.store.record_failure(sc.name, item.key, url=item.url, stage=stage, error=exc, run_id=run_id)
            # A page's validators are kept only when all its items are stored and the source read
            # it completely: otherwise the next run must get the page again (not a 304) to retry.
            if take_validators is not None:
                validators = take_validators()
                if not work.failures and complete:
                    self.store.save_validators(validators)
            if cursor is not None and not refused:
                crashpoint("mid_cursor_advance")
                self.store.set_cursor(sc.name, cursor)
        return not refused


def _count_failure(report: SourceReport, item: Item, stage: str, exc: BaseException) -> None:
    report.failed += 1
    report.failures.append({"item": item.key, "url": item.url, "stage": stage, "code": code_of(exc),
                            "message": str(exc) or type(exc).__name__})


def _bounded(batches: Iterable[Batch], size: int) -> Iterator[Batch]:
    """The source's batches, none longer than ``size`` items: a longer one is committed in
    parts, the cursor with the last part only, so a kill loses at most one part's work."""
    for batch in batches:
        parts = [batch.items[i:i + size] for i in range(0, len(batch.items), size)] or [[]]
        for n, part in enumerate(parts, 1):
            yield Batch(part, cursor=batch.cursor if n == len(parts) else None, complete=batch.complete)


def fetcher_factory(config: Config, *, record: str | Path | None = None, replay: str | Path | None = None,
                    store: Store | None = None) -> Callable[[SourceConfig], Fetcher]:
    """One polite HTTP client per source; recording every exchange, or answering from a recording."""
    from monitor import http, recording

    settings = config.http
    # One replay for the whole run, so repeated requests are answered in recorded order across sources.
    replayed = recording.ReplayTransport(Path(replay)) if replay else None

    def make(sc: SourceConfig) -> Fetcher:
        policy = settings.address_policy(sc.allow_private_addresses, source=sc.name)
        transport = replayed
        if record:
            transport = recording.RecordingTransport(http.default_transport(settings, policy), Path(record))
        return http.Client(settings, transport=transport, cache=store, allowed_hosts=sc.allowed_hosts or None,
                           policy=policy)

    return make


def for_config(config: Config, store: Store, *, extract: bool = True, record: str | Path | None = None,
               replay: str | Path | None = None, progress: Progress | None = None,
               holds_lock: bool = True) -> Pipeline:
    """The pipeline as ``mkb-monitor run`` and ``watch`` assemble it: the polite HTTP client (or a
    recording of it), the models extractor, and alert matching and delivery after the commit.
    ``holds_lock``: whether the caller holds the run lock (``import`` does not; it then delivers
    only if nobody else holds it)."""
    from monitor import alerts

    return Pipeline(config, store, fetcher_for=fetcher_factory(config, record=record, replay=replay, store=store),
                    extractor=ModelExtractor(config.nlp) if extract else None,
                    after_commit=alerts.match_and_deliver(config, holds_lock=holds_lock),
                    progress=progress or (lambda event, **info: None))


def build_source(sc: SourceConfig) -> Source:
    cls = scrapers.source_class(sc.kind)
    return cls(sc.name, options_from(cls.Options, sc.name, sc.options))


def importing(config: Config, path: str | Path, name: str = "import") -> SourceConfig:
    """The source ``mkb-monitor import`` reads a JSONL file through. What a person imports is
    new to the corpus whatever its date: saved searches match it (no ``resurfaced``)."""
    return config.source_config(name, {"kind": "jsonl", "path": str(path), "stale_after_hours": 0,
                                       "new_within_days": 0})


def check_feed(config: Config, url: str) -> dict[str, Any]:
    """What ``mkb-monitor feeds check`` reports of a feed URL, fetched as a feed source would be."""
    from scrapers.feeds import check_feed as check

    fetcher = fetcher_factory(config)(config.source_config("feeds-check", {"kind": "feed", "url": url}))
    try:
        return check(fetcher, url)
    finally:
        fetcher.close()


def reprocess(store: Store, config: Config, extractor: Extractor | None, *, sources: Iterable[str] | None = None,
              batch_size: int = 64, progress: Progress = lambda event, **info: None) -> dict[str, int]:
    """Parse and extract again from stored raw responses, without the network.

    For a parser or extractor fix: every stored sighting is parsed again from its raw
    responses and stored through the same upsert, so a changed text becomes a new version and
    an unchanged one changes nothing. Sources no longer configured are skipped. A page of
    ``batch_size`` parsed documents is extracted at once; each document is stored in its own
    transaction.
    """
    counts = {"parsed": 0, "changed": 0, "unchanged": 0, "failed": 0}
    configured = {sc.name: sc for sc in config.sources()}
    built: dict[str, Source] = {}
    sightings = list(store.items_for_reprocess(sources))
    progress("start", total=len(sightings), label="re-parse")
    service = ExtractorService(extractor, batch_size=batch_size) if extractor else None
    pages = iter(sightings)
    for page in iter(lambda: list(islice(pages, batch_size)), []):
        parsed: list[tuple[Item, Document]] = []
        for doc_id, source_name, item in page:
            sc = configured.get(source_name)
            if sc is None:
                continue
            source = built.setdefault(source_name, build_source(sc))
            progress("advance")
            try:
                doc = source.parse(item, store.raw_responses(doc_id, source_name))
            except Exception:
                counts["failed"] += 1
                continue
            if doc is not None:
                parsed.append((item, doc))
        extracted = {} if service is None else {int(r.id): r for r in service.extract(
            Text(str(n), doc.text, doc.published) for n, (_, doc) in enumerate(parsed) if doc.text.strip())}
        for n, (item, doc) in enumerate(parsed):
            result = extracted.get(n)
            if result is not None and result.error is not None:
                counts["failed"] += 1  # the extractor fails on it: the stored version stays
                continue
            try:
                with store.transaction():
                    outcome = store.put_document(doc, item=item, extraction=result and result.extraction,
                                                 extracted_with=extractor.version if extractor else None)
            except (StorageError, sqlite3.OperationalError):
                raise
            except Exception:  # the store refused this document (a date out of range): the others go on
                counts["failed"] += 1
                continue
            counts["parsed"] += 1
            counts["changed" if outcome.change else "unchanged"] += 1
    return counts


def reextract(store: Store, extractor: Extractor, *, everything: bool = False, batch_size: int = 64,
              processes: int = 1, progress: Progress = lambda event, **info: None) -> dict[str, int]:
    """Recompute figures and mentions of documents extracted by another model version (or all).
    With `processes` > 1 the extraction runs in that many worker processes; this process reads
    and writes the corpus, one transaction per batch."""
    counts = {"extracted": 0, "failed": 0}
    stale_only = not everything
    progress("start", total=store.count_for_extraction(stale_only=stale_only, version=extractor.version),
             label="re-extract")
    service = ExtractorService(extractor, batch_size=batch_size, processes=processes)
    for batch in service.batches(store.texts_for_extraction(stale_only=stale_only, version=extractor.version)):
        with store.transaction():
            for result in batch:
                if result.extraction is None:  # its stale version stays: the next reextract tries again
                    counts["failed"] += 1
                    continue
                store.replace_extraction(result.id, result.extraction, extractor.version)
                counts["extracted"] += 1
        progress("advance", n=len(batch))
    return counts
