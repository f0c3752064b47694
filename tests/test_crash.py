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
pages), run through the real CLI, sources, HTTP client and store, with two saved searches that
alert by e-mail and webhook to loopback sinks (tests/sinks.py), so the delivery crash points
(after_commit_before_send, after_remote_accept_before_mark) are in the loop and the oracle also
reconciles alerts: the hits a clean run makes, the outbox, and each sink's log by idempotency
key (0 lost, 0 duplicated except a counted ambiguous redelivery); and an ``import`` of real
government texts. Runs are processes forked from one server (tests/forkrun.py) so that the
loop fits in CI; ``MKB_CRASH_RUNNER=subprocess`` runs ``python -m monitor`` for each instead.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from forkrun import Runner
from monitor import alerts, notify
from monitor import config as config_module
from monitor.alerts import SavedSearch
from monitor.crashpoints import POINTS
from monitor.store.private import PrivateStore
from oracle import (Snapshot, alert_hits, clean, completed, cursor_not_ahead, fresh_db, integrity, reconcile,
                    reconcile_alerts, replay, replay_argv, runner, snapshot, summary)
from reliability import LEDGER
from sinks import SmtpSink, WebhookSink

# Kills, forks and loopback fault servers: the full suite runs these, the fast loop does not.
# Each module writes the RELIABILITY figures (the ledger fixture) when it ends.
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ledger")]

__all__ = ["clean", "replay", "runner"]  # pytest fixtures shared through oracle.py

HERE = Path(__file__).parent
GOVERNMENT = HERE / "fixtures" / "import" / "government.jsonl"
PIPELINE_POINTS = ("after_fetch", "after_parse", "mid_upsert", "mid_cursor_advance")
MAX_N = 100  # more hits of one point than any of these inputs makes: a loop that never ends is a bug



class Expected:
    def __init__(self, snap: Snapshot, seconds: float) -> None:
        self.snap, self.seconds = snap, seconds


SECRET = notify.new_webhook_secret()
SEARCHES = (SavedSearch(name="mkb", query="mkb"), SavedSearch(name="ondernemers", query="ondernemers"))


@pytest.fixture(scope="module")
def sinks():
    """An SMTP server and a webhook receiver on 127.0.0.1 that log every idempotency key."""
    with SmtpSink() as smtp, WebhookSink(SECRET) as hook:
        yield smtp, hook


class Scenario:
    """One input, run again and again into fresh directories. ``prepare`` makes a directory ready
    for a run sequence (config, saved searches, empty sink logs) and returns the command."""

    def __init__(self, name: str, prepare: Callable[[Path], list[str]], alerts: bool) -> None:
        self.name, self.prepare, self.alerts = name, prepare, alerts
        self.snap: Snapshot = {}
        self.hits: set[tuple[str, str]] = set()
        self.seconds = 0.0


@pytest.fixture(scope="module")
def scenarios(replay, sinks, tmp_path_factory) -> dict[str, Scenario]:
    smtp, hook = sinks
    subset = tmp_path_factory.mktemp("inputs") / "government-4.jsonl"  # four real texts: 4 hits a point, not 20
    subset.write_text("".join(GOVERNMENT.read_text("utf-8").splitlines(keepends=True)[:4]), "utf-8")

    def replay_with_alerts(db: Path) -> list[str]:
        """The replayed sources, with two saved searches delivering by e-mail and webhook to the sinks."""
        config = db.parent / "monitor.toml"
        config.write_text((replay / "monitor.toml").read_text("utf-8") + f"""
[alerts]
smtp_host = "127.0.0.1"
smtp_port = {smtp.port}
smtp_timeout = 5.0
webhook_timeout = 5.0
allow_private_webhooks = true
feed_dir = "{db.parent / 'feeds'}"
""", "utf-8")
        settings = config_module.load(config, db=db)
        with PrivateStore.open(settings) as private:
            for search in SEARCHES:
                search_id = alerts.save(private, None, search, now=datetime.now(UTC))
                with private.transaction():
                    private.add_channel(search_id, "email", "redactie@example.org")
                    private.add_channel(search_id, "webhook", hook.url, SECRET)
        smtp.messages.clear()
        hook.attempts.clear()
        hook.processed.clear()
        argv = replay_argv(replay, db, extract=True)  # figures and mentions are in the oracle too
        argv[1] = str(config)
        return argv

    return {"replay": Scenario("replay", replay_with_alerts, alerts=True),
            "import": Scenario("import", lambda db: ["--db", str(db), "import", str(subset), "--no-extract", "--json"],
                               alerts=False)}


@pytest.fixture(scope="module")
def expected(runner, scenarios, clean, sinks, tmp_path_factory):
    """The oracle's reference per scenario (corpus and alert hits), and how long a clean run takes."""
    for scenario in scenarios.values():
        db = tmp_path_factory.mktemp(f"clean-{scenario.name}") / "monitor.db"
        argv = scenario.prepare(db)
        started = time.monotonic()
        completed(runner, argv)
        scenario.seconds = time.monotonic() - started
        scenario.snap = snapshot(db)
        assert integrity(db) == []
        if scenario.alerts:
            scenario.hits = alert_hits(db.with_suffix(".private.db"))
            assert reconcile_alerts(scenario.hits, db.with_suffix(".private.db"), *sinks, ambiguous_allowed=False)[0] == []
    # The storage suites' reference (no extraction, no alerts) has the same documents and cursors.
    assert {t: scenarios["replay"].snap[t] for t in ("document_sources", "sources")} == \
        {t: clean[t] for t in ("document_sources", "sources")}
    assert summary(scenarios["replay"].snap)["figures"] > 0 and summary(scenarios["replay"].snap)["mentions"] > 0
    return scenarios


