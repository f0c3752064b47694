"""Which words a search word finds: its Dutch forms, its synonyms and abbreviations.

Two forms are one word for search when they share a *key*. A form has two keys, one from each of
Snowball's Dutch stemmers (PyStemmer), applied to the form's lemma in spaCy's Dutch lemma table
(spacy-lookups-data) where the table knows it; a query word finds every indexed form that shares
either key. Measured on the gold texts (bench/dutch_matching.py, bench/README.md): neither
stemmer nor the table alone comes near what the two together find, and each stemmer alone joins
words no Dutch reader would (``overheid`` with ``over``, ``gemeente`` with ``menen``), so a few
rules keep a form to itself where the stemmers are known to go too far:

- a function word (spaCy's Dutch stop words) is only itself: ``kans`` never finds ``kan``;
- a word of three letters or fewer, or with a digit, is only itself: ``AI``, ``EU``, ``2024``;
- ``-heid`` makes a new word: ``veiligheid`` is not ``veilig``, ``overheid`` is not ``over``;
- adjectives in ``-ig``, ``-baar``, ``-lijk``, ``-isch``, ``-achtig`` lose their inflection only:
  ``veilige`` is ``veilig``, but ``bedrijvig`` is not ``bedrijf``;
- a stem that lost the word's first letters (``gemeente`` -> ``meen``) is refused;
- a final ``-s`` stays on a word the lemma table knows as a lemma (``kans``, ``mens``);
- in the second key, ``-ing`` is a word of its own (``regeling`` is not ``regel``).

Synonyms and abbreviations (``mkb`` = ``midden- en kleinbedrijf``) come from ``synonyms.toml``,
the gazetteer's organisation names and aliases (``EZK`` = ``Economische Zaken en Klimaat``) and
the ``[search] synonyms`` of the user's config.

Tokens are what FTS5's ``unicode61 remove_diacritics 2`` tokenizer makes of a text: runs of
letters and digits, lower case, without diacritics (:func:`words`).
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path

_TOKEN = re.compile(r"[^\W_]+")
_ADJECTIVE = re.compile(r"(.{3,}?(?:ig|baar|lijk|isch|achtig))(?:e|en|er|ere|st|ste|s)?$")
_SHORT = 3


def fold(word: str) -> str:
    """A token as the FTS index holds it: lower case, without diacritics."""
    lower = word.lower()
    if lower.isascii():
        return lower
    return unicodedata.normalize("NFC", "".join(
        c for c in unicodedata.normalize("NFD", lower) if not unicodedata.combining(c)))


def words(text: str) -> list[str]:
    """The tokens of a text, folded, in order."""
    lower = text.lower()
    found = _TOKEN.findall(lower)
    return found if lower.isascii() else [w if w.isascii() else fold(w) for w in found]


def distinct_words(texts: Iterable[str]) -> set[str]:
    """The distinct tokens of the texts, folded: ``set(words(text))`` for all of them, each
    distinct token folded once (a document's words repeat; folding is most of the cost)."""
    found: set[str] = set()
    for text in texts:
        found.update(_TOKEN.findall(text.lower()))
    return {w if w.isascii() else fold(w) for w in found}


# --- keys ------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _lemmas() -> dict[str, str]:
    data = resources.files("spacy_lookups_data").joinpath("data", "nl_lemma_lookup.json.gz")
    with gzip.open(data.open("rb"), "rt", encoding="utf-8") as f:
        table: dict[str, str] = json.load(f)
    # Folding 213,000 pairs one by one costs a second; nearly all are folded already.
    for form, lemma in [(f, m) for f, m in table.items() if not (f + m).isascii() or (f + m) != (f + m).lower()]:
        del table[form]
        table[fold(form)] = fold(lemma)
    return table


@lru_cache(maxsize=1)
def _known_lemmas() -> frozenset[str]:
    return frozenset(_lemmas().values())


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    """spaCy's Dutch stop words, loaded from spaCy's own module file (a set and no imports):
    importing spaCy takes seconds, and a search from the command line needs only this list."""
    spec = importlib.util.find_spec("spacy")
    assert spec is not None and spec.submodule_search_locations
    path = Path(spec.submodule_search_locations[0]) / "lang" / "nl" / "stop_words.py"
    module_spec = importlib.util.spec_from_file_location("mkb_monitor_nl_stop_words", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return frozenset(fold(w) for w in module.STOP_WORDS)


@lru_cache(maxsize=1)
def _stemmers() -> tuple[object, object]:
    import Stemmer

    return Stemmer.Stemmer("dutch"), Stemmer.Stemmer("dutch_porter")


def _key(stemmer: object, form: str, *, ing_is_a_word: bool) -> str:
    word = _lemmas().get(form, form)
    if word.endswith("heden"):
        word = word[:-5] + "heid"
    if word.endswith("heid"):
        return word
    adjective = _ADJECTIVE.match(word)
    if adjective:
        return adjective.group(1)
    if ing_is_a_word and word.endswith(("ing", "ingen")):
        return word.removesuffix("en")
    stem = stemmer.stemWord(word)  # type: ignore[attr-defined]
    if word.endswith("s") and stem == word[:-1] and word in _known_lemmas():
        return word
    if not stem.startswith(word[:3]):
        return "=" + word
    return stem


def keys(form: str) -> tuple[str, str]:
    """The two keys of a folded form: forms that share either key are one word for search."""
    if len(form) <= _SHORT or any(c.isdigit() for c in form) or form in _stop_words():
        return "=" + form, "=" + form
    first, second = _stemmers()
    return _key(first, form, ing_is_a_word=False), _key(second, form, ing_is_a_word=True)


# --- synonyms --------------------------------------------------------------------------------

Phrase = tuple[str, ...]  # folded tokens


def _phrase(text: str) -> Phrase:
    return tuple(words(text))


def _signature(phrase: Phrase) -> tuple[tuple[str, str], ...]:
    return tuple(keys(w) for w in phrase)


class Synonyms:
    """Groups of phrases that mean the same; a phrase is found by its words' keys, so
    ``zelfstandigen zonder personeel`` is ``zelfstandige zonder personeel``."""

    def __init__(self, groups: Iterable[Iterable[str]]) -> None:
        self._alternatives: dict[tuple[tuple[str, str], ...], set[Phrase]] = {}
        self.longest = 0
        for group in groups:
            phrases = {p for p in map(_phrase, group) if p}
            if len(phrases) < 2:
                continue
            for phrase in phrases:
                self._alternatives.setdefault(_signature(phrase), set()).update(phrases - {phrase})
                self.longest = max(self.longest, len(phrase))

    def alternatives(self, phrase: Phrase) -> list[Phrase]:
        """The other phrases of every group the phrase is in, in a stable order."""
        signature = _signature(phrase)
        return sorted(p for p in self._alternatives.get(signature, set()) if _signature(p) != signature)

    def __len__(self) -> int:
        return len(self._alternatives)


def shipped_groups() -> list[list[str]]:
    """The synonym and abbreviation table that ships with mkb-monitor (``synonyms.toml``)."""
    return tomllib.loads(resources.files("monitor").joinpath("synonyms.toml").read_text("utf-8"))["groups"]


def organisation_groups() -> list[list[str]]:
    """Each organisation's name and aliases; for a renamed body, each name with its own aliases
    (EZK is Economische Zaken en Klimaat, not the EL&I of 2010)."""
    from models import gazetteer

    groups = []
    for org in gazetteer.load():
        if not org.names:
            groups.append([org.name, *org.aliases])
        for dated in org.names:
            groups.append([dated.name, dated.name.removeprefix("Ministerie van "), *dated.aliases])
    return groups


@lru_cache(maxsize=8)
def _synonyms(extra: tuple[tuple[str, ...], ...]) -> Synonyms:
    return Synonyms([*shipped_groups(), *organisation_groups(), *extra])


def synonyms(extra: Sequence[Sequence[str]] = ()) -> Synonyms:
    """The shipped table, the gazetteer's names and ``extra`` (the user's config) together."""
    return _synonyms(tuple(tuple(group) for group in extra))
