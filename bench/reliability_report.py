"""Run the fault-injection suite and print the figures of RELIABILITY §5.

    python bench/reliability_report.py                 # the CI-sized suite (40 random kills)
    MKB_RANDOM_KILLS=200 python bench/reliability_report.py --json out.json

The suite (tests/test_crash.py, test_concurrency.py, test_storage_faults.py, test_fault_runs.py,
test_corpus.py) writes its figures to $MKB_RELIABILITY_REPORT as it goes (tests/reliability.py);
this script points that at a file, runs pytest, and prints the table. Exit status is pytest's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from common import REPO, print_environment

SUITE = ["tests/test_crash.py", "tests/test_concurrency.py", "tests/test_storage_faults.py",
         "tests/test_fault_runs.py", "tests/test_corpus.py"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="Also write the figures to this file.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "reliability.json"
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "pytest", *SUITE, "-q", "-p", "no:cacheprovider"],
                                cwd=REPO, env={**os.environ, "MKB_RELIABILITY_REPORT": str(report)})
        seconds = time.monotonic() - started
        if not report.exists():
            print("the suite wrote no figures", file=sys.stderr)
            return result.returncode or 1
        figures = json.loads(report.read_text("utf-8"))
    figures["suite_seconds"] = round(seconds, 1)
    figures["pytest_exit"] = result.returncode
    print_environment()
    show(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n", "utf-8")
    return result.returncode


def show(f: dict) -> None:
    console = Console()
    headline = Table(title="correctness headline", title_justify="left")
    headline.add_column("figure")
    headline.add_column("value", justify="right")
    for key in ("alerts_expected", "alerts_delivered", "alerts_lost", "alerts_duplicated",
                "alerts_ambiguous_redelivery", "faults_injected", "faults_survived", "bad_inputs_tried",
                "bad_inputs_handled", "crashes_outside_error_vocabulary", "crash_points_covered",
                "crash_points_total", "random_kills", "kills_with_corruption", "random_kill_oracle_failures"):
        headline.add_row(key, str(f[key]))
    for key, value in f["security_probes"].items():
        headline.add_row(f"security: {key}", str(value))
    headline.add_row("suite seconds", str(f["suite_seconds"]))
    console.print(headline)

    classes = Table(title="faults per class", title_justify="left")
    for column in ("class", "injected", "survived", "matrix rows"):
        classes.add_column(column, justify="left" if column in ("class", "matrix rows") else "right")
    for cls, entry in f["faults"].items():
        classes.add_row(cls, str(entry["injected"]), str(entry["survived"]), " ".join(entry["rows"]))
    console.print(classes)

    points = Table(title="crash points (SIGKILL at the n-th hit, n = 1, 2, ...)", title_justify="left")
    for column in ("crash point", "kills", "survived", "inputs"):
        points.add_column(column, justify="left" if column == "crash point" else "right")
    for name, entry in f["crash_points"].items():
        points.add_row(name, str(entry["kills"]), str(entry["survived"]), str(entry["scenarios"]))
    console.print(points)


if __name__ == "__main__":
    sys.exit(main())
