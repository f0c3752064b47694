"""The command line, end to end on real government texts: import, search, sources, serve."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.store import Store

FIXTURES = Path(__file__).parent / "fixtures"
GOVERNMENT = FIXTURES / "import" / "government.jsonl"


def invoke(db, *args, input=None):
    result = CliRunner().invoke(cli, ["--db", str(db), *args], input=input, catch_exceptions=False)
    return result


@pytest.fixture
def db(tmp_path):
    return tmp_path / "data" / "monitor.db"


def imported(db):
    result = invoke(db, "import", str(GOVERNMENT), "--no-extract", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_import_then_again_changes_nothing(db):
    first = imported(db)
    assert first["totals"]["new"] == 20 and first["totals"]["failed"] == 0
    with Store(db) as s:
        before = s._db.execute("SELECT id, content_hash, version, updated FROM documents ORDER BY id").fetchall()
        changes = s.last_change_seq()
    second = imported(db)
    assert second["totals"]["new"] == 0 and second["totals"]["unchanged"] == 20
    with Store(db) as s:
        assert s._db.execute("SELECT id, content_hash, version, updated FROM documents ORDER BY id").fetchall() == before
        assert s.last_change_seq() == changes


def test_import_of_a_changed_text_makes_a_version(db, tmp_path):
    imported(db)
    lines = GOVERNMENT.read_text("utf-8").splitlines()
    changed = json.loads(lines[0])
    changed["text"] = changed["text"].replace("mkb", "midden- en kleinbedrijf", 1)
    path = tmp_path / "changed.jsonl"
    path.write_text(json.dumps(changed, ensure_ascii=False) + "\n", "utf-8")
    report = json.loads(invoke(db, "import", str(path), "--no-extract", "--json").stdout)
    assert report["totals"]["changed"] == 1
    with Store(db) as s:
        assert s._db.execute("SELECT count(*) FROM document_versions").fetchone()[0] == 1
        assert s.document_count() == 20


def test_bad_lines_are_named_and_good_lines_are_kept(db, tmp_path):
    good = GOVERNMENT.read_text("utf-8").splitlines()[:2]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([good[0], "{not json", '{"title": "geen id", "text": "x"}',
                               '{"id": "x-1", "title": "", "text": "leeg"}', good[1],
                               '{"id": "x-2", "title": "t", "text": "x", "published": "morgen"}']) + "\n", "utf-8")
    result = invoke(db, "import", str(path), "--no-extract", "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)["sources"][0]
    assert report["new"] == 2 and report["failed"] == 4
    messages = sorted(f["message"] for f in report["failures"])
    assert messages[0].startswith("mixed.jsonl line 2: not valid JSON")
    assert any(m.startswith("mixed.jsonl line 3: needs an 'id' or a 'url'") for m in messages)
    assert any(m.startswith("mixed.jsonl line 4: 'title' must be") for m in messages)
    assert any(m.startswith("mixed.jsonl line 6: 'published' is refused") for m in messages)


def test_search_and_sources_on_an_imported_corpus(db):
    imported(db)
    result = invoke(db, "search", "mkb", "digitalisering", "--json")
    hits = json.loads(result.stdout)
    assert result.exit_code == 0 and len(hits) >= 3
    assert all("[" in h["snippet"] and h["sources"] == ["gold"] for h in hits)
    phrase = json.loads(invoke(db, "search", '"mkb werkplaatsen', "--json").stdout)  # unbalanced quote
    assert {h["title"] for h in phrase} == {"RVO: Subsidieregeling mkb-werkplaatsen: Voorwaarden",
                                            "Rijksoverheid: MKB-actieplan geeft meer ruimte aan ondernemers"}
    text = invoke(db, "search", "Comité", "--limit", "3").output
    assert "Comit" in text
    bad = invoke(db, "search", "--", "-mkb")  # after --, a leading dash is the query's
    assert bad.exit_code == 2 and "no words" in bad.output
    sources = json.loads(invoke(db, "sources", "--json").stdout)
    gold = next(s for s in sources if s["name"] == "gold")
    assert gold["documents"] == 20 and gold["configured"] is False
    assert invoke(db, "sources").exit_code == 0


def test_check_finds_an_index_out_of_sync(db):
    imported(db)
    assert invoke(db, "check").exit_code == 0
    with Store(db) as s, s.transaction():  # a write that bypasses the FTS triggers (RELIABILITY P8)
        s._db.execute("DROP TRIGGER documents_au")
        s._db.execute("UPDATE documents SET title = 'ander' WHERE rowid = 1")
    result = invoke(db, "check", "--json")
    assert result.exit_code == 1 and "out of sync" in result.output


def test_search_without_a_corpus_says_what_to_do(db):
    result = invoke(db, "search", "mkb")
    assert result.exit_code != 0 and "import" in result.output


def test_unknown_config_key_is_named(tmp_path, db):
    config = tmp_path / "monitor.toml"
    config.write_text('[http]\nuser_agnet = "x"\n', "utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "--db", str(db), "sources"])
    assert result.exit_code == 2 and "http.user_agnet" in result.output


def test_run_while_another_run_holds_the_lock_exits_75_but_import_goes_ahead(db, tmp_path):
    """`import` and `reprocess` write in the corpus's transactions, not under the run lock, so
    they work while `watch` waits; the outbox is left to the lock's holder."""
    from monitor import lock

    with lock.exclusive(db.with_name("monitor.lock")):
        ran = invoke(db, "run", "--no-extract")
        imported_meanwhile = invoke(db, "import", str(GOVERNMENT), "--no-extract", "--json")
        reprocessed = invoke(db, "reprocess", "--extract-only", "--json")
    assert ran.exit_code == 75 and "already running" in ran.output
    assert imported_meanwhile.exit_code == 0, imported_meanwhile.output
    report = json.loads(imported_meanwhile.stdout)
    assert report["totals"]["new"] == 20 and report["alerts"]["delivery"].startswith("left to the process")
    assert reprocessed.exit_code == 0, reprocessed.output


