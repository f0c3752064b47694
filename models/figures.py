"""The figure recogniser: a spaCy component that finds quantities and normalises them.

Built like spaCy's EntityRuler: the words it knows (units, scale words, qualifiers, blockers)
are data in `data/figure_lexicon.json`, saved with the pipeline by `to_disk` and read back by
`from_disk`. The rules only run where a token holds a digit or a Dutch number word: word
facts, computed once per word type (models/columns.py), mark those tokens, so the cost over
plain tokenisation stays small (a token Matcher over every token costs five times the
tokenizer, NLP-NOTES §1.5).

Lookups use token norms: lower case, with the pipeline's tokenizer reading curly apostrophes
and dashes as ASCII ones, while offsets and written forms are the source's.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import numpy
from spacy.attrs import IS_ALPHA, IS_CURRENCY, IS_LOWER, IS_PUNCT, IS_QUOTE, IS_SPACE, IS_STOP, IS_UPPER, LIKE_NUM
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import ensure_path

from .columns import Columns, PerWord, read, word_facts
from .component import BatchedComponent
from .numbers import ENGLISH_DECIMAL, group_value, parse_digits, word_value
from .records import Figure

LEXICON_PATH = Path(__file__).parent / "data" / "figure_lexicon.json"

_NUM = r"(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?(?:,-)?"
# One token holding a figure: "91%", "+20%", "5-10%", "2-10", "12,5%-punt", "2,5mln", "3x".
_TOKEN = re.compile(
    rf"(?P<sign>[+\-±]?)(?P<num>{_NUM})(?:-(?P<num2>{_NUM}))?"
    r"(?P<suffix>%-punten|%-punt|%|x|k|mln|mld|mrd)?"
)
_SUFFIX_SCALE = {"k": 1e3, "mln": 1e6, "mld": 1e9, "mrd": 1e9}
_YEAR = re.compile(r"(?:1[89]|20)\d\d")
_PARTICIPLE = re.compile(r"(?:toe|bij|af|op|uit|aan|in|mee|voor|terug|door|om)?ge\w{3,}[dt]"
                         r"|(?:toe|bij|af|op|uit|aan|in|mee|voor|terug|door|om)ge\w{3,}en")
_PLURAL = re.compile(r"[^\W\d_][\w'\-]*(?:en|ën|s|-)")  # "micro-" in "micro-, klein- en middenbedrijven"
_NOUNISH = re.compile(r"[^\W\d_][\w'’\-]*", re.UNICODE)

FIGURES_ATTR = "figures"
# Bits of a word's facts (FigureRecognizer.__init__): it may start a figure, it is "een", it may
# follow "een" in a number ("een miljoen"), it is a currency sign; then the lexeme attributes
# the rules test, so that no rule builds a Token to read them.
(_CANDIDATE, _EEN, _AFTER_EEN, _CURRENCY,
 _ALPHA, _STOP, _PUNCT, _SPACE, _LOWER, _UPPER, _QUOTE, _LIKE_NUM) = (1 << k for k in range(12))
if not Doc.has_extension(FIGURES_ATTR):
    Doc.set_extension(FIGURES_ATTR, default=None)


@dataclass
class _Core:
    """A number as read from one or a few tokens, before units and context."""

    start: int  # first token
    end: int  # token after the last
    value: float
    value_max: float | None = None
    suffix: str | None = None  # a unit glued to the digits ("%", "%-punt", "x", a scale)
    digits: str | None = None  # the digit string when written with digits
    weak: bool = False  # "een": a figure only when something makes it one
    signed: bool = False
    approx: bool = False  # "±300"


@dataclass
class _Parse:
    start: int
    end: int
    value: float
    value_max: float | None
    unit: str
    qualifier: str | None = None
    subject: str | None = None
    char_start: int | None = None


class _Lexicon:
    """The lexicon file compiled into the sets and phrase tables the rules look up."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.currency_prefix = dict(data["currency_prefix"])
        self.currency_suffix = dict(data["currency_suffix"])
        self.scale = {k: float(v) for k, v in data["scale"].items()}
        self.percent = frozenset(data["percent"])
        self.durations = frozenset(data["durations"])
        self.other_units = _Phrases(data["other_units"])
        self.multipliers = frozenset(data["multipliers"])
        self.multiplier_cues = frozenset(data["multiplier_cues"])
        self.fractions = {k: float(v) for k, v in data["fractions"].items()}
        self.denominators = dict(data["fraction_denominators"])
        self.ratio_links = _Phrases(data["ratio_links"])
        self.range_links = _Phrases(data["range_links"])
        self.between = frozenset(tuple(p.split()) for p in data["between"])
        self.scale_fractions = {k: float(v) for k, v in data["scale_fractions"].items()}
        self.qual_before = _phrases(data["qualifiers_before"])
        self.qual_after = _Phrases(data["qualifiers_after"])
        self.qual_words = frozenset(w for phrase in self.qual_before for w in phrase)
        self.qual_before_last = frozenset(phrase[-1] for phrase in self.qual_before)
        self.blockers = frozenset(data["blockers_before"])
        self.months = frozenset(data["months"])
        self.subject_skip = frozenset(data["subject_skip"])
        self.subject_links = _Phrases(data["subject_links"])
        self.subject_heads = frozenset(data["subject_heads_before"])
        self.multiword_subjects = _Phrases(data["multiword_subjects"])
        self.money_cues = frozenset(data["money_cues"])
        self.not_subjects = frozenset(data["not_subjects"])
        self.time_before = frozenset(data["time_before"])
        self.ambiguous = frozenset(data["ambiguous_words"])
        self.score_cues = re.compile(r"(?i)(?:" + "|".join(map(re.escape, data["score_cues"])) + r")\b")
        self.money_cue = re.compile(r"(?i)(?:^|\W)(?:" + "|".join(map(re.escape, data["money_cues"])) + r")(?!\w)")
        self.measure_nouns = frozenset(data["measure_nouns"])
        self.one_of = _Phrases(data["one_of"])
        self.ordinal_fraction_links = frozenset(data["ordinal_fraction_links"])
        self.fraction_units = frozenset(data["fraction_units"])
        self.after_een = frozenset({*self.scale, *self.denominators, *self.fractions, *self.scale_fractions,
                                    "of", "tot", "à", "-",
                                    *(w for w in self.ratio_links.by_first)})

    def is_candidate(self, word: str) -> bool:
        """Whether a figure may start at this word: digits, or a number word ("drieëntwintig",
        "twintigtal", "kwart"). The article "een" is left to `is_een`: it is the commonest word."""
        if any(c.isdigit() for c in word):
            return True
        word = word.lower()
        return (word != "een" and (word_value(word) is not None or group_value(word) is not None)
                or word in self.fractions or word in self.scale_fractions)

    def is_een(self, word: str) -> bool:
        return word.lower() == "een"

    def after_een_word(self, word: str) -> bool:
        return word.lower() in self.after_een

    @classmethod
    def from_path(cls, path: Path) -> "_Lexicon":
        return cls(json.loads(Path(path).read_text(encoding="utf8")))


