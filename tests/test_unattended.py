"""Unattended and honest (issue 13): a run that left from cron says the truth in its exit status,
its report and `sources`; every command keeps the CLI contract (options anywhere, dates and bytes
checked, a file that is not a corpus refused by name, no traceback, Ctrl-C exits 130).

Each test names the Why bullet of the issue it covers. Nothing touches the network: a source
"without network" points at a closed port on 127.0.0.1, and a working run replays real fixtures
(tests/replays).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from alerting import GOVERNMENT, write_toml
from monitor import health
from monitor.cli import cli
from monitor.config import load
from monitor.store import Store
from oracle import completed, replay, replay_argv, runner

__all__ = ["replay", "runner"]  # pytest fixtures shared through oracle.py

REPO = Path(__file__).parent.parent


def mkb(*args: str, env: dict[str, str] | None = None, input: bytes | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The real command in a process of its own, as cron runs it."""
    proc = subprocess.run([sys.executable, "-m", "monitor", *args], input=input, capture_output=True, timeout=timeout,
                          cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})
    return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode("utf-8", "replace"),
                                       proc.stderr.decode("utf-8", "replace"))


def invoke(*args: str, input: str | bytes | None = None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def offline(tmp_path) -> Path:
    """A config whose two enabled sources, a feed and the KOOP SRU service, point at a closed port."""
    port = closed_port()
    path = write_toml(tmp_path, sources={
        "nieuwsbrief-van-een-branchevereniging-met-een-lange-naam": {"kind": "feed",
                                                                      "url": f"http://127.0.0.1:{port}/feed.rss"},
        "koop-lokaal": {"kind": "koop_sru", "base_url": f"http://127.0.0.1:{port}/sru"},
    })
    path.write_text(path.read_text("utf-8") + "[http]\nallow_private = true\nretries = 1\nhost_interval = 0.0\n", "utf-8")
    return path


# --- exit status and health (Why 1) ------------------------------------------------------------


def test_a_run_without_network_exits_1_names_each_source_and_why_and_sources_shows_them_failing(offline, tmp_path):
    """Why: `run` with every source unreachable exited 0 with "ok": true, and a source that never
    succeeded never turned stale: a cron job would report success for months."""
    db = str(tmp_path / "data" / "monitor.db")
    env = {"COLUMNS": "80"}
    ran = mkb("--config", str(offline), "--db", db, "run", "--no-extract", env=env)
    assert ran.returncode == 1, ran.stderr
    names = ("nieuwsbrief-van-een-branchevereniging-met-een-lange-naam", "koop-lokaal")
    for name in names:  # named, with the reason in full (not cut at a column's width)
        line = next(line for line in ran.stderr.splitlines() if line.startswith(name))
        assert "Connection refused" in line and "deferred to the next run" in line, ran.stderr
    header = next(line for line in ran.stdout.splitlines() if line.startswith("source"))
    assert header.split() == ["source", "status", "new", "changed", "unchanged", "skipped", "failed"]
    assert all(len(line) <= 80 for line in ran.stdout.splitlines()), ran.stdout

    as_json = mkb("--config", str(offline), "--db", db, "run", "--no-extract", "--json")
    report = json.loads(as_json.stdout)
    assert as_json.returncode == 1 and report["ok"] is False
    assert {s["source"]: (s["status"], s["ok"]) for s in report["sources"]} == \
        {name: ("deferred", False) for name in names}

    listed = mkb("--config", str(offline), "--db", db, "sources", env=env)
    assert listed.returncode == 0
    assert all(len(line) <= 80 for line in listed.stdout.splitlines()), listed.stdout
    header = next(line for line in listed.stdout.splitlines() if line.startswith("source"))
    assert header.split() == ["source", "on", "docs", "last", "success", "state"]
    text = " ".join(listed.stdout.split())  # the reason, folded over lines, in full
    for name in names:
        assert f"{name} fetch.deferred: robots.txt of http://127.0.0.1:" in text
    rows = {r["name"]: r for r in json.loads(mkb("--config", str(offline), "--db", db, "sources", "--json").stdout)}
    assert {name: rows[name]["state"] for name in names} == {name: "failing" for name in names}
    assert all("Connection refused" in rows[name]["reason"] for name in names)


def test_a_run_where_every_source_succeeds_exits_0_and_again_with_nothing_new(runner, replay, tmp_path):
    db = tmp_path / "monitor.db"
    first = completed(runner, replay_argv(replay, db))
    report = json.loads(first.stdout)
    assert report["ok"] is True and report["totals"]["new"] == 5
    second = completed(runner, replay_argv(replay, db))  # nothing new is a success too
    assert json.loads(second.stdout)["totals"]["new"] == 0
    config = load(replay / "monitor.toml", db=db)
    with Store(db, readonly=True) as store:
        stored = {r["name"]: r for r in store.sources_overview()}
    states = {r["name"]: r["state"] for r in health.sources(config, stored) if r["name"] in stored}
    assert set(states.values()) <= {"fresh", "stale"} and "failing" not in states.values()


def test_a_source_that_never_succeeded_is_failing_not_fresh(tmp_path):
    config = load(db=tmp_path / "monitor.db", overrides={"sources": {"f": {"kind": "feed", "url": "https://x.example/"}}})
    ran_never_ok = {"f": {"name": "f", "last_run": "2026-01-02T00:00:00Z"}}  # e.g. killed on its first run
    failed = {"f": {"name": "f", "last_run": "2026-01-02T00:00:00Z", "last_error": "boom",
                    "last_error_code": "fetch.status", "last_error_at": "2026-01-02T00:00:01Z"}}
    recovered = {"f": {**failed["f"], "last_success": "2026-01-03T00:00:00Z", "last_new": "2026-01-03T00:00:00Z"}}
    state = {label: next(r for r in health.sources(config, stored) if r["name"] == "f")["state"]
             for label, stored in (("never", {}), ("ran", ran_never_ok), ("failed", failed), ("ok", recovered))}
    assert state["never"] == "never run"
    assert state["ran"] == state["failed"] == "failing"
    assert state["ok"] in ("fresh", "stale")


def test_the_readme_lists_every_exit_code_the_cli_returns():
    from monitor import cli as cli_module

    readme = (REPO / "README.md").read_text("utf-8")
    table = readme[readme.index("| exit"):]
    for code in (0, 1, 2, 75, 130):
        assert f"| {code} " in table, code
    assert "130" in cli_module.__doc__ and "75" in cli_module.__doc__


def test_serve_on_a_busy_port_says_so_and_exits_1(tmp_path):
    """It exited 3 (uvicorn's start-up failure), undocumented."""
    db = tmp_path / "monitor.db"
    Store(db).close()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = mkb("--db", str(db), "serve", "--port", str(port))
    assert result.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


# --- the CLI contract (Why 5, 6, 7, 8) ---------------------------------------------------------


def test_db_and_config_are_accepted_after_every_command_name():
    """Why: `search --db X ...` was refused although the README says every command takes --db."""
    def walk(group, path):
        for name, command in group.commands.items():
            yield [*path, name], command
            if hasattr(command, "commands"):
                yield from walk(command, [*path, name])

    for path, command in walk(cli, []):
        options = {opt for p in command.params for opt in getattr(p, "opts", [])}
        assert {"--db", "--config"} <= options, path


def test_db_after_the_command_name_is_the_corpus_used(tmp_path):
    db = tmp_path / "elders" / "corpus.db"
    assert invoke("import", str(GOVERNMENT), "--db", str(db), "--no-extract").exit_code == 0
    hits = json.loads(invoke("search", "--db", str(db), "werkplaatsen", "--json").stdout)
    assert hits and invoke("sources", "--db", str(db), "--json").exit_code == 0
    config = write_toml(tmp_path)
    added = invoke("alerts", "add", "w", "werkplaatsen", "--db", str(db), "--config", str(config))
    assert added.exit_code == 0, added.output
    assert (tmp_path / "elders" / "corpus.private.db").exists()  # the corpus's own private file
    listed = json.loads(invoke("alerts", "list", "--json", "--db", str(db), "--config", str(config)).stdout)
    assert [s["name"] for s in listed] == ["w"]


@pytest.fixture
def corpus(tmp_path) -> Path:
    db = tmp_path / "data" / "monitor.db"
    assert invoke("--db", str(db), "import", str(GOVERNMENT), "--no-extract").exit_code == 0
    return db


@pytest.mark.parametrize("day, says", [("2025-13-01", "month must be in 1..12"), ("yesterday", "is not a date"),
                                       ("2025-02-30", "day is out of range"), ("01-02-2025", "is not a date")])
def test_a_date_that_is_not_one_is_refused_with_what_is_accepted(corpus, day, says):
    """Why: `search --since yesterday` silently matched nothing."""
    for command in (["search", "mkb"], ["figures"]):
        result = invoke("--db", str(corpus), *command, "--since", day)
        assert result.exit_code == 2 and says in result.output and "Traceback" not in result.output, result.output


def test_relative_dates_count_back_from_today(corpus):
    with Store(corpus) as store, store.transaction():
        store._db.execute("UPDATE documents SET published = date('now', '-3 days') WHERE rowid = 1")
        store._db.execute("UPDATE documents SET published = '2001-01-01' WHERE rowid != 1")
        wanted = store._db.execute("SELECT id FROM documents WHERE rowid = 1").fetchone()[0]
    ids = {h["id"] for h in json.loads(invoke("--db", str(corpus), "search", "mkb OR ondernemers OR de", "--since", "7d",
                                              "--json").stdout)}
    assert ids == {wanted}
    assert json.loads(invoke("--db", str(corpus), "search", "mkb OR ondernemers OR de", "--since", "2d",
                             "--json").stdout) == []


def test_options_after_double_dash_are_words_of_the_query(corpus):
    """Why: the README's `search mkb OR zzp -- -belasting --sort date --limit 50 --json` searched
    for "date" and "50". After `--` everything is the query's, as in every POSIX tool; the
    README now puts the options first (test_readme runs it)."""
    first = invoke("--db", str(corpus), "search", "--sort", "date", "--limit", "50", "--json", "--", "mkb", "OR", "zzp",
                   "-belasting")
    hits = json.loads(first.stdout)
    assert first.exit_code == 0 and hits
    dates = [h["published"] or "" for h in hits]
    assert dates == sorted(dates, reverse=True)


def test_argv_that_is_not_utf8_is_a_one_line_error(corpus):
    """Why: non-UTF-8 bytes in a query under LC_ALL=C gave a traceback."""
    proc = subprocess.run([sys.executable, "-m", "monitor", "--db", str(corpus), "search", b"caf\xe9"],
                          capture_output=True, timeout=60, cwd=REPO,
                          env={**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONPATH": str(REPO)})
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 2 and "Traceback" not in err
    assert "argument 4 is not UTF-8: caf\\xe9" in err and len(err.strip().splitlines()) == 1


def test_a_latin1_jsonl_file_is_no_traceback_and_the_run_is_closed(tmp_path):
    """Why: a Latin-1 JSONL file gave a traceback, and the run stayed `running` in `runs`."""
    path = tmp_path / "latin1.jsonl"
    lines = [json.dumps({"id": f"d{i}", "title": f"Café {i}", "text": "Ondernemers in het café."}, ensure_ascii=False)
             for i in range(3)]
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    db = tmp_path / "monitor.db"
    result = mkb("--db", str(db), "import", str(path), "--no-extract", "--json")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "not valid UTF-8" in result.stdout  # each line its own error, naming the file and line
    with Store(db, readonly=True) as store:
        assert store._db.execute("SELECT count(*) FROM runs WHERE status = 'running'").fetchone()[0] == 0


def test_a_file_that_is_not_a_corpus_is_refused_by_name(tmp_path):
    """Why: a --db that is not SQLite gave a traceback (and another program's SQLite file would
    have had this version's tables written into it)."""
    text = tmp_path / "notes.db"
    text.write_text("dit is geen database\n" * 100, "utf-8")
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE klanten (naam TEXT)")
    newer = tmp_path / "newer.db"
    Store(newer).close()
    with sqlite3.connect(newer) as conn:
        conn.execute("PRAGMA user_version = 999")
    for path, says in ((text, "is not an SQLite file"), (other, "another program"), (newer, "newer than this")):
        for command in (["search", "mkb"], ["import", str(GOVERNMENT)], ["sources"]):
            result = invoke("--db", str(path), *command)
            assert result.exit_code == 2 and str(path) in result.output and says in result.output, (command, result.stdout)
    with sqlite3.connect(other) as conn:  # nothing was written into it
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["klanten"]


def test_an_interrupted_run_is_closed_as_failed_when_the_corpus_next_opens(tmp_path):
    db = tmp_path / "monitor.db"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid that no longer runs
    with Store(db) as store:
        with store.transaction():
            store.ensure_source("feed", "feed")
        run_id = store.start_run("feed")
        with store.transaction():
            store._db.execute("UPDATE runs SET pid = ? WHERE id = ?", [dead.pid, run_id])
        alive = store.start_run("feed")  # this process's own run is still going
    with Store(db) as store:
        rows = dict(store._db.execute("SELECT id, status || ' ' || coalesce(error_code, '') FROM runs").fetchall())
        source = store._db.execute("SELECT last_error_code FROM sources WHERE name = 'feed'").fetchone()[0]
    assert rows == {run_id: "failed run.interrupted", alive: "running "} and source == "run.interrupted"


def test_extract_jsonl_streams_and_a_bad_line_is_an_error_record(tmp_path):
    """Why: `extract --jsonl` printed nothing for the good lines when one line was bad."""
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "extract", "--jsonl"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        proc.stdin.write(json.dumps({"id": 1, "text": "Ruim 11.000 ondernemers deden mee."}).encode() + b"\n")
        proc.stdin.flush()
        first = json.loads(proc.stdout.readline())  # answered before the input ends: it streams
        assert first["id"] == 1 and first["figures"][0]["value"] == 11000
        proc.stdin.write(b'{"id": 2, "text": "kapot\n' + b'{"id": 3, "text": "caf\xe9"}\n')
        proc.stdin.write(json.dumps({"id": 4, "text": "91% van de mkb'ers."}).encode() + b"\n")
        proc.stdin.close()
        rest = [json.loads(line) for line in proc.stdout.read().splitlines()]
        assert proc.wait(60) == 1
    finally:
        proc.kill()
    assert [r.get("id", r.get("line")) for r in rest] == [2, 3, 4]
    assert rest[0]["error"].startswith("not valid JSON") and rest[1]["error"].startswith("not UTF-8")
    assert rest[2]["figures"][0]["unit"] == "percent"


def test_eval_refuses_a_file_without_annotations_and_a_file_that_is_not_gold(tmp_path):
    """Why: `eval` on a file without annotations printed 0.000 everywhere and exited 0; on a file
    that is not gold it gave a traceback."""
    bare = tmp_path / "bare.jsonl"
    bare.write_text(json.dumps({"text": "Ruim 11.000 ondernemers."}) + "\n", "utf-8")
    not_gold = tmp_path / "notes.txt"
    not_gold.write_text("Dit is een gewone tekst.\n", "utf-8")
    for path, says in ((bare, "has no annotations"), (not_gold, "not valid JSON")):
        result = invoke("eval", str(path))
        assert result.exit_code == 2 and says in result.output and "not a gold file" in result.output, result.output


def test_numbers_in_tables_cannot_be_misread(tmp_path):
    """Why: numbers printed as `90,623`, which a Dutch reader takes for ninety point six; and
    `figures` lost its unit column at 80 columns."""
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps({"id": "n-1", "title": "Cijfers", "text": "In 2024 waren er 90.623 ondernemers en "
                                "de omzet steeg met 12,5 procent."}) + "\n", "utf-8")
    db = tmp_path / "monitor.db"
    assert invoke("--db", str(db), "import", str(path)).exit_code == 0
    shown = mkb("--db", str(db), "figures", env={"COLUMNS": "80"})
    assert shown.returncode == 0
    lines = shown.stdout.splitlines()
    assert lines[0].split() == ["published", "value", "unit", "subject", "figure", "document"]
    assert all(len(line) <= 80 for line in lines)
    assert "90\u00a0623" in shown.stdout and "90,623" not in shown.stdout and "90623" not in shown.stdout
    assert any("count" in line for line in lines) and any("percent" in line for line in lines)


def test_import_and_reprocess_run_while_watch_waits_and_ctrl_c_exits_130(tmp_path):
    """`watch` holds the run lock while it waits; `import` and `reprocess` take the corpus's
    write transactions instead, and Ctrl-C ends `watch` with 130, not a traceback."""
    config = write_toml(tmp_path, sources={"gov": {"kind": "jsonl", "path": str(GOVERNMENT)}})
    db = tmp_path / "data" / "monitor.db"
    args = ["--config", str(config), "--db", str(db)]
    with started(*args, "watch", "--every", "1h", "--no-extract") as watcher:
        wait_for(lambda: finished_runs(db) >= 1, watcher)  # run 1 is done: watch now waits an hour
        extra = tmp_path / "extra.jsonl"
        extra.write_text(json.dumps({"id": "x-1", "title": "Extra", "text": "Ondernemers en mkb."}) + "\n", "utf-8")
        imported = mkb(*args, "import", str(extra), "--no-extract", "--json")
        assert imported.returncode == 0, imported.stderr
        assert json.loads(imported.stdout)["totals"]["new"] == 1
        assert mkb(*args, "reprocess", "--json").returncode == 0
        assert mkb(*args, "run", "--no-extract").returncode == 75  # a run still waits its turn
        ctrl_c(watcher)


@contextmanager
def started(*args: str) -> Iterator[subprocess.Popen]:
    """The real command in a process of its own, killed at the end if it is still running."""
    proc = subprocess.Popen([sys.executable, "-m", "monitor", *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def ctrl_c(proc: subprocess.Popen) -> None:
    """Ctrl-C: the command ends with 130 and one line, not a traceback."""
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 130
    assert "Traceback" not in proc.stderr.read()


def finished_runs(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with Store(db, readonly=True) as store:
            return store._db.execute("SELECT count(*) FROM runs WHERE status != 'running'").fetchone()[0]
    except Exception:  # not created yet
        return 0


def wait_for(condition, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.1)


def test_ctrl_c_during_a_run_exits_130_and_closes_the_run(faultd, tmp_path):
    config = write_toml(tmp_path, sources={"hangt": {"kind": "feed", "url": faultd.url("/hang-before-headers")}})
    config.write_text(config.read_text("utf-8") + "[http]\nallow_private = true\nrobots = false\nretries = 1\n"
                      "read_timeout = 60.0\ntotal_deadline = 120.0\n", "utf-8")
    db = tmp_path / "data" / "monitor.db"
    with started("--config", str(config), "--db", str(db), "run", "--no-extract") as proc:
        wait_for(lambda: faultd.hits("/hang-before-headers") >= 1, proc)
        ctrl_c(proc)
    with Store(db, readonly=True) as store:
        assert store._db.execute("SELECT status, error_code FROM runs").fetchall() == [("failed", "run.interrupted")]
