"""Crash the monitor at every named crash point and at random moments; nothing may be lost.

SQLite's crash-test style (RELIABILITY P1, §4.4): for each crash point and n = 1, 2, ..., a run
is killed with SIGKILL at the n-th hit of the point (``MONITOR_CRASHPOINT=name:n``) until a run
gets through without being killed. After each kill the database must be intact as the kill left
it, a rerun must complete, and the oracle (tests/oracle.py) must find the corpus equal to one
clean run of the same input into a fresh database: 0 missing, 0 extra, same texts, versions and
cursors. Then 40 SIGKILLs at seeded random moments (``MKB_RANDOM_KILLS=200`` for a soak), some of
them during the recovery run itself, each followed by the oracle.

The input is a replay directory built from real fixtures (tests/replays/build_replays.py: KOOP SRU +
Kamerstuk XML, the MKB-Nederland feed + its article page, the rijksoverheid.nl news sitemap +
pages), run through the real CLI, sources, HTTP client and store; and an ``import`` of real
government texts. Runs are processes forked from one server (tests/forkrun.py) so that the
loop fits in CI; ``MKB_CRASH_RUNNER=subprocess`` runs ``python -m monitor`` for each instead.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from pathlib import Path

import pytest

from forkrun import Result, Runner
from monitor.crashpoints import POINTS
from oracle import integrity, reconcile, snapshot, summary
from reliability import LEDGER
from replays.build_replays import SOURCES, build

HERE = Path(__file__).parent
GOVERNMENT = HERE / "fixtures" / "import" / "government.jsonl"
PIPELINE_POINTS = ("after_fetch", "after_parse", "mid_upsert", "mid_cursor_advance")
MAX_N = 100  # more hits of one point than any of these inputs makes: a loop that never ends is a bug


def replay_argv(replay: Path, db: Path) -> list[str]:
    sources = [arg for name in SOURCES for arg in ("--source", name)]
    return ["--config", str(replay / "monitor.toml"), "--db", str(db), "run", "--replay", str(replay),
            *sources, "--no-extract", "--json"]


@pytest.fixture(scope="module", autouse=True)
def report(tmp_path_factory):
    yield LEDGER
    LEDGER.write(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def runner():
    with Runner() as r:
        yield r


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Scenario name -> how to build its argv for a database path."""
    base = tmp_path_factory.mktemp("inputs")
    replay = build(base / "replay")
    subset = base / "government-4.jsonl"  # four real texts: every point is hit 4 times, not 20
    subset.write_text("".join(GOVERNMENT.read_text("utf-8").splitlines(keepends=True)[:4]), "utf-8")
    return {"replay": lambda db: replay_argv(replay, db),
            "import": lambda db: ["--db", str(db), "import", str(subset), "--no-extract", "--json"]}


class Expected:
    def __init__(self, snap, seconds: float) -> None:
        self.snap, self.seconds = snap, seconds


@pytest.fixture(scope="module")
def expected(runner, inputs, tmp_path_factory):
    """The oracle's reference: one clean run of each input into a fresh database."""
    out = {}
    for name, argv in inputs.items():
        db = tmp_path_factory.mktemp(f"clean-{name}") / "monitor.db"
        started = time.monotonic()
        result = runner.run(argv(db))
        seconds = time.monotonic() - started
        assert result.code == 0, result.stderr
        report = json.loads(result.stdout)
        assert report["totals"]["failed"] == 0 and report["totals"]["new"] > 0, report
        assert integrity(db) == []
        out[name] = Expected(snapshot(db), seconds)
    return out


def fresh_db(tmp_path: Path, label: str) -> Path:
    directory = tmp_path / label
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory / "monitor.db"


def complete(runner: Runner, argv: list[str]) -> Result:
    result = runner.run(argv)
    assert result.code == 0, f"the run after a crash did not complete:\n{result.stderr[-2000:]}"
    return result


def cursor_not_ahead(expected, db: Path) -> list[str]:
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


# --- the input itself -------------------------------------------------------------------------


def test_the_clean_run_stores_every_source(expected):
    snap = expected["replay"].snap
    by_source = {}
    for (source, _), (document_id, _, _) in snap["document_sources"].items():
        by_source.setdefault(source, set()).add(document_id)
    assert {s: len(ids) for s, ids in by_source.items()} == {"koop": 2, "mkb-nederland": 1, "rijksoverheid-news": 2}
    assert {"kst-32545-143", "ah-tk-20202021-3235"} <= {k[0] for k in snap["documents"]}
    assert all(cursor for (_, cursor) in snap["sources"].values()), snap["sources"]
    assert summary(expected["import"].snap)["documents"] == 4


