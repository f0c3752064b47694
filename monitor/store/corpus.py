"""The corpus: documents, their sources, versions, figures and mentions, runs and cursors.

One SQLite file (``data/monitor.db`` by default) that any SQLite tool can read: sqlite3,
sqlite-utils, Datasette. Alert state, recipients and secrets live in a second file
(``monitor/alerts.py`` owns it) that is never served, RELIABILITY invariant I8.

Transactions: every write goes through :meth:`Store.transaction`, which begins with
``BEGIN IMMEDIATE`` so a writer takes the lock before it reads (a deferred transaction that
reads and then writes fails at once under a concurrent writer, I7). sqlite-utils nests its own
writes inside it as savepoints, so one ``with store.transaction():`` is one atomic unit: the
documents of a batch, their figures and mentions, their change-log rows, the HTTP validators of
the pages that produced them and the source cursor that covers them (I1).

Identity: a document's id is the source's official identifier where there is one
(``kst-32637-428``) and ``web-<hash of the canonical URL>`` otherwise. Every other key a
publication arrives under (a feed guid, a TK document number, another source's key, the
canonical URL) is an alias, so the same publication from two sources is one document.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import socket
import sqlite3
import uuid
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from models.records import Extraction
from monitor import text as hygiene
from monitor.clock import stamp
from monitor.errors import Interrupted, ParseError, code_of, redact
from monitor.search import Settings as SearchSettings
from monitor.store.search import FTS_TOKENIZER, TITLE_WEIGHT, SearchIndex, create_vocabulary
from monitor.store.sqlite import SQLiteFile
from scrapers.base import Document, Item, Response, canonical_url

SCHEMA_VERSION = 6
QUALITY = {q: i for i, q in enumerate(Document.TEXT_QUALITIES)}


def content_hash(title: str, text: str) -> str:
    """What counts as a change: the words of the title and text, not their white space."""
    normal = " ".join(f"{title}\n{text}".split())
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()


def web_id(url: str) -> str:
    return "web-" + hashlib.sha256(canonical_url(url).encode("utf-8")).hexdigest()[:16]


def normalise_published(value: str | None) -> str | None:
    """ISO 8601 in UTC ("2026-09-23T08:00:00Z"); a bare date stays a bare date."""
    if not value:
        return None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return value
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%dT%H:%M:%S")
    try:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except OverflowError:  # 0001-01-01T00:00+01:00 or 9999-12-31T23:59-14:00 has no UTC year 1-9999
        raise ParseError(f"published date {value!r} is out of range") from None


@dataclass(frozen=True)
class Outcome:
    """What storing one document did. ``change`` is the change-log reason, None when nothing changed."""

    document_id: str
    status: str  # new | changed | upgraded | unchanged | linked | deleted
    change: str | None
    version: int


# --- schema ---------------------------------------------------------------------------------


def _migration_1(db: sqlite_utils.Database) -> None:
    db["sources"].create({
        "name": str, "kind": str, "cursor": str, "cursor_updated": str,
        "last_run": str, "last_success": str, "last_new": str, "last_error": str,
        "last_error_code": str, "last_error_at": str,
        "runs_ok": int, "runs_failed": int,
    }, pk="name", not_null={"kind"}, defaults={"runs_ok": 0, "runs_failed": 0})
    db["documents"].create({
        "id": str, "kind": str, "title": str, "url": str, "published": str, "published_raw": str,
        "modified": str, "first_seen": str, "updated": str, "text": str, "text_quality": str,
        "content_hash": str, "version": int, "language": str, "dossiers": str, "relevance": float,
        "deleted": int, "meta": str, "source": str, "extracted_with": str,
    }, pk="id", not_null={"kind", "title", "text", "content_hash", "version"},
        defaults={"version": 1, "deleted": 0, "dossiers": "[]", "meta": "{}"})
    db["documents"].create_index(["published"])
    db["documents"].create_index(["content_hash"])
    db["documents"].create_index(["kind", "published"])
    db["documents"].enable_fts(["title", "text"], fts_version="FTS5", create_triggers=True,
                               tokenize=FTS_TOKENIZER)
    db.execute(f"INSERT INTO documents_fts(documents_fts, rank) VALUES('rank', 'bm25({TITLE_WEIGHT}, 1.0)')")
    db["document_sources"].create({
        "document_id": str, "source": str, "source_key": str, "url": str,
        "first_seen": str, "last_seen": str, "item": str, "item_version": str,
    }, pk=("source", "source_key"), foreign_keys=[("document_id", "documents", "id")])
    db["document_sources"].create_index(["document_id"])
    db["document_aliases"].create({"alias": str, "document_id": str}, pk="alias",
                                  foreign_keys=[("document_id", "documents", "id")])
    db["document_aliases"].create_index(["document_id"])
    db["document_versions"].create({
        "document_id": str, "version": int, "title": str, "text": str, "content_hash": str,
        "text_quality": str, "replaced_at": str, "replaced_by_source": str,
    }, pk=("document_id", "version"), foreign_keys=[("document_id", "documents", "id")])
    db["raw_responses"].create({
        "id": int, "document_id": str, "source": str, "url": str, "status": int, "headers": str,
        "fetched": str, "sha256": str, "size": int, "body": bytes,
    }, pk="id", foreign_keys=[("document_id", "documents", "id")])
    db["raw_responses"].create_index(["document_id", "source"])
    db["changes"].create({
        "seq": int, "document_id": str, "version": int, "reason": str, "at": str, "run_id": int,
    }, pk="seq", foreign_keys=[("document_id", "documents", "id")])
    db["runs"].create({
        "id": int, "source": str, "started": str, "finished": str, "status": str,
        "discovered": int, "fetched": int, "new": int, "changed": int, "unchanged": int,
        "skipped": int, "failed": int, "not_modified": int, "error_code": str, "error": str,
        "http": str,
    }, pk="id")
    db["runs"].create_index(["source", "started"])
    db["item_failures"].create({
        "source": str, "item_key": str, "url": str, "stage": str, "code": str, "message": str,
        "attempts": int, "first_at": str, "last_at": str, "run_id": int,
    }, pk=("source", "item_key"))
    db["skipped_items"].create({
        "source": str, "item_key": str, "url": str, "title": str, "score": float, "reason": str,
        "at": str,
    }, pk=("source", "item_key"))
    db["http_validators"].create({"url": str, "etag": str, "last_modified": str, "updated": str}, pk="url")
    db["robots"].create({"origin": str, "body": bytes, "fetched_at": float}, pk="origin")
    db["organisations"].create({
        "id": str, "canonical": str, "kind": str, "aliases": str, "valid_from": str, "valid_to": str,
        "in_gazetteer": int,
    }, pk="id")
    db["organisations"].create_index(["canonical"])
    db["mentions"].create({
        "id": int, "document_id": str, "organisation_id": str, "start": int, "end": int,
        "text": str, "sentence": str,
    }, pk="id", foreign_keys=[("document_id", "documents", "id"), ("organisation_id", "organisations", "id")])
    db["mentions"].create_index(["document_id"])
    db["mentions"].create_index(["organisation_id", "document_id"])
    db["figures"].create({
        "id": int, "document_id": str, "start": int, "end": int, "text": str, "value": float,
        "value_max": float, "unit": str, "subject": str, "qualifier": str, "sentence": str,
    }, pk="id", foreign_keys=[("document_id", "documents", "id")])
    db["figures"].create_index(["document_id"])
    db["figures"].create_index(["subject", "unit"])


def _migration_2(db: sqlite_utils.Database) -> None:
    """Search at scale: an index of the live documents by date; FTS re-indexing only when the
    words change."""
    # Search walks the live documents newest first when a word is in too many of them to rank or
    # sort them all (monitor/search.py): this index answers the walk without reading a document
    # (with ``deleted`` in it SQLite sees that it covers the walk's ``deleted = 0``; leading with
    # it would make SQLite prefer this index to idx_documents_content_hash in put_document).
    db.execute("CREATE INDEX idx_documents_live_published ON documents(published, deleted) WHERE deleted = 0")
    # The FTS update trigger of migration 1 re-indexed a document on ANY update (setting
    # extracted_with after each extraction, merging dossiers on each sighting): 2 ms each at
    # 20,000 documents. The index holds the title and the text, so only they need it.
    db.execute("DROP TRIGGER documents_au")
    db.execute("""
        CREATE TRIGGER documents_au AFTER UPDATE OF title, text ON documents BEGIN
          INSERT INTO documents_fts (documents_fts, rowid, title, text) VALUES ('delete', old.rowid, old.title, old.text);
          INSERT INTO documents_fts (rowid, title, text) VALUES (new.rowid, new.title, new.text);
        END""")


def _migration_3(db: sqlite_utils.Database) -> None:
    """Dossiers as rows, so "everything on a dossier" is an index lookup, not a scan of every
    document's JSON (1 s on a million documents); and an index for the source facet."""
    db.execute("""
        CREATE TABLE document_dossiers (
          dossier TEXT NOT NULL,
          document_id TEXT NOT NULL REFERENCES documents(id),
          PRIMARY KEY (dossier, document_id)
        ) WITHOUT ROWID""")
    db.execute("CREATE INDEX idx_document_dossiers_document ON document_dossiers(document_id)")
    db.execute("INSERT OR IGNORE INTO document_dossiers (dossier, document_id) "
               "SELECT j.value, d.id FROM documents d, json_each(d.dossiers) j")
    db.execute("CREATE INDEX idx_documents_source ON documents(source)")


