"""The private file: saved searches, their channels, recipients and secrets, and the alert outbox.

A second SQLite file that Datasette never serves, so a query on the public corpus can never
read an e-mail address, a webhook secret or the outbox (RELIABILITY I8, S3). This module is the
only place with its SQL.

A private file belongs to one corpus: it is named after it (``data/monitor.db`` ->
``data/monitor.private.db``, or ``[monitor] private_db``) and records the corpus's id, so two
corpora in one folder never share saved searches, and a private file never silently serves a
corpus it was not made for (its watermark would be another corpus's change-log position). The
``data/private.db`` of earlier versions, which every corpus in the folder shared, is adopted by
the corpus its hits and watermark fit (see ``adopt_legacy``).

    saved_searches   what to look for, how often to tell, and from which change-log seq on
    channels         where to tell it: console, an e-mail address, a webhook URL and secret, a feed
    hits             one row per (saved search, document), UNIQUE: a document alerts a search once
    facts            the figures and organisations of a document as it matched, once for all its hits
    alerts           one message: a single hit, or a digest of several
    deliveries       one row per (alert, channel), UNIQUE: the outbox, with status and retry times
    state            the watermark: the corpus change-log seq matching has read up to
    counters         deliveries that may have happened twice (I5), and other delivery figures
    belongs_to       the id of the corpus this file belongs to

Transactions begin with ``BEGIN IMMEDIATE`` (I7), as in the corpus.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from monitor.clock import stamp  # noqa: F401  (the one time format; importers of it here keep working)
from monitor.errors import NotACorpus, StorageError
from monitor.store.corpus import Store
from monitor.store.sqlite import SQLiteFile

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
LEGACY_NAME = "private.db"  # the private file of versions before it belonged to one corpus
STATUSES = ("pending", "sent", "retrying", "failed")
CHANNEL_KINDS = ("console", "email", "webhook", "atom")
ALERT_KINDS = ("single", "flood", "hourly", "daily")  # flood: more hits in one run than max_per_run


def _migration_1(db: sqlite_utils.Database) -> None:
    for statement in (
        """CREATE TABLE saved_searches (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            query TEXT NOT NULL DEFAULT '',
            filters TEXT NOT NULL DEFAULT '{}',
            digest TEXT NOT NULL DEFAULT 'each' CHECK (digest IN ('each', 'hourly', 'daily')),
            enabled INTEGER NOT NULL DEFAULT 1,
            since_seq INTEGER NOT NULL DEFAULT 0,
            created TEXT NOT NULL,
            updated TEXT NOT NULL)""",
        f"""CREATE TABLE channels (
            id INTEGER PRIMARY KEY,
            search_id INTEGER NOT NULL REFERENCES saved_searches(id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ({_sql_list(CHANNEL_KINDS)})),
            target TEXT NOT NULL DEFAULT '',
            secret TEXT,
            enabled INTEGER NOT NULL DEFAULT 1,
            disabled_reason TEXT,
            UNIQUE (search_id, kind, target))""",
        f"""CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            search_id INTEGER NOT NULL REFERENCES saved_searches(id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ({_sql_list(ALERT_KINDS)})),
            created TEXT NOT NULL,
            due_at TEXT NOT NULL)""",
        "CREATE INDEX alerts_open ON alerts (search_id, kind, due_at)",
        """CREATE TABLE hits (
            id INTEGER PRIMARY KEY,
            search_id INTEGER NOT NULL REFERENCES saved_searches(id) ON DELETE CASCADE,
            document_id TEXT NOT NULL,
            alert_id INTEGER REFERENCES alerts(id) ON DELETE CASCADE,
            reason TEXT NOT NULL,
            change_seq INTEGER,
            matched_at TEXT NOT NULL,
            title TEXT NOT NULL, url TEXT, published TEXT, kind TEXT,
            sources TEXT NOT NULL DEFAULT '[]',
            snippet TEXT NOT NULL DEFAULT '',
            facts TEXT NOT NULL DEFAULT '{}',
            UNIQUE (search_id, document_id))""",
        "CREATE INDEX hits_alert ON hits (alert_id)",
        f"""CREATE TABLE deliveries (
            id INTEGER PRIMARY KEY,
            alert_id INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
            channel_id INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
            status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ({_sql_list(STATUSES)})),
            attempts INTEGER NOT NULL DEFAULT 0,
            in_flight INTEGER NOT NULL DEFAULT 0,
            first_attempt_at TEXT, last_attempt_at TEXT,
            next_attempt_at TEXT NOT NULL,
            last_error TEXT,
            sent_at TEXT,
            UNIQUE (alert_id, channel_id))""",
        "CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at)",
        "CREATE TABLE state (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
        "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL DEFAULT 0)",
    ):
        db.execute(statement)


def _sql_list(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _migration_2(db: sqlite_utils.Database) -> None:
    """A saved search that cannot run is marked (and skipped) instead of stopping the others; the
    file records the corpus it belongs to."""
    db.execute("ALTER TABLE saved_searches ADD COLUMN invalid_reason TEXT")
    db.execute("ALTER TABLE saved_searches ADD COLUMN invalid_at TEXT")
    db.execute("CREATE TABLE belongs_to (corpus_id TEXT NOT NULL)")
    # A document's figures and organisations were copied into each of its hits: 1,000 saved
    # searches matching one document stored them 1,000 times (5.9 GB for a 5,000-document import).
    db.execute("CREATE TABLE facts (key TEXT PRIMARY KEY, facts TEXT NOT NULL) WITHOUT ROWID")
    db.execute("ALTER TABLE hits ADD COLUMN facts_key TEXT REFERENCES facts(key)")


# Append only: a released migration never changes. The index is the schema version it creates.
MIGRATIONS = [_migration_1, _migration_2]
assert len(MIGRATIONS) == SCHEMA_VERSION


class PrivateStore(SQLiteFile):
    """The private file. Open with :meth:`open`; use as a context manager to close it."""

    MIGRATIONS = MIGRATIONS
    KIND = "private file"
    MARKER_TABLE = "saved_searches"
    SYNCHRONOUS = "FULL"  # a 'sent' mark must survive a power cut

    @property
    def db(self) -> sqlite_utils.Database:
        return self._db  # the private file's own statements; the corpus keeps its connection to itself

    @classmethod
    def open(cls, config: Any, *, readonly: bool = False) -> PrivateStore:
        """The private file of the configured corpus: adopted from ``private.db`` if that is where
        it still is, and refused if it records another corpus."""
        path = config.private_db_path
        if not readonly and not config.monitor.private_db and not path.exists():
            adopt_legacy(config.db_path, path, busy_timeout_ms=config.monitor.busy_timeout_ms)
        private = cls(path, busy_timeout_ms=config.monitor.busy_timeout_ms, readonly=readonly)
        if not readonly:
            try:
                private.pair(config.db_path)
            except BaseException:
                private.close()
                raise
        return private

    # -- the corpus it belongs to --

    def corpus_id(self) -> str | None:
        row = self.db.execute("SELECT corpus_id FROM belongs_to").fetchone()
        return row[0] if row else None

    def pair(self, corpus_path: Path) -> None:
        """Record the corpus this file serves, or refuse one it does not."""
        if not corpus_path.exists():
            return  # saved before the first run: paired when the corpus exists
        with Store(corpus_path, readonly=True) as corpus:
            theirs, last_seq = corpus.corpus_id(), corpus.last_change_seq()
        if theirs is None:
            return  # a corpus of an older version, opened read-only: paired after its upgrade
        mine = self.corpus_id()
        if mine == theirs:
            return
        if mine is not None or self.watermark() > last_seq:
            raise NotACorpus(f"{self.path} belongs to another corpus than {corpus_path} (was that corpus replaced?): "
                             "move the private file away to start its saved searches afresh, or point "
                             "[monitor] private_db at the private file of this corpus")
        with self.transaction():
            self._belong_to(theirs)

    def _belong_to(self, corpus_id: str) -> None:
        self.db.execute("DELETE FROM belongs_to")
        self.db.execute("INSERT INTO belongs_to (corpus_id) VALUES (?)", [corpus_id])

    # -- the watermark and counters --

    def watermark(self) -> int:
        row = self.db.execute("SELECT value FROM state WHERE key = 'watermark'").fetchone()
        return row[0] if row else 0

    def set_watermark(self, seq: int) -> None:
        self.db.execute("INSERT INTO state (key, value) VALUES ('watermark', ?) "
                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value", [seq])

    def bump(self, name: str, n: int = 1) -> None:
        self.db.execute("INSERT INTO counters (name, value) VALUES (?, ?) "
                        "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value", [name, n])

    def counters(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT name, value FROM counters ORDER BY name").fetchall())

    # -- saved searches and channels --

    def add_search(self, *, name: str, query: str, filters: dict[str, Any], digest: str, since_seq: int,
                   now: str) -> int:
        try:
            return self.db.execute(
                "INSERT INTO saved_searches (name, query, filters, digest, since_seq, created, updated) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [name, query, json.dumps(filters, ensure_ascii=False), digest, since_seq, now, now]).lastrowid
        except sqlite3.IntegrityError:
            raise StorageError(f"a saved search named {name!r} already exists") from None

    def update_search(self, search_id: int, now: str, **fields: Any) -> None:
        if "filters" in fields:
            fields["filters"] = json.dumps(fields["filters"], ensure_ascii=False)
        assignments = ", ".join(f"{key} = :{key}" for key in fields)
        self.db.execute(f"UPDATE saved_searches SET {assignments}, updated = :now WHERE id = :id",
                        {**fields, "now": now, "id": search_id})

    def remove_search(self, search_id: int) -> None:
        self.db.execute("DELETE FROM saved_searches WHERE id = ?", [search_id])

    def search(self, name_or_id: str | int) -> dict[str, Any] | None:
        rows = list(self.db.query("SELECT * FROM saved_searches WHERE name = ? OR id = ?",
                                  [str(name_or_id), name_or_id]))
        return _decoded(rows[0]) if rows else None

    def searches(self, *, enabled_only: bool = False) -> list[dict[str, Any]]:
        where = "WHERE enabled = 1" if enabled_only else ""
        return [_decoded(r) for r in self.db.query(f"SELECT * FROM saved_searches {where} ORDER BY id")]

    def mark_invalid(self, search_id: int, reason: str, now: str) -> None:
        """A saved search that failed to run: skipped from now on until it runs again or is edited."""
        self.db.execute("UPDATE saved_searches SET invalid_reason = ?, invalid_at = ? WHERE id = ?",
                        [reason, now, search_id])

    def mark_valid(self, search_id: int) -> None:
        self.db.execute("UPDATE saved_searches SET invalid_reason = NULL, invalid_at = NULL "
                        "WHERE id = ? AND invalid_reason IS NOT NULL", [search_id])

    def add_channel(self, search_id: int, kind: str, target: str = "", secret: str | None = None) -> int:
        self.db.execute("INSERT INTO channels (search_id, kind, target, secret) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT(search_id, kind, target) DO UPDATE SET secret = excluded.secret, "
                        "enabled = 1, disabled_reason = NULL", [search_id, kind, target, secret])
        return self.db.execute("SELECT id FROM channels WHERE search_id = ? AND kind = ? AND target = ?",
                               [search_id, kind, target]).fetchone()[0]

    def remove_channel(self, search_id: int, kind: str, target: str = "") -> int:
        return self.db.execute("DELETE FROM channels WHERE search_id = ? AND kind = ? AND target = ?",
                               [search_id, kind, target]).rowcount

    def channels(self, search_id: int) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.query("SELECT * FROM channels WHERE search_id = ? ORDER BY id",
                                               [search_id])]

    def channel(self, channel_id: int) -> dict[str, Any]:
        return dict(next(self.db.query("SELECT * FROM channels WHERE id = ?", [channel_id])))

    def disable_channel(self, channel_id: int, reason: str) -> None:
        self.db.execute("UPDATE channels SET enabled = 0, disabled_reason = ? WHERE id = ?", [reason, channel_id])

    # -- hits and alerts --

    def add_facts(self, facts: dict[str, Any]) -> str:
        """Keep a document's facts once; the key hits refer to them by."""
        text = json.dumps(facts, ensure_ascii=False, sort_keys=True)
        key = hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]
        self.db.execute("INSERT INTO facts (key, facts) VALUES (?, ?) ON CONFLICT(key) DO NOTHING", [key, text])
        return key

    def add_hits(self, search_id: int, hits: list[dict[str, Any]], now: str) -> list[int]:
        """Record that documents matched a search; the ids of the new hits (a document that had
        already matched this search is not recorded again: the UNIQUE key). Each hit holds the
        document's id, title, url, published, kind, sources, snippet, facts_key, reason and
        change_seq. Call inside a transaction."""
        before = self.db.execute("SELECT coalesce(max(id), 0) FROM hits").fetchone()[0]
        self.db.conn.executemany(
            "INSERT INTO hits (search_id, document_id, reason, change_seq, matched_at, title, url, published, "
            "kind, sources, snippet, facts_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(search_id, document_id) DO NOTHING",
            [(search_id, h["id"], h["reason"], h["change_seq"], now, h["title"], h["url"], h["published"],
              h["kind"], json.dumps(h["sources"]), h["snippet"], h["facts_key"]) for h in hits])
        # Rowids only grow inside the transaction, so the new rows are those past the old maximum.
        return [r[0] for r in self.db.execute("SELECT id FROM hits WHERE search_id = ? AND id > ? ORDER BY id",
                                              [search_id, before])]

    def new_alert(self, search_id: int, kind: str, *, now: str, due_at: str) -> int:
        """A message of ``kind``, with a pending delivery on every enabled channel of its search."""
        alert_id = self.db.execute("INSERT INTO alerts (search_id, kind, created, due_at) VALUES (?, ?, ?, ?)",
                                   [search_id, kind, now, due_at]).lastrowid
        self.db.execute("INSERT INTO deliveries (alert_id, channel_id, next_attempt_at) "
                        "SELECT ?, id, ? FROM channels WHERE search_id = ? AND enabled = 1",
                        [alert_id, due_at, search_id])
        return alert_id

    def open_digest(self, search_id: int, kind: str, now: str) -> int | None:
        """The digest of ``kind`` still collecting hits (its due time not yet reached), if any."""
        row = self.db.execute("SELECT id FROM alerts WHERE search_id = ? AND kind = ? AND due_at > ? "
                              "ORDER BY id DESC LIMIT 1", [search_id, kind, now]).fetchone()
        return row[0] if row else None

    def attach(self, alert_id: int, hit_ids: list[int]) -> None:
        self.db.conn.executemany("UPDATE hits SET alert_id = ? WHERE id = ?", [(alert_id, h) for h in hit_ids])

    def alert(self, alert_id: int) -> dict[str, Any]:
        row = dict(next(self.db.query(
            "SELECT a.*, s.name AS search_name, s.query AS search_query FROM alerts a "
            "JOIN saved_searches s ON s.id = a.search_id WHERE a.id = ?", [alert_id])))
        row["hits"] = [_decoded(h) for h in self.db.query(f"{_HITS} WHERE h.alert_id = ? ORDER BY h.id", [alert_id])]
        return row

    def hit_count(self, search_id: int) -> int:
        return self.db.execute("SELECT count(*) FROM hits WHERE search_id = ?", [search_id]).fetchone()[0]

    def hits(self, search_id: int, *, limit: int = 50) -> list[dict[str, Any]]:
        return [_decoded(h) for h in self.db.query(f"{_HITS} WHERE h.search_id = ? ORDER BY h.id DESC LIMIT ?",
                                                   [search_id, limit])]

    # -- the outbox --

    def due(self, now: str) -> list[dict[str, Any]]:
        """Deliveries to attempt now, oldest first, with their channel."""
        return [dict(r) for r in self.db.query(
            "SELECT d.*, c.kind AS channel_kind, c.target, c.secret, c.search_id FROM deliveries d "
            "JOIN channels c ON c.id = d.channel_id "
            "WHERE d.status IN ('pending', 'retrying') AND d.next_attempt_at <= ? AND c.enabled = 1 "
            "ORDER BY d.id", [now])]

    def begin_attempt(self, delivery_id: int, now: str) -> bool:
        """Mark an attempt as started; True when the previous one never recorded its outcome (the
        process died while the channel had it, so this attempt may deliver a second time)."""
        was_in_flight = self.db.execute("SELECT in_flight FROM deliveries WHERE id = ?",
                                        [delivery_id]).fetchone()[0]
        self.db.execute("UPDATE deliveries SET in_flight = 1, attempts = attempts + 1, last_attempt_at = ?, "
                        "first_attempt_at = coalesce(first_attempt_at, ?) WHERE id = ?", [now, now, delivery_id])
        return bool(was_in_flight)

    def next_due(self) -> datetime | None:
        """When the earliest waiting delivery falls due."""
        when = self.db.execute("SELECT min(d.next_attempt_at) FROM deliveries d JOIN channels c ON c.id = d.channel_id "
                               "WHERE d.status IN ('pending', 'retrying') AND c.enabled = 1").fetchone()[0]
        return datetime.fromisoformat(when.replace("Z", "+00:00")) if when else None

    def mark_sent(self, delivery_id: int, now: str) -> None:
        self.db.execute("UPDATE deliveries SET status = 'sent', in_flight = 0, sent_at = ?, last_error = NULL "
                        "WHERE id = ?", [now, delivery_id])

    def mark_retry(self, delivery_id: int, next_attempt_at: str, error: str) -> None:
        self.db.execute("UPDATE deliveries SET status = 'retrying', in_flight = 0, next_attempt_at = ?, "
                        "last_error = ? WHERE id = ?", [next_attempt_at, error, delivery_id])

    def mark_failed(self, delivery_id: int, error: str) -> None:
        self.db.execute("UPDATE deliveries SET status = 'failed', in_flight = 0, last_error = ? WHERE id = ?",
                        [error, delivery_id])

    def replay(self, delivery_ids: list[int], now: str) -> int:
        """Put failed deliveries back in the outbox (an operator's decision, D6)."""
        return sum(self.db.execute(
            "UPDATE deliveries SET status = 'pending', next_attempt_at = ?, first_attempt_at = NULL "
            "WHERE id = ? AND status = 'failed'", [now, d]).rowcount for d in delivery_ids)

    def deliveries(self, *, search_id: int | None = None, status: str | None = None,
                   limit: int = 100) -> list[dict[str, Any]]:
        where, params = ["1"], []
        if search_id is not None:
            where.append("a.search_id = ?")
            params.append(search_id)
        if status is not None:
            where.append("d.status = ?")
            params.append(status)
        return [dict(r) for r in self.db.query(
            "SELECT d.*, c.kind AS channel_kind, c.target, a.search_id, a.kind AS alert_kind FROM deliveries d "
            "JOIN channels c ON c.id = d.channel_id JOIN alerts a ON a.id = d.alert_id "
            f"WHERE {' AND '.join(where)} ORDER BY d.id DESC LIMIT ?", [*params, limit])]

    def feed_alerts(self, channel_id: int, alert_ids: list[int], *, limit: int) -> list[int]:
        """The alerts a feed shows: those already in it and ``alert_ids``, newest ``limit`` of them."""
        marks = ", ".join("?" * len(alert_ids)) or "NULL"
        return [r[0] for r in self.db.execute(
            f"SELECT alert_id FROM deliveries WHERE channel_id = ? AND (status = 'sent' OR alert_id IN ({marks})) "
            "ORDER BY alert_id DESC LIMIT ?", [channel_id, *alert_ids, limit])]

    def outbox(self, now: str) -> dict[str, Any]:
        """Outbox depth by status and the age of the oldest undelivered alert (RELIABILITY §5)."""
        counts = dict(self.db.execute("SELECT status, count(*) FROM deliveries GROUP BY status").fetchall())
        oldest = self.db.execute("SELECT min(a.created) FROM deliveries d JOIN alerts a ON a.id = d.alert_id "
                                 "WHERE d.status IN ('pending', 'retrying') AND d.next_attempt_at <= ?",
                                 [now]).fetchone()[0]
        return {**{s: counts.get(s, 0) for s in STATUSES}, "oldest_pending": oldest}


