"""`import` keeps its promises (issue 19 item 7, issue 13): every line stands on its own, one id is
one record however often a file is imported, no line is read whole past its cap."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.store import Store

GOVERNMENT = Path(__file__).parent / "fixtures" / "import" / "government.jsonl"


def import_file(db: Path, path: Path, *extra: str) -> tuple[int, dict]:
    result = CliRunner().invoke(cli, ["--db", str(db), *extra, "import", str(path), "--no-extract", "--json"])
    assert "Traceback" not in result.output and not isinstance(result.exception, (UnicodeError, OverflowError)), \
        result.output
    return result.exit_code, json.loads(result.stdout)


def failures(report: dict) -> list[dict]:
    return [f for source in report["sources"] for f in source["failures"]]


def stored(db: Path) -> dict[str, tuple[str, int]]:
    with Store(db) as store:
        return {row[0]: (row[1], row[2]) for row in store._db.execute("SELECT id, text, version FROM documents")}


def record(n: int, text: str = "Het mkb digitaliseert.", **fields: object) -> str:
    return json.dumps({"id": f"doc-{n}", "title": f"Titel {n}", "text": text, **fields}, ensure_ascii=False)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "monitor.db"


def test_invalid_utf8_on_one_line_is_that_lines_error(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    lines = [record(1).encode(), record(2, "Café voor ondernemers").encode("latin-1"), record(3).encode()]
    path.write_bytes(b"\n".join(lines) + b"\n")
    code, report = import_file(db, path)
    assert code == 1 and report["totals"]["new"] == 2
    [failure] = failures(report)
    assert "mixed.jsonl line 2" in failure["message"] and "not valid UTF-8" in failure["message"]
    assert set(stored(db)) == {"doc-1", "doc-3"}
    with Store(db) as store:  # the run is closed, not left "running"
        assert [r[0] for r in store._db.execute("SELECT status FROM runs")] == ["partial"]


def test_a_latin1_file_gives_one_error_per_bad_line_and_no_traceback(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    texts = ["Één loket", "plain ascii", "Overheid én mkb", "coöperatie", "nog meer ascii"]
    path.write_bytes("\n".join(record(n, t) for n, t in enumerate(texts, 1)).encode("latin-1"))
    code, report = import_file(db, path)
    assert code == 1
    assert sorted(f["message"].split(":")[0] for f in failures(report)) == [
        "latin1.jsonl line 1", "latin1.jsonl line 3", "latin1.jsonl line 4"]
    assert set(stored(db)) == {"doc-2", "doc-5"}  # the lines that are ASCII are UTF-8 too


def test_the_same_id_twice_in_a_file_keeps_the_first_and_names_the_others(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "repeated.jsonl"
    path.write_text("\n".join([record(1, "Eerste tekst over het mkb."), record(2),
                               record(1, "Tweede tekst over het mkb."), record(1, "Derde tekst over het mkb.")]),
                    "utf-8")
    for attempt in range(3):
        code, report = import_file(db, path)
        assert code == 1
        assert sorted(f["message"] for f in failures(report)) == [
            "repeated.jsonl line 3: id 'doc-1' was already given on line 1 of this file",
            "repeated.jsonl line 4: id 'doc-1' was already given on line 1 of this file"]
        # Never a new version, never another current text, however often the file comes in.
        assert stored(db)["doc-1"] == ("Eerste tekst over het mkb.", 1)
        with Store(db) as store:
            assert store._db.execute("SELECT count(*) FROM document_versions").fetchone()[0] == 0
            assert store._db.execute("SELECT count(*) FROM changes").fetchone()[0] == 2


def test_a_line_past_the_size_cap_is_refused_without_losing_the_others(db: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[kinds.jsonl]\nmax_line_bytes = 1000\n", "utf-8")
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join([record(1), record(2, "mkb " * 5000), record(3)]) + "\n", "utf-8")
    code, report = import_file(db, path, "--config", str(config))
    assert code == 1
    [failure] = failures(report)
    assert failure["message"] == "big.jsonl line 2: longer than 1000 bytes (max_line_bytes)"
    assert set(stored(db)) == {"doc-1", "doc-3"}


@pytest.mark.parametrize("published", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00", "morgen"])
def test_a_date_out_of_range_is_that_lines_error(db: Path, tmp_path: Path, published: str) -> None:
    path = tmp_path / "dates.jsonl"
    path.write_text("\n".join([record(1, published=published), record(2, published="23 september 2026"),
                               record(3, published="2026-09-23")]), "utf-8")
    code, report = import_file(db, path)
    assert code == 1
    [failure] = failures(report)
    assert failure["message"].startswith("dates.jsonl line 1: 'published' is refused")
    with Store(db) as store:
        dates = dict(store._db.execute("SELECT id, published FROM documents").fetchall())
    assert dates == {"doc-2": "2026-09-22T22:00:00Z", "doc-3": "2026-09-23"}


def test_the_real_import_file_still_imports_whole(db: Path) -> None:
    code, report = import_file(db, GOVERNMENT)
    assert code == 0 and report["totals"]["new"] == 20 and not failures(report)
