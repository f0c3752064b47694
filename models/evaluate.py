"""Score the pipeline against a gold JSONL file the way the gold set's README describes.

A predicted item matches a gold item when their character spans overlap; pairs are taken one
to one, largest overlap first. Detection gives precision, recall and F1; the matched pairs give
the field accuracies (value and value_max within 0.5%, unit, qualifier, subject where the gold
has one; for organisations the canonical name, case-insensitive, with the two names of the
Economische Zaken lineage counted as one).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from rich.console import Group
from rich.table import Table

from . import PIPELINE_VERSION
from .pipeline import extract_many
from .records import Extraction

VALUE_TOLERANCE = 0.005
# One lineage, two names chosen by the document date (GUIDELINES.md, settled cases).
_SAME_CANONICAL = {"ministerie van economische zaken en klimaat": "ministerie van economische zaken"}
FIGURE_FIELDS = ("value", "unit", "qualifier", "subject")


@dataclass
class Tally:
    """Counts for one kind of item (figures or organisations) over a set of documents."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    right: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    asked: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, other: "Tally") -> None:
        self.tp, self.fp, self.fn = self.tp + other.tp, self.fp + other.fp, self.fn + other.fn
        for name, n in other.right.items():
            self.right[name] += n
        for name, n in other.asked.items():
            self.asked[name] += n

    def metrics(self) -> dict[str, Any]:
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        result: dict[str, Any] = {"tp": self.tp, "fp": self.fp, "fn": self.fn,
                                  "precision": precision, "recall": recall, "f1": f1}
        for name, asked in self.asked.items():
            result[f"{name}_acc"] = self.right[name] / asked if asked else None
            result[f"{name}_n"] = asked
        return result


def match(gold: Sequence[dict[str, Any]], predicted: Sequence[Any]) -> list[tuple[int, int]]:
    """(gold index, predicted index) pairs: overlapping spans, one to one, largest overlap first."""
    candidates = []
    for g, item in enumerate(gold):
        for p, guess in enumerate(predicted):
            overlap = min(item["end"], guess.end) - max(item["start"], guess.start)
            if overlap > 0:
                candidates.append((-overlap, g, p))
    pairs, used_gold, used_pred = [], set(), set()
    for _, g, p in sorted(candidates):
        if g not in used_gold and p not in used_pred:
            pairs.append((g, p))
            used_gold.add(g)
            used_pred.add(p)
    return sorted(pairs)


def same_value(gold: float | None, predicted: float | None) -> bool:
    if gold is None or predicted is None:
        return gold is None and predicted is None
    return abs(gold - predicted) <= VALUE_TOLERANCE * max(abs(gold), 1e-9)


def same_canonical(gold: str, predicted: str | None) -> bool:
    def key(name: str) -> str:
        name = name.strip().lower()
        return _SAME_CANONICAL.get(name, name)

    return predicted is not None and key(gold) == key(predicted)


def score_figures(gold: Sequence[dict[str, Any]], predicted: Sequence[Any]) -> Tally:
    tally = Tally()
    pairs = match(gold, predicted)
    tally.tp, tally.fp, tally.fn = len(pairs), len(predicted) - len(pairs), len(gold) - len(pairs)
    for g, p in pairs:
        item, guess = gold[g], predicted[p]
        checks = {
            "value": same_value(item["value"], guess.value) and same_value(item.get("value_max"), guess.value_max),
            "unit": item["unit"] == guess.unit,
            "qualifier": item.get("qualifier") == guess.qualifier,
        }
        if item.get("subject") and item["unit"] in ("count", "percent"):
            checks["subject"] = (guess.subject or "").strip().lower() == item["subject"].strip().lower()
        for name, ok in checks.items():
            tally.asked[name] += 1
            tally.right[name] += ok
    return tally


def score_organisations(gold: Sequence[dict[str, Any]], predicted: Sequence[Any]) -> Tally:
    tally = Tally()
    pairs = match(gold, predicted)
    tally.tp, tally.fp, tally.fn = len(pairs), len(predicted) - len(pairs), len(gold) - len(pairs)
    for g, p in pairs:
        tally.asked["canonical"] += 1
        tally.right["canonical"] += same_canonical(gold[g]["canonical"], predicted[p].canonical)
    return tally


def load_gold(path: str | Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def score(documents: Sequence[dict[str, Any]], extractions: Iterable[Extraction]) -> dict[str, Any]:
    """Metrics over gold documents and the pipeline's extractions for them (same order)."""
    totals = {"figures": Tally(), "organisations": Tally()}
    by_kind: dict[str, dict[str, Tally]] = defaultdict(lambda: {"figures": Tally(), "organisations": Tally()})
    for document, extraction in zip(documents, extractions, strict=True):
        parts = {"figures": score_figures(document.get("figures", []), extraction.figures),
                 "organisations": score_organisations(document.get("organisations", []), extraction.mentions)}
        for part, tally in parts.items():
            totals[part].add(tally)
            by_kind[document.get("kind", "unknown")][part].add(tally)
    return {
        "documents": len(documents),
        "pipeline_version": PIPELINE_VERSION,
        "figures": totals["figures"].metrics(),
        "organisations": totals["organisations"].metrics(),
        "by_kind": {kind: {part: tally.metrics() for part, tally in parts.items()}
                    for kind, parts in sorted(by_kind.items())},
    }


def run(documents: Sequence[dict[str, Any]]) -> list[Extraction]:
    """The pipeline's extractions for gold documents."""
    return list(extract_many({"text": d["text"], "published": d.get("published")} for d in documents))


def evaluate(gold_path: str | Path) -> dict[str, Any]:
    """Run the pipeline over a gold file and score it."""
    documents = load_gold(gold_path)
    return score(documents, run(documents))


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def render(metrics: dict[str, Any]) -> Group:
    """Tables for `evaluate`'s metrics, narrow enough for an 80-column terminal: the totals with
    one column per part, then one row per kind of document."""
    totals = Table(title=f"Extraction vs gold ({metrics['documents']} documents, "
                         f"pipeline {metrics['pipeline_version']})")
    totals.add_column("metric")
    for part in ("figures", "organisations"):
        totals.add_column(part, justify="right")
    figures, organisations = metrics["figures"], metrics["organisations"]
    for label, key in (("precision", "precision"), ("recall", "recall"), ("F1", "f1")):
        totals.add_row(label, _fmt(figures[key]), _fmt(organisations[key]))
    totals.add_row("tp / fp / fn", *(f"{m['tp']} / {m['fp']} / {m['fn']}" for m in (figures, organisations)))
    for name in (*FIGURE_FIELDS, "canonical"):
        totals.add_row(f"{name} accuracy", _fmt(figures.get(f"{name}_acc")), _fmt(organisations.get(f"{name}_acc")))
    kinds = Table(title="By kind of document")
    for column in ("kind", "figures F1", "value", "subject", "orgs F1", "canonical"):
        kinds.add_column(column, justify="left" if column == "kind" else "right")
    for kind, parts in metrics["by_kind"].items():
        f, o = parts["figures"], parts["organisations"]
        kinds.add_row(kind, _fmt(f["f1"]), _fmt(f.get("value_acc")), _fmt(f.get("subject_acc")), _fmt(o["f1"]),
                      _fmt(o.get("canonical_acc")))
    return Group(totals, kinds)