# Hits with their facts (kept in ``facts``; hits stored before that table have their own copy).
_HITS = ("SELECT h.id, h.search_id, h.document_id, h.alert_id, h.reason, h.change_seq, h.matched_at, h.title, "
         "h.url, h.published, h.kind, h.sources, h.snippet, coalesce(f.facts, h.facts) AS facts "
         "FROM hits h LEFT JOIN facts f ON f.key = h.facts_key")


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    for key in ("filters", "sources", "facts"):
        if key in row and isinstance(row[key], str):
            try:
                row[key] = json.loads(row[key])
            except ValueError:
                pass  # left as text: the saved search it belongs to is then marked invalid, not fatal to all
    return row


# --- the private.db of earlier versions -----------------------------------------------------


def adopt_legacy(corpus_path: Path, target: Path, *, busy_timeout_ms: int | None = None) -> bool:
    """Move the shared ``private.db`` beside ``corpus_path`` to ``target`` if it belongs to that corpus.

    Earlier versions kept one ``private.db`` for every corpus in a folder. It belongs to a corpus
    when its watermark is not past the corpus's change log and every document it has alerted on
    is in the corpus. Of several corpora it fits, ``monitor.db`` (the old default) takes it; if
    several fit and none is that, nothing is moved and the user is told to choose. The move keeps
    every row: the file is opened and closed by SQLite first (which folds its WAL into it), then
    renamed; another process still holding it open stops the move."""
    from monitor import lock

    legacy = corpus_path.with_name(LEGACY_NAME)
    if not legacy.exists() or legacy == target or not corpus_path.exists():
        return False
    with lock.exclusive(legacy.with_name(LEGACY_NAME + ".adopting"), wait=True):
        if target.exists() or not legacy.exists():
            return False  # another process adopted it meanwhile
        fits = [c for c in _corpora_beside(legacy) if _belongs(legacy, c)]
        if corpus_path.resolve() not in fits:
            return False
        if corpus_path.name != "monitor.db" and len(fits) > 1:
            if any(c.name == "monitor.db" for c in fits):
                return False
            raise NotACorpus(f"{legacy} may hold the saved searches of {' or '.join(str(c) for c in fits)}: "
                             f"rename it to the corpus's name with .private.db (e.g. {target.name}), or set "
                             "[monitor] private_db in that corpus's config")
        with Store(corpus_path, readonly=True) as corpus:
            corpus_id = corpus.corpus_id()
        with PrivateStore(legacy, busy_timeout_ms=busy_timeout_ms) as old:  # migrated to this schema
            if corpus_id is not None:
                with old.transaction():
                    old._belong_to(corpus_id)
        if Path(f"{legacy}-wal").exists():
            raise StorageError(f"{legacy} is open in another process: stop it (an older mkb-monitor?) and retry")
        try:
            os.link(legacy, target)  # fails if the target appeared meanwhile: nothing is overwritten
        except FileExistsError:
            return False
        os.unlink(legacy)
    log.warning("%s now belongs to %s and is called %s", legacy, corpus_path, target)
    return True


def _corpora_beside(legacy: Path) -> list[Path]:
    """The mkb-monitor corpora in the legacy file's folder (other SQLite files are not)."""
    found = []
    for path in sorted(legacy.parent.iterdir()):
        if path.suffix != ".db" or path.name.endswith(".private.db") or path.name == LEGACY_NAME:
            continue
        try:
            Store(path, readonly=True).close()
        except (StorageError, OSError):
            continue
        found.append(path.resolve())
    return found


def _belongs(legacy: Path, corpus_path: Path) -> bool:
    with Store(corpus_path, readonly=True) as corpus:
        last_seq = corpus.last_change_seq()
        with PrivateStore(legacy, readonly=True) as old:
            if old.watermark() > last_seq:
                return False
            alerted = [r[0] for r in old.db.execute("SELECT DISTINCT document_id FROM hits LIMIT 1000")]
        known = corpus._db.execute("SELECT count(*) FROM documents WHERE id IN (SELECT value FROM json_each(?))",
                                   [json.dumps(alerted)]).fetchone()[0]
    return known == len(alerted)
