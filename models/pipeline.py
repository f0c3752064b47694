"""The Dutch extraction pipeline: spacy.blank("nl") with the project's tokenizer fixes and
components, and the functions that turn texts into plain `Extraction` records.

Order: tokenizer (Dutch fixes, wrapped lines joined) -> mkb_sentences ->
mkb_organisations -> mkb_figures. Each document's date goes in as `doc._.published` before the
components run; records come out as plain `Extraction`s (models/records.py).
"""

from __future__ import annotations

import re
from contextlib import nullcontext
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import Any, ContextManager, Iterable, Iterator, Mapping
from weakref import WeakKeyDictionary

import numpy
import spacy
from spacy.attrs import IS_PUNCT, NORM, SENT_START
from spacy.language import Language, create_tokenizer
from spacy.pipeline import Sentencizer
from spacy.symbols import ORTH
from spacy.tokenizer import Tokenizer
from spacy.tokens import Doc
from spacy.util import compile_infix_regex, registry

from . import PIPELINE_VERSION
from . import figures as _figures  # registers the mkb_figures factory
from . import organisations as _organisations  # noqa: F401  (registers mkb_organisations)
from .columns import TEXT_KEY, doc_text, read, word_facts
from .component import BatchedComponent
from .records import Extraction, Figure, Mention

ORG_ATTR = "org_mentions"
PUBLISHED_ATTR = "published"
if not Doc.has_extension(PUBLISHED_ATTR):
    Doc.set_extension(PUBLISHED_ATTR, default=None)

# The tokenizer caches no word it meets inside a memory zone, so a stream run wholly in zones
# tokenises every word anew, at half the speed. The first words a pipeline meets stay in its
# vocabulary instead, so the common ones are cached: documents run outside a zone until the
# vocabulary has grown by this many words (some 11 MB), overshooting by at most one batch's new
# words; after that every group runs in a zone and memory stays flat.
WARM_WORDS = 20_000
_built_vocab_sizes: WeakKeyDictionary[Language, int] = WeakKeyDictionary()

# Texts are cut into pieces of at most this many characters, at a paragraph or sentence end,
# so memory per document stays bounded whatever comes in (spaCy refuses > nlp.max_length).
CHUNK_CHARS = 100_000

# Word-like abbreviation exceptions that are also ordinary Dutch words ending a sentence:
# kept, they swallow the final period and merge sentences (NLP-NOTES §1.2).
_AMBIGUOUS_ABBREVIATIONS = ("al", "dat", "me", "pas", "best", "vol", "red", "min", "ver", "kon", "hand",
                            "pers", "not", "top", "bel", "pan", "stat", "gen", "bet", "lit", "mil", "ind",
                            "sec", "fin", "get", "ex", "ing", "int", "or", "co", "bl", "ms", "mon", "rom")
# Abbreviations the Dutch exceptions lack, so their period would end a sentence.
_EXTRA_ABBREVIATIONS = ("incl.", "excl.", "mw.", "o.b.v.", "o.l.v.", "m.u.v.", "jan.", "febr.", "mrt.",
                        "apr.", "jun.", "jul.", "aug.", "sep.", "sept.", "okt.", "nov.", "mrd.", "mld.")
# A curly apostrophe inside a word ("mkb’ers", "KVK’s", "zo’n") keeps the word whole, as the
# straight one does; token norms read it, and a dash, as the ASCII character (NLP-NOTES §1.2).
_INNER_APOSTROPHE = re.compile(r"^[^\W_]+[’‘][^\W_]+$")
_NORM_CHARACTERS = str.maketrans({"’": "'", "‘": "'", "–": "-", "‑": "-", "‐": "-", "−": "-"})
# A lone line break between two longer lines wraps running text ("een tweetal\nmoties"); as a
# token it would sit between a number and its noun, so the tokenizer reads it as a space. It
# does not when the line before is short or ends a sentence or clause, or the line after is
# short or opens a list item: a lone number, a page number, a heading.
_SHORT_LINE = 8
_LINE_END = frozenset(".:;!?")
_ITEM_MARK = frozenset("•·*-–")


def join_wrapped_lines(text: str) -> str:
    """`text` with the line breaks of hard-wrapped running text made spaces (same length)."""
    lines = text.split("\n")
    joined = [lines[0]]
    for before, after in zip(lines, lines[1:]):
        wrapped = (len(before) > _SHORT_LINE and len(after) >= _SHORT_LINE
                   and not before[-1].isspace() and before[-1] not in _LINE_END
                   and not after[0].isspace() and after[0] not in _ITEM_MARK)
        joined += (" " if wrapped else "\n", after)
    return "".join(joined)