def _migration_4(db: sqlite_utils.Database, progress: Any = None) -> None:
    """Dutch word forms in search: the vocabulary of the FTS index with each token's keys
    (monitor/store/search.py), built from the index for an existing corpus."""
    create_vocabulary(db.conn)
    SearchIndex(db.conn).build_vocabulary(progress)


_migration_4.reports_progress = True  # type: ignore[attr-defined]


def _migration_5(db: sqlite_utils.Database) -> None:
    """A sort key for the documents that is never NULL and never the same twice: the publication
    time, then the id ("2024-01-05T08:00:00Z web-1f2e...", undated: " web-1f2e..." which sorts
    after every date when newest come first).

    Datasette pages a table by the last row's sort value and primary key, but orders its first
    page by the sort column alone and cannot continue after a NULL: sorted on ``published``, a
    page break among undated documents, or among documents of one date, dropped and repeated
    rows (CSV of 100,000 undated documents: 52,750 distinct). A unique key is one total order on
    every page. Generated (nothing writes it) and VIRTUAL (ALTER TABLE can only add those); the
    indexes hold its values. NOT NULL lets SQLite walk the index for Datasette's next page,
    whose WHERE asks for ``sort_key is null`` as well (without it: a full sort, past 1 s at 200,000
    documents); the second index keeps a kind's pages (the kind facet) an index walk as well."""
    db.execute("ALTER TABLE documents ADD COLUMN sort_key TEXT "
               "GENERATED ALWAYS AS (coalesce(published, '') || ' ' || id) VIRTUAL NOT NULL")
    db.execute("CREATE INDEX idx_documents_sort_key ON documents(sort_key)")
    db.execute("CREATE INDEX idx_documents_kind_sort_key ON documents(kind, sort_key)")


