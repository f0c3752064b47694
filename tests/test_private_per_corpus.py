"""Private state per corpus (issue 13, Why 3): two corpora in one folder shared `private.db` and
`monitor.lock`, so an alert saved for one never fired for the other. Now the private file and the
lock are named after the corpus, and the shared `private.db` of earlier versions moves to the
corpus it belongs to without losing a saved search or an outbox row."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from alerting import government, import_jsonl, make_config, save, write_jsonl
from monitor import config as config_module
from monitor.alerts import SavedSearch
from monitor.errors import NotACorpus
from monitor.store import Store
from monitor.store.private import MIGRATIONS, PrivateStore


def config_for(db: Path):
    return config_module.load(db=db, overrides={"alerts": {"feed_dir": str(db.parent / "feeds")}})


def test_two_corpora_in_one_folder_each_have_their_alerts_and_their_lock(tmp_path):
    docs = write_jsonl(tmp_path / "gov.jsonl", government())
    a, b = config_for(tmp_path / "data" / "a.db"), config_for(tmp_path / "data" / "b.db")
    assert a.lock_path != b.lock_path and a.private_db_path != b.private_db_path
    save(a, SavedSearch(name="voor-a", query="ondernemers"))
    save(b, SavedSearch(name="voor-b", query="werkplaats"))
    fired_a, fired_b = import_jsonl(a, docs), import_jsonl(b, docs)
    assert fired_a["hits"] > 0 and fired_b["hits"] > 0  # each corpus's own saved search fired on it
    with PrivateStore.open(a) as pa, PrivateStore.open(b) as pb:
        assert [s["name"] for s in pa.searches()] == ["voor-a"]
        assert [s["name"] for s in pb.searches()] == ["voor-b"]
    with Store.open(a) as ca, Store.open(b) as cb:
        assert ca.corpus_id() != cb.corpus_id()


def legacy_private(path: Path, *, documents: list[str], watermark: int, keep_wal: bool = False) -> None:
    """A private.db as the earlier version left it (schema 1): a saved search with a channel, a
    hit on each of ``documents``, an alert with a pending delivery; optionally with its last
    transaction still in the WAL, as a killed process leaves it."""
    scratch = path.parent / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(scratch / "private.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    from sqlite_utils import Database

    MIGRATIONS[0](Database(conn))
    conn.execute("PRAGMA user_version = 1")
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute("BEGIN")
    conn.execute("INSERT INTO saved_searches (name, query, created, updated) VALUES ('oud', 'mkb', 'x', 'x')")
    conn.execute("INSERT INTO channels (search_id, kind, target) VALUES (1, 'email', 'ik@example.org')")
    conn.execute("INSERT INTO alerts (search_id, kind, created, due_at) VALUES (1, 'single', 'x', 'x')")
    for doc in documents:
        conn.execute("INSERT INTO hits (search_id, document_id, alert_id, reason, matched_at, title) "
                     "VALUES (1, ?, 1, 'new', 'x', 't')", [doc])
    conn.execute("INSERT INTO deliveries (alert_id, channel_id, next_attempt_at) VALUES (1, 1, 'x')")
    conn.execute("INSERT INTO state (key, value) VALUES ('watermark', ?)", [watermark])
    conn.execute("COMMIT")
    if keep_wal:
        for suffix in ("", "-wal"):
            shutil.copy(scratch / f"private.db{suffix}", path.parent / f"private.db{suffix}")
    conn.close()
    if not keep_wal:
        shutil.copy(scratch / "private.db", path)
    shutil.rmtree(scratch)


def filled(db: Path, records: list[dict]) -> tuple[list[str], int]:
    config = config_for(db)
    db.parent.mkdir(parents=True, exist_ok=True)
    import_jsonl(config, write_jsonl(db.parent / f"{db.stem}.jsonl", records), alerts_stage=False)
    with Store.open(config) as store:
        ids = [r[0] for r in store._db.execute("SELECT id FROM documents ORDER BY id")]
        return ids, store.last_change_seq()


@pytest.mark.parametrize("keep_wal", [False, True])
def test_the_shared_private_db_moves_to_its_corpus_with_every_search_and_outbox_row(tmp_path, keep_wal):
    db = tmp_path / "data" / "monitor.db"
    ids, seq = filled(db, government(5))
    legacy = db.with_name("private.db")
    legacy_private(legacy, documents=ids[:2], watermark=seq, keep_wal=keep_wal)
    config = config_for(db)
    with PrivateStore.open(config) as private:
        assert [s["name"] for s in private.searches()] == ["oud"]
        assert private.outbox("9999")["pending"] == 1 and private.watermark() == seq
        assert private.corpus_id() is not None
    assert not legacy.exists() and not Path(f"{legacy}-wal").exists()
    assert config.private_db_path.name == "monitor.private.db" and config.private_db_path.exists()


def test_a_private_db_of_the_other_corpus_in_the_folder_is_left_to_it(tmp_path):
    mine, mine_seq = filled(tmp_path / "data" / "monitor.db", government()[:3])
    theirs, _ = filled(tmp_path / "data" / "andere.db", [{**r, "id": f"ander-{i}"} for i, r in enumerate(government()[3:6])])
    legacy = tmp_path / "data" / "private.db"
    legacy_private(legacy, documents=theirs, watermark=1)
    with PrivateStore.open(config_for(tmp_path / "data" / "monitor.db")) as private:
        assert private.searches() == []  # a private file of its own, empty
    assert legacy.exists()  # not taken: its hits are documents of andere.db
    with PrivateStore.open(config_for(tmp_path / "data" / "andere.db")) as private:
        assert [s["name"] for s in private.searches()] == ["oud"]
    assert not legacy.exists() and (tmp_path / "data" / "andere.private.db").exists()


def test_a_private_file_that_belongs_to_another_corpus_is_refused(tmp_path):
    db = tmp_path / "data" / "monitor.db"
    config = make_config(tmp_path)
    save(config, SavedSearch(name="w", query="werkplaats"))
    import_jsonl(config, write_jsonl(tmp_path / "gov.jsonl", government(4)))
    for path in db.parent.glob("monitor.db*"):  # the corpus is replaced; its private file stays
        path.unlink()
    filled(db, government(2))
    with pytest.raises(NotACorpus, match="belongs to another corpus"):
        PrivateStore.open(config)
    from click.testing import CliRunner

    from monitor.cli import cli
    listed = CliRunner().invoke(cli, ["--db", str(db), "alerts", "list"])
    assert listed.exit_code == 2 and "belongs to another corpus" in listed.output