def _phrases(table: dict[str, str]) -> dict[tuple[str, ...], str]:
    return {tuple(k.split()): v for k, v in table.items()}


class _Phrases:
    """Word sequences indexed by their first word, so a lookup costs one dict probe unless the
    first word fits; `at` returns the longest sequence starting at a token."""

    def __init__(self, phrases: Iterable[str] | dict[str, Any]) -> None:
        values = phrases if isinstance(phrases, dict) else dict.fromkeys(phrases)
        self.by_first: dict[str, list[tuple[tuple[str, ...], Any]]] = {}
        for phrase, value in values.items():
            words = tuple(phrase.split())
            self.by_first.setdefault(words[0], []).append((words, value))
        for options in self.by_first.values():
            options.sort(key=lambda option: len(option[0]), reverse=True)

    def at(self, tokens: _Tokens, j: int) -> tuple[tuple[str, ...], Any] | None:
        for words, value in self.by_first.get(tokens[j], ()):
            if all(tokens[j + k] == w for k, w in enumerate(words[1:], 1)):
                return words, value
        return None

    def __iter__(self):
        return (words for options in self.by_first.values() for words, _ in options)


class _Sentences:
    """Sentence bounds and character offsets of one doc, read once from arrays: `Token.sent`
    checks the whole doc's annotation on every call, and each `doc[i]` builds a Token."""

    def __init__(self, columns: Columns) -> None:
        self.n = columns.n
        self.doc_text = columns.text
        self.texts: dict[int, str] = {}
        self.starts = columns.sentence_starts
        self.idx = columns.idx
        self.end_char = columns.end_char

    def bounds(self, i: int) -> tuple[int, int]:
        n = bisect_right(self.starts, i)
        end = self.starts[n] if n < len(self.starts) else self.n
        return self.starts[n - 1], end

    def previous_start(self, i: int) -> int:
        n = bisect_right(self.starts, i) - 1
        return self.starts[max(0, n - 1)]

    def text(self, i: int) -> str:
        start, end = self.bounds(i)
        if start not in self.texts:  # a slice of the text: a Span would join its tokens anew
            self.texts[start] = self.doc_text[self.idx[start]:self.end_char(end - 1)].strip()
        return self.texts[start]


