"""Saved searches: what they are, what they match after a run, and how hits become messages.

Matching without a cross-file transaction
-----------------------------------------
RELIABILITY I3 asks for the hit to be written in the same transaction as the document. The
documents live in the corpus file and the hits in the private file, and SQLite cannot commit
two WAL databases atomically. So the corpus change log is the durable queue instead:

1. the corpus commits a batch's documents together with their ``changes`` rows (seq, document,
   reason new | resurfaced | edited | upgraded | deleted) in one transaction (I1);
2. :func:`evaluate` then reads the changes after the private file's *watermark*, matches every
   enabled saved search against exactly those documents, and writes the hits, the alerts, their
   deliveries and the new watermark in ONE private transaction (``BEGIN IMMEDIATE``);
3. :mod:`monitor.notify` sends from that outbox only after this commit.

A crash between 1 and 2 leaves the watermark behind the log: the next run evaluates the same
changes again. A crash inside 2 rolls all of it back. Evaluating a change twice is harmless,
because ``hits`` is UNIQUE(search_id, document_id): no hit is lost and none is doubled.

Policy (RELIABILITY T2, T6, T9, D9)
-----------------------------------
- A saved search alerts on new publications: a document first stored long after its publication
  date (reason ``resurfaced``: a feed re-sending old documents, ``[alerts] new_within_days``)
  alerts nothing; the run's counts say how many there were.
- A document alerts a saved search once. An edit that makes it match for the first time alerts
  (reason ``edited``); a cosmetic edit makes no change row at all (the content hash ignores
  white space); an edit of an already alerted document sends nothing.
- A saved search sees only changes after it was created or its criteria were last edited
  (``since_seq``), and a disabled one collects no backlog. ``backfill`` evaluates the last N
  days on purpose, once.
- A search delivers each match, or an hourly or daily digest. In any run, more than
  ``[alerts] max_per_run`` hits for one search become one digest listing them all.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from monitor import search as search_module
from monitor.clock import Clock, stamp, utc_now
from monitor.config import Config
from monitor.crashpoints import crashpoint
from monitor.errors import MonitorError, QueryError, StorageBusy, StorageFull, code_of
from monitor.search import FIGURE_OPS, FigureCondition
from monitor.store import Store
from monitor.store.private import PrivateStore
from monitor.store.sqlite import storage_error

log = logging.getLogger(__name__)

DIGESTS = ("each", "hourly", "daily")
MATCHED_REASONS = ("new", "edited", "upgraded")  # a deletion never alerts, nor an old document resurfacing
PAGE = 5000  # change-log rows read at a time
LOCAL = ZoneInfo("Europe/Amsterdam")

@dataclass(frozen=True)
class SavedSearch:
    """What a saved search looks for. A search may have no words, only filters."""

    name: str
    query: str = ""
    sources: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    organisations: tuple[str, ...] = ()  # as the user wrote them
    organisation_ids: tuple[str, ...] = ()  # resolved through the gazetteer when saved
    dossier: str | None = None
    figure: FigureCondition | None = None
    digest: str = "each"
    id: int | None = None
    enabled: bool = True
    since_seq: int = 0

    def filters(self) -> dict[str, Any]:
        return {"sources": list(self.sources), "kinds": list(self.kinds),
                "organisations": list(self.organisations), "organisation_ids": list(self.organisation_ids),
                "dossier": self.dossier, "figure": asdict(self.figure) if self.figure else None}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> SavedSearch:
        f = row["filters"]
        return cls(name=row["name"], query=row["query"], sources=tuple(f.get("sources", ())),
                   kinds=tuple(f.get("kinds", ())), organisations=tuple(f.get("organisations", ())),
                   organisation_ids=tuple(f.get("organisation_ids", ())), dossier=f.get("dossier"),
                   figure=FigureCondition(**f["figure"]) if f.get("figure") else None, digest=row["digest"],
                   id=row["id"], enabled=bool(row["enabled"]), since_seq=row["since_seq"])

    def match(self, corpus: Store, *, ids: list[str] | None = None,
              since: str | None = None) -> list[search_module.Hit]:
        return search_module.matching(
            corpus, self.query, ids=ids, since=since, sources=list(self.sources) or None,
            kinds=list(self.kinds) or None, organisations=list(self.organisation_ids) or None,
            dossier=self.dossier, figure=self.figure)

    def describe(self) -> str:
        parts = [f'"{self.query}"' if self.query else "any text"]
        parts += [f"source={s}" for s in self.sources] + [f"kind={k}" for k in self.kinds]
        parts += [f"org={o}" for o in self.organisations]
        if self.dossier:
            parts.append(f"dossier={self.dossier}")
        if self.figure:
            parts.append(f"figure[{format_figure(self.figure)}]")
        return " ".join(parts)


# --- saving --------------------------------------------------------------------------------


_FIGURE_PART = re.compile(r"^(unit|subject|value)\s*(~|" + "|".join(map(re.escape, FIGURE_OPS)) + r")\s*(.+)$")


def parse_figure(text: str) -> FigureCondition:
    """``unit=percent subject~mkb'ers value>=50`` (any of the three parts) as a condition."""
    fields: dict[str, Any] = {}
    for part in text.split():
        m = _FIGURE_PART.match(part)
        if m is None:
            raise QueryError(f"cannot read {part!r} in a figure condition: use unit=UNIT, subject~WORD, "
                             "value>=NUMBER (or >, <=, <, =)")
        key, op, value = m.groups()
        if key == "value":
            try:
                fields["op"], fields["value"] = op, float(value.replace(",", "."))
            except ValueError:
                raise QueryError(f"{value!r} is not a number") from None
        elif (key, op) in (("unit", "="), ("subject", "~")):
            fields[key] = value
        else:
            raise QueryError(f"use unit=UNIT and subject~WORD, not {part!r}")
    return FigureCondition(**fields)