def test_a_second_run_over_the_same_input_changes_nothing(runner, inputs, expected, tmp_path):
    """I2: re-reading the same window is idempotent, so a rerun after a crash is always safe."""
    for name, argv in inputs.items():
        db = fresh_db(tmp_path, name)
        complete(runner, argv(db))
        again = json.loads(complete(runner, argv(db)).stdout)
        assert again["totals"]["new"] == 0 and again["totals"]["changed"] == 0
        assert reconcile(expected[name].snap, db) == []


# --- every crash point, every n ------------------------------------------------------------------


@pytest.mark.parametrize("scenario, point", [("replay", p) for p in PIPELINE_POINTS]
                         + [("import", p) for p in PIPELINE_POINTS if p != "mid_cursor_advance"])
def test_crash_point_loop(runner, inputs, expected, tmp_path, scenario, point):
    argv, want = inputs[scenario], expected[scenario].snap
    kills = survived = 0
    for n in range(1, MAX_N + 1):
        db = fresh_db(tmp_path, f"{point}-{n}")
        crashed = runner.run(argv(db), env={"MONITOR_CRASHPOINT": f"{point}:{n}"})
        if not crashed.killed:
            assert crashed.code == 0, crashed.stderr
            assert reconcile(want, db) == [], "the run that was never killed differs from the clean run"
            break
        kills += 1
        problems = [f"after the kill: {p}" for p in integrity(db) + cursor_not_ahead(want, db)]
        complete(runner, argv(db))
        problems += reconcile(want, db)
        survived += not problems
        LEDGER.fault("P1", not problems)
        assert problems == [], f"{point}:{n}: " + "\n".join(problems)
    else:
        pytest.fail(f"{point} was still hit after {MAX_N} runs")
    LEDGER.crash_point(point, scenario, kills, survived)
    assert kills >= 1, f"{point} is never hit by the {scenario} input"


def test_the_alert_crash_points_are_hit_only_by_alert_runs(expected):
    """after_commit_before_send and after_remote_accept_before_mark belong to delivery; without
    saved searches a run never reaches them (the alert suite covers them with its sinks)."""
    assert set(POINTS) - set(PIPELINE_POINTS) == {"after_commit_before_send", "after_remote_accept_before_mark"}


def test_the_real_entry_point_crashes_and_recovers_the_same_way(inputs, expected, tmp_path, monkeypatch):
    """One crash through ``python -m monitor`` itself, to show the fork server changes nothing."""
    monkeypatch.setenv("MKB_CRASH_RUNNER", "subprocess")
    db = fresh_db(tmp_path, "real")
    with Runner() as real:
        crashed = real.run(inputs["replay"](db), env={"MONITOR_CRASHPOINT": "mid_upsert:3"})
        assert crashed.killed
        assert integrity(db) == []
        complete(real, inputs["replay"](db))
    assert reconcile(expected["replay"].snap, db) == []


# --- random kills ---------------------------------------------------------------------------------


def test_random_kills(runner, inputs, expected, tmp_path):
    """SIGKILL at seeded random moments of runs over the same input; sometimes the recovery run
    is killed too (SQLite's compound faults). Each kill is followed by the oracle."""
    wanted = int(os.environ.get("MKB_RANDOM_KILLS", "40"))
    rng = random.Random(int(os.environ.get("MKB_RANDOM_KILL_SEED", "8")))
    argv, want = inputs["replay"], expected["replay"].snap
    window = expected["replay"].seconds * 1.1
    kills = attempts = 0
    while kills < wanted:
        attempts += 1
        assert attempts <= 4 * wanted, f"only {kills} of {attempts} random kills landed inside a run"
        db = fresh_db(tmp_path, f"random-{attempts % 4}")
        landed = 0
        for _ in range(1 + (rng.random() < 0.3)):  # about a third: kill the recovery run as well
            pid = runner.start(argv(db))
            time.sleep(rng.uniform(0, window))
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
            result = runner.wait()
            if not result.killed:
                assert result.code == 0, result.stderr
                continue
            landed += 1
            corrupt = integrity(db)
            LEDGER.random_kills["kills_with_corruption"] += bool(corrupt)
            assert corrupt == [], corrupt
        complete(runner, argv(db))
        problems = reconcile(want, db)
        kills += landed
        LEDGER.random_kills["kills"] += landed
        LEDGER.random_kills["oracle_failures"] += bool(problems) and landed
        LEDGER.fault("P1", not problems, n=landed)
        assert problems == [], "\n".join(problems)