class FigureRecognizer(BatchedComponent):
    """Sets `doc._.figures` to the list of `Figure` records found in the doc."""

    def __init__(self, nlp: Language, name: str = "mkb_figures", lexicon_path: str | None = None) -> None:
        self.name = name
        self.lexicon = _Lexicon.from_path(Path(lexicon_path) if lexicon_path else LEXICON_PATH)
        self.strings = PerWord(nlp.vocab.strings)
        # A word's facts are computed once per word type (by its hash), so the tokens that
        # cannot start a figure cost nothing in Python beyond one dict lookup.
        getters = nlp.vocab.lex_attr_getters
        tests = [lambda word: self.lexicon.is_candidate(word), lambda word: self.lexicon.is_een(word),
                 lambda word: self.lexicon.after_een_word(word), getters[IS_CURRENCY],
                 getters[IS_ALPHA], getters[IS_STOP], getters[IS_PUNCT], getters[IS_SPACE], getters[IS_LOWER],
                 getters[IS_UPPER], getters[IS_QUOTE], getters[LIKE_NUM]]
        self.facts = word_facts(nlp)
        self.shift, self.width = self.facts.add(tests), len(tests)

    # -- spaCy component protocol -------------------------------------------------------------
    def __call__(self, doc: Doc) -> Doc:
        doc._.set(FIGURES_ATTR, self.find(doc))
        return doc

    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> None:
        path = ensure_path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "lexicon.json").write_text(json.dumps(self.lexicon.data, ensure_ascii=False, indent=1),
                                           encoding="utf8")

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> "FigureRecognizer":
        self.lexicon = _Lexicon.from_path(ensure_path(path) / "lexicon.json")
        self.facts.forget()  # the answers came from the old lexicon
        return self

    def to_bytes(self, *, exclude: Iterable[str] = ()) -> bytes:
        return json.dumps(self.lexicon.data, ensure_ascii=False).encode("utf8")

    def from_bytes(self, data: bytes, *, exclude: Iterable[str] = ()) -> "FigureRecognizer":
        self.lexicon = _Lexicon(json.loads(data))
        self.facts.forget()
        return self

    # -- recognition --------------------------------------------------------------------------
    def find(self, doc: Doc) -> list[Figure]:
        """The figures in a doc, in text order."""
        if len(doc) == 0:
            return []
        columns = read(doc, self.facts)
        words = columns.bits(self.shift, self.width)
        een = words & _EEN != 0
        een[:-1] &= words[1:] & _AFTER_EEN != 0  # "een miljoen", "een derde", "een op de tien"
        een[-1] = False
        starts = numpy.flatnonzero((words & _CANDIDATE != 0) | een).tolist()
        if not starts:
            return []
        # A currency sign's norm is its own text, since spaCy's base norms make "€" "$".
        norms = numpy.where(words & _CURRENCY != 0, columns.orth, columns.norm).tolist()
        return self._find(_Tokens(map(self.strings.__getitem__, norms), columns, words.tolist()), starts,
                          _Sentences(columns))

    def _find(self, tokens: _Tokens, starts: list[int], sents: _Sentences) -> list[Figure]:
        figures: list[Figure] = []
        previous_subject: tuple[int, str] | None = None  # (sentence start token, subject)
        taken = -1  # tokens up to here belong to an earlier figure or a rejected identifier
        for i in starts:
            if i <= taken:
                continue
            parse, consumed = self._parse(tokens, i, sents)
            taken = max(taken, consumed - 1)
            if parse is None:
                continue
            sentence_start = sents.bounds(parse.start)[0]
            if parse.subject is None and parse.unit in ("count", "percent"):
                parse.subject = self._subject_in_context(tokens, parse, sents)
                if parse.subject is None and previous_subject and previous_subject[0] >= sents.previous_start(parse.start):
                    parse.subject = previous_subject[1]
            if parse.subject and parse.unit in ("count", "percent") and tokens[parse.start - 1] != "per":
                previous_subject = (sentence_start, parse.subject)
            char_start = parse.char_start if parse.char_start is not None else sents.idx[parse.start]
            char_end = sents.end_char(parse.end - 1)
            figures.append(Figure(
                start=char_start, end=char_end, text=sents.doc_text[char_start:char_end],
                value=parse.value, value_max=parse.value_max, unit=parse.unit,
                subject=parse.subject if parse.unit in ("count", "percent") else None,
                qualifier=parse.qualifier, sentence=sents.text(parse.start),
            ))
        return figures

    def _parse(self, tokens: _Tokens, i: int, sents: _Sentences) -> tuple[_Parse | None, int]:
        """Read a figure whose number starts at token i; also return the first token not used."""
        lex = self.lexicon
        core = self._core(tokens, i)
        if core is None:
            return None, i + 1
        if self._is_identifier(tokens, core):
            end = core.end
            while True:  # the rest of "32 637", "088 042 42 42", "vragen 2 en 3", "artikel 4, 5 of 6"
                if tokens[end].isdigit():
                    end += 1
                elif tokens[end] in ("en", ",", "of", "t/m", "-") and tokens[end + 1].isdigit():
                    end += 2
                else:
                    return None, end
        if core.weak or core.value == 1 and not core.digits:
            if lex.one_of.at(tokens, core.end) and not self._ratio(tokens, core):
                return None, core.end  # "één van de drijvende krachten"
        j = core.end
        unit: str | None = None
        value, value_max = core.value, core.value_max
        scaled = False
        attached = False  # a range, scale or unit: an ambiguous word ("acht") is then a number

        # fractions and ratios: "een derde", "twee op de vijf", "Negen van de tien"
        denominator = lex.denominators.get(tokens[j])
        if (denominator and not core.digits and core.value < denominator * 3
                and (tokens[j] in lex.fraction_units or tokens[j + 1] in lex.ordinal_fraction_links)):
            # "een derde van de ondervraagden"; but "aan een derde" is a third party
            return self._finish(tokens, sents, core.start, j + 1, value / denominator, None, "other", False), j + 1
        if tokens[j] in lex.fractions and core.value == 1 and core.weak:  # "een kwart"
            return self._finish(tokens, sents, core.start, j + 1, lex.fractions[tokens[j]], None, "other", False), j + 1
        ratio = self._ratio(tokens, core)
        if ratio is not None:
            return self._finish(tokens, sents, core.start, ratio.end, core.value / ratio.value, None, "other", False), ratio.end
        # ranges: "6 tot 9 miljard", "10 of 20 weken", "tussen 2 en 5", "één tot tien"
        borrowed = False
        if value_max is None and not core.suffix:
            other = self._range_end(tokens, core, j)
            if other is not None:
                value_max, core.suffix, j = other.value, other.suffix, other.end
                attached = True
            elif tokens[j] == "en":
                # "32 en 28 procent": the first number takes the unit of the second
                other = self._core(tokens, j + 1)
                found = self._unit_at(tokens, other.end, other) if other is not None and not other.weak else None
                if found:
                    unit, borrowed = found[0], True
        # scale: glued ("2,5mln") or a word ("1,4 miljoen", "€ 30 mln.")
        if core.suffix in _SUFFIX_SCALE:
            factor = _SUFFIX_SCALE[core.suffix]
            value, value_max = value * factor, (value_max * factor if value_max is not None else None)
            scaled = attached = True
        factor = self._scale_at(tokens, j)
        if factor:
            value, value_max = value * factor, (value_max * factor if value_max is not None else None)
            j += 1
            scaled = attached = True
        # unit
        if not borrowed:
            found = self._unit_at(tokens, j, core)
            if found:
                unit, j = found
                attached = True
        before = tokens.previous_word(core.start)  # "€\xa0100.000" has a space token between
        prefix = before >= 0 and tokens.text(before) in lex.currency_prefix
        start = before if prefix else core.start
        if prefix:
            unit, attached = "EUR", True
        if unit is None:
            unit = "count"
        if core.weak and not scaled and value_max is None and not lex.qual_after.at(tokens, j):
            return None, j  # the article: "een jaar eerder"; a number in "een miljoen", "een of meer"
        if self._is_year_or_date(tokens, core, j, unit, scaled, prefix):
            return None, core.end
        if unit == "count" and not core.digits and tokens[core.start] in lex.fraction_units:
            unit = "other"
        if unit == "count" and not scaled and value <= 10 and lex.score_cues.search(sents.text(core.start)):
            unit = "other"  # a rapportcijfer: "gestegen van zes naar zeven"
        if not core.digits and tokens[core.start] in lex.ambiguous and not attached:
            if j >= tokens.n or tokens.has(j, _STOP | _PUNCT):
                return None, j
        parse = self._finish(tokens, sents, start, j, value, value_max, unit, scaled)
        if core.approx:
            parse.qualifier = "approx"
            written = tokens.text(core.start)
            if "±" in written:  # the sign is the qualifier, not part of the span
                parse.char_start = sents.idx[core.start] + written.index("±") + 1
        return parse, j

    def _finish(self, tokens: _Tokens, sents: _Sentences, start: int, end: int, value: float, value_max: float | None,
                unit: str, scaled: bool) -> _Parse:
        parse = _Parse(start, end, value, value_max, unit)
        parse.qualifier = self._qualifier(tokens, start, end)
        if unit in ("count", "percent"):
            parse.subject = self._subject_after(tokens, end, plural=value != 1)
            if unit == "percent" and parse.subject and not self._linked(tokens, end):
                # "twaalf procent kunstmatige intelligentie": the share is of the earlier "alle bedrijven"
                parse.subject = self._subject_in_context(tokens, parse, sents) or parse.subject
            if unit == "count" and scaled and value >= 1e6 and (
                    parse.subject is None and self.lexicon.money_cue.search(sents.text(start))
                    or parse.subject is not None and parse.subject.lower() in self.lexicon.money_cues):
                parse.unit, parse.subject = "EUR", None  # "ruim 4 miljard omzet"
        return parse

    # -- pieces --------------------------------------------------------------------------------
    def _core(self, tokens: _Tokens, i: int) -> _Core | None:
        if i >= tokens.n:
            return None
        norm = tokens[i]  # (a currency sign's norm is the sign here; no sign is a number)
        number = _number(norm)
        if number is not None and number[0] == "digits":
            _, value, value_max, suffix, digits, signed, approx = number
            return _Core(i, i + 1, value, value_max, suffix, digits=digits, signed=signed, approx=approx)
        if number is not None and number[0] == "decimal point":
            return _Core(i, i + 1, number[1], digits=norm) if self._scale_at(tokens, i + 1) else None
        if not tokens.has(i, _ALPHA):
            return None
        if norm in self.lexicon.scale_fractions:  # "half miljoen"; "het eerste half jaar" is no figure
            return _Core(i, i + 1, self.lexicon.scale_fractions[norm]) if self._scale_at(tokens, i + 1) else None
        if norm in ("een", "één"):
            half = self.lexicon.scale_fractions.get(tokens[i + 1])
            if half and self._scale_at(tokens, i + 2):  # "een half miljoen"
                return _Core(i, i + 2, half)
            return _Core(i, i + 1, 1.0, weak=norm == "een")
        if norm in self.lexicon.fractions:
            return _Core(i, i + 1, self.lexicon.fractions[norm])
        if number is not None:  # a number word
            return _Core(i, i + 1, number[1], approx=number[2])
        return None

    def _ratio(self, tokens: _Tokens, core: _Core) -> _Core | None:
        """The denominator of "twee op de vijf", "Negen van de tien"."""
        found = self.lexicon.ratio_links.at(tokens, core.end)
        if found:
            other = self._core(tokens, core.end + len(found[0]))
            if other and not other.suffix and _is_ratio(core.value, other.value, found[0]):
                return other
        return None

    def _range_end(self, tokens: _Tokens, core: _Core, j: int) -> _Core | None:
        """The upper end of a range starting with `core`, whose link starts at token j."""
        if core.digits and _YEAR.fullmatch(core.digits) and not self._scale_at(tokens, j):
            return None
        if tokens[j] == "en" and self._after_between(tokens, core.start):
            link: tuple[str, ...] | None = ("en",)
        else:
            found = self.lexicon.range_links.at(tokens, j)
            link = found[0] if found else None
        if link is None:
            return None
        other = self._core(tokens, j + len(link))
        if other is None or other.weak or other.signed:
            return None
        return other if other.value > core.value or self._scale_at(tokens, other.end) else None

    def _after_between(self, tokens: _Tokens, start: int) -> bool:
        return ((tokens[start - 1],) in self.lexicon.between
                or (tokens[start - 2], tokens[start - 1]) in self.lexicon.between)

    def _scale_at(self, tokens: _Tokens, j: int) -> float | None:
        return self.lexicon.scale.get(tokens[j])

    def _unit_at(self, tokens: _Tokens, j: int, core: _Core) -> tuple[str, int] | None:
        """The unit after a number at token j, with the token after it."""
        lex = self.lexicon
        if core.suffix in ("%", "%-punt", "%-punten"):
            return "percent", j + (1 if tokens[j] in lex.percent else 0)
        if core.suffix == "x":
            return "other", j
        norm = tokens[j]
        if norm in lex.percent:
            return "percent", j + 1
        if norm in lex.currency_suffix:
            return "EUR", j + 1
        if norm in lex.durations:
            return "duration", j + 1
        if norm in lex.multipliers and tokens[j + 1] in lex.multiplier_cues:
            return "other", j + 1
        found = lex.other_units.at(tokens, j)
        return ("other", j + len(found[0])) if found else None

    def _is_identifier(self, tokens: _Tokens, core: _Core) -> bool:
        lex = self.lexicon
        k = tokens.previous_word(core.start)
        before = tokens[k]
        if before in lex.blockers or (before == "(" and tokens[k - 1] in lex.blockers):
            return True
        if before == "," and tokens[k - 2] in lex.blockers:
            return True  # "Staatsblad 2020, 118"
        if core.digits is None:
            return False
        after = tokens[core.end]
        if core.digits.startswith("0") and len(core.digits) > 1 and not core.digits.startswith("0,"):
            return True  # phone numbers, zero-padded codes
        if after == "," and tokens[core.end + 1] in ("nr.", "nr", "nrs."):
            return True
        if core.digits.isdigit() and not core.suffix and not _YEAR.fullmatch(core.digits) and (
                after.isdigit() and not _YEAR.fullmatch(after) or before.isdigit() and not _YEAR.fullmatch(before)):
            return True  # digit groups side by side: a dossier "32 637", a phone number
        if after in (".", ")") and tokens.line_start(core.start) and core.value < 100 and not core.suffix:
            return True  # a numbered list item
        if not core.suffix and tokens.line_start(core.start) and tokens.line_end(core.end):
            return True  # a number alone on its line: a page number, a footnote marker, metadata
        if before == "-" and core.start >= 2 and tokens.has(core.start - 2, _ALPHA) and not tokens.spaced(core.start - 1):
            return True  # a number inside a name ("COVID - 19")
        if (core.value < 100 and not core.suffix and core.value_max is None and "," not in core.digits
                and 0 <= k and tokens.has(k, _ALPHA) and not tokens.has(k, _STOP) and before not in lex.qual_words
                and word_value(before) is None and not self._unit_at(tokens, core.end, core)
                and self._scale_at(tokens, core.end) is None
                and not tokens.has(core.end, _LOWER)):
            return True  # a label: "pijler 1", "Noot 1"
        return False

    def _is_year_or_date(self, tokens: _Tokens, core: _Core, end: int, unit: str, scaled: bool, prefix: bool) -> bool:
        lex = self.lexicon
        if tokens[end] in lex.months or tokens[core.start - 1] in lex.months and core.value <= 31:
            return True
        if unit == "duration" and tokens[core.start - 1] in lex.time_before and tokens[end - 1] == "uur":
            return True
        if core.digits is None or scaled or prefix or unit != "count" or core.signed:
            return False
        if core.value_max is not None:
            return bool(_YEAR.fullmatch(core.digits))  # "2015-1", "2024-2025"
        if _YEAR.fullmatch(core.digits):
            # a bare year unless a qualifier or a counted noun makes it a quantity ("ruim 2000 bedrijven")
            return not (self._qualifier(tokens, core.start, end) and self._subject_after(tokens, end))
        return False

    def _qualifier(self, tokens: _Tokens, start: int, end: int) -> str | None:
        lex = self.lexicon
        before = [tokens.previous_word(start)]  # the words before, past whitespace tokens
        while len(before) < 4 and tokens[before[0]] in lex.qual_before_last:
            before.append(tokens.previous_word(before[-1]) if before[-1] >= 0 else -1)
        for size in (3, 2, 1) if len(before) == 4 else ():
            if before[size - 1] < 0:
                continue
            words = tuple(tokens[k] for k in reversed(before[:size]))
            qualifier = lex.qual_before.get(words)
            if qualifier is None:
                continue
            head = before[size]  # the word before the qualifier
            head_norm = tokens[head]
            if words[-1] == "dan" and head >= 0 and (
                    tokens.has(head, _LIKE_NUM) or head_norm in lex.percent or _TOKEN.fullmatch(head_norm)):
                return None  # "335.000 meer dan tien jaar geleden": a comparison, not a bound
            if words == ("tot",) and (self._from_to(tokens, start) or head >= 0 and tokens.has(head, _STOP)
                                      and head_norm not in ("en", "of")):
                return None  # "van 2.000.404 ... tot 2.035.528", "komt hierin tot vijf aanbevelingen"
            return qualifier
        found = lex.qual_after.at(tokens, end)
        return found[1] if found else None

    def _from_to(self, tokens: _Tokens, start: int) -> bool:
        for k in range(max(0, start - 10), start - 1):
            if tokens[k] == "van" and self._core(tokens, k + 1) is not None:
                return True
        return False

    def _linked(self, tokens: _Tokens, end: int) -> bool:
        return self.lexicon.subject_links.at(tokens, end) is not None

    def _subject_after(self, tokens: _Tokens, end: int, plural: bool = False) -> str | None:
        lex = self.lexicon
        j = end
        found = lex.qual_after.at(tokens, j)
        if found:
            j += len(found[0])
        found = lex.subject_links.at(tokens, j)
        if found:
            return self._noun(tokens, j + len(found[0]))
        noun = self._noun(tokens, j, plural=plural)
        if noun is None and tokens[j] in ("en", "of"):
            # "minstens 10 en tot 250 medewerkers": the noun after the second number
            for k in range(j + 1, min(j + 4, tokens.n)):
                other = self._core(tokens, k)
                if other is not None:
                    return self._noun(tokens, other.end, plural=plural)
        return noun

    def _noun(self, tokens: _Tokens, j: int, plural: bool = False) -> str | None:
        """The counted noun from token j on, past adjectives; with `plural`, only a plural form
        or a measure word ("1.000 keer"), since a singular after a number is rarely what is counted."""
        lex = self.lexicon
        for _ in range(4):
            if j >= tokens.n:
                return None
            found = lex.multiword_subjects.at(tokens, j)
            if found:
                return tokens.text(j, j + len(found[0]))
            norm = tokens[j]  # (a currency sign's norm is the sign here; no sign heads a subject)
            if tokens.has(j, _QUOTE) or _TOKEN.fullmatch(norm) or (
                    tokens.has(j, _UPPER) and tokens.has(j + 1, _LOWER) and tokens.has(j + 1, _ALPHA)
                    and not tokens.has(j + 1, _STOP)):
                j += 1  # "van de bijna 335.000 bedrijven", "‘deregistraties’", "twee MIT instrumenten"
                continue
            if norm in lex.subject_skip or (tokens.has(j, _LOWER) and norm.endswith("e") and len(norm) > 3
                                             and tokens.has(j + 1, _ALPHA) and not tokens.has(j + 1, _STOP)):
                j += 1
                continue
            text = tokens.text(j)
            if (tokens.has(j, _STOP | _PUNCT | _SPACE) or not _NOUNISH.fullmatch(text)
                    or norm in lex.not_subjects or _PARTICIPLE.fullmatch(norm) or norm in lex.scale
                    or norm in lex.months or norm in lex.percent or norm in lex.durations):
                return None
            if plural and not (_PLURAL.fullmatch(norm) or norm in lex.measure_nouns):
                return None
            return text
        return None

    def _plural_near(self, tokens: _Tokens, j: int, stop: int) -> str | None:
        """The first plural noun in a few words: "het aantal bij KVK ingeschreven ondernemingen"."""
        for k in range(j, min(j + 5, stop)):
            if tokens.has(k, _PUNCT):
                return None
            norm = tokens[k]
            if (tokens.has(k, _LOWER) and not tokens.has(k, _STOP) and _PLURAL.fullmatch(norm)
                    and not _PARTICIPLE.fullmatch(norm) and norm not in self.lexicon.not_subjects):
                return tokens.text(k)
        return None

    def _subject_in_context(self, tokens: _Tokens, parse: _Parse, sents: _Sentences) -> str | None:
        """The counted noun named earlier in the sentence: "het aantal starters ... met 8%"."""
        lex = self.lexicon
        for k in range(parse.start - 1, sents.bounds(parse.start)[0] - 1, -1):
            norm = tokens[k]  # (a currency sign's norm is the sign here; no sign heads a subject)
            if norm in lex.subject_heads:
                found = lex.subject_links.at(tokens, k + 1)
                link = found[0] if found else ()
                noun = (self._noun(tokens, k + 1 + len(link), plural=True)
                        or self._plural_near(tokens, k + 1 + len(link), parse.start))
                if noun:
                    return noun
            if norm == "van" and (tokens[k + 1] == "alle"
                                  or parse.unit == "percent" and tokens[k + 1] in ("de", "het")):
                noun = self._noun(tokens, k + 2, plural=True)
                if noun:
                    return noun
        return None


