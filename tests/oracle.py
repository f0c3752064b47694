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

The module also holds what the crash, concurrency and storage suites share: the replayed input
(``replay``), its clean reference (``clean``) and the fork server that runs the CLI (``runner``),
as pytest fixtures a test module imports.
"""

from __future__ import annotations

import atexit
import json
import shutil
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from forkrun import Result, Runner
from monitor.store import Store
from replays.build_replays import SOURCES, build

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


def cursor_not_ahead(expected: Snapshot, db: Path) -> list[str]:
    """I1 right after a kill: a cursor that already says "all done" must have all its documents."""
    got = snapshot(db)
    problems = []
    for (name,), (_, cursor) in got["sources"].items():
        want = expected["sources"].get((name,))
        if cursor is None or want is None or cursor != want[1]:
            continue
        missing = {k for k in expected["document_sources"] if k[0] == name} - set(got["document_sources"])
        if missing:
            problems.append(f"{name}: the cursor is final but {sorted(missing)} are not stored")
    return problems


def summary(snap: Snapshot) -> dict[str, int]:
    """Row counts of a snapshot, for messages and the report."""
    return {table: (sum(rows.values()) if isinstance(rows, Counter) else len(rows)) for table, rows in snap.items()}


def _short(diff: dict[str, tuple[Any, Any]]) -> str:
    return ", ".join(f"{c}: {str(w)[:60]!r} != {str(g)[:60]!r}" for c, (w, g) in diff.items())


# --- the inputs the suite runs, and their clean references (pytest fixtures) --------------------


def replay_argv(replay: Path, db: Path, *, extract: bool = False) -> list[str]:
    """``mkb-monitor run`` of the three replayed sources into ``db`` (by default without the
    language models: the storage suites do not need figures, and it is quicker)."""
    sources = [arg for name in SOURCES for arg in ("--source", name)]
    return ["--config", str(replay / "monitor.toml"), "--db", str(db), "run", "--replay", str(replay),
            *sources, *([] if extract else ["--no-extract"]), "--json"]


def fresh_db(parent: Path, label: str) -> Path:
    directory = parent / label
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory / "monitor.db"


def completed(runner: Runner, argv: list[str]) -> Result:
    result = runner.run(argv)
    assert result.code == 0, f"the run did not complete (exit {result.code}):\n{result.stderr[-2000:]}"
    return result


_RUNNER: list[Runner] = []


@pytest.fixture(scope="module")
def runner() -> Runner:
    """One fork server for the whole pytest session (it takes seconds to import the models);
    stopped when the session's process exits."""
    if not _RUNNER:
        _RUNNER.append(Runner().__enter__())
        atexit.register(_RUNNER[0].__exit__, None, None, None)
    return _RUNNER[0]


@pytest.fixture(scope="module")
def replay(tmp_path_factory) -> Path:
    """The replay directory built from real fixtures for today (tests/replays/build_replays.py)."""
    return build(tmp_path_factory.mktemp("replay") / "fixture-run")


@pytest.fixture(scope="module")
def clean(runner, replay, tmp_path_factory) -> Snapshot:
    """The oracle's reference: one clean run of the replay into a fresh database."""
    db = tmp_path_factory.mktemp("clean") / "monitor.db"
    report = json.loads(completed(runner, replay_argv(replay, db)).stdout)
    assert report["totals"]["failed"] == 0 and report["totals"]["new"] == 5, report
    assert integrity(db) == []
    return snapshot(db)


# --- alerts: expected hits vs the outbox vs what the sinks received ---------------------------------


def alert_hits(private_db: Path) -> set[tuple[str, str]]:
    """(saved search name, document id) of every hit recorded in the private file."""
    conn = sqlite3.connect(f"file:{private_db}?mode=ro", uri=True)
    try:
        return set(conn.execute("SELECT s.name, h.document_id FROM hits h JOIN saved_searches s ON s.id = h.search_id"))
    finally:
        conn.close()


def reconcile_alerts(expected_hits: set[tuple[str, str]], private_db: Path, smtp: Any, hook: Any, *,
                     ambiguous_allowed: bool) -> tuple[list[str], dict[str, int]]:
    """RELIABILITY §2 steps 1-4 for alerts: the hits are the ones a clean run makes; every alert in
    the outbox was sent on every channel, and every sink saw each idempotency key exactly once,
    except an ambiguous redelivery, which must carry the same key and be counted."""
    problems = []
    hits = alert_hits(private_db)
    problems += [f"hits: missing {h}" for h in sorted(expected_hits - hits)]
    problems += [f"hits: extra {h}" for h in sorted(hits - expected_hits)]
    conn = sqlite3.connect(f"file:{private_db}?mode=ro", uri=True)
    try:
        problems += [f"private integrity: {row[0]}" for row in conn.execute("PRAGMA integrity_check") if row[0] != "ok"]
        problems += [f"private foreign key: {row}" for row in conn.execute("PRAGMA foreign_key_check")]
        deliveries = conn.execute("SELECT d.alert_id, c.kind, d.status FROM deliveries d "
                                  "JOIN channels c ON c.id = d.channel_id").fetchall()
        counted = dict(conn.execute("SELECT name, value FROM counters").fetchall())
    finally:
        conn.close()
    problems += [f"delivery of alert {a} by {kind} is {status}" for a, kind, status in deliveries if status != "sent"]
    keys = {("email", f"<alert-{a}@mkb-monitor>") for a, kind, _ in deliveries if kind == "email"}
    keys |= {("webhook", f"alert-{a}") for a, kind, _ in deliveries if kind == "webhook"}
    seen = {("email", k): n for k, n in smtp.by_message_id().items()}
    seen |= {("webhook", k): n for k, n in hook.deliveries_per_id().items()}
    lost = sorted(keys - set(seen))
    phantom = sorted(set(seen) - keys)
    duplicated = {k: n - 1 for k, n in seen.items() if n > 1}
    problems += [f"alert lost: {k}" for k in lost] + [f"delivered but not in the outbox: {k}" for k in phantom]
    ambiguous = counted.get("alerts/ambiguous_redelivery", 0)
    extra = sum(duplicated.values())
    if extra and not (ambiguous_allowed and extra <= ambiguous):
        problems.append(f"duplicates {duplicated} with alerts/ambiguous_redelivery = {ambiguous}")
    figures = {"alerts_expected": len(keys), "alerts_delivered": len(keys) - len(lost), "alerts_lost": len(lost),
               "alerts_duplicated": 0 if ambiguous_allowed and extra <= ambiguous else extra,
               "alerts_ambiguous_redelivery": extra if ambiguous_allowed and extra <= ambiguous else 0}
    return problems, figures
