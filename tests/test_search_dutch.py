"""Search in Dutch: a word finds its forms, synonyms and abbreviations, and nothing it should not;
exact matching; the limits every typed query is held to (issues 13 and 16)."""

from __future__ import annotations

import dataclasses

import pytest
import sqlite_utils
from hypothesis import HealthCheck, given, settings, strategies as st

from monitor.errors import QueryError
from monitor.search import MARK_END, MARK_START, Settings, compile, parse, search
from monitor.store import MIGRATIONS, SCHEMA_VERSION, Store
from scrapers.base import Document

# One document per form, so a query's hits say exactly which forms it found.
FORMS = {
    "werknemer": "Elke werknemer telt.",
    "werknemers": "De werknemers staken.",
    "bedrijf": "Het bedrijf groeit.",
    "bedrijven": "Veel bedrijven groeien.",
    "bedrijvig": "Een bedrijvig dorp.",
    "bedrijfsleven": "Het bedrijfsleven is positief.",
    "ondernemer": "De ondernemer investeert.",
    "ondernemers": "Alle ondernemers investeren.",
    "ondernemerschap": "Ondernemerschap loont.",
    "digitalisering": "Digitalisering kost geld.",
    "digitaliseren": "Zij digitaliseren hun administratie.",
    "gedigitaliseerd": "Het archief is gedigitaliseerd.",
    "digitaal": "Alles gaat digitaal.",
    "digitale": "De digitale kloof.",
    "mkb-er": "Een mkb'er rekent.",
    "mkb-ers": "Mkb’ers rekenen.",
    "zzp-ers": "Zzp'ers werken alleen.",
    "zelfstandigen": "Zelfstandigen zonder personeel werken alleen.",
    "mkb-voluit": "Het midden- en kleinbedrijf groeit.",
    "ai": "AI verandert veel.",
    "ki": "Kunstmatige intelligentie verandert veel.",
    "mail": "Hij mailt een trainer.",
    "ezk": "De minister van Economische Zaken en Klimaat schrijft.",
    "ezk-kort": "EZK schrijft.",
    "jaar": "Dit jaar.",
    "jaren": "In de jaren negentig.",
    "kans": "Een kans.",
    "kansen": "Nieuwe kansen.",
    "kan": "Zij kan komen.",
    "overheid": "De overheid helpt.",
    "overheden": "Lagere overheden helpen.",
    "over": "Het gaat over geld.",
    "veilig": "Een veilig netwerk.",
    "veilige": "Veilige netwerken.",
    "veiligheid": "Veiligheid voorop.",
    "gemeente": "De gemeente betaalt.",
    "gemeenten": "Alle gemeenten betalen.",
    "mening": "Een andere mening.",
    "regel": "Een nieuwe regel.",
    "regeling": "Een nieuwe regeling.",
    "groot": "Het is groot.",
    "grote": "Een grote stap.",
}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    s = Store(tmp_path_factory.mktemp("dutch") / "monitor.db")
    with s.transaction():
        for n, (doc_id, text) in enumerate(FORMS.items()):
            s.put_document(Document(source="test", source_key=doc_id, url=None, title=f"Stuk {n}", text=text,
                                    kind="news", published=f"2025-01-{n % 28 + 1:02d}", id=doc_id))
    yield s
    s.close()


def found(store, query):
    return {h.id for h in search(store, query, limit=100)}


# What a Dutch reader expects a query to find: (kind, query, documents it must find).
PAIRS = [
    ("inflection", "werknemer", {"werknemer", "werknemers"}),
    ("inflection", "werknemers", {"werknemer", "werknemers"}),
    ("inflection", "ondernemers", {"ondernemer", "ondernemers"}),
    ("inflection", "digitaal", {"digitaal", "digitale"}),
    ("inflection", "grote", {"groot", "grote"}),
    ("inflection", "veilige", {"veilig", "veilige"}),
    ("inflection", "kansen", {"kans", "kansen"}),
    ("inflection", "gemeente", {"gemeente", "gemeenten"}),
    ("inflection", "overheden", {"overheid", "overheden"}),
    ("derivation", "digitalisering", {"digitalisering", "digitaliseren", "gedigitaliseerd"}),
    ("irregular plural", "bedrijf", {"bedrijf", "bedrijven"}),
    ("irregular plural", "bedrijven", {"bedrijf", "bedrijven"}),
    ("irregular plural", "jaar", {"jaar", "jaren"}),
    ("apostrophe plural", "mkb'er", {"mkb-er", "mkb-ers"}),
    ("apostrophe plural", "mkb’ers", {"mkb-er", "mkb-ers"}),
    ("apostrophe plural", "zzp'er", {"zzp-ers", "zelfstandigen"}),
    ("synonym", "kunstmatige intelligentie", {"ai", "ki"}),
    ("synonym", "zelfstandige zonder personeel", {"zzp-ers", "zelfstandigen"}),
    ("synonym", '"midden- en kleinbedrijf"', {"mkb-voluit", "mkb-er", "mkb-ers"}),
    ("abbreviation", "mkb", {"mkb-voluit", "mkb-er", "mkb-ers"}),
    ("abbreviation", "zzp", {"zzp-ers", "zelfstandigen"}),
    ("abbreviation", "AI", {"ai", "ki"}),
    ("abbreviation", "EZK", {"ezk", "ezk-kort"}),
]


