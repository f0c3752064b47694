"""The README's commands are the ones that work: CI runs its test command, the CLI has its commands."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from monitor.cli import cli

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text("utf-8")


def fresh_machine_commands() -> list[str]:
    """The two indented command lines the README opens with."""
    return re.findall(r"^    (python3\.11 -m venv .+)$", README, flags=re.M)[:2]


def test_the_readme_opens_with_the_two_commands_of_a_fresh_machine():
    install_and_run, install_and_test = fresh_machine_commands()
    assert install_and_run.endswith("mkb-monitor run") and "pip install" in install_and_run
    assert install_and_test.endswith("python -m pytest -q") and '".[test]"' in install_and_test
    assert README.index(install_and_run) < 400  # before anything else


def test_ci_runs_exactly_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    assert fresh_machine_commands()[1] in ci.splitlines()


def test_every_command_the_readme_shows_exists():
    shown = set(re.findall(r"^ {4}mkb-monitor ([a-z]+)", README, flags=re.M))
    assert shown >= {"run", "import", "search", "sources", "serve", "extract", "eval", "alerts", "watch"}
    for name in sorted(shown):
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)


# --- every command line of the README runs, with its documented effect checked ------------------
#
# The lines run in README order against one small corpus in a temporary directory (the working
# directory of every line), with MKB_MONITOR_DB and MKB_MONITOR_CONFIG pointing at it, as a user's
# shell would. How each kind of line is exercised:
#   - `mkb-monitor ...`: the line's own words through the click entry point (CliRunner), `< file`
#     and `echo ... |` as its standard input;
#   - sources that need the network (`run`): the config points KOOP's SRU service and a feed at a
#     loopback server answering with recorded real responses (tests/replays, tests/fixtures/feeds),
#     robots.txt 404; `run --record` records that and `run --replay` answers from the recording
#     with the server stopped;
#   - `serve`: a process of its own on the config's port, asked for two pages, then stopped;
#   - `watch`: in-process, its sleep replaced by Ctrl-C after the first run (exit 130);
#   - the cron line: run by the shell after its `cd`, with `.venv` linked to this environment;
#   - `python ...` lines: run as written; the full test suite (the two `pytest -q` lines and the
#     fresh-machine lines) is what CI runs (test_ci_runs_exactly_the_readme_test_command).
# The corpus: the 20 real government texts of tests/fixtures/import and two documents built here,
# dated relative to today, so the examples with a phrase, a kind, a date and an organisation have
# something to find (their effect is also checked against the corpus when nothing is expected).

import json as _json
import os
import shlex
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from monitor import schedule, serve as serve_module
from monitor.store import Store

FIXTURES = ROOT / "tests" / "fixtures"
ANSWERS = {"/sru": (ROOT / "tests" / "replays" / "sru_searchRetrieve_no_records_from_schema.xml", "application/xml"),
           "/feed.rss": (FIXTURES / "feeds" / "mkb-nederland_rss_nieuws_excerpt.xml", "application/rss+xml")}


def readme_command_lines() -> list[str]:
    """Every command line of the README: indented lines that run mkb-monitor, python or the venv,
    without their trailing comment."""
    lines = []
    for line in re.findall(r"^ {4}(\S.*)$", README, flags=re.M):
        command = re.split(r"\s{2,}# ", line)[0].strip()
        if re.search(r"(^|\s|/)(mkb-monitor|python3?(\.11)?)\s", command) or command.startswith(". .venv"):
            lines.append(command)
    return lines


class Answers(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        path = self.path.split("?")[0]
        if path not in ANSWERS:
            self.send_error(404)
            return
        body, kind = ANSWERS[path][0].read_bytes(), ANSWERS[path][1]
        self.send_response(200)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def constructed_documents() -> list[dict]:
    """Two documents built for the examples (not from any source): a letter on the Digitale
    Werkplaatsen naming the Comité, dated three days ago, and a zzp item on taxes."""
    recent = (date.today() - timedelta(days=3)).isoformat()
    return [
        {"id": "readme-kamerbrief", "kind": "kamerbrief", "published": recent, "source": "readme",
         "title": "Kamerbrief over de digitale werkplaatsen (constructed for the README tests)",
         "text": "De digitale werkplaatsen helpen ondernemers. Ruim 11.000 ondernemers deden mee; 58 procent van de "
                 "mkb'ers wil verder digitaliseren. Het Comité van Ondernemerschap adviseert het kabinet."},
        {"id": "readme-zzp-belasting", "kind": "news", "published": "2025-05-01", "source": "readme",
         "title": "Belasting voor zzp'ers (constructed for the README tests)",
         "text": "De belasting voor zzp'ers en het mkb verandert in 2026."},
    ]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """The user's directory: documents.jsonl, texts.jsonl, a config with the loopback sources."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    documents = (FIXTURES / "import" / "government.jsonl").read_text("utf-8")
    documents += "".join(_json.dumps(d, ensure_ascii=False) + "\n" for d in constructed_documents())
    (tmp_path / "documents.jsonl").write_text(documents, "utf-8")
    (tmp_path / "texts.jsonl").write_text("".join(
        _json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(["Ruim 11.000 ondernemers.", "91% van de mkb'ers."])),
        "utf-8")
    off = "".join(f"[sources.{name}]\nenabled = false\n" for name in ("mkb-nederland", "belastingdienst-zakelijk",
                                                                       "rijksoverheid", "tweedekamer"))
    (tmp_path / "monitor.toml").write_text(f"""{off}
[sources.koop]
base_url = "{base}/sru"

[sources.nieuws]
kind = "feed"
url = "{base}/feed.rss"
fetch_articles = false

[http]
allow_private = true                 # the sources answer on loopback in this test
host_interval = 0.0
retries = 1

[serve]
port = {free_port()}

[alerts]
feed_dir = "{tmp_path / 'feeds'}"
smtp_host = "127.0.0.1"
smtp_port = {free_port()}
smtp_timeout = 2.0
""", "utf-8")
    monkeypatch.chdir(tmp_path)
    for key, value in env_of(tmp_path).items():
        monkeypatch.setenv(key, value)
    yield tmp_path, server
    server.shutdown()
    server.server_close()


