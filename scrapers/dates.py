"""Dates as sources write them -> timezone-aware datetimes and ISO 8601 strings: the one date
parser of every source (feeds, sitemaps, rijksoverheid.nl, listings, article pages, the SyncFeed,
imports).

feedparser's ``*_parsed`` fields cannot be trusted with Dutch sources: they read ``31-03-2026`` as
2031-03-20 and a zone-less time as UTC (RELIABILITY T4). So each raw string is parsed here, by the
grammar it is written in, tried in this order:

* ISO 8601 and its W3C-DTF profile, partial dates included (``2003``, ``2003-12``,
  ``2026-09-23T14:47:46.215Z``), with ``datetime.fromisoformat``;
* Dutch numeric day-first dates (``31-03-2026``, ``17-03-2018 | 18:30``);
* RFC 822 / RFC 5322 dates (``Wed, 23 Sep 2026 05:00:47 GMT``) with ``email.utils``, after the
  zone is read here from ``ZONES``: offsets with or without a colon, ``-0000`` as UTC (RFC 5322
  3.3: the time is UT, only the sender's own zone is unknown), the RFC 822 names (UT, GMT, the
  US zones, the military letters with RFC 822's signs), the names Dutch and German servers write
  (CET, MET, MEZ, ...), IANA names (``Etc/GMT``); a missing time (``Mon, 13 Feb 2012``) is
  midnight and a stray comma (``Mon, 13 Feb, 2012``) is tolerated;
* dates written out in Dutch or English (``maandag 23 september 2026``, ``ma 23 sep 2026``,
  ``23 sept. 2026``, ``1 mrt 2025 om 14.05 uur``) with ``dateparser``, restricted to absolute
  dates that name a day, a month and a year.

A time without a zone is Amsterdam wall-clock time: the sources are Dutch. A wall-clock time that
does not exist (the spring-forward hour) is shifted forward; an ambiguous one (the autumn hour
that happens twice) is taken as its first occurrence (``fold=0``).

No input makes this module raise anything but ``DateError`` (from ``read_date``); ``parse_date``
never raises. Years 1 and 9999 are refused: they are the zero and maximum values of .NET and Go
("no date"), and an instant there may not even be convertible between UTC and Amsterdam time
(``OverflowError``, issue 19).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from email.utils import parsedate_tz
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
MAX_LENGTH = 100  # longer strings are prose, not a date

# Zone names, in minutes east of UTC. RFC 822 section 5 (UT, GMT, the US zones; the military
# letters are added below with RFC 822's signs, as feedparser reads them too, although RFC 1123
# 5.2.14 notes those signs were meant the other way round), and the abbreviations European
# servers write. An unknown all-capitals name of 3 to 5 letters is -0000 (RFC 5322 4.3).
ZONES: dict[str, int] = {
    "UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "WET": 0,
    "EST": -300, "EDT": -240, "CST": -360, "CDT": -300, "MST": -420, "MDT": -360, "PST": -480, "PDT": -420,
    "CET": 60, "MET": 60, "MEZ": 60, "WEST": 60, "CEST": 120, "MEST": 120, "MESZ": 120, "METDST": 120,
}
ZONES.update({letter: -60 * (i + 1) for i, letter in enumerate("ABCDEFGHIKLM")})
ZONES.update({letter: 60 * (i + 1) for i, letter in enumerate("NOPQRSTUVWXY")})

# 31-03-2026, 31/03/2026, 31.03.2026, optionally followed by a time ("17-03-2018 | 18:30").
_DAY_FIRST = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})(?:\D+?(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?)?(?:\s*u(?:ur)?)?$")
# W3C-DTF partial dates: a year, or a year and a month.
_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{2}))?$")
_COMMENT = re.compile(r"\s*\([^()]*\)$")  # "... +0200 (CEST)"
_ZONE = re.compile(r"\s+(?:([+-])(\d{2}):?(\d{2})|([A-Za-z][A-Za-z0-9/_+-]*))$")
_TIME = re.compile(r"\d{1,2}:\d{2}")

# dateparser: absolute dates only (no "gisteren", no "2 weeks ago"), day, month and year all given,
# day before month where digits are ambiguous (Dutch usage).
_WRITTEN_SETTINGS = {"DATE_ORDER": "DMY", "PREFER_LOCALE_DATE_ORDER": False, "STRICT_PARSING": True,
                     "PARSERS": ["absolute-time"], "REQUIRE_PARTS": ["day", "month", "year"]}


class DateError(ValueError):
    """A string that is not a date this module can read, or a date out of range."""


def read_date(raw: Any) -> datetime:
    """A timezone-aware datetime for a date string as a source wrote it. Raises DateError, with
    the reason, for anything else."""
    text = " ".join(str(raw).split()) if raw is not None else ""
    if not text:
        raise DateError("empty date")
    if len(text) > MAX_LENGTH:
        raise DateError(f"not a date ({len(text)} characters)")
    parsed = _iso(text) or _day_first(text.lower()) or _rfc822(text) or _written(text)
    if parsed is None:
        raise DateError(f"not a date: {text!r}")
    return _placed(parsed, text)


def parse_date(raw: Any) -> datetime | None:
    """As ``read_date``, but None for what it refuses."""
    try:
        return read_date(raw)
    except DateError:
        return None


def to_iso(raw: Any) -> str | None:
    """ISO 8601 with the source's own offset (Amsterdam's where it gave none), or None."""
    parsed = parse_date(raw)
    return parsed.isoformat(timespec="seconds") if parsed else None


def _placed(parsed: datetime, text: str) -> datetime:
    """The datetime with its zone (Amsterdam if it had none), checked to be in range."""
    if not 1 < parsed.year < 9999:
        raise DateError(f"date out of range: {text!r}")
    try:
        if parsed.tzinfo is None:
            # Round-tripping through UTC normalises a non-existent wall-clock time (fold=0 reads it
            # with the offset before the jump, which lands one hour later in real time).
            return parsed.replace(tzinfo=AMSTERDAM, fold=0).astimezone(timezone.utc).astimezone(AMSTERDAM)
        parsed.astimezone(timezone.utc).astimezone(AMSTERDAM)  # representable both ways
        return parsed
    except (OverflowError, ValueError):
        raise DateError(f"date out of range: {text!r}") from None


def _iso(text: str) -> datetime | None:
    partial = _PARTIAL.match(text)
    if partial:
        return _build(int(partial.group(1)), int(partial.group(2) or 1), 1)
    if not re.match(r"^\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        return datetime.fromisoformat(text.replace(" ", "T", 1) if len(text) > 10 else text)
    except ValueError:
        return None


def _day_first(text: str) -> datetime | None:
    numeric = _DAY_FIRST.match(text)
    if not numeric:
        return None
    day, month, year, hour, minute, second = numeric.groups()
    return _build(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))


def _rfc822(text: str) -> datetime | None:
    rest = _COMMENT.sub("", text)
    zone: tzinfo | None = None
    found = _ZONE.search(rest)
    if found:
        zone = _zone(*found.groups())
        if zone is not None:
            rest = rest[:found.start()]
    rest = rest.replace(",", " ")
    if not _TIME.search(rest):
        rest += " 00:00"
    fields = parsedate_tz(rest)
    if fields is None:
        return None
    built = _build(*fields[:6])
    return built.replace(tzinfo=zone) if built is not None and zone is not None else built


def _zone(sign: str | None, hours: str | None, minutes: str | None, name: str | None) -> tzinfo | None:
    """The zone an RFC 822 date ends in, or None when the last word is no zone."""
    if sign:
        offset = timedelta(hours=int(hours or 0), minutes=int(minutes or 0))
        return timezone(-offset if sign == "-" else offset) if offset < timedelta(hours=24) else None
    assert name is not None
    if name.upper() in ZONES and (name.isupper() or len(name) > 1):
        return timezone(timedelta(minutes=ZONES[name.upper()]))
    if "/" in name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            return None
    if name.isupper() and name.isalpha() and 3 <= len(name) <= 5:
        return timezone.utc  # RFC 5322 4.3: an unknown zone name is "-0000"
    return None


def _written(text: str) -> datetime | None:
    if not re.search(r"[^\W\d_]{2}", text):
        return None  # digits only are numeric dates, handled above; no guessing at "12 2026 05"
    try:
        found = _written_parser().get_date_data(text).date_obj
    except Exception:  # noqa: BLE001 - dateparser raises assorted errors on odd input; that is "no date"
        return None
    return found


@lru_cache(maxsize=1)
def _written_parser() -> Any:
    from dateparser.date import DateDataParser  # loads its language data: only when needed

    return DateDataParser(languages=["nl", "en"], settings=_WRITTEN_SETTINGS)


def _build(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime | None:
    try:
        return datetime(year, month, day, hour, minute, second)
    except (ValueError, OverflowError):
        return None
