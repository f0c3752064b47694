"""Extraction as a service: figures and mentions for a stream of texts, a failing text isolated.

    >>> service = ExtractorService(ModelExtractor(config.nlp), processes=2)
    >>> for result in service.extract([Text("kst-1", "Ruim 11.000 ondernemers deden mee.", None)]):
    ...     result.id, result.extraction, result.code

One path for every caller: a run and an import extract a batch of parsed documents before they
store it, ``reprocess`` the documents it parses again, re-extraction the stored texts of an older
model version. Each hands in (id, text, published) items; the id is the caller's own handle (an
item key, a document id) and comes back with the item's result, in order.

A text the model raises on fails alone: a batch that raises is extracted again one text at a
time, so the text that raises is returned as failed with its error (``Extracted.code``) and the
others with their extractions. With more than one process the batches go to a pool of workers,
each holding a copy of the model; the isolation runs in the worker, the batches are read here
and at most two per worker are in flight. Should a worker die (the OOM killer, a crash in a C
extension), the batches not yet back are extracted in this process.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from itertools import chain, islice
from typing import Any, NamedTuple, Protocol

from models.records import Extraction
from monitor.errors import code_of
from monitor.settings import NlpSettings


class Text(NamedTuple):
    """What to extract from: the caller's id for it, the text and its publication date."""

    id: str
    text: str
    published: str | None = None


@dataclass(frozen=True)
class Extracted:
    """One text's result: its extraction, or the error extracting it raised."""

    id: str
    extraction: Extraction | None = None
    error: BaseException | None = None

    @property
    def code(self) -> str | None:
        """The error's code (``monitor.errors.code_of``), None when the text was extracted."""
        return None if self.error is None else code_of(self.error)


class Extractor(Protocol):
    """Figures and mentions for a batch of texts (``models`` behind a small seam)."""

    version: str

    def __call__(self, texts: Sequence[Text]) -> list[Extraction]: ...

    def organisations(self) -> Iterable[dict[str, Any]]:
        """The organisations mentions link to (id, canonical, kind, aliases, validity)."""
        ...


class ModelExtractor:
    """The ``models`` pipeline behind the Extractor seam (spaCy is loaded on first use)."""

    def __init__(self, settings: NlpSettings) -> None:
        import models

        self.version = models.PIPELINE_VERSION
        self.batch_size = settings.batch_size
        self.max_chars = settings.max_chars

    def __call__(self, texts: Sequence[Text]) -> list[Extraction]:
        import models

        return list(models.extract_many(((t.text, t.published) for t in texts), batch_size=self.batch_size,
                                        chunk_chars=self.max_chars))

    def organisations(self) -> Iterable[dict[str, Any]]:
        from models import gazetteer

        return ({"id": o.id, "canonical": o.name, "kind": o.kind, "aliases": list(o.aliases),
                 "valid_from": o.valid_from, "valid_to": o.valid_to} for o in gazetteer.load())


class ExtractorService:
    """An extractor run over a stream of texts in batches, in this process or in ``processes``
    worker processes; every text comes back, extracted or failed, in the order it went in."""

    def __init__(self, extractor: Extractor, *, batch_size: int = 64, processes: int = 1) -> None:
        self.extractor = extractor
        self.batch_size = max(1, batch_size)
        self.processes = max(1, processes)

    @property
    def version(self) -> str:
        return self.extractor.version

    def extract(self, texts: Iterable[Text]) -> Iterator[Extracted]:
        """Each text's result, in order."""
        for batch in self.batches(texts):
            yield from batch

    def batches(self, texts: Iterable[Text]) -> Iterator[list[Extracted]]:
        """The results a batch (``batch_size`` texts) at a time, in order: for a caller that
        stores a batch in one transaction. The texts are read a batch at a time, never all at once."""
        iterator = iter(texts)
        chunks = iter(lambda: [Text(*t) for t in islice(iterator, self.batch_size)], [])
        if self.processes <= 1:
            for chunk in chunks:
                yield isolated(self.extractor, chunk)
            return
        yield from self._pooled(chunks)

    def _pooled(self, chunks: Iterator[list[Text]]) -> Iterator[list[Extracted]]:
        # spawn: a forked child would share this process's SQLite connections
        pool = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_worker, initargs=(self.extractor,))
        flying: deque[tuple[list[Text], Future[list[Extracted]]]] = deque()
        try:
            for chunk in chunks:
                try:
                    flying.append((chunk, pool.submit(_extract_in_worker, chunk)))
                except BrokenProcessPool:
                    while flying:
                        yield self._landed(*flying.popleft())
                    for rest in chain([chunk], chunks):
                        yield isolated(self.extractor, rest)
                    return
                if len(flying) > 2 * self.processes:
                    yield self._landed(*flying.popleft())
            while flying:
                yield self._landed(*flying.popleft())
        finally:
            pool.shutdown(cancel_futures=True)

    def _landed(self, chunk: list[Text], future: Future[list[Extracted]]) -> list[Extracted]:
        try:
            return future.result()
        except Exception:  # the worker died (BrokenProcessPool) or its results could not be sent back
            return isolated(self.extractor, chunk)


def isolated(extractor: Extractor, texts: Sequence[Text]) -> list[Extracted]:
    """Extract the texts at once; if that raises, one by one, so only the text that raises fails."""
    try:
        return [Extracted(t.id, e) for t, e in zip(texts, extractor(texts), strict=True)]
    except Exception as error:
        if len(texts) == 1:
            return [Extracted(texts[0].id, error=error)]
    return [_one(extractor, t) for t in texts]


def _one(extractor: Extractor, text: Text) -> Extracted:
    try:
        (extraction,) = extractor([text])
    except Exception as error:  # this text only: the model's bug, a text it cannot take
        return Extracted(text.id, error=error)
    return Extracted(text.id, extraction)


_worker_extractor: Extractor | None = None


def _start_worker(extractor: Extractor) -> None:
    global _worker_extractor
    _worker_extractor = extractor


def _extract_in_worker(texts: list[Text]) -> list[Extracted]:
    assert _worker_extractor is not None
    return isolated(_worker_extractor, texts)
