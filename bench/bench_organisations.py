"""What mkb_organisations costs: words per second of the extraction pipeline with and without it,
on the gold texts (../shared/gold/dev.jsonl), figures left out of both runs.

Usage: python bench/bench_organisations.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from models.pipeline import build

GOLD = Path(__file__).resolve().parents[2] / "shared" / "gold" / "dev.jsonl"


def words_per_second(texts: list[str], disable: list[str], repeat: int) -> float:
    nlp = build()
    words = 0
    started = time.perf_counter()
    for _ in range(repeat):
        for doc in nlp.pipe(texts, disable=disable):
            words += len(doc)
    return words / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if not GOLD.exists():
        raise SystemExit(f"no gold texts at {GOLD}")
    texts = [json.loads(line)["text"] for line in GOLD.open(encoding="utf-8")]
    build()(texts[0])  # load the gazetteer and vocabulary before timing
    without = words_per_second(texts, ["mkb_figures", "mkb_organisations"], args.repeat)
    with_orgs = words_per_second(texts, ["mkb_figures"], args.repeat)
    print(f"{len(texts)} texts x {args.repeat}: without mkb_organisations {without:,.0f} words/s, "
          f"with {with_orgs:,.0f} words/s ({without / with_orgs:.2f}x the time)")


if __name__ == "__main__":
    main()