def format_figure(figure: FigureCondition) -> str:
    parts = [f"unit={figure.unit}"] if figure.unit else []
    parts += [f"subject~{figure.subject}"] if figure.subject else []
    parts += [f"value{figure.op}{figure.value:g}"] if figure.op is not None and figure.value is not None else []
    return " ".join(parts)


def resolve_organisations(corpus: Store | None, names: list[str]) -> list[str]:
    """Organisation ids for names, aliases or ids, through the gazetteer (and the corpus's own
    organisations when there is a corpus)."""
    if corpus is not None:
        return search_module.org_ids(corpus, names)
    from models import gazetteer

    known = gazetteer.load()
    ids = []
    for name in names:
        org = known.lookup(name)
        if org is None:
            raise QueryError(f"no organisation known as {name!r}")
        ids.append(org.id)
    return ids


def validate(search: SavedSearch, corpus: Store | None) -> SavedSearch:
    """Check a saved search as it is saved (T7): a clear error now, never a failing run later."""
    if not search.name.strip():
        raise QueryError("a saved search needs a name")
    if search.digest not in DIGESTS:
        raise QueryError(f"digest must be one of {', '.join(DIGESTS)}, not {search.digest!r}")
    filtered = search.sources or search.kinds or search.organisations or search.dossier or search.figure
    if not search.query.strip() and not filtered:
        raise QueryError("a saved search needs words or at least one filter (source, kind, org, dossier, figure)")
    ids = resolve_organisations(corpus, list(search.organisations)) if search.organisations else []
    search = replace(search, organisation_ids=tuple(dict.fromkeys(ids)))
    check_runs(search, corpus)
    return search


def save(private: PrivateStore, corpus: Store | None, search: SavedSearch, *, now: datetime) -> int:
    """Add a saved search. It sees the changes made from now on (unless backfilled)."""
    search = validate(search, corpus)
    since = corpus.last_change_seq() if corpus is not None else 0
    with private.transaction():
        return private.add_search(name=search.name, query=search.query, filters=search.filters(),
                                  digest=search.digest, since_seq=since, now=stamp(now))


