"""The paths search takes when a query matches more documents than it ranks or sorts one by one
(``_exact_limit``). Their speed is measured by bench/bench_search.py; here, on a small corpus
with the limits turned down, they must give the answers the exact path gives."""

from __future__ import annotations

import random

import pytest
import sqlite_utils

from models.records import Extraction, Mention
from monitor.store import search as search_module
from monitor.search import MARK_START, search
from monitor.store import MIGRATIONS, SCHEMA_VERSION, Store
from scrapers.base import Document

WORDS = "ondernemers digitalisering subsidie werkplaats cybersecurity innovatie belasting export".split()
KINDS = ("kamerbrief", "motie", "news")
SOURCES = ("koop", "emerce", "rijksoverheid")
ORGS = (("org:kvk", "Kamer van Koophandel"), ("org:cbs", "Centraal Bureau voor de Statistiek"))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """300 documents stored in an order that has nothing to do with their dates, some of them
    deleted and some without a date; "mkb" in most of them."""
    rng = random.Random(7)
    s = Store(tmp_path_factory.mktemp("scale") / "monitor.db")
    with s.transaction():
        for n in range(300):
            words = rng.sample(WORDS, 3)
            text = f"Het {'mkb' if rng.random() < 0.8 else 'bedrijfsleven'} en {' en '.join(words)}."
            org_id, org_name = rng.choice(ORGS)
            mentions = [Mention(start=0, end=3, text=org_name, canonical=org_name, id=org_id, kind="zbo",
                                sentence=text)] if rng.random() < 0.5 else []
            published = None if n % 37 == 0 else f"{rng.randrange(1995, 2027)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
            s.put_document(Document(source=rng.choice(SOURCES), source_key=f"k{n}", url=None, title=f"Stuk {n}",
                                    text=text, kind=rng.choice(KINDS), published=published, id=f"doc-{n}",
                                    dossiers=[str(rng.randrange(3))]),
                           extraction=Extraction(mentions=mentions))
        for n in range(0, 300, 29):
            s.put_document(Document(source="koop", source_key=f"k{n}", url=None, title="", text="", kind="news",
                                    id=f"doc-{n}", deleted=True))
    yield s
    s.close()


@pytest.fixture
def windowed(monkeypatch):
    """Every query takes the path for queries with very many matches."""
    monkeypatch.setattr(search_module, "EXACT_LIMIT", 0)
    monkeypatch.setattr(search_module, "WALK_COST", 0)
    monkeypatch.setattr(search_module, "SPAN_GAP", 3)  # and reads FTS5 in many small ranges


FILTERS = [
    {},
    {"since": "2010-01-01"},
    {"until": "2004-06-30"},
    {"since": "2000-01-01", "until": "2012-12-31"},
    {"kinds": ["motie"]},
    {"kinds": ["motie", "news"], "since": "2015-01-01"},
    {"sources": ["emerce"]},
    {"organisations": ["org:kvk"]},
    {"organisations": ["org:cbs"], "until": "2020-01-01"},
    {"dossier": "1"},
    {"ids": ["doc-3", "doc-4", "doc-150", "doc-29"]},
]


def exact(store, query, **options):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(search_module, "EXACT_LIMIT", 10**9)
        return search(store, query, **options)


@pytest.mark.parametrize("filters", FILTERS)
@pytest.mark.parametrize("query", ["mkb", "mkb ondernemers", '"mkb en"', "export OR innovatie", "mkb -subsidie"])
def test_sorting_by_date_is_exact_whatever_the_storage_order(store, windowed, query, filters):
    for offset, limit in ((0, 10), (5, 7), (0, 400)):
        expected = [(h.id, h.published) for h in exact(store, query, sort="date", limit=limit, offset=offset, **filters)]
        got = [(h.id, h.published) for h in search(store, query, sort="date", limit=limit, offset=offset, **filters)]
        assert got == expected


def test_the_exact_date_order_is_newest_first_with_undated_last(store):
    hits = exact(store, "mkb", sort="date", limit=400)
    dates = [h.published for h in hits]
    dated = [d for d in dates if d]
    assert dated == sorted(dated, reverse=True) and dates[len(dated):] == [None] * (len(dates) - len(dated))
    assert "doc-29" not in {h.id for h in hits}  # deleted


@pytest.mark.parametrize("filters", FILTERS)
def test_relevance_over_a_window_larger_than_the_matches_finds_them_all(store, windowed, filters):
    expected = exact(store, "mkb digitalisering", limit=400, **filters)
    got = search(store, "mkb digitalisering", limit=400, **filters)
    assert {h.id for h in got} == {h.id for h in expected}
    assert [h.rank for h in got] == sorted(h.rank for h in got)  # bm25 with the window's statistics


