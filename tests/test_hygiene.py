"""Text hygiene at the door (issue 19, item 6): what the corpus stores has no control characters
(tab and newlines stay), titles are one line of at most 1,000 characters, texts are capped, and
every cut is recorded; whatever reaches the terminal is shown as written, never as markup or
escape sequences."""

from __future__ import annotations

import json
import sqlite3

import sqlite_utils
from click.testing import CliRunner

from monitor import text as hygiene
from monitor.cli import cli
from monitor.display import number
from monitor.store import Store
from monitor.store.corpus import MIGRATIONS
from scrapers.base import Document

HOSTILE_TITLE = "Nieuws\x01 over \x1b[31mmkb\x1b[0m\n en \x7fzzp\x9b"
HOSTILE_TEXT = "Eerste regel\tmet tab.\nTweede\x00 regel \x1b]0;pwned\x07 met \x1b[2J ondernemers.\r\n"


def doc(**fields) -> Document:
    base = dict(source="s", source_key="k", url=None, title="Titel", text="Tekst over ondernemers.", kind="news")
    return Document(**{**base, **fields})


def test_control_characters_and_escape_sequences_never_reach_the_corpus(tmp_path):
    with Store(tmp_path / "monitor.db") as store, store.transaction():
        outcome = store.put_document(doc(title=HOSTILE_TITLE, text=HOSTILE_TEXT))
        row = store.document(outcome.document_id)
    assert row["title"] == "Nieuws over mkb en zzp"
    assert row["text"] == "Eerste regel\tmet tab.\nTweede regel  met  ondernemers.\r\n"
    assert "cut" not in json.loads(row["meta"])


def test_titles_and_texts_are_capped_and_the_cut_is_recorded(tmp_path):
    with Store(tmp_path / "monitor.db", max_text_chars=10_000) as store, store.transaction():
        outcome = store.put_document(doc(title="t" * 5000, text="ondernemers " * 2000))
        row = store.document(outcome.document_id)
        again = store.put_document(doc(title="t" * 5000, text="ondernemers " * 2000))
    assert len(row["title"]) == hygiene.MAX_TITLE_CHARS and len(row["text"]) == 10_000
    assert json.loads(row["meta"])["cut"] == {"title_chars": 5000, "text_chars": 24_000}
    assert again.status == "unchanged"  # the same cut of the same text is the same document


def test_a_corpus_stored_before_hygiene_is_cleaned_when_it_is_upgraded(tmp_path):
    path = tmp_path / "monitor.db"
    conn = sqlite3.connect(path, isolation_level=None)
    db = sqlite_utils.Database(conn)
    for migrate in MIGRATIONS[:3]:
        migrate(db)
    conn.execute("PRAGMA user_version = 3")
    conn.execute("INSERT INTO documents (id, kind, title, text, content_hash, version) VALUES (?, ?, ?, ?, 'x', 1)",
                 ["d1", "news", HOSTILE_TITLE, HOSTILE_TEXT])
    conn.close()
    with Store(path) as store:
        row = store.document("d1")
        assert "\x1b" not in row["title"] + row["text"] and "\x01" not in row["title"]
        assert store.check() == []  # the search index follows the cleaned text


def test_search_and_errors_print_what_was_written_and_nothing_the_terminal_obeys(tmp_path):
    """Why (issue 19): ANSI escapes in stored text reached the terminal raw through `search`; rich
    markup ate `[sources.x]` out of error messages."""
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps({"id": "h-1", "title": "[bold]Vet[/bold] " + HOSTILE_TITLE,
                                "text": HOSTILE_TEXT}) + "\n", "utf-8")
    db = tmp_path / "monitor.db"
    assert CliRunner().invoke(cli, ["--db", str(db), "import", str(path), "--no-extract"]).exit_code == 0
    with Store(db) as store, store.transaction():  # as an old corpus or another writer might hold it
        store._db.execute("UPDATE documents SET url = 'https://x.example/[i]a' WHERE id = 'h-1'")
    shown = CliRunner().invoke(cli, ["--db", str(db), "search", "ondernemers"])
    assert shown.exit_code == 0 and "\x1b" not in shown.output and "\x07" not in shown.output
    assert "[bold]Vet[/bold]" in shown.output and "https://x.example/[i]a" in shown.output
    config = tmp_path / "c.toml"
    config.write_text("[sources.x]\nurl = 'https://example.org'\n", "utf-8")
    refused = CliRunner().invoke(cli, ["--config", str(config), "--db", str(db), "sources"])
    assert refused.exit_code == 2 and "[sources.x] needs a 'kind'" in refused.output


def test_numbers_are_grouped_by_spaces_with_a_decimal_comma():
    assert [number(v) for v in (90623, 12.5, 0.982, 1234567.5, -4500.25, 0.0000123, None)] == \
        ["90\u00a0623", "12,5", "0,982", "1\u00a0234\u00a0567,5", "-4\u00a0500,25", "0,0000123", ""]
