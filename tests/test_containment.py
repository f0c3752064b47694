"""Every per-item and per-source failure is contained (issue 19, item 1).

Why: a feed entry dated `0001-01-01T00:00:00` (or an import line dated `9999-12-31T23:59:59-14:00`)
raised OverflowError converting to UTC; the pipeline caught only MonitorError and OSError, so the
run died with a traceback, every later source showed "never run", runs stayed `running` and
alerts were never evaluated, on every later run.

Hypothesis feeds every source kind its real fixture with random dates written over the dates in
it, and random bytes, through the real pipeline and store; and `import` random dates and bytes.
Whatever happens, the run returns a report, every run row is closed, the next source runs, and
every failure has a code.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from monitor import config as config_module
from monitor.config import SourceConfig
from monitor.pipeline import Pipeline, build_source
from monitor.store import Store
from scrapers.base import Response

FIXTURES = Path(__file__).parent / "fixtures"
# kind -> (fixture, content type, options beyond the kind's defaults)
KINDS = {
    "feed": (FIXTURES / "feeds" / "mkb-nederland_rss_nieuws_excerpt.xml", "application/rss+xml",
             {"url": "https://www.mkb.nl/rss/nieuws-mkb-nederland"}),
    "koop": (FIXTURES / "koop" / "sru_searchRetrieve_kst-32545-143_ah-tk-20202021-3235_from_metadata.xml",
             "application/xml", {}),
    "tk_syncfeed": (FIXTURES / "tweedekamer" / "syncfeed_document_page_from_schema.xml", "application/atom+xml", {}),
    "sitemap": (FIXTURES / "rijksoverheid" / "rijksoverheid_news_sitemap_excerpt.xml", "application/xml",
                {"url": "https://www.rijksoverheid.nl/news/sitemap.xml", "first_run_days": 36500}),
    "rijksoverheid": (FIXTURES / "rijksoverheid" / "api_rss_ondernemen_from_schema.xml", "application/xml", {}),
    "html_listing": (FIXTURES / "articles" / "rijksoverheid_homepage_2018_shortened.html", "text/html; charset=utf-8",
                     {"url": "https://www.rijksoverheid.nl/", "item_selector": "section.nieuws div.brick",
                      "title_selector": "h3", "date_selector": "span.publDate"}),
}
DATES = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
                   r"|(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} \w{3} \d{4} [\d:]+ (?:[+-]\d{4}|GMT|UTC|[A-Z]{3})"
                   r"|\d{2}-\d{2}-\d{4}(?: \| \d{2}:\d{2})?")
CODE = re.compile(r"^[a-z_]+(\.[A-Za-z_]+)+$")

moments = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59),
                       timezones=st.one_of(st.none(), st.builds(timezone, st.timedeltas(
                           min_value=timedelta(hours=-14), max_value=timedelta(hours=14)).map(
                           lambda d: timedelta(minutes=d // timedelta(minutes=1))))))
extremes = st.sampled_from(["0001-01-01T00:00:00", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00",
                            "Mon, 01 Jan 0001 00:00:00 +0100", "Fri, 31 Dec 9999 23:59:59 -1400", "31-12-9999 | 23:59",
                            "2024-02-30", "2024-13-01T25:61:61Z", "", "NaN", "\x00"])


def render(moment: datetime, style: int) -> str:
    try:
        if style == 0:
            return moment.isoformat()
        if style == 1:
            return format_datetime(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
        return moment.strftime("%d-%m-%Y | %H:%M")
    except (ValueError, OverflowError):
        return moment.isoformat()


dates = st.one_of(extremes, st.builds(render, moments, st.integers(0, 2)), st.text(max_size=30))


class AnyURL:
    """A fetcher that answers every request with one body (the fixture, or random bytes)."""

    def __init__(self, body: bytes, content_type: str) -> None:
        self.body, self.content_type = body, content_type

    def get(self, url, *, params=None, headers=None, conditional=False, max_bytes=None) -> Response:
        return Response(url=url, status=200, headers={"content-type": self.content_type}, content=self.body)

    def now(self) -> datetime:
        return datetime(2026, 11, 27, 12, tzinfo=UTC)


def run_kinds(tmp_path: Path, bodies: dict[str, bytes]) -> None:
    db = tmp_path / "monitor.db"
    db.unlink(missing_ok=True)
    config = config_module.load(db=db)
    todo = []
    for kind, (fixture, content_type, options) in KINDS.items():
        sc = SourceConfig(name=kind, kind=kind, enabled=True, allowed_hosts=[], relevance=False, stale_after_hours=0,
                          options={**config.kinds[kind], **options})
        todo.append((sc, build_source(sc), AnyURL(bodies[kind], content_type)))
    fetchers = {sc.name: fetcher for sc, _, fetcher in todo}
    with Store.open(config) as store:
        report = Pipeline(config, store, fetcher_for=lambda sc: fetchers[sc.name]).run(
            sources=[(sc, source) for sc, source, _ in todo])
        unclosed = store._db.execute("SELECT count(*) FROM runs WHERE status = 'running'").fetchone()[0]
        ran = store._db.execute("SELECT count(*) FROM runs").fetchone()[0]
    assert unclosed == 0 and ran == len(KINDS)  # every source ran, every run row is closed
    for s in report.sources:
        assert s.status in ("ok", "partial", "failed", "deferred"), s
        assert s.status in ("ok", "partial") or CODE.match(s.error_code or ""), s
        assert all(CODE.match(f["code"]) for f in s.failures), s.failures


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_dates_in_every_source_kind_are_contained(tmp_path, data):
    bodies = {}
    for kind, (fixture, content_type, _) in KINDS.items():
        text = fixture.read_text("utf-8")
        bodies[kind] = DATES.sub(lambda m: escape(data.draw(dates, label=kind)), text).encode("utf-8", "replace")
    run_kinds(tmp_path, bodies)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(noise=st.binary(max_size=2000))
def test_random_bytes_as_every_source_kinds_answer_are_contained(tmp_path, noise):
    run_kinds(tmp_path, {kind: noise for kind in KINDS})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(published=st.lists(dates, min_size=1, max_size=5), noise=st.binary(max_size=200))
def test_import_of_random_dates_and_bytes_is_contained(tmp_path, published, noise):
    path = tmp_path / "in.jsonl"
    lines = [json.dumps({"id": f"d{i}", "title": "t", "text": "ondernemers", "published": p}).encode()
             for i, p in enumerate(published)]
    path.write_bytes(b"\n".join([*lines, noise, b'{"id": "last", "title": "t", "text": "mkb"}']) + b"\n")
    db = tmp_path / "monitor.db"
    db.unlink(missing_ok=True)
    config = config_module.load(db=db)
    sc = SourceConfig(name="import", kind="jsonl", enabled=True, allowed_hosts=[], relevance=False,
                      stale_after_hours=0, options={**config.kinds["jsonl"], "path": str(path)})
    with Store.open(config) as store:
        report = Pipeline(config, store, fetcher_for=lambda sc: None).run(sources=[(sc, build_source(sc))])
        stored = {r[0] for r in store._db.execute("SELECT id FROM documents")}
        assert store._db.execute("SELECT count(*) FROM runs WHERE status = 'running'").fetchone()[0] == 0
    source = report.sources[0]
    assert source.status in ("ok", "partial", "failed"), source
    assert all(CODE.match(f["code"]) for f in source.failures), source.failures
    if source.status != "failed":  # a bad line is that line's failure: the last, good line is stored
        assert "last" in stored


@pytest.mark.parametrize("published", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-14:00"])
def test_a_date_out_of_range_fails_its_item_and_the_rest_is_stored(tmp_path, published):
    """The issue's two dates: each is that item's failure (a code, not a traceback)."""
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"id": "bad", "title": "t", "text": "x", "published": published}) + "\n" +
                    json.dumps({"id": "good", "title": "t", "text": "y", "published": "2026-01-01"}) + "\n", "utf-8")
    config = config_module.load(db=tmp_path / "monitor.db")
    sc = SourceConfig(name="import", kind="jsonl", enabled=True, allowed_hosts=[], relevance=False,
                      stale_after_hours=0, options={**config.kinds["jsonl"], "path": str(path)})
    with Store.open(config) as store:
        report = Pipeline(config, store, fetcher_for=lambda sc: None).run(sources=[(sc, build_source(sc))])
        assert {r[0] for r in store._db.execute("SELECT id FROM documents")} == {"good"}
    [failure] = report.sources[0].failures
    assert failure["item"] == "bad" and failure["code"].startswith("parse.") and not report.ok
