"""The corpus: identity, versions, upgrades, tombstones, FTS sync and atomic transactions."""

from __future__ import annotations

import json
import sqlite3

import pytest

from models.records import Extraction, Figure, Mention
from monitor.errors import StorageBusy, StorageError
from monitor.store import SCHEMA_VERSION, Store, content_hash, normalise_published
from scrapers.base import Document, Item, Response


def doc(**overrides) -> Document:
    fields = dict(source="mkb-nederland", source_key="guid-1", url="https://www.mkb.nl/nieuws/digitale-werkplaatsen",
                  title="Digitale Werkplaatsen helpen ruim 11.000 ondernemers", kind="news",
                  text="Het Comité meldt dat 91% van de ondernemers tevreden is.", published="2026-09-23T10:00:00+02:00")
    fields.update(overrides)
    return Document(**fields)


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "monitor.db") as s:
        yield s


def put(store, d, **kw):
    with store.transaction():
        return store.put_document(d, **kw)


def test_new_document_gets_id_from_canonical_url_and_utc_date(store):
    outcome = put(store, doc())
    assert outcome.status == "new" and outcome.version == 1
    row = store.document(outcome.document_id)
    assert row["id"].startswith("web-")
    assert row["published"] == "2026-09-23T08:00:00Z"
    assert row["published_raw"] == "2026-09-23T10:00:00+02:00"


def test_same_article_from_two_feeds_is_one_document_with_two_sources(store):
    first = put(store, doc())
    second = put(store, doc(source="rijksoverheid", source_key="x",
                            url="http://mkb.nl/nieuws/digitale-werkplaatsen/?utm_source=rss&utm_medium=feed"))
    assert second.document_id == first.document_id and second.status == "unchanged"
    sources = {r["source"] for r in store._db.query("SELECT source FROM document_sources")}
    assert sources == {"mkb-nederland", "rijksoverheid"}
    assert store.document_count() == 1


def test_same_text_under_another_url_is_the_same_document(store):
    first = put(store, doc())
    second = put(store, doc(source="other", source_key="y", url="https://example.org/copy"))
    assert second.document_id == first.document_id


def test_white_space_is_not_an_edit_but_words_are(store):
    first = put(store, doc())
    assert put(store, doc(text="Het Comité meldt dat  91% van de\nondernemers tevreden is.")).status == "unchanged"
    edited = put(store, doc(text="Het Comité meldt dat 92% van de ondernemers tevreden is."))
    assert (edited.status, edited.change, edited.version) == ("changed", "edited", 2)
    old = list(store._db.query("SELECT * FROM document_versions WHERE document_id = ?", [first.document_id]))
    assert len(old) == 1 and "91%" in old[0]["text"] and old[0]["version"] == 1
    assert "92%" in store.document(first.document_id)["text"]


def test_better_text_upgrades_worse_text_never_replaces(store):
    tk = doc(source="tweedekamer", source_key="guid", id="kst-32637-428", url=None, text="Kamerbrief (pdf)",
             text_quality="extracted", kind="kamerbrief", dossiers=["32637"])
    koop = doc(source="koop", source_key="kst-32637-428", id="kst-32637-428", url=None,
               text="Hierbij bied ik u het Jaarbericht aan.", text_quality="full", kind="kamerbrief",
               dossiers=["32637"], meta={"ondernummer": "428"})
    assert put(store, tk).status == "new"
    upgraded = put(store, koop)
    assert (upgraded.status, upgraded.change, upgraded.version) == ("upgraded", "upgraded", 2)
    # the SyncFeed sighting again, later: it links, it does not downgrade the text
    again = put(store, doc(**{**tk.asdict(), "text": "Kamerbrief (pdf), opnieuw"}))
    assert again.status == "linked"
    row = store.document("kst-32637-428")
    assert row["text"] == "Hierbij bied ik u het Jaarbericht aan." and row["text_quality"] == "full"
    assert json.loads(row["meta"])["ondernummer"] == "428"
    assert {r["source"] for r in store._db.query("SELECT source FROM document_sources")} == {"tweedekamer", "koop"}
    reasons = [r["reason"] for r in store._db.query("SELECT reason FROM changes ORDER BY seq")]
    assert reasons == ["new", "upgraded"]


def test_tombstone_from_one_source_keeps_a_document_another_source_still_has(store):
    put(store, doc(source="tweedekamer", source_key="guid-7", id="kst-32637-428", url=None, text_quality="extracted"))
    put(store, doc(source="koop", source_key="kst-32637-428", id="kst-32637-428", url=None))
    gone = put(store, doc(source="tweedekamer", source_key="guid-7", id=None, url=None, deleted=True, text=""))
    assert gone.status == "unchanged" and store.document("kst-32637-428")["deleted"] == 0
    assert [r[0] for r in store._db.execute("SELECT source FROM document_sources")] == ["koop"]


def test_tombstone_marks_deleted_only_when_the_source_says_so(store):
    put(store, doc(source="tweedekamer", source_key="guid-9", id="kst-1-2", url=None))
    gone = put(store, doc(source="tweedekamer", source_key="guid-9", id="kst-1-2", url=None, deleted=True))
    assert gone.status == "deleted" and store.document("kst-1-2")["deleted"] == 1
    # an unknown tombstone stores nothing
    assert put(store, doc(source="tweedekamer", source_key="guid-x", id="kst-9-9", url=None, deleted=True)).change is None
    assert store.document("kst-9-9") is None


