"""What a person types on the command line, read strictly: dates and periods.

A value that cannot be read is a QueryError that says what is accepted, never a filter that
silently matches nothing (``--since yesterday`` compared as a string matched no document).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from monitor.errors import QueryError

DATE_HELP = "YYYY-MM-DD, or days or weeks back: 7d, 2w"
_RELATIVE = re.compile(r"(\d{1,5})([dw])")
_PERIOD = re.compile(r"(\d+(?:\.\d+)?)(s|m|h|d)")
MIN_PERIOD = 60.0  # seconds: a shorter period between runs is a typo, not a schedule


def day(text: str, *, today: date | None = None) -> str:
    """A day as ``YYYY-MM-DD``: a calendar date, or so many days (``7d``) or weeks (``2w``) ago."""
    value = text.strip()
    relative = _RELATIVE.fullmatch(value)
    if relative:
        n, unit = int(relative.group(1)), relative.group(2)
        return ((today or date.today()) - timedelta(days=n * (7 if unit == "w" else 1))).isoformat()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError as exc:
            raise QueryError(f"{text!r} is not a date: {exc}") from None
    raise QueryError(f"{text!r} is not a date: use {DATE_HELP}")


def period(text: str) -> float:
    """Seconds in ``90s``, ``30m``, ``2h``, ``1d``: the unit is required, the least is a minute."""
    m = _PERIOD.fullmatch(text.strip())
    if m is None:
        hint = " (a number needs a unit: s, m, h or d)" if re.fullmatch(r"\d+(\.\d+)?", text.strip()) else ""
        raise QueryError(f"{text!r} is not a period{hint}: use e.g. 30m, 2h or 1d")
    seconds = float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    if seconds < MIN_PERIOD:
        raise QueryError(f"{text!r} is less than a minute between runs: use at least 1m")
    return seconds
