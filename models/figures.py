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
from pathlib import Path
from typing import Any, Iterable

import numpy
from spacy.attrs import IDX, IS_CURRENCY, NORM, ORTH, SENT_START, SPACY
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import ensure_path

from .columns import PerWord, bitmask, doc_text
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
_NORMS = "mkb_figures.norms"  # a str key: its hash is cached, a tuple's is not
# Bits of a word's facts (FigureRecognizer.words): it may start a figure, it is "een", it may
# follow "een" in a number ("een miljoen"), it is a currency sign.
_CANDIDATE, _EEN, _AFTER_EEN, _CURRENCY = 1, 2, 4, 8
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

    def at(self, doc: Doc, j: int) -> tuple[tuple[str, ...], Any] | None:
        for words, value in self.by_first.get(_norm(doc, j), ()):
            if all(_norm(doc, j + k) == w for k, w in enumerate(words[1:], 1)):
                return words, value
        return None

    def __iter__(self):
        return (words for options in self.by_first.values() for words, _ in options)


class _Sentences:
    """Sentence bounds and character offsets of one doc, read once from arrays: `Token.sent`
    checks the whole doc's annotation on every call, and each `doc[i]` builds a Token."""

    def __init__(self, doc: Doc, sent_starts: numpy.ndarray, idx: list[int], space: list[int]) -> None:
        self.doc = doc
        self.doc_text = doc_text(doc)
        self.texts: dict[int, str] = {}
        self.starts = [0] + [i for i in numpy.flatnonzero(sent_starts == 1).tolist() if i > 0]
        self.idx = idx
        self.space = space

    def end_char(self, i: int) -> int:
        """Where token i's text ends (its trailing space is one character)."""
        return (self.idx[i + 1] if i + 1 < len(self.idx) else len(self.doc_text)) - self.space[i]

    def bounds(self, i: int) -> tuple[int, int]:
        n = bisect_right(self.starts, i)
        end = self.starts[n] if n < len(self.starts) else len(self.doc)
        return self.starts[n - 1], end

    def previous_start(self, i: int) -> int:
        n = bisect_right(self.starts, i) - 1
        return self.starts[max(0, n - 1)]

    def text(self, i: int) -> str:
        start, end = self.bounds(i)
        if start not in self.texts:  # a slice of the text: a Span would join its tokens anew
            self.texts[start] = self.doc_text[self.idx[start]:self.end_char(end - 1)].strip()
        return self.texts[start]