@pytest.mark.slow
def test_killed_import_leaves_no_half_document_and_a_rerun_completes(db):
    """SIGKILL in the middle of the batch transaction: nothing of the batch is visible after."""
    env = {**os.environ, "MONITOR_CRASHPOINT": "mid_upsert:7"}
    proc = subprocess.run([sys.executable, "-m", "monitor", "--db", str(db), "import", str(GOVERNMENT),
                           "--no-extract"], env=env, capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    with Store(db) as s:
        assert s.document_count() == 0  # one batch, one transaction: all or nothing
        assert s.check() == []
        assert s._db.execute("SELECT count(*) FROM documents_fts").fetchone()[0] == 0
    report = imported(db)
    assert report["totals"]["new"] == 20
    with Store(db) as s:
        assert s.check() == []


@pytest.mark.slow
def test_python_dash_m_runs_the_same_cli():
    proc = subprocess.run([sys.executable, "-m", "monitor", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "import" in proc.stdout and "search" in proc.stdout


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("sqlite-utils") is None and not Path(sys.executable).with_name("sqlite-utils").exists(),
                    reason="the sqlite-utils command is not installed")
def test_sqlite_utils_reads_and_searches_the_same_file(db):
    imported(db)
    exe = shutil.which("sqlite-utils") or str(Path(sys.executable).with_name("sqlite-utils"))
    proc = subprocess.run([exe, "search", str(db), "documents", "werkplaatsen", "-c", "id", "--limit", "5"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert rows and all(r["id"].startswith("web-") for r in rows)


def test_a_run_with_extraction_keeps_the_gazetteer_in_the_corpus(db, tmp_path):
    """Datasette readers see each organisation with its aliases, not only the names mentioned."""
    one = json.loads(GOVERNMENT.read_text("utf-8").splitlines()[0])
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(one, ensure_ascii=False) + "\n", "utf-8")
    assert invoke(db, "import", str(path)).exit_code == 0
    with Store(db) as s:
        row = s._db.execute("SELECT canonical, aliases, in_gazetteer FROM organisations WHERE id = 'org:ncvo'").fetchone()
        assert row[0] == "Nederlands Comité voor Ondernemerschap" and row[2] == 1
        assert "Comité van Ondernemerschap" in json.loads(row[1])
        assert s._db.execute("SELECT count(*) FROM organisations WHERE in_gazetteer = 1").fetchone()[0] > 900
