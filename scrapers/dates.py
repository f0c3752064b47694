"""Dates as sources write them -> timezone-aware datetimes and ISO 8601 strings.

Every news source writes its dates its own way, and feedparser's ``*_parsed`` fields cannot be
trusted with them: it reads ``31-03-2026`` as 2031-03-20 and a zone-less time as UTC
(RELIABILITY T4). So each raw string is parsed here, explicitly:

* RFC 822 (``Wed, 23 Sep 2026 05:00:47 GMT``) with ``email.utils``;
* ISO 8601 (``2026-09-23T14:47:46.215Z``, ``2026-09-23``) with ``datetime.fromisoformat``;
* Dutch day-first dates (``31-03-2026``, ``17-03-2018 | 18:30``, ``23 september 2026``).

A time without a zone is Amsterdam wall-clock time: the sources are Dutch. A wall-clock time that
does not exist (the spring-forward hour) is shifted forward; an ambiguous one (the autumn hour
that happens twice) is taken as its first occurrence (``fold=0``).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")

DUTCH_MONTHS = {
    "januari": 1, "jan": 1, "februari": 2, "feb": 2, "maart": 3, "mrt": 3, "april": 4, "apr": 4,
    "mei": 5, "juni": 6, "jun": 6, "juli": 7, "jul": 7, "augustus": 8, "aug": 8,
    "september": 9, "sep": 9, "sept": 9, "oktober": 10, "okt": 10, "november": 11, "nov": 11,
    "december": 12, "dec": 12,
}

# 31-03-2026, 31/03/2026, 31.03.2026, optionally followed by a time ("17-03-2018 | 18:30").
_DAY_FIRST = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})(?:\D+?(\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
# 23 september 2026, 23 sep. 2026 14:05
_DAY_MONTH_NAME = re.compile(r"^(\d{1,2})\s+([a-z]+)\.?\s+(\d{4})(?:\D+?(\d{1,2})[:.](\d{2}))?$")


def parse_date(raw: str | None) -> datetime | None:
    """A timezone-aware datetime for a date string as a source wrote it, or None if unreadable."""
    text = (raw or "").strip()
    if not text:
        return None
    parsed = _iso(text) or _rfc822(text) or _day_first(text.lower())
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        # Round-tripping through UTC normalises a non-existent wall-clock time (fold=0 reads it
        # with the offset before the jump, which lands one hour later in real time).
        parsed = parsed.replace(tzinfo=AMSTERDAM, fold=0).astimezone(timezone.utc).astimezone(AMSTERDAM)
    return parsed


def to_iso(raw: str | None) -> str | None:
    """ISO 8601 with the source's own offset (Amsterdam's where it gave none), or None."""
    parsed = parse_date(raw)
    return parsed.isoformat(timespec="seconds") if parsed else None


def _iso(text: str) -> datetime | None:
    if not re.match(r"^\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        return datetime.fromisoformat(text.replace(" ", "T", 1) if len(text) > 10 else text)
    except ValueError:
        return None


def _rfc822(text: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    # email.utils reads an unknown zone name (CET, CEST) or "-0000" as "no zone": that is
    # exactly the naive datetime the caller then places in Amsterdam.
    return parsed


def _day_first(text: str) -> datetime | None:
    numeric = _DAY_FIRST.match(text)
    if numeric:
        day, month, year, hour, minute, second = numeric.groups()
        return _build(int(year), int(month), int(day), hour, minute, second)
    named = _DAY_MONTH_NAME.match(text)
    if named and named.group(2) in DUTCH_MONTHS:
        day, month_name, year, hour, minute = named.groups()
        return _build(int(year), DUTCH_MONTHS[month_name], int(day), hour, minute, None)
    return None


def _build(year: int, month: int, day: int, hour: str | None, minute: str | None,
           second: str | None) -> datetime | None:
    try:
        return datetime(year, month, day, int(hour or 0), int(minute or 0), int(second or 0))
    except ValueError:
        return None
