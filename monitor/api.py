"""The Python API: one object for a corpus, its private state (saved searches, channels,
outbox) and its settings. The ``mkb-monitor`` commands call it and print what it returns.

    from monitor import Monitor

    with Monitor.open("data/monitor.db") as m:
        m.import_jsonl("nieuws.jsonl")
        for hit in m.search("mkb digitalisering"):
            print(hit.title)

Each call opens the files it needs and closes them again, so a ``Monitor`` may live as long as a
notebook and never holds a lock between calls; ``run`` and ``deliver`` take the run lock for
their duration (``AlreadyRunning`` when ``watch`` holds it).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor import alerts, config as config_module, health, lock, notify, pipeline
from monitor import search as search_module
from monitor.alerts import SavedSearch, utc_now
from monitor.config import Config
from monitor.errors import ConfigError, QueryError
from monitor.runs import RunReport
from monitor.search import Hit
from monitor.store import Store
from monitor.store.private import PrivateStore, stamp

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


@dataclass
class Channels:
    """Where a saved search sends: each given e-mail address and webhook URL is added; ``atom``
    and ``console`` add (True) or remove (False) that channel, None leaves it as it is."""

    emails: tuple[str, ...] = ()
    webhooks: tuple[str, ...] = ()
    atom: bool | None = None
    console: bool | None = None
    removed_emails: tuple[str, ...] = ()
    removed_webhooks: tuple[str, ...] = ()


@dataclass
class Saved:
    """What saving a search did: its id, each new webhook's signing secret (shown once), and the
    counts of a backfill."""

    id: int
    name: str
    secrets: dict[str, str] = field(default_factory=dict)
    backfill: dict[str, int] | None = None


class Monitor:
    """A corpus with its private file and settings (``monitor.config``)."""

    def __init__(self, config: Config) -> None:
        self.config = config

    @classmethod
    def open(cls, db: str | Path | None = None, *, config_path: str | Path | None = None,
             overrides: dict[str, Any] | None = None) -> Monitor:
        """The corpus at ``db`` (default: ``[monitor] db``), configured by the TOML file at
        ``config_path`` on top of the shipped defaults."""
        return cls(config_module.load(config_path, db=db, overrides=overrides))

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    # --- the files ------------------------------------------------------------------------

    def corpus(self, *, readonly: bool = False, progress: Any = None) -> Store:
        """The corpus store (a context manager). Read-only needs an existing corpus."""
        if readonly and not self.config.db_path.exists():
            raise QueryError(f"no corpus at {self.config.db_path}: run `mkb-monitor run` or "
                             "`mkb-monitor import FILE.jsonl` first")
        return Store.open(self.config, readonly=readonly, progress=progress)

    def private(self) -> PrivateStore:
        """The corpus's private file (saved searches, channels, outbox; a context manager)."""
        return PrivateStore.open(self.config)

    @contextmanager
    def _corpus_if_any(self) -> Iterator[Store | None]:
        if not self.config.db_path.exists():
            yield None
            return
        with Store.open(self.config, readonly=True) as store:
            yield store

    # --- runs -----------------------------------------------------------------------------

    def run(self, names: Iterable[str] = (), *, extract: bool = True, record: str | Path | None = None,
            replay: str | Path | None = None, progress: Callable[..., None] | None = None) -> RunReport:
        """One run of the configured sources (all enabled ones, or ``names``), under the run lock."""
        if record and replay:
            raise QueryError("record and replay exclude each other")
        if record and Path(record).exists() and any(Path(record).iterdir()):
            raise QueryError(f"a recording needs a new or empty directory ({record} has files: one run, one recording)")
        with lock.exclusive(self.config.lock_path), self.corpus(progress=progress) as store:
            return pipeline.for_config(self.config, store, extract=extract, record=record, replay=replay,
                                       progress=progress).run(list(names) or None)

    def import_jsonl(self, path: str | Path, *, source: str = "import", extract: bool = True,
                     progress: Callable[..., None] | None = None) -> RunReport:
        """Load documents from a JSONL file. Needs no run lock; alerts are matched at once and
        sent when nobody else holds the lock."""
        sc = pipeline.importing(self.config, path, source)
        with self.corpus(progress=progress) as store:
            return pipeline.for_config(self.config, store, extract=extract, progress=progress,
                                       holds_lock=False).run(sources=[(sc, pipeline.build_source(sc))])

    def search(self, query: str, *, organisations: Iterable[str] = (), **filters: Any) -> list[Hit]:
        """Documents matching ``query`` (the one query language), with ``since``, ``until``,
        ``sources``, ``kinds``, ``dossier``, ``sort`` and ``limit`` as ``mkb-monitor search`` has them;
        ``organisations`` by name, alias or id."""
        with self.corpus(readonly=True) as store:
            orgs = search_module.org_ids(store, list(organisations)) if organisations else None
            return search_module.search(store, query, organisations=orgs, **filters)

    def sources(self) -> list[dict[str, Any]]:
        """Each configured or stored source: failing, stale, fresh or never run, with the reason."""
        stored: dict[str, dict[str, Any]] = {}
        if self.config.db_path.exists():
            with self.corpus(readonly=True) as store:
                stored = {row["name"]: row for row in store.sources_overview()}
        return health.sources(self.config, stored)

    def figures(self, *, organisations: Iterable[str] = (), **filters: Any) -> list[dict[str, Any]]:
        """Figures in the corpus, newest documents first: ``subject``, ``unit``, ``minimum``,
        ``since``, ``limit`` as ``mkb-monitor figures`` has them; ``organisations`` by name or id."""
        with self.corpus(readonly=True) as store:
            orgs = search_module.org_ids(store, list(organisations)) if organisations else None
            return store.figures(organisations=orgs, **filters)

    def organisations(self, *, unknown_only: bool = False, limit: int = 50) -> list[dict[str, Any]]:
        """Organisations named in the corpus, most mentioned first."""
        with self.corpus(readonly=True) as store:
            return store.organisation_counts(unknown_only=unknown_only, limit=limit)

    def reprocess(self, sources: Iterable[str] = (), *, extract_only: bool = False, everything: bool = False,
                  processes: int | None = None, progress: Callable[..., None] | None = None) -> dict[str, Any]:
        """Parse and extract again from the stored raw responses (no network, no run lock: each
        document is its own transaction); counts per stage. ``processes``: [nlp] processes."""
        extractor = pipeline.ModelExtractor(self.config.nlp)
        progress = progress or (lambda event, **info: None)
        counts = {}
        with self.corpus(progress=progress) as store:
            if not extract_only:
                counts["parse"] = pipeline.reprocess(store, self.config, extractor, sources=list(sources) or None,
                                                     progress=progress)
            counts["extract"] = pipeline.reextract(store, extractor, everything=everything, progress=progress,
                                                   batch_size=self.config.nlp.batch_size,
                                                   processes=processes or self.config.nlp.processes)
        return counts

    def check(self) -> dict[str, list[str]]:
        """Problems SQLite, its foreign keys and FTS5 find in the corpus and the private file, per file."""
        if not self.config.db_path.exists():
            raise QueryError(f"no corpus at {self.config.db_path}")
        with self.corpus() as store:  # FTS5's integrity-check is an INSERT command, refused read-only
            problems = {str(self.config.db_path): store.check()}
        if self.config.private_db_path.exists():
            with PrivateStore.open(self.config, readonly=True) as private:
                problems[str(self.config.private_db_path)] = private.check()
        return problems

    # --- saved searches -------------------------------------------------------------------

    def check_channels(self, channels: Channels) -> None:
        """Refuse a malformed e-mail address or a webhook to a refused address before anything is
        saved (RELIABILITY D7): ``QueryError`` (address) or ``DeliveryError`` (webhook)."""
        for url in channels.webhooks:
            notify.check_webhook_url(url, allow_private=self.config.alerts.allow_private_webhooks)
        for address in channels.emails:
            if not _EMAIL.fullmatch(address):
                raise QueryError(f"{address!r} is not an e-mail address")

    def add_search(self, search: SavedSearch, channels: Channels | None = None, *,
                   backfill_days: int | None = None) -> Saved:
        """Save ``search`` with its channels (the console when none is given)."""
        channels = channels or Channels()
        if channels.console is None and not (channels.emails or channels.webhooks or channels.atom):
            channels = dataclasses.replace(channels, console=True)
        self.check_channels(channels)
        with self._corpus_if_any() as corpus, self.private() as private:
            search_id = alerts.save(private, corpus, search, now=utc_now())
            saved = Saved(search_id, search.name, self._set_channels(private, search_id, channels))
            if backfill_days:
                saved.backfill = self._backfill(private, corpus, search_id, backfill_days)
        return saved

    def edit_search(self, name: str, channels: Channels | None = None, *, backfill_days: int | None = None,
                    **updates: Any) -> Saved:
        """Change the saved search ``name``: ``updates`` are SavedSearch fields (``query``, ``name``,
        ``sources``, ``kinds``, ``organisations``, ``dossier``, ``figure``, ``digest``, ``enabled``)."""
        channels = channels or Channels()
        self.check_channels(channels)
        with self._corpus_if_any() as corpus, self.private() as private:
            old = SavedSearch.from_row(self._saved(private, name))
            new = dataclasses.replace(old, **updates)
            alerts.edit(private, corpus, new, now=utc_now())
            assert old.id is not None
            saved = Saved(old.id, new.name, self._set_channels(private, old.id, channels))
            if backfill_days:
                saved.backfill = self._backfill(private, corpus, old.id, backfill_days)
        return saved

    def remove_search(self, name: str) -> None:
        """Delete a saved search with its channels, hits and outbox."""
        with self.private() as private:
            row = self._saved(private, name)
            with private.transaction():
                private.remove_search(row["id"])

    def saved_searches(self) -> list[dict[str, Any]]:
        """Every saved search with its channels (secrets hidden) and how many documents it matched."""
        with self.private() as private:
            return [_summary(private, row) for row in private.searches()]

    def saved_search(self, name: str, *, reveal: bool = False) -> dict[str, Any]:
        """One saved search: criteria, channels (secrets with ``reveal``), latest hits, deliveries."""
        with self.private() as private:
            row = self._saved(private, name)
            return {**_summary(private, row, reveal=reveal), "latest_hits": private.hits(row["id"], limit=20),
                    "deliveries": private.deliveries(search_id=row["id"], limit=50),
                    "outbox": private.outbox(stamp(utc_now())), "counters": private.counters()}

    def test_search(self, name: str) -> tuple[SavedSearch, list[Hit]]:
        """The saved search ``name`` and what it matches in the corpus now (nothing recorded or sent)."""
        with self.private() as private:
            search = SavedSearch.from_row(self._saved(private, name))
        with self.corpus(readonly=True) as corpus:
            return search, search.match(corpus)

    def replay(self, name: str) -> int:
        """Put a saved search's failed deliveries back in the outbox, enabling again the webhooks
        a receiver had turned off (410); how many were queued."""
        with self.private() as private:
            row = self._saved(private, name)
            failed = [d["id"] for d in private.deliveries(search_id=row["id"], status="failed", limit=1_000_000)]
            with private.transaction():
                for c in private.channels(row["id"]):
                    if not c["enabled"] and c["kind"] == "webhook":
                        private.add_channel(row["id"], c["kind"], c["target"], c["secret"])  # enables it again
                return private.replay(failed, stamp(utc_now()))

    def deliver(self) -> dict[str, Any]:
        """Send what the outbox holds and is due, under the run lock; the counts and the outbox."""
        with lock.exclusive(self.config.lock_path), self.private() as private:
            counts = notify.deliver(private, self.config, clock=utc_now)
            return {**counts, "outbox": private.outbox(stamp(utc_now()))}

    # --- helpers --------------------------------------------------------------------------

    @staticmethod
    def _saved(private: PrivateStore, name: str) -> dict[str, Any]:
        row = private.search(name)
        if row is None:
            raise QueryError(f"no saved search named {name!r} (see `mkb-monitor alerts list`)")
        return row

    @staticmethod
    def _set_channels(private: PrivateStore, search_id: int, channels: Channels) -> dict[str, str]:
        secrets = {}
        with private.transaction():
            for address in channels.removed_emails:
                private.remove_channel(search_id, "email", address)
            for url in channels.removed_webhooks:
                private.remove_channel(search_id, "webhook", url)
            for address in channels.emails:
                private.add_channel(search_id, "email", address)
            for url in channels.webhooks:
                secrets[url] = notify.new_webhook_secret()
                private.add_channel(search_id, "webhook", url, secrets[url])
            for kind, wanted in (("atom", channels.atom), ("console", channels.console)):
                if wanted:
                    private.add_channel(search_id, kind)
                elif wanted is False:
                    private.remove_channel(search_id, kind)
        return secrets

    def _backfill(self, private: PrivateStore, corpus: Store | None, search_id: int, days: int) -> dict[str, int]:
        if corpus is None:
            raise ConfigError(f"no corpus at {self.config.db_path} to backfill from")
        return alerts.backfill(corpus, private, search_id, days=days, max_per_run=self.config.alerts.max_per_run,
                               now=utc_now(), daily_hour=self.config.alerts.daily_digest_hour)


def _summary(private: PrivateStore, row: dict[str, Any], *, reveal: bool = False) -> dict[str, Any]:
    try:
        describe = SavedSearch.from_row(row).describe()
    except Exception as exc:  # a row edited into nonsense is listed, with what is wrong with it
        describe = f"(unreadable: {exc})"
    channels = [{"id": c["id"], "kind": c["kind"], "target": c["target"], "enabled": bool(c["enabled"]),
                 "disabled_reason": c["disabled_reason"],
                 **({"secret": c["secret"] if reveal else "(hidden: --reveal)"} if c["secret"] else {})}
                for c in private.channels(row["id"])]
    return {"id": row["id"], "name": row["name"], "query": row["query"], "filters": row["filters"],
            "describe": describe, "digest": row["digest"], "enabled": bool(row["enabled"]),
            "invalid_reason": row.get("invalid_reason"), "invalid_at": row.get("invalid_at"),
            "since_seq": row["since_seq"], "created": row["created"], "updated": row["updated"],
            "channels": channels, "hits": private.hit_count(row["id"])}
