"""Runs that overlap, readers that linger, writers that hold the lock (RELIABILITY P2, P5, P6, I7).

Every scenario ends with the oracle of tests/oracle.py: the corpus equals one clean run of the
same replayed input, and SQLite's integrity check passes.
"""

from __future__ import annotations

import json
import multiprocessing
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from monitor import lock
from monitor.errors import AlreadyRunning
from monitor.store import Store
from oracle import clean, completed, fresh_db, reconcile, replay, replay_argv, runner, snapshot
from reliability import LEDGER

# Kills, forks and loopback fault servers: the full suite runs these, the fast loop does not.
# Each module writes the RELIABILITY figures (the ledger fixture) when it ends.
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ledger")]

__all__ = ["clean", "replay", "runner"]  # pytest fixtures shared through oracle.py

REPO = Path(__file__).resolve().parent.parent



# --- P2: one run at a time ------------------------------------------------------------------


def _contend(path: str, start: multiprocessing.Barrier, attempted: multiprocessing.Barrier,
             results: multiprocessing.Queue) -> None:
    start.wait(10)
    try:
        with lock.exclusive(path):
            attempted.wait(10)  # hold the lock until the other process has tried too
            results.put("got the lock")
    except AlreadyRunning as exc:
        attempted.wait(10)
        results.put(f"{exc.code}: {exc}")


def test_two_processes_behind_a_barrier_one_gets_the_lock(tmp_path):
    context = multiprocessing.get_context("fork")
    start, attempted = context.Barrier(2), context.Barrier(2)
    results = context.Queue()
    procs = [context.Process(target=_contend, args=(str(tmp_path / "monitor.lock"), start, attempted, results))
             for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(20)
    outcomes = sorted(results.get(timeout=5) for _ in procs)
    assert outcomes[0] == "got the lock" and outcomes[1].startswith("run.locked: already running (pid ")
    LEDGER.fault("P2", True)


def hanging_config(tmp_path: Path, faultd) -> Path:
    """A feed source whose server accepts and never answers: a run that holds the lock."""
    config = tmp_path / "hang.toml"
    config.write_text(f"""
[http]
robots = false
host_interval = 0.0
retries = 1
read_timeout = 30.0
total_deadline = 60.0
allow_private = true

[sources.hanging]
kind = "feed"
url = "{faultd.url('/hang-before-headers')}"
""", "utf-8")
    return config


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_a_second_run_exits_75_and_a_killed_holder_frees_the_lock_at_once(runner, replay, clean, faultd, tmp_path):
    db = fresh_db(tmp_path, "p2")
    config = hanging_config(tmp_path, faultd)
    holder = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(config), "--db", str(db), "run",
                               "--source", "hanging", "--no-extract"], cwd=REPO, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    try:
        wait_for(lambda: faultd.hits("/hang-before-headers") >= 1)  # the holder is mid-run, lock held

        second = runner.run(replay_argv(replay, db))
        assert second.code == AlreadyRunning.exit_code == 75
        assert f"already running (pid {holder.pid}" in second.stderr

        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        started = time.monotonic()
        after = completed(runner, replay_argv(replay, db))  # no stale lock: the kernel dropped it
        assert time.monotonic() - started < 10
        assert json.loads(after.stdout)["totals"]["new"] == 5
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    # The hanging source itself is the one thing the clean run does not have.
    assert reconcile(clean, db) == ["sources: extra {'name': 'hanging'}"]
    with Store(db) as store:  # the killed run was closed as failed when the corpus next opened: never "ok", never "running"
        hanging = store._db.execute("SELECT status, error_code FROM runs WHERE source = 'hanging'").fetchall()
        source = store._db.execute("SELECT last_error_code, last_success FROM sources WHERE name = 'hanging'").fetchone()
    assert hanging == [("failed", "run.interrupted")] and source == ("run.interrupted", None)
    LEDGER.fault("P2", True, n=2)


# --- P5: a reader holding a long read transaction --------------------------------------------