def env_of(tmp: Path) -> dict[str, str]:
    return {"MKB_MONITOR_DB": str(tmp / "data" / "monitor.db"), "MKB_MONITOR_CONFIG": str(tmp / "monitor.toml")}


def mkb(line: str, *extra: str):
    """A README line through the entry point: its words, its `< file` or `echo ... |` input."""
    stdin = None
    if line.startswith("echo "):
        said, line = line.split(" | ", 1)
        stdin = shlex.split(said)[1] + "\n"
    words = shlex.split(line)
    if "<" in words:
        stdin = Path(words[words.index("<") + 1]).read_text("utf-8")
        words = words[:words.index("<")]
    assert words[0] == "mkb-monitor"
    return CliRunner().invoke(cli, [*words[1:], *extra], input=stdin, catch_exceptions=False)


def corpus() -> Store:
    return Store(Path(os.environ["MKB_MONITOR_DB"]), readonly=True)


def ids(result) -> set[str]:
    assert result.exit_code == 0, result.output
    return {h["id"] for h in _json.loads(result.stdout)}


@pytest.mark.slow
def test_every_readme_command_line_runs_with_its_documented_effect(workdir, monkeypatch):
    tmp, server = workdir
    lines = readme_command_lines()
    checked: list[str] = []

    def check(line: str):
        assert line in lines, f"the README no longer has: {line}"
        checked.append(line)
        return line

    # -- fill the corpus --
    run = mkb(check("mkb-monitor run"), "--json")
    report = _json.loads(run.stdout)
    assert run.exit_code == 0 and report["ok"], run.output  # every enabled source ran and succeeded
    assert {s["source"] for s in report["sources"]} == {"koop", "nieuws"} and report["totals"]["new"] == 1
    again = _json.loads(mkb("mkb-monitor run", "--json").stdout)  # incrementally: nothing new
    assert again["ok"] and again["totals"]["new"] == 0
    one = mkb(check("mkb-monitor run --source koop"), "--json")
    assert one.exit_code == 0 and [s["source"] for s in _json.loads(one.stdout)["sources"]] == ["koop"]

    doctor = mkb(check("mkb-monitor doctor --json"))
    answered = _json.loads(doctor.stdout)
    assert doctor.exit_code == 0, doctor.output
    assert {r["source"] for r in (answered["sources"] if isinstance(answered, dict) else answered)} >= {"koop", "nieuws"}
    monkeypatch.setenv("MKB_MONITOR_DB", str(tmp / "recorded" / "monitor.db"))
    recorded = mkb(check("mkb-monitor run --record recordings/"), "--json")
    assert recorded.exit_code == 0 and (tmp / "recordings" / "index.jsonl").read_text("utf-8").count("\n") >= 2
    server.shutdown()  # from here on nothing answers on the network
    server.server_close()
    monkeypatch.setenv("MKB_MONITOR_DB", str(tmp / "replayed" / "monitor.db"))
    replayed = mkb(check("mkb-monitor run --replay recordings/"), "--json")
    assert replayed.exit_code == 0 and _json.loads(replayed.stdout)["totals"]["new"] == 1
    monkeypatch.setenv("MKB_MONITOR_DB", str(tmp / "data" / "monitor.db"))

    imported = mkb(check("mkb-monitor import documents.jsonl"), "--json")
    assert imported.exit_code == 0 and _json.loads(imported.stdout)["totals"]["new"] == 22
    assert _json.loads(mkb("mkb-monitor import documents.jsonl", "--json").stdout)["totals"]["new"] == 0  # twice: no change
    reparsed = mkb(check("mkb-monitor reprocess"), "--json")
    assert reparsed.exit_code == 0 and _json.loads(reparsed.stdout)["parse"]["failed"] == 0
    with corpus() as store:
        total = store._db.execute("SELECT count(*) FROM documents WHERE deleted = 0").fetchone()[0]
    reextracted = mkb(check("mkb-monitor reprocess --extract-only --all --processes 2"), "--json")
    assert reextracted.exit_code == 0 and _json.loads(reextracted.stdout)["extract"]["extracted"] == total

    # -- look at it --
    sources = mkb(check("mkb-monitor sources"))
    assert sources.exit_code == 0
    states = {r["name"]: r["state"] for r in _json.loads(mkb("mkb-monitor sources", "--json").stdout)}
    assert states["koop"] in ("fresh", "stale") and states["nieuws"] == "fresh" and states["tweedekamer"] == "off"
    assert "koop" in sources.stdout and "nieuws" in sources.stdout

    assert "readme-kamerbrief" in ids(mkb(check("mkb-monitor search digitale werkplaatsen"), "--json"))
    line = check("mkb-monitor search '\"digitale werkplaatsen\"' --since 2025-01-01 --kind kamerbrief")
    assert ids(mkb(line, "--json")) == {"readme-kamerbrief"}
    with corpus() as store:  # the oracle: a kamerbrief since 2025 with the phrase
        expected = {r[0] for r in store._db.execute(
            "SELECT id FROM documents WHERE kind = 'kamerbrief' AND published >= '2025-01-01' "
            "AND lower(title || ' ' || text) LIKE '%digitale werkplaatsen%'")}
    assert expected == {"readme-kamerbrief"}
    listed = mkb(check("mkb-monitor search --sort date --limit 50 --json -- mkb OR zzp -belasting"))
    hits = _json.loads(listed.stdout)
    assert listed.exit_code == 0 and 0 < len(hits) <= 50
    assert "readme-zzp-belasting" not in {h["id"] for h in hits}
    dated = [h["published"] for h in hits if h["published"]]
    assert dated == sorted(dated, reverse=True)
    with corpus() as store:
        for h in hits:
            text = " ".join(store._db.execute("SELECT title, text FROM documents WHERE id = ?", [h["id"]]).fetchone()).lower()
            assert re.search(r"\b(mkb|zzp)\b", text) and not re.search(r"\bbelasting\b", text), h["id"]
    line = check("mkb-monitor search ondernemers --org \"Comité van Ondernemerschap\" --since 2w")
    assert ids(mkb(line, "--json")) == {"readme-kamerbrief"}
    line = check("mkb-monitor figures --subject ondernemers --unit count")
    shown, rows = mkb(line), _json.loads(mkb(line, "--json").stdout)
    assert shown.exit_code == 0 and rows and all(r["unit"] == "count" and r["subject"].startswith("ondernemers")
                                                 for r in rows)
    assert "11\u00a0000" in shown.stdout  # "Ruim 11.000 ondernemers", printed so nobody misreads it
    orgs = mkb(check("mkb-monitor orgs"))
    named = {r["canonical"] for r in _json.loads(mkb("mkb-monitor orgs", "--json").stdout)}
    assert orgs.exit_code == 0 and "Nederlands Comité voor Ondernemerschap" in named and "Comité" in orgs.stdout
    unknown = mkb(check("mkb-monitor orgs --unknown"), "--json")
    assert unknown.exit_code == 0 and all(r["in_gazetteer"] == 0 for r in _json.loads(unknown.stdout))

    port = tomllib_port(tmp / "monitor.toml")
    serving = subprocess.Popen([*mkb_exe(), *shlex.split(check("mkb-monitor serve"))[1:]], cwd=tmp,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert fetch_when_up(f"http://127.0.0.1:{port}/", serving).status == 200
        page = fetch_when_up(f"http://127.0.0.1:{port}/monitor/documents.json?_shape=array&id=readme-kamerbrief", serving)
        assert [d["id"] for d in _json.loads(page.read())] == ["readme-kamerbrief"]
    finally:
        serving.terminate()
        serving.wait(30)
    started: list[tuple[str, int]] = []
    with pytest.MonkeyPatch.context() as patch:  # on the network: not opened from a test, its start checked
        patch.setattr(serve_module, "serve", lambda config, *, host, port: started.append((host, port)))
        public = mkb(check("mkb-monitor serve --host 0.0.0.0 --public"))
        assert public.exit_code == 0 and started == [("0.0.0.0", port)] and "warning" in public.output
        assert mkb("mkb-monitor serve --host 0.0.0.0").exit_code == 2  # without --public: refused

    # -- figures and organisations in any text --
    extracted = mkb(check("echo \"Ruim 11.000 ondernemers; 91% van de mkb'ers.\" | mkb-monitor extract --json"))
    figures = {(f["value"], f["unit"]) for f in _json.loads(extracted.stdout)["figures"]}
    assert extracted.exit_code == 0 and figures >= {(11000, "count"), (91, "percent")}
    streamed = mkb(check("mkb-monitor extract --jsonl < texts.jsonl"))
    out = [_json.loads(line) for line in streamed.stdout.splitlines()]
    assert streamed.exit_code == 0 and [r["id"] for r in out] == [0, 1] and all(r["figures"] for r in out)
    scored = mkb(check("mkb-monitor eval tests/fixtures/gold_government.jsonl").replace(
        "tests/", str(ROOT / "tests") + "/"), "--json")
    metrics = _json.loads(scored.stdout)
    assert scored.exit_code == 0 and metrics["documents"] == 20 and metrics["figures"]["f1"] > 0.5

    # -- alerts and schedules --
    for line in ("mkb-monitor alerts add werkplaatsen '\"digitale werkplaatsen\"' --email ik@example.org",
                 "mkb-monitor alerts add ncvo --org \"Nederlands Comité voor Ondernemerschap\" --atom",
                 "mkb-monitor alerts add ai-cijfers --figure \"unit=percent subject~mkb'ers value>=50\" "
                 "--webhook https://example.org/hook"):
        added = mkb(check(line))
        assert added.exit_code == 0, added.output
    saved = {s["name"]: s for s in _json.loads(mkb(check("mkb-monitor alerts list"), "--json").stdout)}
    assert {n: sorted(c["kind"] for c in s["channels"]) for n, s in saved.items()} == \
        {"werkplaatsen": ["email"], "ncvo": ["atom"], "ai-cijfers": ["webhook"]}
    tested = mkb(check("mkb-monitor alerts test ncvo"), "--json")
    assert tested.exit_code == 0 and "readme-kamerbrief" in {d["id"] for d in _json.loads(tested.stdout)["documents"]}

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(schedule.time, "sleep", interrupt)
    watched = mkb(check("mkb-monitor watch --every 30m"))
    assert watched.exit_code == 130 and " run 1: " in watched.stderr and "interrupted" in watched.stderr
    monkeypatch.undo()
    monkeypatch.chdir(tmp)

    cron = check("*/30 * * * *  cd /srv/mkb-monitor && .venv/bin/mkb-monitor run >> data/run.log 2>&1")
    (tmp / ".venv").symlink_to(Path(sys.executable).parent.parent)
    env = {**os.environ, "MKB_MONITOR_DB": str(tmp / "data" / "monitor.db"),
           "MKB_MONITOR_CONFIG": str(tmp / "monitor.toml")}
    ran = subprocess.run(cron.split(" && ", 1)[1], shell=True, cwd=tmp, env=env, timeout=300)
    assert ran.returncode == 1  # the loopback server is gone: the run says so, in the log
    log = (tmp / "data" / "run.log").read_text("utf-8")
    assert "run summary" in log and "koop" in log and "nieuws" in log

    # -- development --
    # The fast loop: run here as a collection (running it inside the suite would run the suite twice);
    # it selects tests, and none of the slow ones.
    fast = subprocess.run([*shlex.split(check('python -m pytest -m "not slow" -q')), "--collect-only"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert fast.returncode == 0 and "deselected" in fast.stdout, fast.stdout[-2000:] + fast.stderr[-2000:]
    collected = [line for line in fast.stdout.splitlines() if "::" in line]
    assert len(collected) > 500 and not any(line.startswith("tests/test_crash.py") for line in collected)
    for line in ("python -m pytest -q tests/test_search.py", "python bench/bench_search.py --help"):
        done = subprocess.run(shlex.split(check(line)), cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "passed" in done.stdout or "usage" in done.stdout.lower()

    # The rest is the test suite itself, which CI runs as the README says.
    by_ci = [line for line in lines if line.startswith((". .venv", "python3.11 -m venv"))]
    assert len(by_ci) == 3 and all(line.endswith(("python -m pytest -q", "mkb-monitor run")) for line in by_ci)
    assert sorted(checked + by_ci) == sorted(lines), set(lines) - set(checked) - set(by_ci)


def mkb_exe() -> list[str]:
    return [sys.executable, "-m", "monitor"]


def tomllib_port(path: Path) -> int:
    import tomllib

    return tomllib.loads(path.read_text("utf-8"))["serve"]["port"]


def fetch_when_up(url: str, proc: subprocess.Popen, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return urllib.request.urlopen(url, timeout=5)
        except OSError:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, f"{url} never answered"
            time.sleep(0.2)
