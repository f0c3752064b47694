"""Relevance score: Dutch term variants, capitals-only terms, title weight, and the defaults on
the hand-labelled sample (tests/fixtures/relevance_sample.jsonl)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor import config
from monitor.relevance import Terms, is_relevant, score

SAMPLE = Path(__file__).parent / "fixtures" / "relevance_sample.jsonl"


@pytest.fixture(scope="module")
def terms() -> Terms:
    return Terms.from_config(config.shipped().relevance)


def only(*words: str, weak: tuple[str, ...] = ()) -> Terms:
    return Terms.build(words, weak, weak_weight=0.5, title_weight=3.0, max_hits_per_term=3, threshold=1.0)


@pytest.mark.parametrize(("text", "hits"), [
    ("De mkb’er en de mkb'ers en MKB'ers", 3),  # curly and straight apostrophes, any case
    ("mkb-bedrijven en MKB-Nederland", 2),  # a hyphen after the word still counts
    ("het midden- en kleinbedrijf, het midden-en kleinbedrijf", 2),
    ("mkbers, smkb, mkbx", 0),  # no match inside another word
])
def test_dutch_variants(text: str, hits: int) -> None:
    t = only("mkb", "mkb'er*", "midden- en kleinbedrijf")
    assert sum(t.hits(text).values()) == hits


def test_capitals_only_term_is_a_whole_word_in_capitals() -> None:
    t = only("AI")
    assert sum(t.hits("AI en de AI-act").values()) == 2
    assert sum(t.hits("ai, mail, Ai, AIVD, detail").values()) == 0


def test_prefix_terms_and_longest_match_wins() -> None:
    t = only("digitali*", "mkb", "mkb'er*")
    assert sum(t.hits("digitalisering, digitaliseren, digitaliseringsagenda").values()) == 3
    assert list(t.hits("mkb'ers").values()) == [1]  # one hit, not "mkb" and "mkb'er*" both


def test_title_weighs_more_and_repetition_is_capped() -> None:
    t = only("mkb", weak=("data",))
    assert score("mkb", "", t) == 3.0 and score("", "mkb", t) == 1.0
    assert score("", "mkb " * 50, t) == 3.0
    assert score("", "data", t) == 0.5
    assert not is_relevant("Kerncentrale Borssele", "data", t)


def test_defaults_on_the_government_part_of_the_sample(terms: Terms) -> None:
    rows = [r for r in map(json.loads, SAMPLE.read_text("utf-8").splitlines()) if "title" in r]
    assert len(rows) >= 40
    wrong = [r["id"] for r in rows if is_relevant(r["title"], r["text"], terms) != bool(r["label"])]
    # bench/relevance_eval.py prints the full figures; here: at most one mistake in this part.
    assert len(wrong) <= 1, wrong


def test_default_terms_compile_and_score_real_titles(terms: Terms) -> None:
    topics = config.shipped().relevance  # the settings themselves are accepted too
    assert score("mkb", "", topics) == score("mkb", "", terms) == 3.0
    assert is_relevant("Meer digitalisering mkb, concurrentiekracht totale digitale economie onder druk", "", terms)
    assert not is_relevant("Nederlandse Staat neemt aandelen kerncentrale Borssele over", "", terms)
