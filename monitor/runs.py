"""Per-run outcome counters: what a run did, per source, as the user reads it at the end."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class SourceReport:
    source: str
    status: str = "running"  # ok | partial | failed | deferred
    discovered: int = 0
    fetched: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    not_modified: int = 0
    held: int = 0  # poison items quarantined for a human
    unreadable: int = 0  # entries of the source's own answers it could not read and left out
    unreadable_entries: list[str] = field(default_factory=list)  # why, for the first UNREADABLE_SHOWN
    error: str | None = None
    error_code: str | None = None
    failures: list[dict[str, Any]] = field(default_factory=list)  # item, stage, code, message

    COUNTS = ("discovered", "fetched", "new", "changed", "unchanged", "skipped", "failed", "not_modified")
    UNREADABLE_SHOWN = 20

    def left_out(self, reasons: list[str]) -> None:
        """Count the entries a source left out because it could not read them (a /api/rss item
        without a title or link); they do not fail the source, but the report shows them."""
        self.unreadable = len(reasons)
        self.unreadable_entries = reasons[:self.UNREADABLE_SHOWN]

    @property
    def ok(self) -> bool:
        """It ran to the end and every item it found was stored (or had not changed)."""
        return self.status == "ok" and not self.failed

    def counts(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.COUNTS}

    def asdict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


@dataclass
class RunReport:
    """A run's outcome. ``ok`` (exit status 0) only when every source it ran succeeded: a failed,
    deferred or partial source, or an alert stage that failed, makes it false. A saved search
    that cannot run is reported (``alerts["invalid"]``) but does not fail the run: it is the
    user's to fix, and the other saved searches went ahead."""

    sources: list[SourceReport] = field(default_factory=list)
    alerts: dict[str, Any] = field(default_factory=dict)
    alerts_error: dict[str, str] | None = None  # code and message when the alert stage failed

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.sources) and self.alerts_error is None

    def total(self, key: str) -> int:
        return sum(getattr(s, key) for s in self.sources)

    def problems(self) -> list[tuple[str, str, str]]:
        """(who, code, reason in full) for everything that makes the run not ok."""
        found = [(s.source, s.error_code or s.status, s.error or f"{s.failed} items failed")
                 for s in self.sources if not s.ok]
        if self.alerts_error is not None:
            found.append(("alerts", self.alerts_error["code"], self.alerts_error["message"]))
        return found

    def asdict(self) -> dict[str, Any]:
        return {"ok": self.ok, "sources": [s.asdict() for s in self.sources], "alerts": self.alerts,
                "alerts_error": self.alerts_error, "totals": {k: self.total(k) for k in SourceReport.COUNTS}}
