"""Growth: what 10k, 100k and 1M documents cost to build, store, search and add to.

    python bench/bench_growth.py                       # 10k, 100k and 1M (reuses bench/out/corpus-*.db)
    python bench/bench_growth.py --sizes 10000 100000

For each size: the time ``generate_corpus.py`` took to build the corpus (read from the figures
it leaves beside the corpus; the corpus is generated first when it does not exist), the file size
per document, the search latencies of ``bench_search.py``'s query kinds, and the rate at which
``Store.put_document`` adds 500 more documents to the corpus of that size (in transactions of
100, rolled back at the end so the corpus stays as generated: the commits are not in the figure).
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from bench.bench_search import queries, timed  # noqa: E402
from bench.common import OUT, file_size, percentile, print_environment, real_texts  # noqa: E402
from bench.generate_corpus import Factory, Material, generate  # noqa: E402
from monitor.search import search  # noqa: E402
from monitor.store import Store  # noqa: E402

ADDED = 500


def label(docs: int) -> str:
    return f"{docs // 1_000_000}m" if docs % 1_000_000 == 0 else f"{docs // 1000}k"


def corpus(docs: int) -> tuple[Path, dict[str, float]]:
    path = OUT / f"corpus-{label(docs)}.db"
    figures = Path(f"{path}.json")
    if not path.exists():
        timings = generate(path, docs, progress=True)
        figures.write_text(json.dumps({"docs": docs, **timings}))
    return path, json.loads(figures.read_text()) if figures.exists() else {}


def fts_share(store: Store) -> float | None:
    """The share of the file that is the full-text index (None where SQLite lacks dbstat)."""
    try:
        fts, total = store._db.execute("SELECT sum(CASE WHEN name LIKE 'documents_fts%' THEN pgsize END), "
                                      "sum(pgsize) FROM dbstat").fetchone()
    except sqlite3.OperationalError:
        return None
    return fts / total


def adding(store: Store) -> float:
    """Documents per second ``put_document`` adds to this corpus (rolled back afterwards)."""
    _, texts = real_texts()
    factory = Factory(Material(texts, random.Random(99)), seed=99)
    items = [factory.make(10**9 + n, date.today()) for n in range(ADDED)]
    conn = store._db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        started = time.perf_counter()
        for n, g in enumerate(items):
            store.put_document(g.doc, extraction=g.extraction(), extracted_with="bench", relevance=0.5)
            if n % 100 == 99:
                conn.execute("SAVEPOINT batch")  # a batch boundary, as a commit would be
                conn.execute("RELEASE batch")
        return ADDED / (time.perf_counter() - started)
    finally:
        conn.execute("ROLLBACK")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    print_environment()
    print(f"{'documents':>10} {'generate':>9} {'fts rebuild':>11} {'size':>9} {'per doc':>9} {'fts':>5} "
          f"{'put_document':>13} {'mkb p50':>8} {'mkb/date p50':>12} {'worst p95':>10}")
    for docs in args.sizes:
        path, made = corpus(docs)
        with Store(path) as store:  # read-write: a corpus made by an older schema is migrated first
            size = file_size(path)
            share = fts_share(store)
            latencies = {}
            for name, text, options in queries(store):
                times = timed(lambda: search(store, text, limit=20, **options), args.runs)
                latencies[name] = (percentile(times, 50), percentile(times, 95))
            rate = adding(store)
        worst = max(p95 for _, p95 in latencies.values())
        print(f"{docs:10d} {made.get('total_s', float('nan')):8.0f}s {made.get('fts_rebuild_s', float('nan')):10.0f}s "
              f"{size / 2**30:7.2f}GiB {size / docs / 1024:6.2f}KiB {'' if share is None else f'{share:5.0%}'} "
              f"{rate:9.0f}/s {latencies['mkb'][0]:7.1f}ms {latencies['mkb, sorted by date'][0]:10.1f}ms "
              f"{worst:8.1f}ms")
        for name, (p50, p95) in latencies.items():
            print(f"{'':10} {name:44} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms")


if __name__ == "__main__":
    main()