class FigureRecognizer:
    """Sets `doc._.figures` to the list of `Figure` records found in the doc."""

    def __init__(self, nlp: Language, name: str = "mkb_figures", lexicon_path: str | None = None) -> None:
        self.name = name
        self.lexicon = _Lexicon.from_path(Path(lexicon_path) if lexicon_path else LEXICON_PATH)
        self.strings = PerWord(nlp.vocab.strings)
        # A word's facts are computed once per word type (by its hash), so the tokens that
        # cannot start a figure cost nothing in Python beyond one dict lookup.
        self.words = PerWord(nlp.vocab.strings, bitmask([
            lambda word: self.lexicon.is_candidate(word), lambda word: self.lexicon.is_een(word),
            lambda word: self.lexicon.after_een_word(word), nlp.vocab.lex_attr_getters[IS_CURRENCY]]))

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
        self.words.clear()  # the facts came from the old lexicon
        return self

    def to_bytes(self, *, exclude: Iterable[str] = ()) -> bytes:
        return json.dumps(self.lexicon.data, ensure_ascii=False).encode("utf8")

    def from_bytes(self, data: bytes, *, exclude: Iterable[str] = ()) -> "FigureRecognizer":
        self.lexicon = _Lexicon(json.loads(data))
        self.words.clear()
        return self

    # -- recognition --------------------------------------------------------------------------
    def find(self, doc: Doc) -> list[Figure]:
        """The figures in a doc, in text order."""
        if len(doc) == 0:
            return []
        # One array read for all the per-token facts the rules need (each doc[i] builds a Token).
        columns = doc.to_array([ORTH, NORM, SENT_START, IDX, SPACY])
        orths = columns[:, 0].tolist()
        words = numpy.fromiter(map(self.words.__getitem__, orths), dtype=numpy.int64, count=len(orths))
        een = words & _EEN != 0
        een[:-1] &= words[1:] & _AFTER_EEN != 0  # "een miljoen", "een derde", "een op de tien"
        een[-1] = False
        starts = numpy.flatnonzero((words & _CANDIDATE != 0) | een).tolist()
        if not starts:
            return []
        # The norms live in user_data while this runs, so the many small helpers reach them
        # through the doc they already take; they are removed before the doc moves on.
        currency = numpy.flatnonzero(words & _CURRENCY)
        doc.user_data[_NORMS] = _norm_list(self.strings, orths, columns[:, 1].tolist(), currency)
        try:
            sents = _Sentences(doc, columns[:, 2].astype(numpy.int64), columns[:, 3].tolist(),
                               columns[:, 4].tolist())
            return self._find(doc, starts, sents)
        finally:
            del doc.user_data[_NORMS]

    def _find(self, doc: Doc, starts: list[int], sents: _Sentences) -> list[Figure]:
        figures: list[Figure] = []
        previous_subject: tuple[int, str] | None = None  # (sentence start token, subject)
        taken = -1  # tokens up to here belong to an earlier figure or a rejected identifier
        for i in starts:
            if i <= taken:
                continue
            parse, consumed = self._parse(doc, i, sents)
            taken = max(taken, consumed - 1)
            if parse is None:
                continue
            sentence_start = sents.bounds(parse.start)[0]
            if parse.subject is None and parse.unit in ("count", "percent"):
                parse.subject = self._subject_in_context(doc, parse, sents)
                if parse.subject is None and previous_subject and previous_subject[0] >= sents.previous_start(parse.start):
                    parse.subject = previous_subject[1]
            if parse.subject and parse.unit in ("count", "percent") and _norm(doc, parse.start - 1) != "per":
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

    def _parse(self, doc: Doc, i: int, sents: _Sentences) -> tuple[_Parse | None, int]:
        """Read a figure whose number starts at token i; also return the first token not used."""
        lex = self.lexicon
        core = self._core(doc, i)
        if core is None:
            return None, i + 1
        if self._is_identifier(doc, core):
            end = core.end
            while True:  # the rest of "32 637", "088 042 42 42", "vragen 2 en 3", "artikel 4, 5 of 6"
                if _norm(doc, end).isdigit():
                    end += 1
                elif _norm(doc, end) in ("en", ",", "of", "t/m", "-") and _norm(doc, end + 1).isdigit():
                    end += 2
                else:
                    return None, end
        if core.weak or core.value == 1 and not core.digits:
            if lex.one_of.at(doc, core.end) and not self._ratio(doc, core):
                return None, core.end  # "één van de drijvende krachten"
        j = core.end
        unit: str | None = None
        value, value_max = core.value, core.value_max
        scaled = False
        attached = False  # a range, scale or unit: an ambiguous word ("acht") is then a number

        # fractions and ratios: "een derde", "twee op de vijf", "Negen van de tien"
        denominator = lex.denominators.get(_norm(doc, j))
        if (denominator and not core.digits and core.value < denominator * 3
                and (_norm(doc, j) in lex.fraction_units or _norm(doc, j + 1) in lex.ordinal_fraction_links)):
            # "een derde van de ondervraagden"; but "aan een derde" is a third party
            return self._finish(doc, sents, core.start, j + 1, value / denominator, None, "other", False), j + 1
        if _norm(doc, j) in lex.fractions and core.value == 1 and core.weak:  # "een kwart"
            return self._finish(doc, sents, core.start, j + 1, lex.fractions[_norm(doc, j)], None, "other", False), j + 1
        ratio = self._ratio(doc, core)
        if ratio is not None:
            return self._finish(doc, sents, core.start, ratio.end, core.value / ratio.value, None, "other", False), ratio.end
        # ranges: "6 tot 9 miljard", "10 of 20 weken", "tussen 2 en 5", "één tot tien"
        borrowed = False
        if value_max is None and not core.suffix:
            other = self._range_end(doc, core, j)
            if other is not None:
                value_max, core.suffix, j = other.value, other.suffix, other.end
                attached = True
            elif _norm(doc, j) == "en":
                # "32 en 28 procent": the first number takes the unit of the second
                other = self._core(doc, j + 1)
                found = self._unit_at(doc, other.end, other) if other is not None and not other.weak else None
                if found:
                    unit, borrowed = found[0], True
        # scale: glued ("2,5mln") or a word ("1,4 miljoen", "€ 30 mln.")
        if core.suffix in _SUFFIX_SCALE:
            factor = _SUFFIX_SCALE[core.suffix]
            value, value_max = value * factor, (value_max * factor if value_max is not None else None)
            scaled = attached = True
        factor = self._scale_at(doc, j)
        if factor:
            value, value_max = value * factor, (value_max * factor if value_max is not None else None)
            j += 1
            scaled = attached = True
        # unit
        if not borrowed:
            found = self._unit_at(doc, j, core)
            if found:
                unit, j = found
                attached = True
        before = _previous_word(doc, core.start)  # "€\xa0100.000" has a space token between
        prefix = before >= 0 and doc[before].text in lex.currency_prefix
        start = before if prefix else core.start
        if prefix:
            unit, attached = "EUR", True
        if unit is None:
            unit = "count"
        if core.weak and not scaled and value_max is None and not lex.qual_after.at(doc, j):
            return None, j  # the article: "een jaar eerder"; a number in "een miljoen", "een of meer"
        if self._is_year_or_date(doc, core, j, unit, scaled, prefix):
            return None, core.end
        if unit == "count" and not core.digits and _norm(doc, core.start) in lex.fraction_units:
            unit = "other"
        if unit == "count" and not scaled and value <= 10 and lex.score_cues.search(sents.text(core.start)):
            unit = "other"  # a rapportcijfer: "gestegen van zes naar zeven"
        if not core.digits and _norm(doc, core.start) in lex.ambiguous and not attached:
            nxt = doc[j] if j < len(doc) else None
            if nxt is None or nxt.is_stop or nxt.is_punct:
                return None, j
        parse = self._finish(doc, sents, start, j, value, value_max, unit, scaled)
        if core.approx:
            parse.qualifier = "approx"
            written = doc[core.start].text
            if "±" in written:  # the sign is the qualifier, not part of the span
                parse.char_start = doc[core.start].idx + written.index("±") + 1
        return parse, j

    def _finish(self, doc: Doc, sents: _Sentences, start: int, end: int, value: float, value_max: float | None,
                unit: str, scaled: bool) -> _Parse:
        parse = _Parse(start, end, value, value_max, unit)
        parse.qualifier = self._qualifier(doc, start, end)
        if unit in ("count", "percent"):
            parse.subject = self._subject_after(doc, end, plural=value != 1)
            if unit == "percent" and parse.subject and not self._linked(doc, end):
                # "twaalf procent kunstmatige intelligentie": the share is of the earlier "alle bedrijven"
                parse.subject = self._subject_in_context(doc, parse, sents) or parse.subject
            if unit == "count" and scaled and value >= 1e6 and (
                    parse.subject is None and self.lexicon.money_cue.search(sents.text(start))
                    or parse.subject is not None and parse.subject.lower() in self.lexicon.money_cues):
                parse.unit, parse.subject = "EUR", None  # "ruim 4 miljard omzet"
        return parse

    # -- pieces --------------------------------------------------------------------------------
    def _core(self, doc: Doc, i: int) -> _Core | None:
        if i >= len(doc):
            return None
        tok = doc[i]
        norm = tok.norm_
        m = _TOKEN.fullmatch(norm)
        if m:
            sign = m["sign"]
            value = parse_digits(sign.replace("±", "") + m["num"])
            value_max = parse_digits(m["num2"]) if m["num2"] else None
            return _Core(i, i + 1, value, value_max, m["suffix"], digits=m["num"],
                         signed=sign in "+-" and bool(sign), approx=sign == "±")
        if ENGLISH_DECIMAL.fullmatch(norm) and self._scale_at(doc, i + 1):
            return _Core(i, i + 1, parse_digits(norm, before_scale=True), digits=norm)
        if not tok.is_alpha:
            return None
        if norm in self.lexicon.scale_fractions:  # "half miljoen"; "het eerste half jaar" is no figure
            return _Core(i, i + 1, self.lexicon.scale_fractions[norm]) if self._scale_at(doc, i + 1) else None
        if norm in ("een", "één"):
            half = self.lexicon.scale_fractions.get(_norm(doc, i + 1))
            if half and self._scale_at(doc, i + 2):  # "een half miljoen"
                return _Core(i, i + 2, half)
            return _Core(i, i + 1, 1.0, weak=norm == "een")
        if norm in self.lexicon.fractions:
            return _Core(i, i + 1, self.lexicon.fractions[norm])
        value = word_value(norm)
        if value is not None:
            return _Core(i, i + 1, float(value))
        value = group_value(norm)
        if value is not None:
            return _Core(i, i + 1, float(value), approx=value >= 10)
        return None

    def _ratio(self, doc: Doc, core: _Core) -> _Core | None:
        """The denominator of "twee op de vijf", "Negen van de tien"."""
        found = self.lexicon.ratio_links.at(doc, core.end)
        if found:
            other = self._core(doc, core.end + len(found[0]))
            if other and not other.suffix and _is_ratio(core.value, other.value, found[0]):
                return other
        return None

    def _range_end(self, doc: Doc, core: _Core, j: int) -> _Core | None:
        """The upper end of a range starting with `core`, whose link starts at token j."""
        if core.digits and _YEAR.fullmatch(core.digits) and not self._scale_at(doc, j):
            return None
        if _norm(doc, j) == "en" and self._after_between(doc, core.start):
            link: tuple[str, ...] | None = ("en",)
        else:
            found = self.lexicon.range_links.at(doc, j)
            link = found[0] if found else None
        if link is None:
            return None
        other = self._core(doc, j + len(link))
        if other is None or other.weak or other.signed:
            return None
        return other if other.value > core.value or self._scale_at(doc, other.end) else None

    def _after_between(self, doc: Doc, start: int) -> bool:
        return ((_norm(doc, start - 1),) in self.lexicon.between
                or (_norm(doc, start - 2), _norm(doc, start - 1)) in self.lexicon.between)

    def _scale_at(self, doc: Doc, j: int) -> float | None:
        return self.lexicon.scale.get(_norm(doc, j))

    def _unit_at(self, doc: Doc, j: int, core: _Core) -> tuple[str, int] | None:
        """The unit after a number at token j, with the token after it."""
        lex = self.lexicon
        if core.suffix in ("%", "%-punt", "%-punten"):
            return "percent", j + (1 if _norm(doc, j) in lex.percent else 0)
        if core.suffix == "x":
            return "other", j
        norm = _norm(doc, j)
        if norm in lex.percent:
            return "percent", j + 1
        if norm in lex.currency_suffix:
            return "EUR", j + 1
        if norm in lex.durations:
            return "duration", j + 1
        if norm in lex.multipliers and _norm(doc, j + 1) in lex.multiplier_cues:
            return "other", j + 1
        found = lex.other_units.at(doc, j)
        return ("other", j + len(found[0])) if found else None

    def _is_identifier(self, doc: Doc, core: _Core) -> bool:
        lex = self.lexicon
        k = _previous_word(doc, core.start)
        before = _norm(doc, k)
        if before in lex.blockers or (before == "(" and _norm(doc, k - 1) in lex.blockers):
            return True
        if before == "," and _norm(doc, k - 2) in lex.blockers:
            return True  # "Staatsblad 2020, 118"
        if core.digits is None:
            return False
        after = _norm(doc, core.end)
        if core.digits.startswith("0") and len(core.digits) > 1 and not core.digits.startswith("0,"):
            return True  # phone numbers, zero-padded codes
        if after == "," and _norm(doc, core.end + 1) in ("nr.", "nr", "nrs."):
            return True
        if core.digits.isdigit() and not core.suffix and not _YEAR.fullmatch(core.digits) and (
                after.isdigit() and not _YEAR.fullmatch(after) or before.isdigit() and not _YEAR.fullmatch(before)):
            return True  # digit groups side by side: a dossier "32 637", a phone number
        if after in (".", ")") and _line_start(doc, core.start) and core.value < 100 and not core.suffix:
            return True  # a numbered list item
        if not core.suffix and _line_start(doc, core.start) and _line_end(doc, core.end):
            return True  # a number alone on its line: a page number, a footnote marker, metadata
        if before == "-" and core.start >= 2 and doc[core.start - 2].is_alpha and not doc[core.start - 1].whitespace_:
            return True  # a number inside a name ("COVID - 19")
        if (core.value < 100 and not core.suffix and core.value_max is None and "," not in core.digits
                and 0 <= k and doc[k].is_alpha and not doc[k].is_stop and doc[k].norm_ not in lex.qual_words
                and word_value(doc[k].norm_) is None and not self._unit_at(doc, core.end, core)
                and self._scale_at(doc, core.end) is None
                and not (doc[core.end].is_lower if core.end < len(doc) else False)):
            return True  # a label: "pijler 1", "Noot 1"
        return False

    def _is_year_or_date(self, doc: Doc, core: _Core, end: int, unit: str, scaled: bool, prefix: bool) -> bool:
        lex = self.lexicon
        if _norm(doc, end) in lex.months or _norm(doc, core.start - 1) in lex.months and core.value <= 31:
            return True
        if unit == "duration" and _norm(doc, core.start - 1) in lex.time_before and _norm(doc, end - 1) == "uur":
            return True
        if core.digits is None or scaled or prefix or unit != "count" or core.signed:
            return False
        if core.value_max is not None:
            return bool(_YEAR.fullmatch(core.digits))  # "2015-1", "2024-2025"
        if _YEAR.fullmatch(core.digits):
            # a bare year unless a qualifier or a counted noun makes it a quantity ("ruim 2000 bedrijven")
            return not (self._qualifier(doc, core.start, end) and self._subject_after(doc, end))
        return False

    def _qualifier(self, doc: Doc, start: int, end: int) -> str | None:
        lex = self.lexicon
        before = [_previous_word(doc, start)]  # the words before, past whitespace tokens
        while len(before) < 4:
            before.append(_previous_word(doc, before[-1]) if before[-1] >= 0 else -1)
        for size in (3, 2, 1):
            if before[size - 1] < 0:
                continue
            words = tuple(_norm(doc, k) for k in reversed(before[:size]))
            qualifier = lex.qual_before.get(words)
            if qualifier is None:
                continue
            head_before = doc[before[size]] if before[size] >= 0 else None
            if words[-1] == "dan" and head_before is not None and (
                    head_before.like_num or head_before.norm_ in lex.percent or _TOKEN.fullmatch(head_before.norm_)):
                return None  # "335.000 meer dan tien jaar geleden": a comparison, not a bound
            if words == ("tot",) and (self._from_to(doc, start) or head_before is not None and head_before.is_stop
                                      and head_before.norm_ not in ("en", "of")):
                return None  # "van 2.000.404 ... tot 2.035.528", "komt hierin tot vijf aanbevelingen"
            return qualifier
        found = lex.qual_after.at(doc, end)
        return found[1] if found else None

    def _from_to(self, doc: Doc, start: int) -> bool:
        for k in range(max(0, start - 10), start - 1):
            if _norm(doc, k) == "van" and self._core(doc, k + 1) is not None:
                return True
        return False

    def _linked(self, doc: Doc, end: int) -> bool:
        return self.lexicon.subject_links.at(doc, end) is not None

    def _subject_after(self, doc: Doc, end: int, plural: bool = False) -> str | None:
        lex = self.lexicon
        j = end
        found = lex.qual_after.at(doc, j)
        if found:
            j += len(found[0])
        found = lex.subject_links.at(doc, j)
        if found:
            return self._noun(doc, j + len(found[0]))
        noun = self._noun(doc, j, plural=plural)
        if noun is None and _norm(doc, j) in ("en", "of"):
            # "minstens 10 en tot 250 medewerkers": the noun after the second number
            for k in range(j + 1, min(j + 4, len(doc))):
                other = self._core(doc, k)
                if other is not None:
                    return self._noun(doc, other.end, plural=plural)
        return noun

    def _noun(self, doc: Doc, j: int, plural: bool = False) -> str | None:
        """The counted noun from token j on, past adjectives; with `plural`, only a plural form
        or a measure word ("1.000 keer"), since a singular after a number is rarely what is counted."""
        lex = self.lexicon
        for _ in range(4):
            if j >= len(doc):
                return None
            found = lex.multiword_subjects.at(doc, j)
            if found:
                return doc[j:j + len(found[0])].text
            tok = doc[j]
            norm = tok.norm_
            if tok.is_quote or _TOKEN.fullmatch(norm) or (tok.is_upper and j + 1 < len(doc) and doc[j + 1].is_lower
                                                        and doc[j + 1].is_alpha and not doc[j + 1].is_stop):
                j += 1  # "van de bijna 335.000 bedrijven", "‘deregistraties’", "twee MIT instrumenten"
                continue
            if norm in lex.subject_skip or (tok.is_lower and norm.endswith("e") and len(norm) > 3
                                             and j + 1 < len(doc) and doc[j + 1].is_alpha
                                             and not doc[j + 1].is_stop):
                j += 1
                continue
            if (tok.is_stop or tok.is_punct or tok.is_space or not _NOUNISH.fullmatch(tok.text)
                    or norm in lex.not_subjects or _PARTICIPLE.fullmatch(norm) or norm in lex.scale
                    or norm in lex.months or norm in lex.percent or norm in lex.durations):
                return None
            if plural and not (_PLURAL.fullmatch(norm) or norm in lex.measure_nouns):
                return None
            return tok.text
        return None

    def _plural_near(self, doc: Doc, j: int, stop: int) -> str | None:
        """The first plural noun in a few words: "het aantal bij KVK ingeschreven ondernemingen"."""
        for k in range(j, min(j + 5, stop)):
            tok = doc[k]
            if tok.is_punct:
                return None
            if (tok.is_lower and not tok.is_stop and _PLURAL.fullmatch(tok.norm_)
                    and not _PARTICIPLE.fullmatch(tok.norm_) and tok.norm_ not in self.lexicon.not_subjects):
                return tok.text
        return None

    def _subject_in_context(self, doc: Doc, parse: _Parse, sents: _Sentences) -> str | None:
        """The counted noun named earlier in the sentence: "het aantal starters ... met 8%"."""
        lex = self.lexicon
        for k in range(parse.start - 1, sents.bounds(parse.start)[0] - 1, -1):
            norm = _norm(doc, k)  # (a currency sign's norm is the sign here; no sign heads a subject)
            if norm in lex.subject_heads:
                found = lex.subject_links.at(doc, k + 1)
                link = found[0] if found else ()
                noun = (self._noun(doc, k + 1 + len(link), plural=True)
                        or self._plural_near(doc, k + 1 + len(link), parse.start))
                if noun:
                    return noun
            if norm == "van" and (_norm(doc, k + 1) == "alle"
                                  or parse.unit == "percent" and _norm(doc, k + 1) in ("de", "het")):
                noun = self._noun(doc, k + 2, plural=True)
                if noun:
                    return noun
        return None