def test_relevance_ranks_the_newest_matches_and_puts_title_matches_first(tmp_path, monkeypatch):
    monkeypatch.setattr(search_module, "EXACT_LIMIT", 5)
    monkeypatch.setattr(search_module, "WALK_COST", 0)
    monkeypatch.setattr(search_module, "RECENT_WINDOW", 10)
    with Store(tmp_path / "monitor.db") as s:
        with s.transaction():
            def put(n, title, year):
                s.put_document(Document(source="koop", source_key=f"k{n}", url=None, title=title,
                                        text="Over het mkb en de digitalisering van ondernemers.", kind="news",
                                        published=f"{year}-05-01", id=f"doc-{n}"))
            put(0, "Digitalisering", 1999)  # the best title, but older than the window
            for n in range(1, 20):
                put(n, "Digitalisering mkb" if n == 15 else f"Bericht {n}", 2000 + n)
        hits = search(s, "digitalisering", limit=10)
        assert len(hits) == 10  # of twenty matches, the ten newest
        assert {h.id for h in hits} == {f"doc-{n}" for n in range(10, 20)}
        assert hits[0].id == "doc-15"  # the title match ranks first within the window
        assert all(h.rank is not None for h in hits)
        assert [h.rank for h in hits] == sorted(h.rank for h in hits)
        assert len(search(s, "digitalisering", limit=15)) == 15  # a longer page widens the window


def test_a_huge_result_set_is_answered_in_pages_with_snippets(store, windowed):
    first = search(store, "mkb", sort="date", limit=20)
    second = search(store, "mkb", sort="date", limit=20, offset=20)
    assert len(first) == len(second) == 20
    assert not {h.id for h in first} & {h.id for h in second}
    assert all(f"{MARK_START}mkb" in h.snippet for h in first + second)
    assert all(h.rank is None for h in first)  # sorted by date: not ranked
    assert search(store, "mkb", sort="date", offset=10_000) == []


def test_a_word_nobody_wrote_finds_nothing_on_either_path(store, windowed):
    assert search(store, "zeldzaamwoord") == []
    assert search(store, "zeldzaamwoord", sort="date") == []


def test_a_corpus_made_before_the_date_index_is_migrated_and_searchable(tmp_path, monkeypatch):
    path = tmp_path / "old.db"
    old = sqlite_utils.Database(path)
    MIGRATIONS[0](old)  # schema version 1, as released
    old.execute("PRAGMA user_version = 1")
    old["documents"].insert_all([{"id": f"doc-{n}", "kind": "news", "title": f"Stuk {n}", "text": "Het mkb.",
                                  "content_hash": str(n), "version": 1, "published": f"20{10 + n}-01-01"}
                                 for n in range(5)])
    old.conn.commit()
    old.close()
    monkeypatch.setattr(search_module, "EXACT_LIMIT", 0)
    monkeypatch.setattr(search_module, "WALK_COST", 0)
    with Store(path) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert [h.id for h in search(s, "mkb", sort="date", limit=3)] == ["doc-4", "doc-3", "doc-2"]


def test_the_index_follows_title_and_text_but_not_other_updates(tmp_path):
    with Store(tmp_path / "monitor.db") as s:
        with s.transaction():
            s.put_document(Document(source="koop", source_key="k", url=None, title="Brief", text="Over het mkb.",
                                    kind="news", id="doc-1"), extraction=Extraction(), extracted_with="v1")
        data_rows = s._db.execute("SELECT count(*) FROM documents_fts_data").fetchone()[0]
        with s.transaction():
            s._db.execute("UPDATE documents SET extracted_with = 'v2', relevance = 0.5 WHERE id = 'doc-1'")
        assert s._db.execute("SELECT count(*) FROM documents_fts_data").fetchone()[0] == data_rows  # not re-indexed
        with s.transaction():
            s._db.execute("UPDATE documents SET text = 'Over zzp''ers.' WHERE id = 'doc-1'")
        assert [h.id for h in search(s, "zzp'ers")] == ["doc-1"] and search(s, "mkb") == []
        assert s.check() == []


def test_the_date_index_does_not_take_over_the_content_hash_lookup(store):
    plan = store._db.execute("EXPLAIN QUERY PLAN SELECT id FROM documents WHERE content_hash = ? AND deleted = 0 "
                            "LIMIT 1", ["x"]).fetchall()
    assert "idx_documents_content_hash" in plan[0][-1]