def oracle(scenario: Scenario, db: Path, sinks, *, ambiguous_allowed: bool) -> list[str]:
    """Corpus and, where the scenario alerts, the alert reconciliation; figures go to the report."""
    problems = reconcile(scenario.snap, db)
    if scenario.alerts:
        found, figures = reconcile_alerts(scenario.hits, db.with_suffix(".private.db"), *sinks,
                                          ambiguous_allowed=ambiguous_allowed)
        problems += found
        for key, value in figures.items():
            LEDGER.alerts[key] += value
    return problems


# --- the input itself -------------------------------------------------------------------------


def test_the_clean_run_stores_every_source_and_alerts(expected):
    snap = expected["replay"].snap
    by_source: dict[str, set[str]] = {}
    for (source, _), (document_id, _, _) in snap["document_sources"].items():
        by_source.setdefault(source, set()).add(document_id)
    assert {s: len(ids) for s, ids in by_source.items()} == {"koop": 2, "mkb-nederland": 1, "rijksoverheid-news": 2}
    assert {"kst-32545-143", "ah-tk-20202021-3235"} <= {k[0] for k in snap["documents"]}
    assert all(cursor for (_, cursor) in snap["sources"].values()), snap["sources"]
    assert {name for name, _ in expected["replay"].hits} == {"mkb", "ondernemers"}
    assert summary(expected["import"].snap)["documents"] == 4


def test_a_second_run_over_the_same_input_changes_nothing(runner, expected, sinks, tmp_path):
    """I2: re-reading the same window is idempotent, so a rerun after a crash is always safe."""
    for scenario in expected.values():
        db = fresh_db(tmp_path, scenario.name)
        argv = scenario.prepare(db)
        completed(runner, argv)
        again = json.loads(completed(runner, argv).stdout)
        assert again["totals"]["new"] == 0 and again["totals"]["changed"] == 0
        assert oracle(scenario, db, sinks, ambiguous_allowed=False) == []


# --- every crash point, every n ------------------------------------------------------------------


@pytest.mark.parametrize("scenario, point", [("replay", p) for p in POINTS]
                         + [("import", p) for p in PIPELINE_POINTS if p != "mid_cursor_advance"])
def test_crash_point_loop(runner, expected, sinks, tmp_path, scenario, point):
    chosen = expected[scenario]
    # Only a kill between a channel's accept and the outbox's mark may deliver twice (I5).
    ambiguous = point == "after_remote_accept_before_mark"
    kills = survived = 0
    for n in range(1, MAX_N + 1):
        db = fresh_db(tmp_path, f"{point}-{n}")
        argv = chosen.prepare(db)
        crashed = runner.run(argv, env={"MONITOR_CRASHPOINT": f"{point}:{n}"})
        if not crashed.killed:
            assert crashed.code == 0, crashed.stderr
            assert oracle(chosen, db, sinks, ambiguous_allowed=False) == [], "a run that was never killed differs"
            break
        kills += 1
        problems = [f"after the kill: {p}" for p in integrity(db) + cursor_not_ahead(chosen.snap, db)]
        completed(runner, argv)
        problems += oracle(chosen, db, sinks, ambiguous_allowed=ambiguous)
        survived += not problems
        LEDGER.fault("P1", not problems)
        assert problems == [], f"{point}:{n}: " + "\n".join(problems)
    else:
        pytest.fail(f"{point} was still hit after {MAX_N} runs")
    LEDGER.crash_point(point, scenario, kills, survived)
    assert kills >= 1, f"{point} is never hit by the {scenario} input"


def test_the_real_entry_point_crashes_and_recovers_the_same_way(expected, sinks, tmp_path, monkeypatch):
    """One crash through ``python -m monitor`` itself, to show the fork server changes nothing."""
    monkeypatch.setenv("MKB_CRASH_RUNNER", "subprocess")
    db = fresh_db(tmp_path, "real")
    argv = expected["replay"].prepare(db)
    with Runner() as real:
        crashed = real.run(argv, env={"MONITOR_CRASHPOINT": "mid_upsert:3"})
        assert crashed.killed
        assert integrity(db) == []
        completed(real, argv)
    assert oracle(expected["replay"], db, sinks, ambiguous_allowed=False) == []


# --- random kills ---------------------------------------------------------------------------------


def test_random_kills(runner, expected, sinks, tmp_path):
    """SIGKILL at seeded random moments of runs over the same input; sometimes the recovery run
    is killed too (SQLite's compound faults). Each kill is followed by the oracle; a kill may
    land between a channel's accept and the outbox's mark, so a duplicate is allowed only if it
    has the same key and is counted."""
    wanted = int(os.environ.get("MKB_RANDOM_KILLS", "40"))
    rng = random.Random(int(os.environ.get("MKB_RANDOM_KILL_SEED", "8")))
    chosen = expected["replay"]
    window = chosen.seconds * 1.1
    kills = attempts = 0
    while kills < wanted:
        attempts += 1
        assert attempts <= 4 * wanted, f"only {kills} of {attempts} random kills landed inside a run"
        db = fresh_db(tmp_path, f"random-{attempts % 4}")
        argv = chosen.prepare(db)
        landed = 0
        for _ in range(1 + (rng.random() < 0.3)):  # about a third: kill the recovery run as well
            pid = runner.start(argv)
            time.sleep(rng.uniform(0, window))
            try:
                os.kill(pid, signal.SIGKILL)
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
        completed(runner, argv)
        problems = oracle(chosen, db, sinks, ambiguous_allowed=True)
        kills += landed
        LEDGER.random_kills["kills"] += landed
        LEDGER.random_kills["oracle_failures"] += bool(problems) and landed
        LEDGER.fault("P1", not problems, n=landed)
        assert problems == [], "\n".join(problems)
