"""Ingest speed: documents per second through ``Store.put_document`` against plain inserts.

    python bench/bench_ingest.py --docs 20000

The same generated documents (``generate_corpus.Factory``: recombined real texts, with the
figures and mentions an extraction gives them) are written to a fresh corpus three ways, each in
its own process so that its peak memory is its own:

- store: ``Store.put_document`` with the extraction, ``--batch`` documents per transaction as the
  pipeline commits them: alias lookups, the content-hash check, versions, change log, FTS
  triggers, figures and mentions;
- triggers: the same rows by ``executemany``, FTS kept in sync by its triggers row by row;
- bare: the same rows by ``executemany`` with the FTS triggers off, then one FTS ``rebuild``.

Rows per second include making the rows (content hash, aliases), not generating the texts nor
the extraction records the store is handed (the bare way makes its figure and mention tuples from
the same generated material inside its clock).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from bench.common import OUT, file_size, peak_rss_mb, print_environment, real_texts  # noqa: E402
from bench.generate_corpus import BulkLoad, Factory, Material, plan, rows  # noqa: E402
from monitor.store import Store  # noqa: E402

MODES = ("store", "triggers", "bare")


def generated(docs: int, seed: int) -> list:
    _, texts = real_texts()
    factory = Factory(Material(texts, random.Random(seed)), seed=seed)
    days = plan(docs, until=date.today(), backfill=0.0, rng=random.Random(seed))
    return [factory.make(n, day) for n, day in enumerate(days)]


def run(mode: str, docs: int, batch: int, seed: int) -> dict[str, float]:
    """Write the documents one way into a fresh corpus; returns the figures."""
    items = generated(docs, seed)
    path = OUT / f"ingest-{mode}.db"
    for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)
    # What the extraction stage hands the store: made before the clock starts, as the texts are
    extractions = [g.extraction() for g in items] if mode == "store" else []
    with Store(path) as store:
        started = time.perf_counter()
        if mode == "store":
            for i in range(0, len(items), batch):
                with store.transaction():
                    for g, extraction in zip(items[i:i + batch], extractions[i:i + batch]):
                        store.put_document(g.doc, extraction=extraction, extracted_with="bench", relevance=0.5)
        else:
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            load = BulkLoad(store, keep_triggers=mode == "triggers", keep_indexes=True)
            for i in range(0, len(items), batch):
                load.write([rows(g, now=now, relevance=0.5) for g in items[i:i + batch]])
            load.finish()
        seconds = time.perf_counter() - started
        problems = store.check()
    size = file_size(path)
    for done in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        done.unlink(missing_ok=True)
    if problems:
        raise SystemExit(f"{mode}: the corpus is not consistent: {problems[:3]}")
    return {"seconds": seconds, "docs_per_s": docs / seconds, "peak_rss_mb": peak_rss_mb(), "size": size}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=100, help="documents per transaction (default 100)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)  # one measurement, in a child process
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    if args.mode:
        print(json.dumps(run(args.mode, args.docs, args.batch, args.seed)))
        return
    print_environment()
    print(f"{args.docs} documents, {args.batch} per transaction")
    results = {}
    for mode in MODES:
        child = subprocess.run([sys.executable, __file__, "--mode", mode, "--docs", str(args.docs),
                                "--batch", str(args.batch), "--seed", str(args.seed)],
                               capture_output=True, text=True, check=True)
        results[mode] = json.loads(child.stdout.splitlines()[-1])
        r = results[mode]
        print(f"{mode:9} {r['docs_per_s']:8.0f} docs/s  {r['seconds']:7.1f} s  peak RSS {r['peak_rss_mb']:6.0f} MiB  "
              f"{r['size'] / args.docs / 1024:.2f} KiB per document")
    bare = results["bare"]["docs_per_s"]
    print(f"ratio bare/store: {bare / results['store']['docs_per_s']:.2f}x, "
          f"bare/triggers: {bare / results['triggers']['docs_per_s']:.2f}x")


if __name__ == "__main__":
    main()
