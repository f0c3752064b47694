"""The disk fills up, a write fails, a document poisons extraction (RELIABILITY P3, P4, P9).

Disk full is a real small tmpfs under the database when this runs as root and ``mount`` works
(SQLITE_FULL), and otherwise (and also) RLIMIT_FSIZE on the run's process, which makes a write
past the limit fail with EFBIG (SQLITE_IOERR_WRITE, P4). At several sizes, so the failure lands
at different moments of the run: each run must fail with a storage error from the vocabulary
(never a traceback), leave an intact database whose cursors are not ahead of its documents,
and, once there is space again, a rerun must make the corpus the oracle expects.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from models.records import Extraction
from monitor import config as config_module
from monitor.extraction import Text
from monitor.pipeline import Pipeline, fetcher_factory
from monitor.store import Store
from oracle import (clean, completed, cursor_not_ahead, fresh_db, integrity, reconcile, replay, replay_argv, runner,
                    snapshot)
from reliability import LEDGER

# Kills, forks and loopback fault servers: the full suite runs these, the fast loop does not.
# Each module writes the RELIABILITY figures (the ledger fixture) when it ends.
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ledger")]

__all__ = ["clean", "replay", "runner"]  # pytest fixtures shared through oracle.py

STORAGE_CODES = ("storage.full", "storage.error")
# File size limits / tmpfs sizes in KiB: below the empty schema, at the first batch, between batches (352:
# two documents committed, then the disk is full), and enough.
SIZES_KIB = (64, 224, 288, 352, 480)



def assert_failed_cleanly(result, db: Path, clean, scratch: Path) -> None:
    assert result.code == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    if result.stdout.strip():  # the run got as far as its report: a source failed with a storage code
        failed = [s for s in json.loads(result.stdout)["sources"] if s["status"] == "failed"]
        assert failed and all(s["error_code"] in STORAGE_CODES for s in failed), result.stdout
    else:  # the store itself could not be written: the CLI names the code
        assert any(f"error ({code})" in result.stderr for code in STORAGE_CODES), result.stderr
    if db.exists():
        # Checked on a copy: on a full disk even the FTS check (a write command) cannot run.
        scratch.mkdir()
        for file in db.parent.glob(db.name + "*"):
            shutil.copy2(file, scratch / file.name)
        assert integrity(scratch / db.name) == []
        assert cursor_not_ahead(clean, scratch / db.name) == []


def can_mount() -> bool:
    if os.geteuid() != 0:
        return False
    probe = Path("/proc/self/mounts")
    return probe.exists() and subprocess.run(["mount", "--version"], capture_output=True).returncode == 0


@pytest.mark.parametrize("kib", SIZES_KIB)
def test_file_size_limit_fails_the_run_cleanly_and_a_rerun_completes(runner, replay, clean, tmp_path, kib):
    db = fresh_db(tmp_path, f"fsize-{kib}")
    result = runner.run(replay_argv(replay, db), fsize=kib * 1024)
    hit = result.code != 0
    if hit:
        assert_failed_cleanly(result, db, clean, tmp_path / "copy")
    completed(runner, replay_argv(replay, db))
    problems = reconcile(clean, db)
    LEDGER.fault("P4", not problems)
    assert problems == []
    assert hit or kib == max(SIZES_KIB), f"a {kib} KiB limit should have stopped the run"


@pytest.mark.skipif(not can_mount(), reason="needs root and mount for a small tmpfs")
@pytest.mark.parametrize("kib", SIZES_KIB)
def test_a_full_disk_fails_the_run_cleanly_and_a_rerun_after_space_completes(runner, replay, clean, tmp_path, kib):
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(mountpoint)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"mount failed: {mounted.stderr.strip()}")
    try:
        db = mountpoint / "monitor.db"
        # The alert state on another disk: this test fills the corpus's disk only (the private
        # file on a full disk is the next test).
        argv = with_config(replay_argv(replay, db), tmp_path / "monitor.toml",
                           f'[monitor]\nprivate_db = "{tmp_path / "private.db"}"\n')
        result = runner.run(argv)
        hit = result.code != 0
        if hit:
            assert_failed_cleanly(result, db, clean, tmp_path / "copy")
        subprocess.run(["mount", "-o", "remount,size=16m", str(mountpoint)], check=True)
        completed(runner, argv)
        problems = reconcile(clean, db)
        LEDGER.fault("P3", not problems)
        assert problems == []
        assert hit or kib == max(SIZES_KIB), f"a {kib} KiB disk should have filled up"
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


@pytest.mark.parametrize("pages", (1, 8))
def test_an_io_error_while_recovering_from_a_crash(runner, replay, clean, tmp_path, pages):
    """SQLite's compound fault (P4): killed mid-upsert, then the recovery run may grow no file by
    more than ``pages`` 4 KiB pages, then a run with room completes. Each step leaves an intact
    database; the last, the oracle's corpus."""
    db = fresh_db(tmp_path, f"compound-{pages}")
    argv = replay_argv(replay, db)
    assert runner.run(argv, env={"MONITOR_CRASHPOINT": "mid_upsert:3"}).killed
    assert integrity(db) == []
    largest = max(f.stat().st_size for f in db.parent.iterdir())
    recovery = runner.run(argv, fsize=largest + pages * 4096)
    assert recovery.code == 1
    assert_failed_cleanly(recovery, db, clean, tmp_path / "copy")
    completed(runner, argv)
    problems = reconcile(clean, db)
    LEDGER.fault("P4", not problems)
    assert problems == []