def _norm(doc: Doc, i: int) -> str:
    norms = doc.user_data[_NORMS]
    return norms[i] if 0 <= i < len(norms) else ""


def _norm_list(strings: PerWord, orths: list[int], norms: list[int], currency: numpy.ndarray) -> list[str]:
    """Every token's norm, read from arrays: the rules look norms up tens of thousands of
    times, and each `doc[i]` builds a Token object. Currency signs (at `currency`) keep their
    own text, since spaCy's base norms make "€" "$"."""
    found = list(map(strings.__getitem__, norms))
    for i in currency.tolist():
        found[i] = strings[orths[i]]
    return found


def _is_ratio(a: float, b: float, link: tuple[str, ...]) -> bool:
    if not (0 < a <= b):
        return False
    if link[0] == "op":
        return True
    return a < b and (b <= 10 or b == 100)  # "90 van de 450 medewerkers" are two counts


# A whitespace token's norm is its text, so the norms answer the layout questions too.
def _previous_word(doc: Doc, i: int) -> int:
    """The index of the nearest token before i that is not whitespace (-1 when none)."""
    norms = doc.user_data[_NORMS]
    k = i - 1
    while k >= 0 and norms[k].isspace():
        k -= 1
    return k


def _line_end(doc: Doc, i: int) -> bool:
    """Whether only whitespace holding a line break (or the end) follows from token i on."""
    norms = doc.user_data[_NORMS]
    while i < len(norms) and norms[i].isspace():
        if "\n" in norms[i]:
            return True
        i += 1
    return i == len(norms)


def _line_start(doc: Doc, i: int) -> bool:
    k = _previous_word(doc, i)
    norms = doc.user_data[_NORMS]
    return k < 0 or any("\n" in norms[n] for n in range(k + 1, i))


@Language.factory("mkb_figures", default_config={"lexicon_path": None})
def make_figure_recognizer(nlp: Language, name: str, lexicon_path: str | None) -> FigureRecognizer:
    return FigureRecognizer(nlp, name, lexicon_path)
