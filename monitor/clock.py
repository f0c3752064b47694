"""The one clock of the monitor: ``utc_now()`` is the time (an aware datetime), ``stamp()`` how
both database files write a time (UTC to the second, ISO 8601, sortable as text)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]  # what a caller passes to fix the time (tests, a replayed run)


def utc_now() -> datetime:
    return datetime.now(UTC)


def stamp(moment: datetime | None = None) -> str:
    """``moment`` (default: now) as the files store it: "2026-12-05T14:03:00Z"."""
    return (moment or utc_now()).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
