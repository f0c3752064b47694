"""Search: the query language, Dutch cases that break raw FTS5, filters, sorting, snippets."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from monitor.errors import QueryError
from monitor.search import MARK_END, MARK_START, parse, search
from monitor.store import Store
from scrapers.base import Document

TEXTS = [
    # (id, title, text, kind, published, source)
    ("kst-32637-428", "Jaarbericht Staat van het mkb",
     "Het Nederlands Comité voor Ondernemerschap biedt het jaarbericht aan. 12,5 procent van de mkb'ers "
     "gebruikt AI; de Digitale Werkplaatsen hielpen ruim 11.000 ondernemers.", "kamerbrief", "2021-11-18", "koop"),
    ("web-1", "Ondernemers in 's-Hertogenbosch",
     "D66 wil dat mkb’ers in 's-Hertogenbosch sneller digitaliseren; e-commerce groeit.", "news",
     "2026-09-23T08:00:00Z", "mkb-nederland"),
    ("web-2", "Zzp'ers en cybersecurity", "Zzp'ers investeren weinig in cybersecurity. AND NEAR OR zijn gewone woorden.",
     "news", "2025-01-10", "mkb-nederland"),
    ("web-3", "Digitalisering mkb", "De digitale werkplaatsen in Fryslân helpen het mkb met digitalisering.",
     "news", "2024-05-01", "rijksoverheid"),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    s = Store(tmp_path_factory.mktemp("search") / "monitor.db")
    with s.transaction():
        for doc_id, title, text, kind, published, source in TEXTS:
            s.put_document(Document(source=source, source_key=doc_id, url=None, title=title, text=text,
                                    kind=kind, published=published, id=doc_id,
                                    dossiers=["32637"] if doc_id.startswith("kst") else []))
    yield s
    s.close()


def ids(hits):
    return {h.id for h in hits}


@pytest.mark.parametrize("query, expected", [
    ("'s-Hertogenbosch", {"web-1"}),
    ("D66", {"web-1"}),
    ("mkb'ers", {"kst-32637-428", "web-1"}),  # straight and curly apostrophe are one word
    ("mkb’ers", {"kst-32637-428", "web-1"}),
    ("e-commerce", {"web-1"}),
    ("12,5 procent", {"kst-32637-428"}),
    ('"digitale werkplaatsen', {"kst-32637-428", "web-3"}),  # unbalanced quote closes at the end
    ('"werkplaatsen digitale"', set()),  # a phrase keeps its order
    ("AND", {"web-2"}),
    ("NEAR(", {"web-2"}),
    ("Comité", {"kst-32637-428"}),
    ("comite", {"kst-32637-428"}),
    ("COMITÉ", {"kst-32637-428"}),
    ("digitali*", {"web-1", "web-3"}),
    ("digitale", {"kst-32637-428", "web-3"}),
    ("cybersecurity OR Fryslân", {"web-2", "web-3"}),
    ("mkb -fryslan", {"kst-32637-428", "web-1"}),
    ("mkb -\"digitale werkplaatsen\"", {"web-1"}),
    ("ondernemers mkb", {"kst-32637-428", "web-1"}),
    ("OR", set()) ,
])
def test_dutch_queries(store, query, expected):
    try:
        assert ids(search(store, query, limit=50)) == expected
    except QueryError:
        assert expected == set()


@pytest.mark.parametrize("query", ["-mkb", '""', "*", "(", "-", "   ", "OR OR", "« »", "\x00"])
def test_queries_with_nothing_to_look_for_are_a_clear_error(store, query):
    with pytest.raises(QueryError, match="no words"):
        search(store, query)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=0, max_size=40))
def test_no_typed_text_makes_fts5_fail(store, text):
    try:
        search(store, text, limit=5)
    except QueryError:
        pass  # the only error a person can get, with a plain message


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(['"', "-", "*", "OR", "AND", "NEAR(", "(", ")", "mkb", "'s", "12,5", "^", ":", "é"]),
                max_size=8))
def test_no_mix_of_syntax_characters_makes_fts5_fail(store, parts):
    try:
        search(store, " ".join(parts), limit=5)
    except QueryError:
        pass


def test_filters(store):
    assert ids(search(store, "mkb", kinds=["kamerbrief"])) == {"kst-32637-428"}
    assert ids(search(store, "mkb", sources=["rijksoverheid"])) == {"web-3"}
    assert ids(search(store, "mkb", since="2024-01-01")) == {"web-1", "web-3"}
    assert ids(search(store, "mkb", until="2024-05-01")) == {"kst-32637-428", "web-3"}  # inclusive day
    assert ids(search(store, "mkb", since="2026-09-23", until="2026-09-23")) == {"web-1"}
    assert ids(search(store, "mkb", dossier="32637")) == {"kst-32637-428"}


def test_sort_by_date_is_newest_first(store):
    hits = search(store, "mkb OR zzp'ers", sort="date")
    assert [h.id for h in hits] == ["web-1", "web-2", "web-3", "kst-32637-428"]


def test_relevance_weights_the_title_above_the_text(store):
    hits = search(store, "digitalisering")
    assert hits[0].id == "web-3"  # in its title; the others have it only in the text


def test_snippet_marks_the_match(store):
    hit = search(store, "Fryslân")[0]
    assert f"{MARK_START}Fryslân{MARK_END}" in hit.snippet
    assert "<mark>Fryslân</mark>" in hit.snippet_html()
    assert hit.asdict()["snippet"].count("[Fryslân]") == 1


def test_limit_and_bad_sort(store):
    assert len(search(store, "mkb", limit=1)) == 1
    with pytest.raises(QueryError):
        search(store, "mkb", sort="random")


def test_parse_structure():
    q = parse('mkb OR zzp "digitale werkplaats" -ai digit* =Bedrijven')
    typed = [[a.typed for a in g if not a.synonym] for g in q.groups]
    assert typed == [[("mkb",), ("zzp",)], [("digitale", "werkplaats")], [("digit",)], [("bedrijven",)]]
    assert [t.typed for t in q.excluded if not t.synonym] == [("ai",)]
    assert q.groups[2][0].prefix and q.groups[3][0].exact
    assert q.fts(None, as_typed=True) == ('(("mkb" OR "zzp") AND "digitale werkplaats" AND "digit"* AND "bedrijven") '
                                          'NOT ("ai" OR "artificial intelligence" OR "artificiele intelligentie" '
                                          'OR "kunstmatige intelligentie")')