@pytest.mark.parametrize("kind, query, expected", PAIRS, ids=[f"{k}: {q}" for k, q, _ in PAIRS])
def test_a_word_finds_its_dutch_forms_synonyms_and_abbreviations(store, kind, query, expected):
    assert found(store, query) == expected


# What must NOT match: a derivation that makes another word, a function word, letters inside a word.
PRECISION = [
    ("ondernemer", {"ondernemerschap"}),
    ("bedrijf", {"bedrijvig", "bedrijfsleven"}),
    ("AI", {"mail"}),
    ("kans", {"kan"}),
    ("overheid", {"over"}),
    ("veilig", {"veiligheid"}),
    ("gemeente", {"mening"}),
    ("regel", {"regeling"}),
    ("=werknemer", {"werknemers"}),
]


@pytest.mark.parametrize("query, wrong", PRECISION, ids=[q for q, _ in PRECISION])
def test_what_must_not_match(store, query, wrong):
    assert not found(store, query) & wrong


def test_a_prefix_asks_for_the_longer_words(store):
    assert found(store, "ondernemer*") == {"ondernemer", "ondernemers", "ondernemerschap"}


def test_exact_matching_is_one_keystroke_away(store):
    assert found(store, "=werknemer") == {"werknemer"}
    assert found(store, '="digitale kloof"') == {"digitale"}
    assert found(store, "-=werknemers werknemer") == {"werknemer"}


def test_exact_forms_rank_above_the_other_forms(store):
    for query, first in (("werknemers", "werknemers"), ("werknemer", "werknemer"), ("bedrijven", "bedrijven")):
        assert search(store, query, limit=10)[0].id == first


def test_the_snippet_marks_the_form_that_matched(store):
    hits = {h.id: h.snippet for h in search(store, "werknemer", limit=10)}
    assert f"{MARK_START}werknemers{MARK_END}" in hits["werknemers"]
    hits = {h.id: h.snippet for h in search(store, "mkb'er", limit=10)}
    assert f"{MARK_START}Mkb’ers{MARK_END}" in hits["mkb-ers"]
    hits = {h.id: h.snippet for h in search(store, "AI", limit=10)}
    assert f"{MARK_START}Kunstmatige intelligentie{MARK_END}" in hits["ki"]


def test_excluding_a_word_excludes_its_forms_and_synonyms(store):
    assert found(store, "verandert -AI") == set()
    assert found(store, "rekent OR rekenen -mkb'er") == set()


# --- limits (issue 13) -------------------------------------------------------------------------


def test_a_hundred_and_twenty_exclusions_compile_and_run(store):
    query = "bedrijf " + " ".join(f"-woord{n}" for n in range(60))
    assert found(store, query) == {"bedrijf", "bedrijven"}
    words = " ".join(f"-w{n}x" for n in range(63))
    assert len(parse("bedrijf " + words).excluded) == 63
    match = compile(store, "bedrijf " + words)
    assert match.fts.count("(") < 10  # flat: the depth does not grow with the exclusions


def test_exclusions_never_overflow_fts5_whatever_the_caps_allow(store):
    roomy = dataclasses.replace(Settings.of(None), max_query_chars=100_000, max_query_terms=10_000)
    text = "bedrijf " + " ".join(f"-woord{n}" for n in range(500))
    match = compile(store, text, roomy)  # checked against FTS5 itself
    assert {h["id"] for h in store.search_index.find(match.fts, match.typed, {}, sort="relevance", limit=10,
                                                     offset=0, snippet_tokens=8)} == {"bedrijf", "bedrijven"}