def edit(private: PrivateStore, corpus: Store | None, search: SavedSearch, *, now: datetime) -> None:
    """Replace a saved search's criteria. Hits already alerted are not sent again; documents that
    only match the new criteria alert when they change from now on (or through ``backfill``)."""
    row = private.search(search.id) if search.id is not None else None
    if row is None:
        raise QueryError(f"no saved search with id {search.id}")
    old = SavedSearch.from_row(row)
    search = validate(search, corpus)
    fields: dict[str, Any] = {"name": search.name, "query": search.query, "filters": search.filters(),
                              "digest": search.digest, "enabled": int(search.enabled),
                              "invalid_reason": None, "invalid_at": None}
    criteria_changed = (old.query, old.filters()) != (search.query, search.filters())
    if criteria_changed or (search.enabled and not old.enabled):  # a disabled search has no backlog
        fields["since_seq"] = corpus.last_change_seq() if corpus is not None else old.since_seq
    with private.transaction():
        private.update_search(search.id, stamp(now), **fields)


# --- matching ------------------------------------------------------------------------------


@dataclass
class Evaluation:
    hits: int = 0
    alerts: int = 0
    resurfaced: int = 0  # old documents first stored now: matched by no saved search
    invalid: list[dict[str, str]] = field(default_factory=list)  # saved searches that could not run

    def counts(self) -> dict[str, Any]:
        return {"hits": self.hits, "alerts": self.alerts, "resurfaced": self.resurfaced,
                "invalid_searches": len(self.invalid), "invalid": self.invalid}


def evaluate(corpus: Store, private: PrivateStore, *, max_per_run: int, now: datetime,
             daily_hour: int | None = None) -> dict[str, Any]:
    """Match every enabled saved search against the documents changed since the watermark, and
    record hits, alerts, deliveries and the new watermark in one private transaction.

    Each saved search is matched in a savepoint of its own: one that cannot run (a query SQLite
    refuses, filters edited into nonsense) is rolled back, marked invalid with the reason, and
    skipped, and every other search goes ahead (T7). Only the storage itself failing (busy, full)
    fails the stage."""
    result = Evaluation()
    with private.transaction():
        watermark = private.watermark()
        changes = _changes(corpus, watermark)
        if not changes:
            return result.counts()
        result.resurfaced = len({c["document_id"] for c in changes if c["reason"] == "resurfaced"})
        common = _latest(changes, after=watermark)  # what every search older than the watermark sees
        facts: dict[str, str] = {}  # document -> the key of its facts, read once for all searches
        for row in private.searches(enabled_only=True):
            try:
                with private.savepoint("saved_search"):
                    saved = SavedSearch.from_row(row)
                    latest = common if saved.since_seq <= watermark else _latest(changes, after=saved.since_seq)
                    if latest:
                        matches = _matches(saved, corpus, list(latest), snippets=max_per_run)
                        hit_ids = _record_hits(corpus, private, saved, matches, latest, now, facts)
                        result.hits += len(hit_ids)
                        result.alerts += _assign(private, saved, hit_ids, max_per_run=max_per_run, now=now,
                                                 daily_hour=daily_hour)
                    if row.get("invalid_reason"):
                        private.mark_valid(row["id"])
            except Exception as exc:
                if _storage_failed(exc):
                    raise
                reason = f"{code_of(exc)}: {exc}" if not isinstance(exc, MonitorError) else str(exc)
                log.warning("saved search %r skipped (invalid): %s", row["name"], reason)
                private.mark_invalid(row["id"], reason, stamp(now))
                result.invalid.append({"name": row["name"], "reason": reason})
        private.set_watermark(changes[-1]["seq"])
    return result.counts()


