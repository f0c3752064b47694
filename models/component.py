"""What the project's spaCy components share."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from spacy.tokens import Doc
from spacy.util import minibatch


class BatchedComponent:
    """A component that `nlp.pipe` runs a batch at a time: the whole batch through one
    component, then through the next. Doc by doc, each document passes through every
    component's code and data in turn and the CPU caches keep little of either; batched, the
    pipeline ran 12 % faster (bench/README.md, "Extraction speed")."""

    def __call__(self, doc: Doc) -> Doc:
        raise NotImplementedError

    def pipe(self, docs: Iterable[Doc], batch_size: int = 64) -> Iterator[Doc]:
        for batch in minibatch(docs, batch_size):
            yield from [self(doc) for doc in batch]