class DutchTokenizer:
    """spaCy's Dutch tokenizer with the fixes from NLP-NOTES §1.2.

    The Doc's text is the text as given, except that the line breaks of wrapped running text
    read as spaces; offsets are the same, and `extract_many` takes written forms from the source.
    """

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer

    def __call__(self, text: str) -> Doc:
        text = join_wrapped_lines(text) if "\n" in text else text
        doc = self.tokenizer(text)
        doc.user_data[TEXT_KEY] = text  # the components read it, not Doc.text (models/columns.py)
        return doc

    def pipe(self, texts: Iterable[str], batch_size: int = 1000) -> Iterator[Doc]:
        for text in texts:
            yield self(text)

    def to_disk(self, path: str | Path, **kwargs: Any) -> None:
        self.tokenizer.to_disk(path, **kwargs)

    def from_disk(self, path: str | Path, **kwargs: Any) -> "DutchTokenizer":
        self.tokenizer.from_disk(path, **kwargs)
        return self

    def to_bytes(self, **kwargs: Any) -> bytes:
        return self.tokenizer.to_bytes(**kwargs)

    def from_bytes(self, data: bytes, **kwargs: Any) -> "DutchTokenizer":
        self.tokenizer.from_bytes(data, **kwargs)
        return self


@registry.tokenizers("mkb.dutch_tokenizer.v1")
def create_dutch_tokenizer():
    def make(nlp: Language) -> DutchTokenizer:
        tokenizer = create_tokenizer()(nlp)
        tokenizer.token_match = _INNER_APOSTROPHE.match
        base_norm = nlp.vocab.lex_attr_getters[NORM]
        nlp.vocab.lex_attr_getters[NORM] = lambda string: base_norm(string).translate(_NORM_CHARACTERS)
        infixes = list(nlp.Defaults.infixes) + [r"(?<=[A-Za-z])/(?=[A-Za-z])"]
        tokenizer.infix_finditer = compile_infix_regex(infixes).finditer
        rules = dict(tokenizer.rules)
        for word in _AMBIGUOUS_ABBREVIATIONS:
            for form in (word, word.capitalize(), word.upper()):
                rules.pop(form + ".", None)
        tokenizer.rules = rules
        for abbreviation in _EXTRA_ABBREVIATIONS:
            for form in (abbreviation, abbreviation.capitalize()):
                tokenizer.add_special_case(form, [{ORTH: form}])
        return DutchTokenizer(tokenizer)

    return make


# The word tests of mkb_sentences, as bits: a sentence-final character ("." "!" "?", ...),
# punctuation (or such a character), whitespace holding a line break.
_SENTENCE_END, _PUNCT, _LINE_BREAK = 1, 2, 4


class SentenceSplitter(BatchedComponent):
    """The ``mkb_sentences`` component: spaCy's sentencizer rule, and a line break (one left
    after wrapped lines are joined) ends a sentence, since headings and list items carry no
    final period.

    The rule is the sentencizer's (a sentence starts at the first token after a sentence-final
    character that is neither punctuation nor such a character), computed on arrays: the
    sentencizer builds a Token object for every token, which costs a tenth of tokenising.
    """

    def __init__(self, nlp: Language, name: str = "mkb_sentences") -> None:
        self.name = name
        self.facts = word_facts(nlp)
        is_punct = nlp.vocab.lex_attr_getters[IS_PUNCT]
        final = frozenset(Sentencizer.default_punct_chars)  # a list of 131 there
        tests = [lambda word: word in final,
                 lambda word: bool(is_punct(word)) or word in final,
                 lambda word: word.isspace() and "\n" in word]
        self.shift, self.width = self.facts.add(tests), len(tests)

    def __call__(self, doc: Doc) -> Doc:
        if len(doc) == 0:
            return doc
        columns = read(doc, self.facts)
        words = columns.bits(self.shift, self.width)
        ends = numpy.cumsum(words & _SENTENCE_END != 0)
        openers = numpy.flatnonzero(words & _PUNCT == 0)  # the tokens that may start a sentence
        # One starts a sentence when a sentence-final character stands between it and the
        # opener before it (the tokens in between are all punctuation).
        before = numpy.concatenate(([0], ends[openers[:-1]])) if len(openers) else openers
        starts = numpy.full(len(doc), -1, dtype=numpy.int64)
        starts[openers[ends[openers] > before]] = 1
        breaks = numpy.flatnonzero(words[:-1] & _LINE_BREAK)
        starts[breaks + 1] = 1
        starts[breaks[breaks > 0]] = -1  # the break ends the sentence before it
        starts[0] = 1
        doc.from_array([SENT_START], starts.reshape(-1, 1).astype(numpy.uint64))
        columns.sent_start = starts
        return doc


@Language.factory("mkb_sentences")
def make_sentence_splitter(nlp: Language, name: str) -> SentenceSplitter:
    return SentenceSplitter(nlp, name)


def build() -> Language:
    """A fresh pipeline."""
    nlp = spacy.blank("nl", config={"nlp": {"tokenizer": {"@tokenizers": "mkb.dutch_tokenizer.v1"}}})
    nlp.add_pipe("mkb_sentences")
    nlp.add_pipe("mkb_organisations")
    nlp.add_pipe("mkb_figures")
    nlp.meta["name"] = "mkb_extraction"
    nlp.meta["version"] = PIPELINE_VERSION
    return nlp