def check_runs(search: SavedSearch, corpus: Store | None) -> None:
    """Compile a saved search against the corpus and run it once, on no document, so what
    cannot run (past the query caps, or a query FTS5 refuses) is refused when it is saved, with
    the reason, instead of failing at match time. Without a corpus yet, an empty one in memory
    with the same schema stands in."""
    def run_on(store: Store) -> None:
        if search.query.strip():
            search_module.compile(store, search.query)  # QueryError with the reason
        search.match(store, ids=[""])  # the filters, as SQL

    try:
        if corpus is not None:
            run_on(corpus)
        else:
            with Store(":memory:") as empty:
                run_on(empty)
    except QueryError:
        raise
    except Exception as exc:
        if _storage_failed(exc):
            raise
        raise QueryError(f"this search cannot run: {exc}") from None


def _storage_failed(exc: BaseException) -> bool:
    """Whether an error is the storage's (busy, full, I/O) rather than the saved search's."""
    if isinstance(exc, sqlite3.OperationalError):
        exc = storage_error(exc)
    return isinstance(exc, StorageBusy | StorageFull)


def backfill(corpus: Store, private: PrivateStore, search_id: int, *, days: int, max_per_run: int,
             now: datetime, daily_hour: int | None = None) -> dict[str, int]:
    """Evaluate one saved search, once, against documents published or changed in the last ``days``."""
    row = private.search(search_id)
    if row is None:
        raise QueryError(f"no saved search with id {search_id}")
    saved = SavedSearch.from_row(row)
    cutoff = stamp(now - timedelta(days=days))
    changed = {c["document_id"]: (c["seq"], "backfill") for c in _changes(corpus, 0) if c["at"] >= cutoff}
    matches = {h.id: h for h in saved.match(corpus, since=cutoff[:10])}
    matches.update({h.id: h for h in _matches(saved, corpus, list(changed), snippets=max_per_run)})
    with private.transaction():
        hit_ids = _record_hits(corpus, private, saved, list(matches.values()),
                               {doc: changed.get(doc, (None, "backfill")) for doc in matches}, now, {})
        alerts = _assign(private, saved, hit_ids, max_per_run=max_per_run, now=now, daily_hour=daily_hour)
    return {"hits": len(hit_ids), "alerts": alerts}


def _latest(changes: list[dict[str, Any]], *, after: int) -> dict[str, tuple[int, str]]:
    """Document -> (seq, reason) of its last change after ``after`` that may alert, in change order;
    a document new in this window stays "new" whatever happened to it after."""
    latest: dict[str, tuple[int, str]] = {}
    for c in changes:
        if c["seq"] > after and c["reason"] in MATCHED_REASONS:
            seen = latest.get(c["document_id"])
            latest[c["document_id"]] = (c["seq"], "new" if seen and seen[1] == "new" else c["reason"])
    return latest


def _matches(saved: SavedSearch, corpus: Store, ids: list[str], *, snippets: int) -> list[search_module.Hit]:
    """The documents among ``ids`` that a saved search matches, in the order given.

    Words are asked of FTS5 for these documents only, then the filters of the documents that
    have the words. A highlighted passage costs FTS5 a pass over the text, so only the first
    ``snippets`` matches get one ([alerts] max_per_run: more than that in one run is a flood
    digest); the others show the start of their text, or the figure or organisation that matched."""
    if saved.query.strip():
        ids = search_module.among(corpus, saved.query, ids)
    found = _paged(replace(saved, query=""), corpus, ids)
    if saved.query.strip() and found and snippets > 0:
        passages = {h.id: h for h in _paged(saved, corpus, [h.id for h in found[:snippets]])}
        found = [passages.get(h.id, h) for h in found]
    return found


def _paged(saved: SavedSearch, corpus: Store, ids: list[str]) -> list[search_module.Hit]:
    """Matches among ``ids``, a page at a time (SQLite caps the number of bound values), in their order."""
    order = {doc: i for i, doc in enumerate(ids)}
    hits = [hit for start in range(0, len(ids), PAGE) for hit in saved.match(corpus, ids=ids[start:start + PAGE])]
    return sorted(hits, key=lambda h: order[h.id])


def _changes(corpus: Store, after: int) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = []
    while page := corpus.changes_since(after, limit=PAGE):
        changes += page
        after = page[-1]["seq"]
    return changes


