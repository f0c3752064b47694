"""The private file: saved searches, their channels, recipients and secrets, and the alert outbox.

A second SQLite file (``data/private.db`` by default, ``[monitor] private_db``) that Datasette
never serves, so a query on the public corpus can never read an e-mail address, a webhook
secret or the outbox (RELIABILITY I8, S3). This module is the only place with its SQL.

    saved_searches   what to look for, how often to tell, and from which change-log seq on
    channels         where to tell it: console, an e-mail address, a webhook URL and secret, a feed
    hits             one row per (saved search, document), UNIQUE: a document alerts a search once
    alerts           one message: a single hit, or a digest of several
    deliveries       one row per (alert, channel), UNIQUE: the outbox, with status and retry times
    state            the watermark: the corpus change-log seq matching has read up to
    counters         deliveries that may have happened twice (I5), and other delivery figures

Transactions begin with ``BEGIN IMMEDIATE`` (I7), as in the corpus.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from monitor.errors import StorageError
from monitor.store.sqlite import SQLiteFile

SCHEMA_VERSION = 1
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


def stamp(moment: datetime) -> str:
    """The one time format of this file: UTC to the second, sortable as text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sql_list(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


# Append only: a released migration never changes. The index is the schema version it creates.
MIGRATIONS = [_migration_1]
assert len(MIGRATIONS) == SCHEMA_VERSION


class PrivateStore(SQLiteFile):
    """The private file. Open with :meth:`open`; use as a context manager to close it."""

    MIGRATIONS = MIGRATIONS
    SYNCHRONOUS = "FULL"  # a 'sent' mark must survive a power cut

    @property
    def db(self) -> sqlite_utils.Database:
        return self._db  # the private file's own statements; the corpus keeps its connection to itself

    @classmethod
    def open(cls, config: Any, *, readonly: bool = False) -> PrivateStore:
        return cls(config.private_db_path, busy_timeout_ms=config["monitor"]["busy_timeout_ms"], readonly=readonly)

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

    def add_hit(self, search_id: int, hit: dict[str, Any], *, reason: str, change_seq: int | None,
                now: str) -> int | None:
        """Record that a document matched a search; None when it already had (the UNIQUE key)."""
        cursor = self.db.execute(
            "INSERT INTO hits (search_id, document_id, reason, change_seq, matched_at, title, url, published, "
            "kind, sources, snippet, facts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(search_id, document_id) DO NOTHING",
            [search_id, hit["id"], reason, change_seq, now, hit["title"], hit["url"], hit["published"],
             hit["kind"], json.dumps(hit["sources"]), hit["snippet"],
             json.dumps(hit["facts"], ensure_ascii=False)])
        return cursor.lastrowid if cursor.rowcount else None

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
        row["hits"] = [_decoded(h) for h in self.db.query("SELECT * FROM hits WHERE alert_id = ? ORDER BY id",
                                                          [alert_id])]
        return row

    def hit_count(self, search_id: int) -> int:
        return self.db.execute("SELECT count(*) FROM hits WHERE search_id = ?", [search_id]).fetchone()[0]

    def hits(self, search_id: int, *, limit: int = 50) -> list[dict[str, Any]]:
        return [_decoded(h) for h in self.db.query(
            "SELECT * FROM hits WHERE search_id = ? ORDER BY id DESC LIMIT ?", [search_id, limit])]

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


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    for key in ("filters", "sources", "facts"):
        if key in row and isinstance(row[key], str):
            row[key] = json.loads(row[key])
    return row
