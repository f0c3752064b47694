"""Fast reads of a Doc for the rule components, without building Token objects.

Each `doc[i]`, `Doc.text` and `Span.text` builds Python objects token by token, and each string
read from the StringStore is decoded anew: over every token of every document that costs more
than tokenising. The components read a few per-token columns with one `Doc.to_array`, the word
tests as bits computed once per word type (`PerWord` + `bitmask`, keyed by the ORTH column), and
token strings through `PerWord` too. (Lexeme flags would do the word tests as well, but
`Doc.to_array` reads each flag column token by token: ten flags cost more than the tests.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

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
    return lambda word: sum(1 << k for k, test in enumerate(tests) if test(word))
