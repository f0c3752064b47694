"""Extraction speed and memory, against spaCy's bare Dutch tokenizer on the same text.

    python bench/bench_extraction.py [--docs 10000] [--sample 1000] [--gold PATH]

Prints words/s of spacy.blank("nl")'s tokenizer and of the full pipeline (nlp.pipe batch sizes,
1 and 2 worker processes returning plain records), the ratio (target >= 0.5), the time each
pipeline step takes relative to the tokenizer, and the peak memory while streaming --docs
documents through `extract_many`. The texts are the gold texts (tests/fixtures/
gold_government.jsonl, plus ../shared/gold when present), cycled. Every timing starts from a
freshly built pipeline, so the tokenizer's cache favours neither side; each is the best of two
runs, since the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import time
from itertools import cycle, islice
from pathlib import Path
from typing import Iterator

import spacy

ROOT = Path(__file__).resolve().parents[1]
GOLD = [ROOT / "tests" / "fixtures" / "gold_government.jsonl", ROOT.parent / "shared" / "gold" / "dev.jsonl"]


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


def words_per_second(n_words: int, seconds: float) -> float:
    return n_words / seconds if seconds else float("inf")


def time_tokenizer(texts: list[str]) -> float:
    nlp = spacy.blank("nl")
    start = time.perf_counter()
    for _ in nlp.tokenizer.pipe(texts, batch_size=256):
        pass
    return time.perf_counter() - start


def time_pipeline(texts: list[str], batch_size: int) -> float:
    from models.pipeline import build, extract_many

    nlp = build()  # built outside the timing
    start = time.perf_counter()
    for _ in extract_many(((text, None) for text in texts), batch_size=batch_size, nlp=nlp):
        pass
    return time.perf_counter() - start


def time_steps(texts: list[str]) -> dict[str, float]:
    """Seconds per pipeline step over the texts, the tokenizer first."""
    from models.pipeline import build

    nlp = build()
    start = time.perf_counter()
    docs = [nlp.make_doc(text) for text in texts]
    steps = {"tokenizer": time.perf_counter() - start}
    for name, step in nlp.pipeline:
        start = time.perf_counter()
        docs = [step(doc) for doc in docs]
        steps[name] = time.perf_counter() - start
    return steps


def _work(batch: list[str]) -> list:
    from models.pipeline import extract_many

    return list(extract_many(((text, None) for text in batch)))


def _warm() -> None:
    from models.pipeline import pipeline

    pipeline()


def time_processes(texts: list[str], processes: int, batch_size: int) -> float:
    batches = [texts[i:i + batch_size] for i in range(0, len(texts), batch_size)]
    with multiprocessing.get_context("spawn").Pool(processes, initializer=_warm) as pool:
        pool.map(_work, [texts[:1]] * processes)  # workers built outside the timing
        start = time.perf_counter()
        records = sum(len(result) for result in pool.imap(_work, batches))
        seconds = time.perf_counter() - start
    assert records == len(texts)
    return seconds


def peak_memory_streaming(texts: list[str], n_docs: int) -> tuple[float, float, int]:
    """(peak RSS MB before, peak RSS MB after, figures found) streaming n_docs documents."""
    from models.pipeline import extract_many, pipeline

    pipeline()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    found = sum(len(e.figures) for e in extract_many((text, None) for text in stream(texts, n_docs)))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return before, after, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=10_000, help="documents streamed for the memory figure")
    parser.add_argument("--sample", type=int, default=1_000, help="documents timed for words/s")
    parser.add_argument("--gold", type=Path, action="append", help="JSONL files with a text field")
    args = parser.parse_args()

    texts = texts_from(args.gold or GOLD)
    sample = list(stream(texts, args.sample))
    n_words = sum(len(text.split()) for text in sample)
    print(f"{len(texts)} distinct texts, {args.sample} documents, {n_words} words per timing")

    baseline = words_per_second(n_words, min(time_tokenizer(sample) for _ in range(2)))
    print(f"tokenizer only (spacy.blank('nl')) : {baseline:10,.0f} words/s")
    for batch_size in (16, 64, 256):
        wps = words_per_second(n_words, min(time_pipeline(sample, batch_size) for _ in range(2)))
        print(f"pipeline, 1 process, batch {batch_size:4d} : {wps:10,.0f} words/s   ratio {wps / baseline:.2f}")
    for processes in (1, 2):
        wps = words_per_second(n_words, time_processes(sample, processes, 64))
        print(f"pipeline, {processes} worker(s), batch 64  : {wps:10,.0f} words/s   ratio {wps / baseline:.2f}")
    steps = time_steps(sample)
    print("time per step, as a multiple of the tokenizer's: "
          + ", ".join(f"{name} {seconds / steps['tokenizer']:.2f}" for name, seconds in steps.items()))

    before, after, found = peak_memory_streaming(texts, args.docs)
    print(f"streaming {args.docs} documents: peak RSS {before:.0f} MB before, {after:.0f} MB after "
          f"({found} figures)")


if __name__ == "__main__":
    main()
