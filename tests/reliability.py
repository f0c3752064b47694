"""The figures of RELIABILITY §5 that the fault suite produces, written as JSON.

Tests record what they injected and whether the system survived it; every test module of the
suite writes the cumulative figures when it finishes, to ``$MKB_RELIABILITY_REPORT`` or else to
``reliability.json`` in pytest's base temporary directory. ``bench/reliability_report.py`` runs
the suite and prints them as a table.

"Survived" means what §5 says: the oracle passed, the integrity check was ok, and the expected
error code (if any) was seen.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any


class Ledger:
    def __init__(self) -> None:
        self.faults: dict[str, dict[str, Any]] = defaultdict(lambda: {"injected": 0, "survived": 0, "rows": []})
        self.bad_inputs = {"tried": 0, "handled": 0, "crashes_outside_vocabulary": 0}
        self.crash_points: dict[str, dict[str, int]] = {}
        self.random_kills = {"kills": 0, "kills_with_corruption": 0, "oracle_failures": 0}
        self.alerts = {"alerts_expected": 0, "alerts_delivered": 0, "alerts_lost": 0, "alerts_duplicated": 0,
                       "alerts_ambiguous_redelivery": 0}
        self.security = {"xxe_canary_hits": 0, "xxe_secret_leaks": 0}

    def fault(self, row: str, survived: bool, n: int = 1) -> None:
        """``n`` faults of matrix row ``row`` (N1, P3, ...) injected; all survived or not."""
        entry = self.faults[row[0]]
        entry["injected"] += n
        entry["survived"] += n if survived else 0
        if row not in entry["rows"]:
            entry["rows"].append(row)

    def bad_input(self, handled: bool, *, outside_vocabulary: bool = False) -> None:
        self.bad_inputs["tried"] += 1
        self.bad_inputs["handled"] += handled
        self.bad_inputs["crashes_outside_vocabulary"] += outside_vocabulary

    def crash_point(self, name: str, scenario: str, kills: int, survived: int) -> None:
        entry = self.crash_points.setdefault(name, {"kills": 0, "survived": 0, "scenarios": 0})
        entry["kills"] += kills
        entry["survived"] += survived
        entry["scenarios"] += 1

    def figures(self) -> dict[str, Any]:
        from monitor.crashpoints import POINTS

        return {
            "faults": {cls: dict(v, rows=sorted(v["rows"])) for cls, v in sorted(self.faults.items())},
            "faults_injected": sum(v["injected"] for v in self.faults.values()),
            "faults_survived": sum(v["survived"] for v in self.faults.values()),
            "bad_inputs_tried": self.bad_inputs["tried"], "bad_inputs_handled": self.bad_inputs["handled"],
            "crashes_outside_error_vocabulary": self.bad_inputs["crashes_outside_vocabulary"],
            "crash_points_covered": sum(1 for v in self.crash_points.values() if v["kills"]),
            "crash_points_total": len(POINTS), "crash_points": self.crash_points,
            "random_kills": self.random_kills["kills"],
            "kills_with_corruption": self.random_kills["kills_with_corruption"],
            "random_kill_oracle_failures": self.random_kills["oracle_failures"],
            **self.alerts, "security_probes": self.security,
        }

    def write(self, default_dir: Path) -> Path:
        path = Path(os.environ.get("MKB_RELIABILITY_REPORT") or default_dir / "reliability.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.figures(), indent=2, sort_keys=True) + "\n", "utf-8")
        return path


LEDGER = Ledger()