def test_fts_is_in_sync_in_the_same_transaction_and_folds_diacritics(store):
    put(store, doc())
    rows = store._db.execute("SELECT count(*) FROM documents_fts WHERE documents_fts MATCH 'comite'").fetchone()
    assert rows[0] == 1
    put(store, doc(text="Geen cijfers meer."))
    assert store._db.execute("SELECT count(*) FROM documents_fts WHERE documents_fts MATCH 'comite'").fetchone()[0] == 0
    assert store.check() == []


def test_failed_transaction_leaves_the_corpus_as_it_was(store):
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.put_document(doc())
            store.set_cursor("mkb-nederland", "after")
            raise RuntimeError("killed half-way")
    assert store.document_count() == 0
    assert store._db.execute("SELECT count(*) FROM documents_fts").fetchone()[0] == 0
    assert store._db.execute("SELECT count(*) FROM changes").fetchone()[0] == 0


def test_extraction_and_raw_responses_are_kept(store):
    extraction = Extraction(
        figures=[Figure(28, 31, "91%", 91.0, None, "percent", "ondernemers", None, "…")],
        mentions=[Mention(4, 10, "Comité", "Nederlands Comité voor Ondernemerschap", "org:ncvo", "advisory", "…"),
                  Mention(0, 3, "Het", "Stichting Onbekend", None, None, "…")])
    raw = Response(url="https://www.mkb.nl/x", status=200, headers={"content-type": "text/html"},
                   content=b"<html>" + b"x" * 10000)
    outcome = put(store, doc(), item=Item(key="guid-1", url="https://www.mkb.nl/x", data={"n": 1}),
                  responses=[raw], extraction=extraction, extracted_with="test-1")
    assert store._db.execute("SELECT value, unit, subject FROM figures").fetchall() == [(91.0, "percent", "ondernemers")]
    orgs = dict(store._db.execute("SELECT id, in_gazetteer FROM organisations").fetchall())
    assert orgs == {"org:ncvo": 1, "unknown:stichting-onbekend": 0}
    assert store.raw_responses(outcome.document_id, "mkb-nederland")[0].content == raw.content
    size = store._db.execute("SELECT length(body) FROM raw_responses").fetchone()[0]
    assert size < len(raw.content) / 10  # compressed
    assert next(store.items_for_reprocess())[2].data == {"n": 1}


def test_schema_version_and_reopen_is_a_no_op(tmp_path):
    path = tmp_path / "c.db"
    with Store(path) as s:
        assert s.schema_version == SCHEMA_VERSION
        put(s, doc())
    with Store(path) as s:
        assert s.schema_version == SCHEMA_VERSION and s.document_count() == 1
        assert s._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "c.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StorageError, match="newer"):
        Store(path)


def test_second_writer_waits_then_fails_clearly(tmp_path):
    path = tmp_path / "c.db"
    with Store(path) as s:
        blocker = sqlite3.connect(path)
        blocker.execute("BEGIN IMMEDIATE")
        slow = Store(path, busy_timeout_ms=200)
        with pytest.raises(StorageBusy):
            with slow.transaction():
                pass
        blocker.rollback()
        with slow.transaction():  # and works once the lock is gone
            slow.put_document(doc())
        slow.close()
        assert s.document_count() == 1


def test_readonly_store_cannot_write(tmp_path):
    path = tmp_path / "c.db"
    Store(path).close()
    with Store(path, readonly=True) as ro:
        with pytest.raises(Exception):
            with ro.transaction():
                ro.put_document(doc())


@pytest.mark.parametrize("raw, expected", [
    ("2026-09-23", "2026-09-23"),
    ("2026-09-23T10:00:00+02:00", "2026-09-23T08:00:00Z"),
    ("2026-03-29T01:30:00Z", "2026-03-29T01:30:00Z"),
    ("not a date", None),
    (None, None),
])
def test_normalise_published(raw, expected):
    assert normalise_published(raw) == expected


def test_content_hash_ignores_white_space_only():
    assert content_hash("a", "b  c\n") == content_hash("a", "b c")
    assert content_hash("a", "b c") != content_hash("a", "b d")


def test_dossiers_are_rows_merged_across_sources(store):
    put(store, doc(source="tweedekamer", source_key="g", id="kst-32637-428", url=None, dossiers=["32637"]))
    put(store, doc(source="koop", source_key="kst-32637-428", id="kst-32637-428", url=None, dossiers=["32637", "26643"]))
    rows = store._db.execute("SELECT dossier, document_id FROM document_dossiers ORDER BY dossier").fetchall()
    assert rows == [("26643", "kst-32637-428"), ("32637", "kst-32637-428")]


def test_a_corpus_of_an_older_schema_is_migrated_with_its_data(tmp_path):
    """Migration 3 turns the dossiers JSON of existing documents into rows."""
    import sqlite_utils

    from monitor.store.corpus import MIGRATIONS

    path = tmp_path / "old.db"
    old = sqlite_utils.Database(path)
    for version, migration in enumerate(MIGRATIONS[:2], start=1):
        migration(old)
        old.execute(f"PRAGMA user_version = {version}")
    old["documents"].insert({"id": "kst-32637-428", "kind": "kamerbrief", "title": "t", "text": "x",
                             "content_hash": "h", "version": 1, "dossiers": '["32637"]'})
    old.conn.commit()
    old.close()
    with Store(path) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert s._db.execute("SELECT dossier FROM document_dossiers").fetchall() == [("32637",)]
        assert s.check() == []