class _Tokens(dict):
    """One doc's tokens as the rules read them, without building Token objects (each `doc[i]`
    does): index -> norm ("" outside the doc), the word-test bits, text and layout."""

    def __init__(self, norms: Iterable[str], columns: Columns, bits: list[int]) -> None:
        super().__init__(enumerate(norms))
        self.columns = columns
        self.n = columns.n
        self.bits = bits

    def __missing__(self, i: int) -> str:
        return ""  # outside the doc

    def has(self, i: int, bits: int) -> bool:
        """Whether token i has any of the word-test `bits` (False outside the doc)."""
        return 0 <= i < self.n and self.bits[i] & bits != 0

    def text(self, start: int, end: int | None = None) -> str:
        """The text of token `start`, or of the tokens start to end."""
        columns = self.columns
        return columns.text[columns.idx[start]:columns.end_char(start if end is None else end - 1)]

    def spaced(self, i: int) -> bool:
        """Whether a space follows token i."""
        return self.columns.space[i] != 0

    # A whitespace token's norm is its text, so the norms answer the layout questions too.
    def previous_word(self, i: int) -> int:
        """The index of the nearest token before i that is not whitespace (-1 when none)."""
        k = i - 1
        while k >= 0 and self[k].isspace():
            k -= 1
        return k

    def line_end(self, i: int) -> bool:
        """Whether only whitespace holding a line break (or the end) follows from token i on."""
        while i < self.n and self[i].isspace():
            if "\n" in self[i]:
                return True
            i += 1
        return i == self.n

    def line_start(self, i: int) -> bool:
        k = self.previous_word(i)
        return k < 0 or any("\n" in self[n] for n in range(k + 1, i))


