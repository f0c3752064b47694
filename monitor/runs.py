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
    error: str | None = None
    error_code: str | None = None
    failures: list[dict[str, Any]] = field(default_factory=list)  # item, stage, code, message

    COUNTS = ("discovered", "fetched", "new", "changed", "unchanged", "skipped", "failed", "not_modified")

    def counts(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.COUNTS}

    def asdict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunReport:
    sources: list[SourceReport] = field(default_factory=list)
    alerts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(s.status in ("ok", "deferred") for s in self.sources)

    def total(self, key: str) -> int:
        return sum(getattr(s, key) for s in self.sources)

    def asdict(self) -> dict[str, Any]:
        return {"ok": self.ok, "sources": [s.asdict() for s in self.sources], "alerts": self.alerts,
                "totals": {k: self.total(k) for k in SourceReport.COUNTS}}