def test_rows_written_behind_the_fts_triggers_are_found_by_the_check(replay, tmp_path):
    """P8: a document inserted without the FTS trigger (a bulk load by hand, an interrupted
    rebuild) is invisible to search; Store.check() must say so."""
    db = tmp_path / "monitor.db"
    Store(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TRIGGER documents_ai")
        conn.execute("INSERT INTO documents (id, kind, title, text, content_hash, version) "
                     "VALUES ('kst-1-1', 'kamerbrief', 'Digitale Werkplaatsen', 'over het mkb', 'x', 1)")
    conn.close()
    assert integrity(db) == ["documents_fts out of sync with documents: database disk image is malformed"]
    LEDGER.fault("P8", True)


def with_config(argv: list[str], path: Path, extra: str) -> list[str]:
    """``argv`` with its --config replaced by a copy that has ``extra`` TOML appended."""
    path.write_text(Path(argv[1]).read_text("utf-8") + "\n" + extra, "utf-8")
    return [argv[0], str(path), *argv[2:]]


@pytest.mark.skipif(not can_mount(), reason="needs root and mount for a small tmpfs")
def test_a_full_disk_under_the_alert_state_is_a_storage_error(runner, replay, clean, tmp_path):
    disk = tmp_path / "private-disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("mount failed")
    try:
        filler = disk / "filler"
        with open(filler, "wb", buffering=0) as out:  # fill the disk to the last block
            try:
                while True:
                    out.write(b"\0" * 4096)
            except OSError:
                pass
        db = fresh_db(tmp_path, "corpus")
        argv = with_config(replay_argv(replay, db), tmp_path / "monitor.toml",
                           f'[monitor]\nprivate_db = "{disk / "private.db"}"\n')
        result = runner.run(argv)
        assert reconcile(clean, db) == []  # the corpus is complete whatever happens to the alert state
        assert result.code == 1 and "Traceback" not in result.stderr and "storage.full" in result.stderr, \
            result.stderr[-600:]
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


# --- P9: a poison document --------------------------------------------------------------------


class PoisonedExtractor:
    """Extraction that crashes on one document, as a bug in a model would."""

    version = "poisoned-test-extractor"

    def __init__(self, poison_key: str) -> None:
        self.poison_key = poison_key

    def __call__(self, texts: list[Text]) -> list[Extraction]:
        for text in texts:
            if text.id == self.poison_key:  # the pipeline hands in each document under its item's key
                raise RuntimeError(f"extraction blew up on {text.id}")
        return [Extraction(pipeline_version=self.version) for _ in texts]

    def organisations(self):
        return []


def test_a_poison_document_is_quarantined_and_the_rest_goes_on(replay, clean, tmp_path):
    db = tmp_path / "monitor.db"
    config = config_module.load(replay / "monitor.toml", db=db)
    poison_id = "ah-tk-20202021-3235"
    limit = config.monitor.quarantine_after
    koop_cursor = clean["sources"][("koop",)][1]
    for attempt in range(1, limit + 2):
        with Store.open(config) as store:
            pipeline = Pipeline(config, store, fetcher_for=fetcher_factory(config, replay=str(replay), store=store),
                                extractor=PoisonedExtractor(poison_id))
            report = {s.source: s for s in pipeline.run(["koop", "mkb-nederland", "rijksoverheid-news"]).sources}
        snap = snapshot(db)
        assert (poison_id,) not in snap["documents"]
        assert {k for k in clean["documents"] if k != (poison_id,)} <= set(snap["documents"])  # the rest is in
        failure = snap["item_failures"].get(("koop", poison_id))
        if attempt <= limit:
            assert report["koop"].failed == 1 and report["koop"].status == "partial"
            assert failure == ("extract", "unexpected.RuntimeError", attempt)
            # The batch with the failed item does not move the cursor: the next run retries it.
            assert snap["sources"][("koop",)][1] is None
        else:
            assert report["koop"].held == 1 and report["koop"].failed == 0
            assert failure == ("extract", "unexpected.RuntimeError", limit)  # held for a human, with its error
            assert snap["sources"][("koop",)][1] == koop_cursor  # and no longer holding the cursor back
    assert integrity(db) == []
    LEDGER.fault("P9", True)