_CONTROL_GLOB = "*[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*"  # a text that monitor.text.clean changes


def _migration_6(db: sqlite_utils.Database) -> None:
    """Runs know their process, so a run whose process died is closed the next time the corpus
    opens; the corpus has an id, which its private file records; text stored before text hygiene
    (monitor/text.py) is cleaned, so no control character reaches a feed or a terminal."""
    db.execute("ALTER TABLE runs ADD COLUMN pid INTEGER")
    db.execute("ALTER TABLE runs ADD COLUMN host TEXT")
    db.execute("CREATE INDEX idx_runs_running ON runs(status) WHERE status = 'running'")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO meta (key, value) VALUES ('corpus_id', ?)", [uuid.uuid4().hex])
    db.execute("UPDATE runs SET status = 'failed', error_code = ?, error = 'interrupted (closed on upgrade)' "
               "WHERE status IN ('running', 'killed')", [Interrupted.code])
    rows = db.execute("SELECT id, title, text FROM documents WHERE title GLOB ?1 OR text GLOB ?1",
                      [_CONTROL_GLOB]).fetchall()
    for doc_id, title, text in rows:
        title, text = hygiene.clean_title(title), hygiene.clean(text)
        db.execute("UPDATE documents SET title = ?, text = ?, content_hash = ? WHERE id = ?",
                   [title, text, content_hash(title, text), doc_id])


# Append only: a released migration never changes. The index is the schema version it creates.
MIGRATIONS = [_migration_1, _migration_2, _migration_3, _migration_4, _migration_5, _migration_6]
assert len(MIGRATIONS) == SCHEMA_VERSION


# --- the store ------------------------------------------------------------------------------