@lru_cache(maxsize=8192)
def _number(norm: str) -> tuple[Any, ...] | None:
    """What a word says as a number, whatever stands around it (so the answer is kept):
    ("digits", value, value_max, suffix, digits, signed, approx) for "1,4", "6-9", "±300", "12%";
    ("decimal point", value) for "1.5", a number only before a scale word; ("word", value,
    approx) for "drieëntwintig", "twintigtal"; None for anything else."""
    m = _TOKEN.fullmatch(norm)
    if m:
        sign = m["sign"]
        return ("digits", parse_digits(sign.replace("±", "") + m["num"]),
                parse_digits(m["num2"]) if m["num2"] else None, m["suffix"], m["num"],
                sign in "+-" and bool(sign), sign == "±")
    if ENGLISH_DECIMAL.fullmatch(norm):
        return "decimal point", parse_digits(norm, before_scale=True)
    value = word_value(norm)
    if value is not None:
        return "word", float(value), False
    value = group_value(norm)
    if value is not None:
        return "word", float(value), value >= 10
    return None


def _is_ratio(a: float, b: float, link: tuple[str, ...]) -> bool:
    if not (0 < a <= b):
        return False
    if link[0] == "op":
        return True
    return a < b and (b <= 10 or b == 100)  # "90 van de 450 medewerkers" are two counts


@Language.factory("mkb_figures", default_config={"lexicon_path": None})
def make_figure_recognizer(nlp: Language, name: str, lexicon_path: str | None) -> FigureRecognizer:
    return FigureRecognizer(nlp, name, lexicon_path)
