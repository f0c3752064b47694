"""Source dates -> ISO 8601 (RELIABILITY T4): exactly the strings feedparser gets wrong."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scrapers.dates import AMSTERDAM, parse_date, to_iso


@pytest.mark.parametrize(("raw", "iso"), [
    ("Wed, 23 Sep 2026 05:00:47 GMT", "2026-09-23T05:00:47+00:00"),  # the MKB-Nederland feed
    ("2026-09-23T14:47:46.215Z", "2026-09-23T14:47:46+00:00"),  # the rijksoverheid news sitemap
    ("Wed, 23 Sep 2026 05:00:47 +0200", "2026-09-23T05:00:47+02:00"),
    ("31-03-2026", "2026-03-31T00:00:00+02:00"),  # feedparser: 2031-03-20
    ("31/03/2026 14:05", "2026-03-31T14:05:00+02:00"),
    ("17-03-2018 | 18:30", "2018-03-17T18:30:00+01:00"),  # rijksoverheid.nl listing, winter time
    ("Wed, 23 Sep 2026 05:00:47", "2026-09-23T05:00:47+02:00"),  # RFC 822 without zone: Amsterdam
    ("Wed, 23 Sep 2026 05:00:47 -0000", "2026-09-23T05:00:47+02:00"),  # "-0000": zone unknown
    ("2026-09-23T05:00:47", "2026-09-23T05:00:47+02:00"),  # feedparser: UTC
    ("2026-09-23", "2026-09-23T00:00:00+02:00"),
    ("23 september 2026", "2026-09-23T00:00:00+02:00"),
    ("2026-03-29 02:30", "2026-03-29T03:30:00+02:00"),  # does not exist: shifted forward
    ("2026-10-25T02:30", "2026-10-25T02:30:00+02:00"),  # happens twice: the first one
])
def test_source_dates(raw: str, iso: str) -> None:
    assert to_iso(raw) == iso


@pytest.mark.parametrize("raw", ["", "   ", None, "gisteren", "31-02-2026", "2026-13-01", "99 foo 2026"])
def test_unreadable_dates_are_none(raw: str | None) -> None:
    assert parse_date(raw) is None


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
