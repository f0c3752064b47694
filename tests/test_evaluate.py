import io
from pathlib import Path

import pytest
from rich.console import Console

from models.evaluate import evaluate, match, render, same_canonical, same_value, score
from models.records import Extraction, Figure, Mention

GOVERNMENT = Path(__file__).parent / "fixtures" / "gold_government.jsonl"


def figure(start, end, value=1.0, value_max=None, unit="count", subject=None, qualifier=None):
    return Figure(start, end, "x" * (end - start), value, value_max, unit, subject, qualifier, "")


def mention(start, end, canonical):
    return Mention(start, end, "x" * (end - start), canonical, None, None, "")


def test_pairs_are_one_to_one_largest_overlap_first():
    gold = [{"start": 0, "end": 10}, {"start": 12, "end": 20}]
    predicted = [figure(8, 14), figure(2, 9)]
    # (8, 14) overlaps gold 0 by 2 and gold 1 by 2; (2, 9) overlaps gold 0 by 7 and takes it first
    assert match(gold, predicted) == [(0, 1), (1, 0)]
    assert match(gold, [figure(10, 12)]) == []  # touching is not overlapping


def test_values_agree_within_half_a_percent():
    assert same_value(1_000_000, 1_004_000)
    assert not same_value(1_000_000, 1_006_000)
    assert same_value(None, None)
    assert not same_value(None, 3.0)
    assert same_value(0.0, 0.0)


def test_canonical_names_ignore_case_and_join_the_economische_zaken_lineage():
    assert same_canonical("Kamer van Koophandel", "kamer van koophandel")
    assert same_canonical("Ministerie van Economische Zaken en Klimaat", "Ministerie van Economische Zaken")
    assert not same_canonical("Ministerie van Economische Zaken", "Ministerie van Financiën")
    assert not same_canonical("MKB-Nederland", None)


def test_score_counts_detection_and_field_accuracy():
    document = {
        "kind": "news",
        "figures": [
            {"start": 0, "end": 5, "value": 91, "value_max": None, "unit": "percent", "subject": "ondernemers",
             "qualifier": None},
            {"start": 10, "end": 15, "value": 6e9, "value_max": 9e9, "unit": "EUR", "subject": None,
             "qualifier": "approx"},
            {"start": 30, "end": 33, "value": 3, "value_max": None, "unit": "count", "subject": "banen",
             "qualifier": None},
        ],
        "organisations": [{"start": 40, "end": 43, "canonical": "Kamer van Koophandel"}],
    }
    extraction = Extraction(
        figures=[figure(0, 3, 91, unit="percent", subject="Ondernemers"),
                 figure(11, 15, 6e9, 8e9, unit="EUR", qualifier="approx"),
                 figure(50, 52)],
        mentions=[mention(40, 43, "KAMER VAN KOOPHANDEL"), mention(60, 63, "CBS")],
    )
    metrics = score([document], [extraction])
    figures, orgs = metrics["figures"], metrics["organisations"]
    assert (figures["tp"], figures["fp"], figures["fn"]) == (2, 1, 1)
    assert figures["precision"] == pytest.approx(2 / 3) and figures["recall"] == pytest.approx(2 / 3)
    assert figures["value_acc"] == 0.5  # the range's upper end is wrong
    assert figures["unit_acc"] == 1.0 and figures["qualifier_acc"] == 1.0
    assert (figures["subject_acc"], figures["subject_n"]) == (1.0, 1)  # only where the gold has one
    assert (orgs["tp"], orgs["fp"], orgs["fn"], orgs["canonical_acc"]) == (1, 1, 0, 1.0)
    assert metrics["by_kind"]["news"]["figures"]["tp"] == 2


@pytest.mark.slow
def test_evaluate_a_gold_file_and_render_the_table():
    metrics = evaluate(GOVERNMENT)
    assert metrics["documents"] == 20
    assert set(metrics["by_kind"]) == {"kamerstuk", "government"}
    assert metrics["figures"]["tp"] + metrics["figures"]["fn"] == 107  # every gold figure is counted
    out = io.StringIO()
    Console(file=out, width=160).print(render(metrics))
    table = out.getvalue()
    assert "figures" in table and "organisations" in table and "kamerstuk" in table
    assert f"{metrics['figures']['f1']:.3f}" in table
