"""Source dates -> ISO 8601 (RELIABILITY T4): exactly the strings feedparser gets wrong."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scrapers.dates import AMSTERDAM, DateError, parse_date, read_date, to_iso


@pytest.mark.parametrize(("raw", "iso"), [
    ("Wed, 23 Sep 2026 05:00:47 GMT", "2026-09-23T05:00:47+00:00"),  # the MKB-Nederland feed
    ("2026-09-23T14:47:46.215Z", "2026-09-23T14:47:46+00:00"),  # the rijksoverheid news sitemap
    ("Wed, 23 Sep 2026 05:00:47 +0200", "2026-09-23T05:00:47+02:00"),
    ("31-03-2026", "2026-03-31T00:00:00+02:00"),  # feedparser: 2031-03-20
    ("31/03/2026 14:05", "2026-03-31T14:05:00+02:00"),
    ("17-03-2018 | 18:30", "2018-03-17T18:30:00+01:00"),  # rijksoverheid.nl listing, winter time
    ("Wed, 23 Sep 2026 05:00:47", "2026-09-23T05:00:47+02:00"),  # RFC 822 without zone: Amsterdam
    ("2026-09-23T05:00:47", "2026-09-23T05:00:47+02:00"),  # feedparser: UTC
    ("2026-09-23", "2026-09-23T00:00:00+02:00"),
    ("23 september 2026", "2026-09-23T00:00:00+02:00"),
    ("2026-03-29 02:30", "2026-03-29T03:30:00+02:00"),  # does not exist: shifted forward
    ("2026-10-25T02:30", "2026-10-25T02:30:00+02:00"),  # happens twice: the first one
    # RFC 822 / 5322 zones (issue 14)
    ("Wed, 23 Sep 2026 05:00:47 +00:00", "2026-09-23T05:00:47+00:00"),  # an offset with a colon
    ("Wed, 23 Sep 2026 05:00:47 +05:30", "2026-09-23T05:00:47+05:30"),
    ("Wed, 23 Sep 2026 05:00:47 -0000", "2026-09-23T05:00:47+00:00"),  # RFC 5322 3.3: UT, zone unknown
    ("Wed, 23 Sep 2026 05:00:47 UT", "2026-09-23T05:00:47+00:00"),
    ("Wed, 23 Sep 2026 05:00:47 Etc/GMT", "2026-09-23T05:00:47+00:00"),
    ("Wed, 23 Sep 2026 05:00:47 MET", "2026-09-23T05:00:47+01:00"),
    ("Wed, 23 Sep 2026 05:00:47 CEST", "2026-09-23T05:00:47+02:00"),
    ("Wed, 23 Sep 2026 05:00:47 EST", "2026-09-23T05:00:47-05:00"),
    ("Wed, 23 Sep 2026 05:00:47 EDT", "2026-09-23T05:00:47-04:00"),
    ("Wed, 23 Sep 2026 05:00:47 CST", "2026-09-23T05:00:47-06:00"),
    ("Wed, 23 Sep 2026 05:00:47 CDT", "2026-09-23T05:00:47-05:00"),
    ("Wed, 23 Sep 2026 05:00:47 MST", "2026-09-23T05:00:47-07:00"),
    ("Wed, 23 Sep 2026 05:00:47 MDT", "2026-09-23T05:00:47-06:00"),
    ("Wed, 23 Sep 2026 05:00:47 PST", "2026-09-23T05:00:47-08:00"),
    ("Wed, 23 Sep 2026 05:00:47 PDT", "2026-09-23T05:00:47-07:00"),
    ("Wed, 23 Sep 2026 05:00:47 Z", "2026-09-23T05:00:47+00:00"),  # military zones, RFC 822 signs
    ("Wed, 23 Sep 2026 05:00:47 A", "2026-09-23T05:00:47-01:00"),
    ("Wed, 23 Sep 2026 05:00:47 M", "2026-09-23T05:00:47-12:00"),
    ("Wed, 23 Sep 2026 05:00:47 N", "2026-09-23T05:00:47+01:00"),
    ("Wed, 23 Sep 2026 05:00:47 Y", "2026-09-23T05:00:47+12:00"),
    ("Wed, 23 Sep 2026 05:00:47 +0200 (CEST)", "2026-09-23T05:00:47+02:00"),
    ("Wed, 23 Sep 26 05:00 GMT", "2026-09-23T05:00:00+00:00"),  # two-digit year, no seconds
    ("Mon, 13 Feb 2012", "2012-02-13T00:00:00+01:00"),  # a date without time
    ("Mon, 13 Feb, 2012", "2012-02-13T00:00:00+01:00"),
    ("13 Feb 2012 10:00 GMT", "2012-02-13T10:00:00+00:00"),  # no day name
    # W3C-DTF partial dates
    ("2003", "2003-01-01T00:00:00+01:00"),
    ("2003-12", "2003-12-01T00:00:00+01:00"),
    ("1997-07-16T19:20+01:00", "1997-07-16T19:20:00+01:00"),
    # Dutch, written out
    ("maandag 23 september 2026", "2026-09-23T00:00:00+02:00"),
    ("ma 23 sep 2026", "2026-09-23T00:00:00+02:00"),
    ("ma. 23 sep. 2026", "2026-09-23T00:00:00+02:00"),
    ("23 sept. 2026", "2026-09-23T00:00:00+02:00"),
    ("1 mrt 2025", "2025-03-01T00:00:00+01:00"),
    ("1 mei 2025", "2025-05-01T00:00:00+02:00"),
    ("vr 13 feb 2026", "2026-02-13T00:00:00+01:00"),
    ("donderdag 1 januari 2026", "2026-01-01T00:00:00+01:00"),
    ("23 okt. 2025 14:05", "2025-10-23T14:05:00+02:00"),
    ("maandag 23 september 2026 om 14.05 uur", "2026-09-23T14:05:00+02:00"),
])
def test_source_dates(raw: str, iso: str) -> None:
    assert to_iso(raw) == iso


@pytest.mark.parametrize("raw", ["", "   ", None, "gisteren", "31-02-2026", "2026-13-01", "99 foo 2026",
                                 "12 2026 05", "september 2026", "Mon, 13 Foo 2012", "x" * 500])
def test_unreadable_dates_are_none(raw: str | None) -> None:
    assert parse_date(raw) is None


@pytest.mark.parametrize("raw", ["0001-01-01T00:00:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-14:00",
                                 "9999-12-31", "Fri, 31 Dec 9999 23:59:59 -1400", "01-01-0001"])
def test_dates_out_of_range_are_refused_never_an_overflow(raw: str) -> None:
    # Issue 19: converting these between UTC and Amsterdam time raised OverflowError.
    assert parse_date(raw) is None and to_iso(raw) is None
    with pytest.raises(DateError, match="out of range|not a date"):
        read_date(raw)


@given(st.text(max_size=60))
def test_no_string_makes_the_parser_raise(raw: str) -> None:
    parsed = parse_date(raw)
    assert parsed is None or parsed.tzinfo is not None


@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2040, 1, 1)))
def test_zone_less_times_are_amsterdam_and_never_move_backwards(naive: datetime) -> None:
    parsed = parse_date(naive.replace(microsecond=0).isoformat())
    assert parsed is not None and parsed.tzinfo is AMSTERDAM
    # Equal to the wall-clock time, or (in the spring gap) up to one hour later, never earlier.
    shift = parsed.replace(tzinfo=None) - naive.replace(microsecond=0)
    assert timedelta(0) <= shift <= timedelta(hours=1)


@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2040, 1, 1),
                    timezones=st.just(timezone.utc)))
def test_instants_with_a_zone_are_kept(instant: datetime) -> None:
    instant = instant.replace(microsecond=0)
    assert parse_date(instant.isoformat()) == instant
