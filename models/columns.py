"""Fast reads of a Doc for the rule components, without building Token objects.

Each `doc[i]`, `Doc.text` and `Span.text` builds Python objects token by token, and each string
read from the StringStore is decoded anew: over every token of every document that costs more
than tokenising. So a Doc is read once, by whichever component comes first, into `Columns`: a
few per-token columns from one `Doc.to_array`, and every component's word tests as bits of one
number per token. A word's answers are computed once per word type (`WordFacts`, keyed by the
ORTH hash) and shared by the components; a document's tokens are looked up all at once, in
arrays, with no Python call per token. (Lexeme flags would do the word tests as well, but
`Doc.to_array` reads each flag column token by token: ten flags cost more than the tests.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from weakref import WeakKeyDictionary, ref

import numpy
from spacy.attrs import IDX, NORM, ORTH, SENT_START, SPACY
from spacy.language import Language
from spacy.strings import StringStore
from spacy.tokens import Doc

# Where the pipeline's tokenizer leaves the text it tokenised (the Doc's text), so that no
# component has to join it again from the tokens.
TEXT_KEY = ("mkb", "text")


def doc_text(doc: Doc) -> str:
    """The Doc's text: as the tokenizer left it, or joined from the tokens."""
    text = doc.user_data.get(TEXT_KEY)
    return text if text is not None else doc.text


class PerWord(dict):
    """String hash -> `function(string)`, a cache in front of a StringStore for facts that depend
    on a word alone. A hash is a function of the string, so entries stay true when a memory zone
    frees the strings; the cache is emptied when it grows past `limit`, so a long stream does
    not grow it without bound."""

    def __init__(self, store: StringStore, function: Callable[[str], Any] = str, limit: int = 200_000) -> None:
        super().__init__()
        self.store = store
        self.function = function
        self.limit = limit

    def __missing__(self, key: int) -> Any:
        if len(self) >= self.limit:
            self.clear()
        value = self[key] = self.function(self.store[key])
        return value


def bitmask(tests: Sequence[Callable[[str], bool]]) -> Callable[[str], int]:
    """A function giving a word's answers to `tests` as bits: bit k is tests[k]."""
    def answers(word: str) -> int:
        bits = 0
        for k, test in enumerate(tests):
            if test(word):
                bits |= 1 << k
        return bits
    return answers


class WordFacts:
    """The word tests of one pipeline's components, answered once per word type.

    Each component adds its tests and gets back the shift of its bits in the shared answer;
    `Columns.bits(shift, width)` gives a component its own bits, bit k being its test k.
    The answers are computed into a dict (`by_word`) and copied into a direct-mapped table of
    arrays, slot = the low bits of the ORTH hash (a hash spreads them evenly), so a whole
    document is looked up with a few array operations and no Python call per token. A word
    whose slot another word holds is answered from the dict.
    """

    SLOTS = 1 << 18  # 4 MB of keys and answers

    def __init__(self, strings: StringStore) -> None:
        self.tests: list[Callable[[str], Any]] = []
        self.by_word = PerWord(strings, bitmask(self.tests))
        self.forget()

    def add(self, tests: Sequence[Callable[[str], Any]]) -> int:
        if len(self.tests) + len(tests) > 63:
            raise ValueError("a pipeline's word tests fit in 63 bits")
        shift = len(self.tests)
        self.tests.extend(tests)
        self.forget()
        return shift

    def forget(self) -> None:
        """Drop the answers, after a component's data (and so its tests' answers) changed."""
        self.by_word.clear()
        self.keys = numpy.zeros(self.SLOTS, dtype=numpy.uint64)  # 0 is the hash of "", no token
        self.answers = numpy.zeros(self.SLOTS, dtype=numpy.int64)

    def of(self, orths: numpy.ndarray) -> numpy.ndarray:
        """The answers for a document's ORTH column."""
        slots = orths & numpy.uint64(self.SLOTS - 1)
        answers = self.answers[slots]
        new = self.keys[slots] != orths
        if new.any():
            missed = orths[new]
            found = numpy.array([self.by_word[orth] for orth in missed.tolist()], dtype=numpy.int64)
            answers[new] = found
            slots, free = slots[new], self.keys[slots[new]] == 0
            self.keys[slots[free]], self.answers[slots[free]] = missed[free], found[free]
        return answers


_facts: WeakKeyDictionary[Language, WordFacts] = WeakKeyDictionary()


def word_facts(nlp: Language) -> WordFacts:
    """The pipeline's shared word tests (one set per pipeline)."""
    if nlp not in _facts:
        _facts[nlp] = WordFacts(nlp.vocab.strings)
    return _facts[nlp]


class Columns:
    """One Doc as the components read it: token offsets, norms and word-test bits as lists and
    arrays, read once. Valid while the tokens stay as they are (no component retokenises)."""

    def __init__(self, doc: Doc, facts: WordFacts) -> None:
        self._doc = ref(doc)  # not the Doc itself: the cache below would keep every Doc alive
        self.facts = facts
        self.n = len(doc)
        self.text = doc_text(doc)
        array = doc.to_array([IDX, SPACY, ORTH, NORM]).reshape(self.n, 4)
        # Offsets as lists, since the components index them one by one; the hashes stay arrays,
        # since a hash becomes a Python int slowly and WordFacts looks them up as one.
        self.idx, self.space = array[:, :2].T.tolist()
        self.orth: numpy.ndarray = array[:, 2]
        self.norm: numpy.ndarray = array[:, 3]
        self.words = facts.of(self.orth)
        self._sent_start: numpy.ndarray | None = None
        self._sentence_starts: list[int] | None = None

    @property
    def doc(self) -> Doc:
        doc = self._doc()
        assert doc is not None, "read while the Doc lives"
        return doc

    def bits(self, shift: int, width: int) -> numpy.ndarray:
        """A component's word-test bits per token (see WordFacts.add)."""
        return (self.words >> shift) & ((1 << width) - 1)

    @property
    def sent_start(self) -> numpy.ndarray:
        """1 where a sentence starts, -1 where none does, 0 where unknown."""
        if self._sent_start is None:
            self._sent_start = self.doc.to_array(SENT_START).astype(numpy.int64).reshape(self.n)
        return self._sent_start

    @sent_start.setter
    def sent_start(self, starts: numpy.ndarray) -> None:
        """The sentence starts a component has just set on the Doc."""
        self._sent_start, self._sentence_starts = starts, None

    @property
    def sentence_starts(self) -> list[int]:
        """The tokens that start a sentence, 0 first."""
        if self._sentence_starts is None:
            self._sentence_starts = [0, *(i for i in numpy.flatnonzero(self.sent_start == 1).tolist() if i > 0)]
        return self._sentence_starts

    def end_char(self, i: int) -> int:
        """Where token i's text ends (its trailing space is one character)."""
        return (self.idx[i + 1] if i + 1 < self.n else len(self.text)) - self.space[i]

    def word(self, i: int) -> str:
        return self.text[self.idx[i]:self.end_char(i)]

    def lower(self, i: int) -> str:
        return self.word(i).lower()


_read: WeakKeyDictionary[Doc, Columns] = WeakKeyDictionary()


def read(doc: Doc, facts: WordFacts) -> Columns:
    """The Doc's columns, read on the first call and shared by the components after it."""
    columns = _read.get(doc)
    if columns is None or columns.facts is not facts or columns.n != len(doc):
        columns = _read[doc] = Columns(doc, facts)
    return columns
