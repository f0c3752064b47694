"""What mkb_organisations costs: words per second of the extraction pipeline with and without it,
on the gold texts (../shared/gold/dev.jsonl), figures left out of both runs.

The two settings take turns, and each reports its best round, so other work on the machine
weighs on both alike.

Usage: python bench/bench_organisations.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from models.pipeline import build

GOLD = Path(__file__).resolve().parents[2] / "shared" / "gold" / "dev.jsonl"
SETTINGS = {"without mkb_organisations": ["mkb_figures", "mkb_organisations"],
            "with mkb_organisations": ["mkb_figures"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    if not GOLD.exists():
        raise SystemExit(f"no gold texts at {GOLD}")
    texts = [json.loads(line)["text"] for line in GOLD.open(encoding="utf-8")]
    nlp = build()
    words = sum(len(doc) for doc in nlp.pipe(texts))  # also loads everything before timing
    best = dict.fromkeys(SETTINGS, float("inf"))
    for _ in range(args.rounds):
        for name, disable in SETTINGS.items():
            started = time.perf_counter()
            for _doc in nlp.pipe(texts, disable=disable):
                pass
            best[name] = min(best[name], time.perf_counter() - started)
    print(f"{len(texts)} texts, {words:,} words, best of {args.rounds} rounds:")
    for name, seconds in best.items():
        print(f"  {name:26} {words / seconds:10,.0f} words/s")
    ratio = best["with mkb_organisations"] / best["without mkb_organisations"]
    print(f"  the component multiplies the time by {ratio:.2f}")


if __name__ == "__main__":
    main()
