"""`mkb-monitor watch`: periodic runs that log each run, outlive a failing source, and never
overlap another run (RELIABILITY I7, P2); and the saved-search commands end to end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from alerting import GOVERNMENT, write_toml
from monitor import userinput
from monitor.cli import cli
from monitor.errors import QueryError
from monitor.store import Store
from monitor.store.private import PrivateStore
from sinks import WebhookSink

REPO = Path(__file__).parent.parent


def invoke(config_path: Path, *args: str):
    db = config_path.parent / "data" / "monitor.db"
    return CliRunner().invoke(cli, ["--config", str(config_path), "--db", str(db), *args], catch_exceptions=False)


@pytest.fixture
def config_path(tmp_path):
    return write_toml(tmp_path, sources={
        # recorded documents, old by now: alerts match them as new (the resurfaced rule off)
        "gov": {"kind": "jsonl", "path": str(GOVERNMENT), "new_within_days": 0},
        "broken": {"kind": "jsonl", "path": str(tmp_path / "missing.jsonl")},
    })


@pytest.fixture
def quick_periods(monkeypatch):
    """Periods of seconds for the loops below: the one-minute floor guards typed periods, and the
    tests of it above use the real one."""
    monkeypatch.setattr(userinput, "MIN_PERIOD", 1.0)


def test_watch_logs_each_run_and_outlives_a_failing_source(config_path, quick_periods):
    added = invoke(config_path, "alerts", "add", "ondernemers", "ondernemers", "--console")
    assert added.exit_code == 0, added.output
    result = invoke(config_path, "watch", "--every", "1s", "--max-runs", "2", "--no-extract")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if " run " in line]
    assert len(lines) == 2, result.stderr
    assert "20 new" in lines[0] and "sources failed 1 ok 1" in lines[0] and "alerts hits" in lines[0]
    assert "0 new" in lines[1] and "hits 0" in lines[1]
    with PrivateStore(config_path.parent / "data" / "monitor.private.db") as private:
        n = len(private.hits(1))
    assert n > 1 and result.stderr.count("ondernemers: ") == n  # each hit printed once, in run 1


def test_a_second_watch_or_run_exits_75_while_one_watches(config_path, tmp_path):
    db = tmp_path / "data" / "monitor.db"
    args = [sys.executable, "-m", "monitor", "--config", str(config_path), "--db", str(db), "watch", "--every", "1h",
            "--no-extract", "--max-runs", "2"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    first = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lock = tmp_path / "data" / "monitor.lock"
        deadline = time.monotonic() + 60
        while not (lock.exists() and lock.read_text().strip() == str(first.pid)):
            assert time.monotonic() < deadline and first.poll() is None, first.communicate()
            time.sleep(0.1)
        second = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 75 and "already running" in second.stderr
        assert invoke(config_path, "run", "--no-extract").exit_code == 75
        assert invoke(config_path, "deliver").exit_code == 75
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    assert invoke(config_path, "deliver").exit_code == 0  # the kernel dropped the lock with the process


def test_watch_sends_a_due_retry_between_runs(config_path, quick_periods):
    with WebhookSink("whsec_" + "A" * 32) as hook:
        added = invoke(config_path, "alerts", "add", "comite", '"Comité voor Ondernemerschap"', "--webhook", hook.url)
        hook.webhook = type(hook.webhook)(next(w for w in added.stderr.split() if w.startswith("whsec_")))
        hook.script = [500]
        result = invoke(config_path, "watch", "--every", "8s", "--max-runs", "2", "--no-extract")
    lines = [line.split(" ", 1)[1] for line in result.stderr.splitlines() if " run " in line or " deliver:" in line]
    assert [line.split(":")[0] for line in lines] == ["run 1", "deliver", "run 2"], result.stderr
    assert "retrying 1" in lines[0] and lines[1].startswith("deliver: sent 1")  # the 5 s step, not the next run
    assert [a["status"] for a in hook.attempts] == [500, 200] and hook.deliveries_per_id() == {"alert-1": 1}


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("30m", 1800), ("2h", 7200), ("1d", 86400), ("0.5h", 1800),
                                           ("1m", 60)])
def test_periods(text, seconds):
    assert userinput.period(text) == seconds


@pytest.mark.parametrize("text, says", [("", "not a period"), ("30 minutes", "not a period"), ("m", "not a period"),
                                        ("-5m", "not a period"), ("1w", "not a period"),
                                        ("30", "needs a unit"), ("15", "needs a unit"),
                                        ("30s", "less than a minute"), ("0.5m", "less than a minute")])
def test_a_period_without_a_unit_or_below_a_minute_is_refused(text, says, tmp_path):
    with pytest.raises(QueryError, match=says):
        userinput.period(text)
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "monitor.db"), "watch", "--every", text])
    assert result.exit_code == 2 and says in result.output


def test_the_alert_commands_end_to_end(config_path, tmp_path):
    assert invoke(config_path, "import", str(GOVERNMENT), "--no-extract").exit_code == 0
    with WebhookSink("whsec_" + "A" * 32) as hook:
        added = invoke(config_path, "alerts", "add", "comite", '"Comité voor Ondernemerschap"', "--webhook", hook.url,
                       "--atom", "--backfill-days", "3")
        assert added.exit_code == 0, added.output
        secret = next(w for w in added.stderr.split() if w.startswith("whsec_"))
        hook.webhook = type(hook.webhook)(secret)  # the receiver learns the secret shown once
        assert "backfill: 1 documents" in added.stderr
        listed = json.loads(invoke(config_path, "alerts", "list", "--json").stdout)
        assert [(s["name"], s["hits"], sorted(c["kind"] for c in s["channels"])) for s in listed] == \
            [("comite", 1, ["atom", "webhook"])]
        assert secret not in invoke(config_path, "alerts", "show", "comite", "--json").stdout
        assert invoke(config_path, "deliver").exit_code == 0
        assert hook.deliveries_per_id() == {"alert-1": 1}
        shown = json.loads(invoke(config_path, "alerts", "show", "comite", "--json").stdout)
        assert {d["status"] for d in shown["deliveries"]} == {"sent"}
        tested = json.loads(invoke(config_path, "alerts", "test", "comite", "--json").stdout)
        assert tested["matches"] == 1
    edited = invoke(config_path, "alerts", "edit", "comite", "--query", "", "--org", "Comité voor Ondernemerschap",
                    "--no-atom", "--disable")
    assert edited.exit_code == 0, edited.output
    shown = json.loads(invoke(config_path, "alerts", "show", "comite", "--json").stdout)
    assert shown["query"] == "" and shown["filters"]["organisation_ids"] == ["org:ncvo"] and not shown["enabled"]
    assert [c["kind"] for c in shown["channels"]] == ["webhook"]
    bad = invoke(config_path, "alerts", "add", "leeg")
    assert bad.exit_code == 2 and "needs words or at least one filter" in bad.output
    assert invoke(config_path, "alerts", "remove", "comite").exit_code == 0
    assert json.loads(invoke(config_path, "alerts", "list", "--json").stdout) == []
    with Store(tmp_path / "data" / "monitor.db", readonly=True) as corpus:
        assert corpus.document_count() == 20


def test_a_webhook_to_a_private_address_is_refused_when_saved(tmp_path):
    config_path = write_toml(tmp_path, allow_private_webhooks=False)
    for url in ("http://127.0.0.1:9/x", "http://169.254.169.254/latest/meta-data"):
        refused = invoke(config_path, "alerts", "add", "intern", "mkb", "--webhook", url)
        assert refused.exit_code == 2 and "non-public address" in refused.output
    with PrivateStore(tmp_path / "data" / "monitor.private.db") as private:
        assert private.searches() == []  # nothing half saved
