"""The extractor service: every text comes back in order, a text the model fails on fails alone
(in this process and in a worker), a dead worker's batches are extracted here, and the texts are
read a batch at a time."""

from __future__ import annotations

import multiprocessing
import os

import pytest

from models.records import Extraction, Figure
from monitor.errors import ParseError
from monitor.extraction import Extracted, ExtractorService, Text


class Model:
    """Extracts one figure per text, its sentence the text; raises on texts containing ``poison``."""

    version = "test-1"

    def __init__(self, poison: str | None = None, error: type[Exception] = RuntimeError) -> None:
        self.poison, self.error, self.calls = poison, error, []

    def __call__(self, texts):
        self.calls.append([t.id for t in texts])
        if any(self.poison and self.poison in t.text for t in texts):
            raise self.error(f"the model cannot take {self.poison!r}")
        return [Extraction(figures=[Figure(0, 3, "Het", 1.0, None, "count", None, None, t.text)]) for t in texts]

    def organisations(self):
        return []


class DyingModel(Model):
    """Kills the worker process it runs in (as the kernel's OOM killer would)."""

    def __call__(self, texts):
        if multiprocessing.parent_process() is not None:
            os._exit(1)
        return super().__call__(texts)


class PidModel(Model):
    """Writes the id of the process it ran in as the figure's sentence."""

    def __call__(self, texts):
        return [Extraction(figures=[Figure(0, 3, "Het", 1.0, None, "count", None, None, str(os.getpid()))])
                for _ in texts]


def texts(n, poison_at=()):
    return [Text(f"d{k}", f"tekst {k}{' gif' if k in poison_at else ''}", "2024-01-01") for k in range(n)]


def sentences(results):
    return [(r.id, r.extraction.figures[0].sentence if r.extraction else None, r.code) for r in results]


def test_a_text_the_model_fails_on_fails_alone_and_the_others_come_back_in_order():
    model = Model(poison="gif")
    results = list(ExtractorService(model, batch_size=4).extract(texts(6, poison_at={2})))
    assert sentences(results) == [("d0", "tekst 0", None), ("d1", "tekst 1", None),
                                  ("d2", None, "unexpected.RuntimeError"), ("d3", "tekst 3", None),
                                  ("d4", "tekst 4", None), ("d5", "tekst 5", None)]
    assert isinstance(results[2].error, RuntimeError) and "gif" in str(results[2].error)
    # the failing batch once whole, then text by text; the clean batch once
    assert model.calls == [["d0", "d1", "d2", "d3"], ["d0"], ["d1"], ["d2"], ["d3"], ["d4", "d5"]]


def test_a_failure_keeps_the_code_of_the_error_vocabulary():
    (result,) = ExtractorService(Model(poison="gif", error=ParseError)).extract(texts(1, poison_at={0}))
    assert result.extraction is None and result.code == ParseError.code
    assert Extracted("x", Extraction()).code is None


def test_batches_follow_the_batch_size_and_plain_tuples_are_texts():
    batches = list(ExtractorService(Model(), batch_size=2).batches([("a", "een", None), ("b", "twee", None),
                                                                    ("c", "drie", "2024")]))
    assert [[r.id for r in batch] for batch in batches] == [["a", "b"], ["c"]]


def reading(items, read):
    """The items, noting in ``read`` each one as it is read."""
    for t in items:
        read.append(t.id)
        yield t


def test_the_texts_are_read_a_batch_at_a_time():
    read = []
    results = ExtractorService(Model(), batch_size=3).batches(reading(texts(10), read))
    next(results)
    assert len(read) == 3
    assert sum(len(b) for b in results) == 7 and len(read) == 10


@pytest.mark.slow
def test_in_worker_processes_the_failing_text_fails_alone_there():
    results = list(ExtractorService(Model(poison="gif"), batch_size=2, processes=2).extract(texts(5, poison_at={3})))
    assert sentences(results) == [("d0", "tekst 0", None), ("d1", "tekst 1", None), ("d2", "tekst 2", None),
                                  ("d3", None, "unexpected.RuntimeError"), ("d4", "tekst 4", None)]


@pytest.mark.slow
def test_in_worker_processes_the_extraction_runs_there_with_bounded_batches_in_flight():
    read = []
    results = ExtractorService(PidModel(), batch_size=2, processes=2).batches(reading(texts(40), read))
    first = next(results)
    # at most two batches per worker in flight (and the one that made the deque overflow)
    assert len(read) <= (2 * 2 + 1) * 2
    rest = [r for batch in results for r in batch]
    assert [r.id for r in first + rest] == [f"d{k}" for k in range(40)]
    pids = {int(r.extraction.figures[0].sentence) for r in first + rest}
    assert pids and os.getpid() not in pids


@pytest.mark.slow
def test_when_a_worker_dies_the_batches_are_extracted_in_this_process():
    results = list(ExtractorService(DyingModel(), batch_size=2, processes=2).extract(texts(5)))
    assert sentences(results) == [(f"d{k}", f"tekst {k}", None) for k in range(5)]