class Store(SQLiteFile):
    """The corpus file. Open with :meth:`open`; use as a context manager to close it."""

    MIGRATIONS = MIGRATIONS
    KIND = "corpus"
    MARKER_TABLE = "documents"

    def __init__(self, path: Any, *, search: SearchSettings | None = None, max_text_chars: int | None = None,
                 **options: Any) -> None:
        super().__init__(path, **options)
        self.search_settings = SearchSettings.of(search)  # caps, snippets, the user's synonyms; None: shipped
        self.search_index = SearchIndex(self._db.conn)
        if max_text_chars is None:
            from monitor.config import shipped

            max_text_chars = shipped().monitor.max_text_chars
        self.max_text_chars = max_text_chars
        if not self.readonly:
            self.close_interrupted_runs()

    @classmethod
    def open(cls, config: Any, *, readonly: bool = False, progress: Any = None) -> "Store":
        return cls(config.db_path, busy_timeout_ms=config.monitor.busy_timeout_ms, readonly=readonly,
                   search=config.search, progress=progress, max_text_chars=config.monitor.max_text_chars)

    def corpus_id(self) -> str | None:
        """The corpus's identity (None in a corpus not yet migrated, opened read-only)."""
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'corpus_id'").fetchone()
        except sqlite3.OperationalError:
            return None
        return row[0] if row else None

    def check(self) -> list[str]:
        """Problems found by SQLite's integrity and foreign-key checks and FTS5's own sync check."""
        problems = super().check()
        try:
            self._db.execute("INSERT INTO documents_fts(documents_fts, rank) VALUES('integrity-check', 1)")
        except sqlite3.DatabaseError as exc:
            problems.append(f"documents_fts out of sync with documents: {exc}")
        return problems

    # -- sources and cursors --

    def ensure_source(self, name: str, kind: str) -> None:
        self._db.execute("INSERT INTO sources (name, kind) VALUES (?, ?) "
                        "ON CONFLICT(name) DO UPDATE SET kind = excluded.kind", [name, kind])

    def cursor(self, source: str) -> str | None:
        row = self._db.execute("SELECT cursor FROM sources WHERE name = ?", [source]).fetchone()
        return row[0] if row else None

    def set_cursor(self, source: str, cursor: str) -> None:
        self._db.execute("UPDATE sources SET cursor = ?, cursor_updated = ? WHERE name = ?",
                        [cursor, stamp(), source])

    def sources_overview(self) -> list[dict[str, Any]]:
        rows = self._db.query("""
            SELECT s.*, (SELECT count(DISTINCT document_id) FROM document_sources d
                         WHERE d.source = s.name) AS documents
            FROM sources s ORDER BY s.name""")
        return [dict(row) for row in rows]

    # -- runs --

    def start_run(self, source: str) -> int:
        with self.transaction():
            self._db.execute("UPDATE sources SET last_run = ? WHERE name = ?", [stamp(), source])
            return self._db["runs"].insert({"source": source, "started": stamp(), "status": "running",
                                            "pid": os.getpid(), "host": socket.gethostname()}).last_pk

    def interrupted_runs(self) -> list[dict[str, Any]]:
        """Runs marked running whose process is gone (on this machine): killed, or the machine stopped."""
        try:
            rows = [dict(r) for r in self._db.query("SELECT id, source, pid, host FROM runs WHERE status = 'running'")]
        except sqlite3.OperationalError:  # a corpus of schema 3 opened read-only: no pid to judge by
            return []
        return [r for r in rows if not _process_alive(r["pid"], r["host"])]

    def close_interrupted_runs(self) -> int:
        """Close the runs whose process died as failed (``run.interrupted``), with their sources'
        last error, so `runs` and `sources` never show a dead run as still going."""
        dead = self.interrupted_runs()
        for run in dead:
            self.finish_run(run["id"], run["source"], status="failed", counts={}, error_code=Interrupted.code,
                            error=f"interrupted: the process (pid {run['pid']}) ended before the run finished",
                            keep_counts=True)
        return len(dead)

    def finish_run(self, run_id: int, source: str, *, status: str, counts: dict[str, int],
                   error_code: str | None = None, error: str | None = None,
                   http: dict[str, Any] | None = None, keep_counts: bool = False) -> None:
        """Record a run's end. ``status`` is ok, partial, failed or deferred."""
        now = stamp()
        with self.transaction():
            fields = {"finished": now, "status": status, "error_code": error_code,
                      "error": redact(error) if error else error}
            if not keep_counts:
                fields["http"] = json.dumps(http or {})
                fields.update({k: counts.get(k, 0) for k in ("discovered", "fetched", "new", "changed", "unchanged",
                                                             "skipped", "failed", "not_modified")})
            self._db["runs"].update(run_id, fields)
            if status in ("ok", "partial"):
                self._db.execute(
                    "UPDATE sources SET last_success = ?, runs_ok = runs_ok + 1, "
                    "last_new = CASE WHEN ? > 0 THEN ? ELSE last_new END WHERE name = ?",
                    [now, counts.get("new", 0), now, source])
            else:
                self._db.execute(
                    "UPDATE sources SET last_error = ?, last_error_code = ?, last_error_at = ?, "
                    "runs_failed = runs_failed + ? WHERE name = ?",
                    [redact(error) if error else error, error_code, now, int(status == "failed"), source])

    def record_failure(self, source: str, item_key: str, *, url: str | None, stage: str,
                       error: BaseException, run_id: int | None) -> int:
        """A per-item failure, counted per item so a poison item can be held after N attempts."""
        now = stamp()
        self._db.execute("""
            INSERT INTO item_failures (source, item_key, url, stage, code, message, attempts, first_at, last_at, run_id)
            VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?)
            ON CONFLICT(source, item_key) DO UPDATE SET stage = excluded.stage, code = excluded.code,
              message = excluded.message, attempts = attempts + 1, last_at = excluded.last_at,
              run_id = excluded.run_id""",
            [source, item_key, redact(url) if url else url, stage, code_of(error), redact(str(error))[:2000], now,
             now, run_id])
        return self.failure_attempts(source, item_key)

    def failure_attempts(self, source: str, item_key: str) -> int:
        row = self._db.execute("SELECT attempts FROM item_failures WHERE source = ? AND item_key = ?",
                              [source, item_key]).fetchone()
        return row[0] if row else 0

    def clear_failure(self, source: str, item_key: str) -> None:
        self._db.execute("DELETE FROM item_failures WHERE source = ? AND item_key = ?", [source, item_key])

    def record_skipped(self, source: str, item_key: str, *, url: str | None, title: str | None,
                       score: float | None, reason: str) -> None:
        self._db["skipped_items"].upsert({"source": source, "item_key": item_key, "url": url, "title": title,
                                         "score": score, "reason": reason, "at": stamp()},
                                        pk=("source", "item_key"))

    # -- HTTP cache (the monitor.http.HttpCache protocol) --

    def get_validators(self, url: str) -> dict[str, str] | None:
        row = self._db.execute("SELECT etag, last_modified FROM http_validators WHERE url = ?", [url]).fetchone()
        return {"etag": row[0], "last_modified": row[1]} if row else None

    def save_validators(self, validators: dict[str, dict[str, str | None]]) -> None:
        now = stamp()
        for url, v in validators.items():
            self._db.execute("INSERT INTO http_validators (url, etag, last_modified, updated) VALUES (?, ?, ?, ?) "
                            "ON CONFLICT(url) DO UPDATE SET etag = excluded.etag, "
                            "last_modified = excluded.last_modified, updated = excluded.updated",
                            [url, v.get("etag"), v.get("last_modified"), now])

    def get_robots(self, origin: str) -> tuple[bytes, float] | None:
        row = self._db.execute("SELECT body, fetched_at FROM robots WHERE origin = ?", [origin]).fetchone()
        return (row[0], row[1]) if row else None

    def put_robots(self, origin: str, body: bytes, fetched_at: float) -> None:
        sql = ("INSERT INTO robots (origin, body, fetched_at) VALUES (?, ?, ?) ON CONFLICT(origin) "
               "DO UPDATE SET body = excluded.body, fetched_at = excluded.fetched_at")
        if self._db.conn.in_transaction:
            self._db.execute(sql, [origin, body, fetched_at])
            return
        # robots.txt is not corpus state: outside a batch it commits on its own.
        with self.transaction():
            self._db.execute(sql, [origin, body, fetched_at])

    # -- documents --

    def resolve(self, keys: Iterable[str]) -> str | None:
        """The id of the document known under any of ``keys``, if any."""
        keys = list(keys)
        found = dict(self._db.conn.execute(f"SELECT alias, document_id FROM document_aliases WHERE alias IN "
                                           f"({', '.join('?' * len(keys))})", keys)) if keys else {}
        return next((found[key] for key in keys if key in found), None)  # the first key known wins

    def put_document(self, doc: Document, *, item: Item | None = None, responses: Iterable[Response] = (),
                     extraction: Extraction | None = None, extracted_with: str | None = None,
                     relevance: float | None = None, run_id: int | None = None,
                     new_since: str | None = None) -> Outcome:
        """Store one document: insert, version, upgrade, link or tombstone it. Call inside
        :meth:`transaction`. ``extraction`` replaces the document's figures and mentions when
        its text is stored (new, changed or upgraded).

        ``new_since`` (a date, ``YYYY-MM-DD``): a document the corpus never had whose publication
        date is before it is stored as usual, but its change reason is ``resurfaced``, not
        ``new``: an old document a source sent again (the Tweede Kamer's SyncFeed re-sends old
        documents in mass updates), not a new publication. An undated one is new."""
        now = stamp()
        doc = self._hygienic(doc)
        keys = self._keys(doc)
        doc_hash = content_hash(doc.title, doc.text)
        existing_id = self.resolve(keys)
        if existing_id is None and doc.id is None and doc.text.strip():
            # Only a web page may be recognised by its text alone: an official identifier is
            # authoritative, and two Kamerstukken may well share a text (a PDF cover letter).
            row = self._db.execute("SELECT id FROM documents WHERE content_hash = ? AND deleted = 0 LIMIT 1",
                                  [doc_hash]).fetchone()
            existing_id = row[0] if row else None
        if doc.deleted:
            return self._withdraw(existing_id, doc, now, run_id)
        fields = {
            "kind": doc.kind, "title": doc.title, "url": doc.url, "published": normalise_published(doc.published),
            "published_raw": doc.published_raw or doc.published, "modified": doc.modified,
            "text": doc.text, "text_quality": doc.text_quality, "content_hash": doc_hash,
            "language": doc.language, "dossiers": json.dumps(sorted(set(doc.dossiers))),
            "meta": json.dumps(doc.meta, ensure_ascii=False, sort_keys=True, default=str),
        }
        if existing_id is None:
            doc_id = doc.id or (web_id(doc.url) if doc.url else f"{doc.source}-{_short_hash(doc.source_key)}")
            self._insert("documents", {"id": doc_id, **fields, "first_seen": now, "updated": now, "version": 1,
                                       "relevance": relevance, "source": doc.source,
                                       "extracted_with": extracted_with if extraction else None})
            outcome = Outcome(doc_id, "new", _first_seen(fields["published"], new_since), 1)
        else:
            outcome = self._update(existing_id, doc, fields, now, relevance)
        doc_id = outcome.document_id
        self._link(doc_id, doc, keys, item, now)
        self._db.conn.executemany("INSERT OR IGNORE INTO document_dossiers (dossier, document_id) VALUES (?, ?)",
                                 [(d, doc_id) for d in set(doc.dossiers)])
        if outcome.change in ("new", "resurfaced", "edited", "upgraded"):
            self.search_index.add_terms([doc.title, doc.text])
            if extraction is not None:
                self.replace_extraction(doc_id, extraction, extracted_with, fresh=outcome.status == "new")
        if responses:
            self._keep_raw(doc_id, doc.source, responses, now)
        if outcome.change:
            self._insert("changes", {"document_id": doc_id, "version": outcome.version,
                                     "reason": outcome.change, "at": now, "run_id": run_id})
        return outcome

    # The write path's statements are plain SQL, not sqlite-utils' insert and update: those read
    # the table's schema on every call, more than half of put_document's time (bench_ingest.py).

    def _insert(self, table: str, row: dict[str, Any]) -> None:
        self._db.conn.execute(f"INSERT INTO {table} ({', '.join(f'[{c}]' for c in row)}) "
                              f"VALUES ({', '.join('?' * len(row))})", list(row.values()))

    def _update_document(self, doc_id: str, fields: dict[str, Any]) -> None:
        self._db.conn.execute(f"UPDATE documents SET {', '.join(f'[{c}] = ?' for c in fields)} WHERE id = ?",
                              [*fields.values(), doc_id])

    def _hygienic(self, doc: Document) -> Document:
        """The document as the corpus keeps it: no control characters, a one-line title of at most
        MAX_TITLE_CHARS, a text of at most max_text_chars; what was cut is in ``meta["cut"]``."""
        title, title_was = hygiene.cap(hygiene.clean_title(doc.title), hygiene.MAX_TITLE_CHARS)
        text, text_was = hygiene.cap(hygiene.clean(doc.text), self.max_text_chars)
        cut = {k: v for k, v in (("title_chars", title_was), ("text_chars", text_was)) if v is not None}
        if title == doc.title and text == doc.text:
            return doc
        return dataclasses.replace(doc, title=title, text=text, meta={**doc.meta, "cut": cut} if cut else doc.meta)

    def _withdraw(self, doc_id: str | None, doc: Document, now: str, run_id: int | None) -> Outcome:
        """A source's own tombstone. It withdraws that source's sighting; the document is marked
        deleted only when no other source still has it (a letter the TK withdraws from its feed
        stays published at KOOP)."""
        if doc_id is None:  # a tombstone for something we never stored: nothing to do
            return Outcome(document_id=doc.id or f"{doc.source}:{doc.source_key}", status="unchanged",
                           change=None, version=0)
        self._db.execute("DELETE FROM document_sources WHERE document_id = ? AND source = ? AND source_key = ?",
                        [doc_id, doc.source, doc.source_key])
        version, deleted = self._db.execute("SELECT version, deleted FROM documents WHERE id = ?", [doc_id]).fetchone()
        others = self._db.execute("SELECT count(*) FROM document_sources WHERE document_id = ?", [doc_id]).fetchone()[0]
        if deleted or others:
            return Outcome(doc_id, "unchanged", None, version)
        self._db.execute("UPDATE documents SET deleted = 1, updated = ? WHERE id = ?", [now, doc_id])
        self._insert("changes", {"document_id": doc_id, "version": version, "reason": "deleted", "at": now,
                                 "run_id": run_id})
        return Outcome(doc_id, "deleted", "deleted", version)

    def _keys(self, doc: Document) -> list[str]:
        keys = [k for k in (doc.id, f"{doc.source}:{doc.source_key}") if k]
        if doc.url:
            keys.append(canonical_url(doc.url))
        keys += [a for a in doc.aliases if a]
        return list(dict.fromkeys(keys))

    def _update(self, doc_id: str, doc: Document, fields: dict[str, Any], now: str,
                relevance: float | None) -> Outcome:
        old = self._db.execute("SELECT version, content_hash, text_quality, title, text, deleted, published, "
                              "dossiers, meta FROM documents WHERE id = ?", [doc_id]).fetchone()
        version, old_hash, old_quality, old_title, old_text, deleted, old_published, old_dossiers, old_meta = old
        # What every sighting may add, whatever the quality of its text: dossiers, metadata, a date.
        merged = {
            "dossiers": json.dumps(sorted(set(json.loads(old_dossiers)) | set(doc.dossiers))),
            "meta": json.dumps({**json.loads(old_meta), **doc.meta}, ensure_ascii=False, sort_keys=True, default=str),
            "published": old_published or fields["published"],
            "deleted": 0,
        }
        new_quality, stored_quality = QUALITY[doc.text_quality], QUALITY.get(old_quality, 0)
        if fields["content_hash"] == old_hash or new_quality < stored_quality:
            self._update_document(doc_id, merged)
            status = "unchanged" if fields["content_hash"] == old_hash else "linked"
            return Outcome(doc_id, status, None, version)
        self._insert("document_versions", {
            "document_id": doc_id, "version": version, "title": old_title, "text": old_text,
            "content_hash": old_hash, "text_quality": old_quality, "replaced_at": now,
            "replaced_by_source": doc.source})
        reason = "upgraded" if new_quality > stored_quality else "edited"
        update = {**fields, **merged, "version": version + 1, "updated": now}
        if relevance is not None:
            update["relevance"] = relevance
        self._update_document(doc_id, update)
        return Outcome(doc_id, "changed" if reason == "edited" else "upgraded", reason, version + 1)

    def _link(self, doc_id: str, doc: Document, keys: list[str], item: Item | None, now: str) -> None:
        self._db.execute("""
            INSERT INTO document_sources (document_id, source, source_key, url, first_seen, last_seen, item, item_version)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(source, source_key) DO UPDATE SET document_id = excluded.document_id,
              url = excluded.url, last_seen = excluded.last_seen, item = coalesce(excluded.item, item),
              item_version = excluded.item_version""",
            [doc_id, doc.source, doc.source_key, doc.url, now, now, item.to_json() if item else None,
             item.version if item else None])
        self._db.conn.executemany("INSERT OR IGNORE INTO document_aliases (alias, document_id) VALUES (?, ?)",
                                  [(key, doc_id) for key in dict.fromkeys([doc_id, *keys])])

    def _keep_raw(self, doc_id: str, source: str, responses: Iterable[Response], now: str) -> None:
        """Keep the responses a document was parsed from, so reprocess needs no network."""
        self._db.execute("DELETE FROM raw_responses WHERE document_id = ? AND source = ?", [doc_id, source])
        for r in responses:
            self._insert("raw_responses", {
                "document_id": doc_id, "source": source, "url": redact(r.url), "status": r.status,
                "headers": json.dumps(dict(r.headers)), "fetched": now,
                "sha256": hashlib.sha256(r.content).hexdigest(), "size": len(r.content),
                "body": zlib.compress(r.content, 6)})

    def stored_version(self, source: str, source_key: str) -> str | None:
        """The ``Item.version`` last stored for this sighting, if any."""
        row = self._db.execute("SELECT item_version FROM document_sources WHERE source = ? AND source_key = ?",
                              [source, source_key]).fetchone()
        return row[0] if row else None

    def raw_responses(self, doc_id: str, source: str) -> list[Response]:
        rows = self._db.execute("SELECT url, status, headers, body FROM raw_responses "
                               "WHERE document_id = ? AND source = ? ORDER BY id", [doc_id, source])
        return [Response(url=u, status=s, headers=json.loads(h), content=zlib.decompress(b)) for u, s, h, b in rows]

    def document(self, doc_id: str) -> dict[str, Any] | None:
        rows = list(self._db.query("SELECT * FROM documents WHERE id = ?", [doc_id]))
        return rows[0] if rows else None

    def document_count(self) -> int:
        return self._db.execute("SELECT count(*) FROM documents").fetchone()[0]

    def items_for_reprocess(self, sources: Iterable[str] | None = None) -> Iterator[tuple[str, str, Item]]:
        """(document id, source, item) of every stored sighting that kept its item."""
        where, params = "WHERE item IS NOT NULL", []
        if sources:
            names = list(sources)
            where += f" AND source IN ({', '.join('?' * len(names))})"
            params = names
        for doc_id, source, item in self._db.execute(
                f"SELECT document_id, source, item FROM document_sources {where} ORDER BY document_id", params):
            yield doc_id, source, Item.from_json(item)

    def count_for_extraction(self, *, stale_only: bool, version: str) -> int:
        """How many documents `texts_for_extraction` will give."""
        where, params = _extraction_filter(stale_only, version)
        return self._db.execute(f"SELECT count(*) FROM documents WHERE {where}", params).fetchone()[0]

    def texts_for_extraction(self, *, stale_only: bool, version: str,
                             page: int = 256) -> Iterator[tuple[str, str, str | None]]:
        """(id, text, published) of documents whose figures and mentions need (re)computing, in
        rowid order. Read a page at a time, each page a query of its own: memory stays flat
        over a million documents, and the caller may write between pages (a write to the table
        a cursor still walks may make it skip or repeat rows)."""
        where, params = _extraction_filter(stale_only, version)
        after = 0
        while rows := self._db.execute(
                f"SELECT rowid, id, text, published FROM documents WHERE {where} AND rowid > ? "
                "ORDER BY rowid LIMIT ?", [*params, after, page]).fetchall():
            after = rows[-1][0]
            for _, doc_id, text, published in rows:
                yield doc_id, text, published

    # -- extraction results --

    def replace_extraction(self, doc_id: str, extraction: Extraction, extracted_with: str | None, *,
                           fresh: bool = False) -> None:
        """The document's figures and mentions, from ``extraction``. ``fresh``: the document was
        inserted in this transaction with ``extracted_with`` set, so it has none to replace."""
        if not fresh:
            self._db.execute("DELETE FROM figures WHERE document_id = ?", [doc_id])
            self._db.execute("DELETE FROM mentions WHERE document_id = ?", [doc_id])
            self._db.execute("UPDATE documents SET extracted_with = ? WHERE id = ?", [extracted_with, doc_id])
        self._db.conn.executemany(_INSERT_FIGURE, [_figure_row(doc_id, f) for f in extraction.figures])
        org_ids = [m.id or _unknown_org_id(m.canonical) for m in extraction.mentions]
        self._db.conn.executemany(
            "INSERT OR IGNORE INTO organisations (id, canonical, kind, aliases, in_gazetteer) VALUES (?, ?, ?, '[]', ?)",
            [(org_id, m.canonical, m.kind, int(m.id is not None)) for org_id, m in zip(org_ids, extraction.mentions)])
        self._db.conn.executemany(
            "INSERT INTO mentions (document_id, organisation_id, start, end, text, sentence) VALUES (?, ?, ?, ?, ?, ?)",
            [(doc_id, org_id, m.start, m.end, m.text, m.sentence) for org_id, m in zip(org_ids, extraction.mentions)])

    def sync_organisations(self, organisations: Iterable[dict[str, Any]]) -> int:
        """Upsert the gazetteer into ``organisations`` (id, canonical, kind, aliases, valid_from, valid_to)."""
        rows = [{**o, "aliases": json.dumps(list(o.get("aliases", [])), ensure_ascii=False), "in_gazetteer": 1}
                for o in organisations]
        if rows:
            self._db["organisations"].upsert_all(rows, pk="id")
        return len(rows)

    # -- listings --

    def figures(self, *, subject: str | None = None, unit: str | None = None, minimum: float | None = None,
                organisations: list[str] | None = None, since: str | None = None,
                limit: int = 50) -> list[dict[str, Any]]:
        """Figures with their document, newest documents first. ``subject`` matches as a prefix."""
        where, params = ["d.deleted = 0"], []
        if subject:
            where.append("f.subject LIKE ? ESCAPE '\\'")
            params.append(subject.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
        if unit:
            where.append("f.unit = ?")
            params.append(unit)
        if minimum is not None:
            where.append("f.value >= ?")
            params.append(minimum)
        if since:
            where.append("d.published >= ?")
            params.append(since)
        if organisations:
            where.append(f"d.id IN (SELECT document_id FROM mentions WHERE organisation_id IN "
                         f"({', '.join('?' * len(organisations))}))")
            params += organisations
        sql = f"""SELECT f.value, f.value_max, f.unit, f.subject, f.qualifier, f.text, f.sentence,
                         d.id AS document_id, d.title, d.published, d.url
                  FROM figures f JOIN documents d ON d.id = f.document_id
                  WHERE {' AND '.join(where)} ORDER BY d.published DESC, f.document_id, f.start LIMIT ?"""
        return [dict(r) for r in self._db.query(sql, [*params, limit])]

    def organisation_counts(self, *, unknown_only: bool = False, limit: int = 50) -> list[dict[str, Any]]:
        """Organisations by number of mentions; ``unknown_only`` lists names outside the gazetteer."""
        where = "WHERE o.in_gazetteer = 0" if unknown_only else ""
        sql = f"""SELECT o.id, o.canonical, o.kind, o.in_gazetteer, count(*) AS mentions,
                         count(DISTINCT m.document_id) AS documents
                  FROM mentions m JOIN organisations o ON o.id = m.organisation_id {where}
                  GROUP BY o.id ORDER BY mentions DESC, o.canonical LIMIT ?"""
        return [dict(r) for r in self._db.query(sql, [limit])]

    # -- the change log (read by alerts) --

    def changes_since(self, seq: int, *, limit: int = 10000) -> list[dict[str, Any]]:
        return [dict(r) for r in self._db.query(
            "SELECT * FROM changes WHERE seq > ? ORDER BY seq LIMIT ?", [seq, limit])]

    def last_change_seq(self) -> int:
        return self._db.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()[0]


def _first_seen(published: str | None, new_since: str | None) -> str:
    """The change reason of a document stored for the first time: ``new``, or ``resurfaced``
    when it was published (by its date) before ``new_since``."""
    if new_since and published and published[:10] < new_since:
        return "resurfaced"
    return "new"


def _process_alive(pid: int | None, host: str | None) -> bool:
    """Whether the process that started a run may still be running it. On another machine it
    cannot be told, so it is taken as alive; a reused pid errs the same way."""
    if pid is None:
        return False  # started before runs recorded their process: not running now
    if host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


FIGURE_COLUMNS = ("start", "end", "text", "value", "value_max", "unit", "subject", "qualifier", "sentence")
_INSERT_FIGURE = (f"INSERT INTO figures (document_id, {', '.join(f'[{c}]' for c in FIGURE_COLUMNS)}) "
                  f"VALUES (?, {', '.join('?' * len(FIGURE_COLUMNS))})")


def _figure_row(doc_id: str, f: Any) -> tuple[Any, ...]:
    return (doc_id, *(getattr(f, c) for c in FIGURE_COLUMNS))


def _extraction_filter(stale_only: bool, version: str) -> tuple[str, list[Any]]:
    if stale_only:
        return "deleted = 0 AND (extracted_with IS NULL OR extracted_with != ?)", [version]
    return "deleted = 0", []


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _unknown_org_id(name: str) -> str:
    """Organisations outside the gazetteer get an id from their name, for review."""
    return "unknown:" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