def load(path: str | Path | None = None) -> Language:
    """The pipeline saved at `path` with `nlp.to_disk`, or a fresh one."""
    return build() if path is None else spacy.load(path)


@lru_cache(maxsize=1)
def shared_nlp() -> Language:
    """The process-wide pipeline, built on first use."""
    return build()


def extract(text: str, published: str | None = None) -> Extraction:
    """Figures and organisations in one text. `published` is the ISO date of the document."""
    return next(extract_many([(text, published)]))


def extract_many(items: Iterable[tuple[str, str | None] | Mapping[str, Any]], *, batch_size: int = 64,
                 nlp: Language | None = None, zone_size: int = 1000,
                 chunk_chars: int = CHUNK_CHARS) -> Iterator[Extraction]:
    """Extractions for a stream of texts, in order, one per item.

    Items are (text, published) pairs or mappings with "text" and optionally "published".
    Texts longer than `chunk_chars` are processed in pieces and joined again. Once the pipeline's
    vocabulary has grown by WARM_WORDS words, the vocabulary grown while processing is released
    every `zone_size` items (`nlp.memory_zone`), so a long-running stream does not grow without
    bound.
    """
    nlp = nlp or shared_nlp()
    built_size = _built_vocab_sizes.setdefault(nlp, len(nlp.vocab))
    iterator = iter(items)
    while True:
        warm = len(nlp.vocab) - built_size < WARM_WORDS
        group = list(islice(iterator, batch_size if warm else zone_size))
        if not group:
            return
        zone: ContextManager[Any] = nullcontext() if warm else nlp.memory_zone()
        with zone:
            yield from _extract_group(nlp, [_unpack(item) for item in group], batch_size, chunk_chars)


def _unpack(item: tuple[str, str | None] | Mapping[str, Any]) -> tuple[str, str | None]:
    if isinstance(item, Mapping):
        return item["text"], item.get("published")
    text, published = item
    return text, published


def _extract_group(nlp: Language, items: list[tuple[str, str | None]], batch_size: int,
                   chunk_chars: int) -> Iterator[Extraction]:
    pieces = [(n, offset, chunk, published)
              for n, (text, published) in enumerate(items)
              for offset, chunk in chunks(text, chunk_chars)]
    docs = nlp.pipe((_make_doc(nlp, chunk, published) for _, _, chunk, published in pieces), batch_size=batch_size)
    results = [Extraction(pipeline_version=PIPELINE_VERSION) for _ in items]
    for (n, offset, chunk, _), doc in zip(pieces, docs):
        figures: list[Figure] = doc._.get(_figures.FIGURES_ATTR) or []
        mentions: list[Mention] = (doc._.get(ORG_ATTR) if Doc.has_extension(ORG_ATTR) else None) or []
        # Only joined wrapped lines make the Doc's text differ from the chunk.
        seen = doc_text(doc) if "\n" in chunk and (figures or mentions) else chunk
        rewritten = seen != chunk
        for record in (*figures, *mentions):  # fresh records of this doc: changed in place
            if rewritten:
                _as_written(record, seen, chunk)
            record.start += offset
            record.end += offset
        results[n].figures.extend(figures)
        results[n].mentions.extend(mentions)
    yield from results


def _as_written(record: Figure | Mention, seen: str, given: str) -> None:
    """Give a record its text, sentence and subject as the source writes them (same offsets)."""
    record.text = given[record.start:record.end]
    at = seen.rfind(record.sentence, 0, record.start + len(record.sentence)) if record.sentence else -1
    if at >= 0:
        record.sentence = given[at:at + len(record.sentence)]
    if isinstance(record, Figure) and record.subject:
        at = seen.find(record.subject, record.end)
        if at < 0 or at > record.end + 200:
            at = seen.rfind(record.subject, 0, record.start)
        if at >= 0:
            record.subject = given[at:at + len(record.subject)]


def _make_doc(nlp: Language, text: str, published: str | None) -> Doc:
    doc = nlp.make_doc(text)
    doc._.set(PUBLISHED_ATTR, published)
    return doc


_BREAKS = (re.compile(r"\n\s*\n"), re.compile(r"\n"), re.compile(r"[.!?]\s"), re.compile(r"\s"))


def chunks(text: str, size: int = CHUNK_CHARS) -> Iterator[tuple[int, str]]:
    """(offset, piece) pairs covering `text`, each piece at most `size` characters, cut at the
    last paragraph break, line break, sentence end or space before the limit."""
    start = 0
    while len(text) - start > size:
        window = text[start:start + size]
        cut = size
        for pattern in _BREAKS:
            ends = [m.end() for m in pattern.finditer(window, size // 2)]
            if ends:
                cut = ends[-1]
                break
        yield start, text[start:start + cut]
        start += cut
    yield start, text[start:]