def test_past_the_caps_a_query_is_refused_with_a_message(store):
    with pytest.raises(QueryError, match="has 121 terms; at most 64"):
        parse("bedrijf " + " ".join(f"-w{n}" for n in range(120)))
    with pytest.raises(QueryError, match="at most 1000 are allowed"):
        parse("bedrijf " * 200)


def test_repeated_words_collapse():
    query = parse("mkb mkb MKB -zzp -zzp werknemer OR werknemer")
    assert len(query.groups) == 2 and len([t for t in query.excluded if not t.synonym]) == 1
    assert len([a for a in query.groups[1] if not a.synonym]) == 1


def test_queries_are_nfkc_normalised(store):
    assert found(store, "ＭＫＢ") == found(store, "MKB")
    assert found(store, "ﬁnanciering") == found(store, "financiering")
    assert parse("ﬁnanciering").groups[0][0].typed == ("financiering",)


def test_bytes_that_are_not_utf8_are_a_query_error(store):
    with pytest.raises(QueryError, match="UTF-8"):
        search(store, "mkb \udcff")


WORDS = ["werknemer", "bedrijven", "mkb'er", "mkb’ers", "zzp", "AI", "EZK", "kunstmatige", "intelligentie",
         "=werknemer", '"digitale', 'kloof"', "OR", "-", "-AI", "*", "digit*", "'s", "12,5", "NEAR(", "(", ":", "é"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(WORDS), max_size=10))
def test_no_mix_of_dutch_forms_synonyms_and_syntax_fails(store, parts):
    try:
        search(store, " ".join(parts), limit=5)
    except QueryError:
        pass


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=60))
def test_no_typed_text_gives_a_traceback(store, text):
    try:
        search(store, text, limit=5)
    except QueryError:
        pass


def corpus_before_dutch_matching(path, title, text):
    """A corpus at schema version 3, as released, with one document."""
    old = sqlite_utils.Database(path)
    for migration in MIGRATIONS[:3]:
        migration(old)
    old.execute("PRAGMA user_version = 3")
    old["documents"].insert({"id": "doc-1", "kind": "news", "title": title, "text": text, "content_hash": "1",
                             "version": 1, "published": "2024-01-01"})
    old.conn.commit()
    old.close()
    return path


def test_a_corpus_from_before_dutch_matching_gets_its_vocabulary_with_progress(tmp_path):
    path = corpus_before_dutch_matching(tmp_path / "old.db", "Werknemers", "Veel bedrijven.")
    events = []
    with Store(path, progress=lambda event, **info: events.append((event, info))) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert [h.id for h in search(s, "werknemer bedrijf")] == ["doc-1"]
    assert events[0] == ("start", {"label": "search vocabulary (Dutch word forms)", "total": 38})
    assert [e for e, _ in events[1:]] == ["advance"] * 38


def test_a_corpus_opened_read_only_before_the_migration_still_searches_exact_forms(tmp_path):
    path = corpus_before_dutch_matching(tmp_path / "old.db", "Werknemer", "Tekst.")
    with Store(path, readonly=True) as s:
        assert [h.id for h in search(s, "werknemer")] == ["doc-1"]
        assert search(s, "werknemers") == []  # no vocabulary yet: the form as typed only


def test_a_search_leaves_no_transaction_open_on_a_writable_store(tmp_path, monkeypatch):
    from monitor.store import search as engine

    with Store(tmp_path / "monitor.db") as s:
        with s.transaction():
            for n in range(5):
                s.put_document(Document(source="t", source_key=str(n), url=None, title=f"Stuk {n}",
                                        text="Werknemers van het mkb.", kind="news", id=f"d{n}",
                                        published=f"2024-01-0{n + 1}"))
        monkeypatch.setattr(engine, "EXACT_LIMIT", 0)
        monkeypatch.setattr(engine, "WALK_COST", 0)  # the path that ranks in a scratch index too
        assert len(search(s, "werknemer")) == 5 and len(search(s, "werknemer", sort="date")) == 5
        assert not s._db.conn.in_transaction
        with s.transaction():  # the next write is not refused
            s.put_document(Document(source="t", source_key="x", url=None, title="X", text="Y", kind="news", id="x"))
