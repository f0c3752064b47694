"""Extraction speed and memory, against spaCy's bare Dutch tokenizer on the same text.

    python bench/bench_extraction.py [--docs 10000] [--sample 1000] [--rounds 3] [--gold PATH]

Prints words/s of spacy.blank("nl")'s tokenizer and of the full pipeline, and their ratio
(target >= 0.5): for `nlp.pipe` batch sizes 16, 64 and 256 in one process, for 1 and 2 worker
processes returning plain records, and the time each pipeline step takes as a multiple of the
tokenizer's; then the peak memory while streaming --docs documents through `extract_many`. The
texts are the gold texts (tests/fixtures/gold_government.jsonl, plus ../shared/gold when
present), cycled.

The machines this runs on are shared and their speed drifts by a third within a minute, so the
tokenizer and the pipeline are timed interleaved: the sample is walked in slices of 256
documents and each slice is tokenised, then extracted (the order alternating between slices),
and a ratio is the sum of one side's times over the other's. Each round starts from freshly
built pipelines, so the tokenizer's cache favours neither side; the ratio printed is the median
of the rounds, with each round's ratio beside it.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import time
from collections.abc import Callable
from itertools import cycle, islice
from pathlib import Path
from typing import Iterator

import spacy

from common import peak_rss_mb, print_environment

ROOT = Path(__file__).resolve().parents[1]
GOLD = [ROOT / "tests" / "fixtures" / "gold_government.jsonl", ROOT.parent / "shared" / "gold" / "dev.jsonl"]
SLICE = 256
BATCH_SIZES = (16, 64, 256)


def texts_from(paths: list[Path]) -> list[str]:
    seen: dict[str, str] = {}
    for path in paths:
        if path.exists():
            for line in path.read_text(encoding="utf8").splitlines():
                document = json.loads(line)
                seen[document["id"]] = document["text"]
    return list(seen.values())


def stream(texts: list[str], n: int) -> Iterator[str]:
    return islice(cycle(texts), n)


def interleaved(texts: list[str], runners: dict[str, Callable[[list[str]], object]]) -> dict[str, float]:
    """Seconds each runner spends on `texts`, the runners taking turns on each slice, in an
    order that rotates from slice to slice."""
    seconds = dict.fromkeys(runners, 0.0)
    names = list(runners)
    for k, start in enumerate(range(0, len(texts), SLICE)):
        batch = texts[start:start + SLICE]
        for name in names[k % len(names):] + names[:k % len(names)]:
            began = time.perf_counter()
            runners[name](batch)
            seconds[name] += time.perf_counter() - began
    return seconds


def pipeline_runs(texts: list[str]) -> dict[str, float]:
    """One round: seconds for the tokenizer and for the pipeline at each batch size."""
    from models.pipeline import build, extract_many

    tokenizer = spacy.blank("nl").tokenizer
    runners: dict[str, Callable[[list[str]], object]] = {"tokenizer": lambda batch: list(tokenizer.pipe(batch))}
    for size in BATCH_SIZES:
        nlp = build()  # one pipeline per batch size: built outside the timing, caches unshared
        runners[f"batch {size}"] = (lambda nlp, size: lambda batch: list(
            extract_many(((text, None) for text in batch), batch_size=size, nlp=nlp)))(nlp, size)
    return interleaved(texts, runners)


def step_runs(texts: list[str]) -> dict[str, float]:
    """One round: seconds for the blank tokenizer and for each step of the pipeline."""
    from models.pipeline import build

    tokenizer = spacy.blank("nl").tokenizer
    nlp = build()
    seconds = dict.fromkeys(["tokenizer", "pipeline's tokenizer", *nlp.pipe_names], 0.0)
    for start in range(0, len(texts), SLICE):
        batch = texts[start:start + SLICE]
        began = time.perf_counter()
        list(tokenizer.pipe(batch))
        seconds["tokenizer"] += time.perf_counter() - began
        began = time.perf_counter()
        docs = [nlp.make_doc(text) for text in batch]
        seconds["pipeline's tokenizer"] += time.perf_counter() - began
        for name, step in nlp.pipeline:
            began = time.perf_counter()
            docs = list(step.pipe(docs, batch_size=64))
            seconds[name] += time.perf_counter() - began
    return seconds


def _work(batch: list[str]) -> list:
    from models.pipeline import extract_many

    return list(extract_many(((text, None) for text in batch)))


def _warm() -> None:
    from models.pipeline import shared_nlp

    shared_nlp()


def process_runs(texts: list[str], processes: int) -> tuple[float, float]:
    """(tokenizer seconds, pool seconds): a pool of workers returning plain records, timed
    between two timings of the tokenizer, whose mean is the one returned."""
    batches = [texts[i:i + 64] for i in range(0, len(texts), 64)]
    tokenizer = spacy.blank("nl").tokenizer
    with multiprocessing.get_context("spawn").Pool(processes, initializer=_warm) as pool:
        pool.map(_work, [texts[:1]] * processes)  # workers built outside the timing
        began = time.perf_counter()
        list(tokenizer.pipe(texts))
        before = time.perf_counter() - began
        began = time.perf_counter()
        records = sum(len(result) for result in pool.imap(_work, batches))
        seconds = time.perf_counter() - began
    began = time.perf_counter()
    list(spacy.blank("nl").tokenizer.pipe(texts))
    after = time.perf_counter() - began
    assert records == len(texts)
    return (before + after) / 2, seconds


def peak_memory_streaming(texts: list[str], n_docs: int) -> tuple[float, float, int]:
    """(peak RSS MB before, peak RSS MB after, figures found) streaming n_docs documents."""
    from models.pipeline import extract_many, shared_nlp

    shared_nlp()
    before = peak_rss_mb()
    found = sum(len(e.figures) for e in extract_many((text, None) for text in stream(texts, n_docs)))
    return before, peak_rss_mb(), found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=10_000, help="documents streamed for the memory figure")
    parser.add_argument("--sample", type=int, default=1_000, help="documents timed for words/s")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of interleaved timings")
    parser.add_argument("--gold", type=Path, action="append", help="JSONL files with a text field")
    args = parser.parse_args()

    print_environment()
    import models

    print(f"# pipeline: {models.PIPELINE_VERSION}")
    texts = texts_from(args.gold or GOLD)
    sample = list(stream(texts, args.sample))
    n_words = sum(len(text.split()) for text in sample)
    print(f"{len(texts)} distinct texts, {args.sample} documents, {n_words} words per timing, "
          f"{args.rounds} rounds")

    rounds = [pipeline_runs(sample) for _ in range(args.rounds)]
    tokenizer_wps = statistics.median(n_words / r["tokenizer"] for r in rounds)
    print(f"tokenizer only (spacy.blank('nl'))   : {tokenizer_wps:10,.0f} words/s")
    for size in BATCH_SIZES:
        ratios = [r["tokenizer"] / r[f"batch {size}"] for r in rounds]
        wps = statistics.median(n_words / r[f"batch {size}"] for r in rounds)
        print(f"pipeline, 1 process, batch {size:4d}     : {wps:10,.0f} words/s   ratio "
              f"{statistics.median(ratios):.2f}  (rounds: {', '.join(f'{x:.2f}' for x in ratios)})")
    for processes in (1, 2):
        ratios = []
        for _ in range(args.rounds):
            tokenizer_seconds, seconds = process_runs(sample, processes)
            ratios.append(tokenizer_seconds / seconds)
        print(f"pipeline, {processes} worker(s), batch 64     : ratio {statistics.median(ratios):.2f}  "
              f"(rounds: {', '.join(f'{x:.2f}' for x in ratios)})")
    steps = [step_runs(sample) for _ in range(args.rounds)]
    print("time per step, as a multiple of the blank tokenizer's (median of rounds): " + ", ".join(
        f"{name} {statistics.median(s[name] / s['tokenizer'] for s in steps):.2f}"
        for name in steps[0] if name != "tokenizer"))

    before, after, found = peak_memory_streaming(texts, args.docs)
    print(f"streaming {args.docs} documents: peak RSS {before:.0f} MB before, {after:.0f} MB after "
          f"({found} figures)")


if __name__ == "__main__":
    main()