def _record_hits(corpus: Store, private: PrivateStore, saved: SavedSearch, matches: list[search_module.Hit],
                 why: dict[str, tuple[int | None, str]], now: datetime, facts: dict[str, str]) -> list[int]:
    rows = []
    for match in matches:
        if match.id not in facts:
            facts[match.id] = private.add_facts(search_module.facts(corpus, match.id))
        seq, reason = why[match.id]
        rows.append({"id": match.id, "title": match.title, "url": match.url, "published": match.published,
                     "kind": match.kind, "sources": match.sources, "snippet": match.snippet,
                     "facts_key": facts[match.id], "reason": reason, "change_seq": seq})
    return private.add_hits(saved.id, rows, stamp(now)) if rows else []


def _assign(private: PrivateStore, saved: SavedSearch, hit_ids: list[int], *, max_per_run: int,
            now: datetime, daily_hour: int | None) -> int:
    """Put new hits into messages by the search's digest policy; the number of new messages."""
    if not hit_ids:
        return 0
    at = stamp(now)
    if saved.digest == "each":
        if len(hit_ids) > max_per_run:  # D9: a flood becomes one digest, nothing dropped
            private.attach(private.new_alert(saved.id, "flood", now=at, due_at=at), hit_ids)
            return 1
        for hit_id in hit_ids:
            private.attach(private.new_alert(saved.id, "single", now=at, due_at=at), [hit_id])
        return len(hit_ids)
    kind = saved.digest
    alert_id = private.open_digest(saved.id, kind, at)
    created = alert_id is None
    if alert_id is None:
        alert_id = private.new_alert(saved.id, kind, now=at, due_at=stamp(digest_due(kind, now, daily_hour)))
    private.attach(alert_id, hit_ids)
    return int(created)


def digest_due(kind: str, now: datetime, daily_hour: int | None) -> datetime:
    """When a digest opened at ``now`` goes out: the next full hour, or the next ``daily_hour``
    o'clock in Dutch time (a DST day shifts nothing: zoneinfo does the arithmetic)."""
    if kind == "hourly":
        return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    local = now.astimezone(LOCAL)
    if daily_hour is None:  # callers without a config: the shipped [alerts] daily_digest_hour
        from monitor.config import shipped

        daily_hour = shipped().alerts.daily_digest_hour
    due = local.replace(hour=daily_hour, minute=0, second=0, microsecond=0)
    if due <= local:
        due = (local + timedelta(days=1)).replace(hour=daily_hour, minute=0, second=0, microsecond=0)
    return due.astimezone(UTC)


# --- the pipeline stage --------------------------------------------------------------------


def match_and_deliver(config: Config, *, clock: Clock = utc_now,
                 holds_lock: bool = True) -> Callable[[Store], dict[str, Any]]:
    """The pipeline's alert stage: match what the run committed, then send from the outbox.

    ``Pipeline(..., after_commit=match_and_deliver(config))`` calls the result with the corpus
    store once every source is stored. Matching is one private transaction, safe beside any
    other process; sending is done by one process at a time, the holder of the run lock
    (RELIABILITY I7). A caller without it (``import``) sends only if the lock is free, and
    otherwise leaves the outbox to the process that holds it (``watch`` looks every minute)."""
    from monitor import lock, notify
    from monitor.errors import AlreadyRunning

    settings = config.alerts

    def stage(corpus: Store) -> dict[str, Any]:
        with PrivateStore.open(config) as private:
            counts = evaluate(corpus, private, max_per_run=settings.max_per_run, now=clock(),
                              daily_hour=settings.daily_digest_hour)
            crashpoint("after_commit_before_send")
            if holds_lock:
                return {**counts, **notify.deliver(private, config, clock=clock)}
            try:
                with lock.exclusive(config.lock_path):
                    return {**counts, **notify.deliver(private, config, clock=clock)}
            except AlreadyRunning:
                return {**counts, "delivery": "left to the process holding the run lock"}

    return stage
