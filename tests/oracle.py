"""The reconciliation oracle (RELIABILITY §2): is the corpus what a clean run would have made?

After a crash and a rerun, the corpus must hold exactly what one clean, uninterrupted run of the
same input into a fresh database holds: no document missing, none extra, the same texts,
versions, source links, aliases, change-log reasons, kept raw responses, figures, mentions,
HTTP validators and cursors. Only what is *about* the runs is left out (times, run ids, change
sequence numbers, the ``runs`` ledger), because a crashed run is allowed to leave a trace there.

    expected = snapshot(clean_db)
    problems = reconcile(expected, crashed_db)   # [] when nothing was lost, doubled or changed

``snapshot`` reads with a fresh connection in this process, never the one of the run, so a
write that the run thought committed but is not on disk shows up (P7).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

from monitor.store import Store

# table -> (the columns that identify a row, the columns whose values must match)
TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "documents": (("id",), ("kind", "title", "url", "published", "published_raw", "modified", "text",
                            "text_quality", "content_hash", "version", "language", "dossiers", "relevance",
                            "deleted", "meta", "source", "extracted_with")),
    "document_sources": (("source", "source_key"), ("document_id", "url", "item")),
    "document_aliases": (("alias",), ("document_id",)),
    "document_versions": (("document_id", "version"), ("title", "text", "content_hash", "text_quality",
                                                        "replaced_by_source")),
    "sources": (("name",), ("kind", "cursor")),
    "item_failures": (("source", "item_key"), ("stage", "code", "attempts")),
    "skipped_items": (("source", "item_key"), ("url", "title", "score", "reason")),
    "http_validators": (("url",), ("etag", "last_modified")),
}
# Tables without a natural key: compared as multisets of their meaningful columns.
MULTISETS: dict[str, tuple[str, ...]] = {
    "changes": ("document_id", "version", "reason"),
    "raw_responses": ("document_id", "source", "url", "status", "sha256", "size"),
    "figures": ("document_id", "start", "end", "text", "value", "unit", "subject"),
    "mentions": ("document_id", "organisation_id", "start", "end", "text"),
}

Snapshot = dict[str, Any]


def snapshot(db_path: Path) -> Snapshot:
    """Everything the oracle compares, read through a fresh read-only connection."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        snap: Snapshot = {}
        for table, (key, values) in TABLES.items():
            rows = conn.execute(f"SELECT {', '.join(key + values)} FROM {table}").fetchall()
            snap[table] = {row[:len(key)]: row[len(key):] for row in rows}
        for table, columns in MULTISETS.items():
            snap[table] = Counter(conn.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall())
        return snap
    finally:
        conn.close()


def integrity(db_path: Path) -> list[str]:
    """SQLite's integrity and foreign-key checks and the FTS sync check (``Store.check``)."""
    with Store(db_path) as store:
        return store.check()


def reconcile(expected: Snapshot, db_path: Path) -> list[str]:
    """Every difference between the expected corpus and the one at ``db_path``, plus every
    integrity problem; an empty list means the oracle passed."""
    problems = [f"integrity: {p}" for p in integrity(db_path)]
    actual = snapshot(db_path)
    for table, (key, values) in TABLES.items():
        want, got = expected[table], actual[table]
        for k in sorted(set(want) - set(got)):
            problems.append(f"{table}: missing {dict(zip(key, k))}")
        for k in sorted(set(got) - set(want)):
            problems.append(f"{table}: extra {dict(zip(key, k))}")
        for k in sorted(set(want) & set(got)):
            if want[k] != got[k]:
                diff = {c: (w, g) for c, w, g in zip(values, want[k], got[k]) if w != g}
                problems.append(f"{table}: {dict(zip(key, k))} differs (expected, got): {_short(diff)}")
    for table, columns in MULTISETS.items():
        missing, extra = expected[table] - actual[table], actual[table] - expected[table]
        problems += [f"{table}: missing {dict(zip(columns, row))}" for row in sorted(missing, key=repr)]
        problems += [f"{table}: extra {dict(zip(columns, row))}" for row in sorted(extra, key=repr)]
    return problems


def summary(snap: Snapshot) -> dict[str, int]:
    """Row counts of a snapshot, for messages and the report."""
    return {table: (sum(rows.values()) if isinstance(rows, Counter) else len(rows)) for table, rows in snap.items()}


def _short(diff: dict[str, tuple[Any, Any]]) -> str:
    return ", ".join(f"{c}: {str(w)[:60]!r} != {str(g)[:60]!r}" for c, (w, g) in diff.items())
