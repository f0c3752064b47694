"""Is a news item about the monitor's subject (the mkb and its digitalisation)? A pure score.

The pipeline calls ``is_relevant`` on the items of sources with ``relevance = true`` (general
news feeds); items below the threshold are recorded as skipped, not stored. Terms and weights are
in ``[relevance]`` of the config. How a term in that list matches:

* case-insensitive and on whole words, except a term written in capitals (``AI``, ``ICT``),
  which matches only in capitals: "AI" is not the Dutch "ai" and not the "ai" inside "mail";
* a trailing ``*`` matches any ending: ``digitali*`` is digitalisering, digitaliseren,
  digitaliseringsagenda; ``mkb'er*`` is mkb'er and mkb'ers;
* a word followed by a hyphen still counts (``mkb`` in "mkb-bedrijven", "MKB-Nederland");
* the curly apostrophe is the straight one (mkb’er = mkb'er), and spaces match any whitespace.

The score counts each term at most ``max_hits_per_term`` times (one word repeated in a long text
is not a subject), weights a hit in the title ``title_weight`` times, and a weak term (``data``,
``innovatie``: common far outside the subject) ``weak_weight`` times. The numbers the defaults
reach on a hand-labelled sample are printed by ``bench/relevance_eval.py``.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monitor.settings import RelevanceSettings

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})


def normalise(text: str) -> str:
    return unicodedata.normalize("NFC", text).translate(_APOSTROPHES)


def _pattern(term: str) -> str:
    term = normalise(term.strip())
    stem, prefix = (term[:-1], True) if term.endswith("*") else (term, False)
    body = r"\s+".join(re.escape(word) for word in stem.split())
    body = body.replace(r"\-\s+", r"-\s*")  # "midden- en kleinbedrijf", "midden-en kleinbedrijf"
    body = rf"(?<![\w'-]){body}" + (r"[\w'-]*" if prefix else r"(?!\w|'\w)")
    return body if stem.isupper() else f"(?i:{body})"


@dataclass(frozen=True)
class Terms:
    """The compiled ``[relevance]`` config."""

    weights: Mapping[str, float]  # term -> weight
    title_weight: float
    max_hits_per_term: int
    threshold: float
    regex: re.Pattern[str]

    @classmethod
    def build(cls, terms: Iterable[str], weak_terms: Iterable[str], *, weak_weight: float,
              title_weight: float, max_hits_per_term: int, threshold: float) -> "Terms":
        weights = {normalise(t): 1.0 for t in terms} | {normalise(t): weak_weight for t in weak_terms}
        # Longest first, so "mkb'er*" wins over "mkb" where both would match.
        ordered = sorted(weights, key=len, reverse=True)
        regex = re.compile("|".join(f"(?P<t{i}>{_pattern(t)})" for i, t in enumerate(ordered)))
        return cls(weights={f"t{i}": weights[t] for i, t in enumerate(ordered)}, title_weight=title_weight,
                   max_hits_per_term=max_hits_per_term, threshold=threshold, regex=regex)

    @classmethod
    def from_config(cls, settings: RelevanceSettings) -> "Terms":
        return _compiled(settings)

    def hits(self, text: str) -> Counter[str]:
        """Matches per term group (``t0``, ``t1``, ...) in ``text``."""
        return Counter(m.lastgroup for m in self.regex.finditer(normalise(text)) if m.lastgroup)


def score(title: str, text: str, terms: Terms | RelevanceSettings) -> float:
    """How much an item is about the subject: weighted term hits, the title's counting more.
    ``terms`` is a built ``Terms`` or the ``[relevance]`` settings themselves."""
    terms = _as_terms(terms)
    total = 0.0
    for part, factor in ((title or "", terms.title_weight), (text or "", 1.0)):
        for group, count in terms.hits(part).items():
            total += factor * terms.weights[group] * min(count, terms.max_hits_per_term)
    return total


def is_relevant(title: str, text: str, terms: Terms | RelevanceSettings) -> bool:
    terms = _as_terms(terms)
    return score(title, text, terms) >= terms.threshold


def _as_terms(terms: Terms | RelevanceSettings) -> Terms:
    return terms if isinstance(terms, Terms) else _compiled(terms)


@lru_cache(maxsize=8)
def _compiled(settings: RelevanceSettings) -> Terms:
    """The settings compiled once (a run scores every item of a source with the same ones)."""
    return Terms.build(settings.terms, settings.weak_terms, weak_weight=settings.weak_weight,
                       title_weight=settings.title_weight, max_hits_per_term=settings.max_hits_per_term,
                       threshold=settings.threshold)