def test_a_long_reader_does_not_block_a_run_and_the_wal_is_checkpointed_after(runner, replay, clean, tmp_path):
    db = fresh_db(tmp_path, "p5")
    Store(db).close()  # the schema exists; the reader opens it read-only, as Datasette does
    reader = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM documents").fetchone() == (0,)

    completed(runner, replay_argv(replay, db))  # not blocked by the open read transaction
    assert reader.execute("SELECT count(*) FROM documents").fetchone() == (0,)  # its snapshot holds
    with sqlite3.connect(db) as conn:
        busy, log, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert log > 0 and done < log, "the reader's snapshot should keep part of the WAL from the database"

    reader.execute("COMMIT")
    reader.close()
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone() == (0, 0, 0)
    finally:
        conn.close()
    assert Path(f"{db}-wal").stat().st_size == 0
    assert reconcile(clean, db) == []
    LEDGER.fault("P5", True)


# --- P6: another writer holding the write lock -------------------------------------------------


def busy_config(replay: Path, tmp_path: Path, busy_timeout_ms: int) -> Path:
    config = tmp_path / "busy.toml"
    config.write_text((replay / "monitor.toml").read_text("utf-8")
                      + f"\n[monitor]\nbusy_timeout_ms = {busy_timeout_ms}\n", "utf-8")
    return config


def hold_write_lock(db: Path, seconds: float) -> subprocess.Popen:
    """Another process holding BEGIN IMMEDIATE on the corpus for ``seconds``."""
    code = ("import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
            "c.execute('BEGIN IMMEDIATE'); print('holding', flush=True); time.sleep(float(sys.argv[2])); "
            "c.execute('COMMIT')")
    holder = subprocess.Popen([sys.executable, "-c", code, str(db), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "holding"
    return holder


def test_a_writer_holding_the_lock_past_busy_timeout_fails_the_run_cleanly(runner, replay, clean, tmp_path):
    db = fresh_db(tmp_path, "p6")
    Store(db).close()
    before = snapshot(db)
    argv = replay_argv(replay, db)
    argv[1] = str(busy_config(replay, tmp_path, 500))
    holder = hold_write_lock(db, 30)
    try:
        blocked = runner.run(argv)
    finally:
        holder.kill()
        holder.wait()
    assert blocked.code == 1
    assert "storage.busy" in blocked.stderr and "Traceback" not in blocked.stderr, blocked.stderr
    assert snapshot(db) == before  # nothing written, no cursor moved
    completed(runner, argv)
    assert reconcile(clean, db) == []
    LEDGER.fault("P6", True)


def test_a_writer_holding_the_lock_shorter_than_busy_timeout_is_waited_for(runner, replay, clean, tmp_path):
    db = fresh_db(tmp_path, "p6-wait")
    Store(db).close()
    argv = replay_argv(replay, db)
    argv[1] = str(busy_config(replay, tmp_path, 10_000))
    holder = hold_write_lock(db, 1.0)
    completed(runner, argv)
    holder.wait(10)
    assert reconcile(clean, db) == []
    LEDGER.fault("P6", True)


def test_every_write_transaction_takes_the_write_lock_first(tmp_path):
    """I7: a write transaction that read before it wrote would fail at once under a concurrent
    writer. put_robots must hold the write lock from its first statement: another connection
    trying to write at that moment is refused, and put_robots itself completes."""
    db = tmp_path / "monitor.db"
    store = Store(db, busy_timeout_ms=5000)
    other = sqlite3.connect(db, isolation_level=None, timeout=0.05)
    attempts: list[str] = []

    def interleave(statement: str) -> None:
        if store._db.conn.in_transaction and not attempts:
            try:
                other.execute("INSERT INTO robots (origin, body, fetched_at) VALUES ('https://other', x'', 0)")
                attempts.append("written")
            except sqlite3.OperationalError:
                attempts.append("refused")

    store._db.conn.set_trace_callback(interleave)
    try:
        store.put_robots("https://www.mkb.nl", b"User-agent: *\nDisallow:\n", 1.0)
    finally:
        store._db.conn.set_trace_callback(None)
        other.close()
    assert attempts == ["refused"]
    assert store.get_robots("https://www.mkb.nl") == (b"User-agent: *\nDisallow:\n", 1.0)
    store.close()
