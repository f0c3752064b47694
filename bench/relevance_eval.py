"""Precision and recall of the default relevance filter ([relevance]) on a hand-labelled sample.

    python bench/relevance_eval.py [--threshold X]

The sample is tests/fixtures/relevance_sample.jsonl. Government texts are in it; news and report
texts are not (they belong to their publishers): those rows are read from ../shared/gold when that
folder exists, and left out (and counted) when it does not.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import feedparser

from monitor.config import shipped
from monitor.relevance import Terms, score

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests" / "fixtures" / "relevance_sample.jsonl"
GOLD = ROOT.parent / "shared" / "gold" / "dev.jsonl"
MKB_FEED = ROOT / "tests" / "fixtures" / "feeds" / "mkb-nederland_rss_nieuws_excerpt.xml"


def load_sample() -> tuple[list[dict], int]:
    gold = {}
    if GOLD.exists():
        gold = {f"gold/{d['id']}": d for d in map(json.loads, GOLD.read_text("utf-8").splitlines())}
    feed = {f"mkb-feed/{e.link.rsplit('/', 1)[1]}": {"title": e.title, "text": e.summary}
            for e in feedparser.parse(MKB_FEED.read_bytes()).entries}
    rows, missing = [], 0
    for row in map(json.loads, SAMPLE.read_text("utf-8").splitlines()):
        if "title" not in row:
            found = gold.get(row["id"]) or feed.get(row["id"])
            if found is None:
                missing += 1
                continue
            row = {**row, "title": found["title"], "text": found["text"]}
        rows.append(row)
    return rows, missing


def evaluate(rows: list[dict], terms: Terms) -> dict[str, float]:
    predicted = [score(r["title"], r["text"], terms) >= terms.threshold for r in rows]
    tp = sum(p and r["label"] for p, r in zip(predicted, rows))
    fp = sum(p and not r["label"] for p, r in zip(predicted, rows))
    fn = sum(not p and r["label"] for p, r in zip(predicted, rows))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, help="override [relevance].threshold")
    parser.add_argument("--show", action="store_true", help="print every item's score")
    args = parser.parse_args()
    topics = shipped().relevance
    if args.threshold is not None:
        topics = dataclasses.replace(topics, threshold=args.threshold)
    terms = Terms.from_config(topics)
    rows, missing = load_sample()
    if args.show:
        for r in sorted(rows, key=lambda r: score(r["title"], r["text"], terms)):
            print(f"{score(r['title'], r['text'], terms):6.1f} {r['label']} {r['id'][:60]:60} {r['title'][:60]}")
    m = evaluate(rows, terms)
    positives = sum(r["label"] for r in rows)
    print(f"sample: {len(rows)} items ({positives} on topic, {len(rows) - positives} off topic); "
          f"{missing} left out (../shared/gold absent)")
    print(f"threshold {terms.threshold}: precision {m['precision']:.3f}  recall {m['recall']:.3f}  "
          f"(tp {m['tp']}, fp {m['fp']}, fn {m['fn']})")
    for t in (1.0, 2.0, 3.0, 4.0, 6.0):
        s = evaluate(rows, Terms.from_config(dataclasses.replace(topics, threshold=t)))
        print(f"  at {t:>4}: precision {s['precision']:.3f}  recall {s['recall']:.3f}")


if __name__ == "__main__":
    main()
