"""rijksoverheid.nl: the /api/rss search (answer built from the schema; no real one exists),
window splitting at the 20-item cap, a changed answer, and the news sitemap fallback."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest

from monitor.config import load
from monitor.errors import HTTPStatus, SourceChanged
from scrapers.base import Batch
from scrapers.dates import parse_date
from scrapers.rijksoverheid import RijksoverheidSource, build_query
from tests.fakes import MockFetcher, Reply

FIXTURES = Path(__file__).parent / "fixtures"
API = "https://www.rijksoverheid.nl/api/rss"
SITEMAP_URL = "https://www.rijksoverheid.nl/news/sitemap.xml"
ANSWER = FIXTURES / "rijksoverheid" / "api_rss_ondernemen_from_schema.xml"
SITEMAP = FIXTURES / "rijksoverheid" / "rijksoverheid_news_sitemap_excerpt.xml"
PAGE = FIXTURES / "articles" / "ro_standin_no-canonical_constructed.html"
BORSSELE = "https://www.rijksoverheid.nl/actueel/nieuws/2026/09/23/nederlandse-staat-neemt-aandelen-kerncentrale-borssele-over"
PAKKETJES = "https://www.rijksoverheid.nl/actueel/nieuws/2026/09/22/europese-toeslag-van-euro-2-voor-pakketjes-van-buiten-de-eu"




def window(request: httpx.Request) -> tuple[datetime, datetime, list[str]]:
    query = json.loads(request.url.params["query"])
    period = query["filters"][2]["values"][0]
    return parse_date(period["from"]), parse_date(period["to"]), query["filters"][1]["values"]


def test_default_query_is_the_documented_shape(make_source) -> None:
    source = make_source("rijksoverheid")
    start = datetime(2026, 10, 31, 23, tzinfo=timezone.utc)
    query = json.loads(build_query(source.options.query_template, ["Ondernemen en innovatie"], start,
                                   datetime(2026, 11, 27, 23, tzinfo=timezone.utc)))
    # SOURCES-API.md §3.2, as the site sends it: full instants with milliseconds.
    assert query["filters"] == [
        {"field": "content_type", "values": ["pro:newsDocument"], "type": "all"},
        {"field": "topic", "values": ["Ondernemen en innovatie"], "type": "all"},
        {"field": "sort_date", "type": "all", "values": [
            {"name": "specificPeriod", "from": "2026-10-31T23:00:00.000Z", "to": "2026-11-27T22:59:59.999Z"}]}]


def test_api_answer_replayed_with_article_pages(make_source, run_source) -> None:
    source = make_source("rijksoverheid")
    page = Reply.file(PAGE, content_type="text/html; charset=utf-8")
    fetcher = MockFetcher({API: Reply.file(ANSWER, content_type="application/rss+xml"),
                           BORSSELE: page, PAKKETJES: page})
    [batch] = run_source(source, fetcher)
    assert batch.complete and json.loads(batch.cursor)["api"]
    assert [i.key for i in batch.items] == [PAKKETJES, BORSSELE]
    docs = [source.parse(i, source.fetch(fetcher, i)) for i in batch.items]
    assert docs[1].title == "Nederlandse Staat neemt aandelen kerncentrale Borssele over"
    assert docs[1].published == "2026-09-23T14:47:46+00:00" and docs[1].kind == "government"
    assert docs[0].title == "Europese toeslag van € 2 voor pakketjes van buiten de EU"
    assert all(d.text_quality == "full" and d.aliases == [d.url] for d in docs)
    [request] = [r for r in fetcher.requests if r.url.path == "/api/rss"]
    start, end, topics = window(request)
    assert topics == ["Ondernemen en innovatie"] and timedelta(days=13) < end - start < timedelta(days=15)


class CappedApi(MockFetcher):
    """Answers /api/rss like the documented endpoint: the items in the asked window, at most 20."""

    def __init__(self, published: list[datetime], **routes: Reply) -> None:
        super().__init__(routes)
        self.published = published
        self.template = ANSWER.read_text("utf-8")

    def _route(self, url: httpx.URL) -> Reply:
        if url.path != "/api/rss":
            return super()._route(url)
        start, end, _ = window(httpx.Request("GET", url))
        inside = [(n, p) for n, p in enumerate(self.published) if start <= p <= end][:20]
        items = "".join(
            f"<item><title>Bericht {n}</title><link>https://www.rijksoverheid.nl/actueel/nieuws/{n}</link>"
            f"<pubDate>{format_datetime(p, usegmt=True)}</pubDate></item>" for n, p in inside)
        head = self.template.partition("<item>")[0]
        return Reply((head + items + "</channel></rss>").encode())


def test_full_answers_split_the_window_until_nothing_is_lost(make_source, run_source) -> None:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    published = [now - timedelta(hours=3, minutes=n) for n in range(45)]  # 45 items within one hour
    fetcher = CappedApi(published)
    batches = run_source(make_source("rijksoverheid"), fetcher)
    keys = [i.key for b in batches for i in b.items]
    assert len(set(keys)) == 45
    assert all(b.complete and b.cursor for b in batches)
    assert all(len(b.items) < 20 for b in batches)
    cursors = [json.loads(b.cursor)["api"] for b in batches]
    assert cursors == sorted(cursors)
    # The next run starts overlap_hours before the cursor: the same items again, no more.
    again = run_source(make_source("rijksoverheid", overlap_hours=4), CappedApi(published), batches[-1].cursor)
    assert {i.key for b in again for i in b.items} == set(keys)
    # An empty answer (nothing since the cursor) is no batch and moves nothing (I6).
    assert run_source(make_source("rijksoverheid", overlap_hours=0), CappedApi(published), batches[-1].cursor) == []


def test_a_window_that_stays_full_is_incomplete_and_freezes_the_cursor(make_source, run_source) -> None:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    burst = [now - timedelta(days=2)] * 25  # 25 items with one timestamp: no split can help
    batches = run_source(make_source("rijksoverheid"), CappedApi(burst + [now - timedelta(hours=1)]))
    incomplete = [b for b in batches if not b.complete]
    assert incomplete and all(b.cursor is None for b in batches[batches.index(incomplete[0]):])


@pytest.mark.parametrize("body", [
    b"<!DOCTYPE html><html><body>Pagina niet gevonden</body></html>",
    b'{"results": []}',
    b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"/>',
    b'<?xml version="1.0"?><rss version="2.0"><channel><item><title>t</title><link>l</link></item></channel></rss>',
    b'<?xml version="1.0"?><rss version="2.0"><channel><item><title>t</title><link>l</link>'
    b"<pubDate>gisteren</pubDate></item></channel></rss>",
])
def test_changed_answer_is_source_changed_after_the_sitemap_fallback(make_source, body: bytes, run_source) -> None:
    page = Reply.file(PAGE, content_type="text/html; charset=utf-8")
    routes = {API: Reply(body), SITEMAP_URL: Reply.file(SITEMAP), BORSSELE: page, PAKKETJES: page}
    batches: list[Batch] = []
    with pytest.raises(SourceChanged):
        for batch in make_source("rijksoverheid", first_run_days=100_000).discover(MockFetcher(routes), None):
            batches.append(batch)
    # The news still arrives, from the sitemap, and its cursor is kept apart from the API's.
    [batch] = batches
    assert [i.key for i in batch.items] == [PAKKETJES, BORSSELE]
    state = json.loads(batch.cursor)
    assert state["api"] is None and json.loads(state["sitemap"])["loc"] == BORSSELE
    with pytest.raises(SourceChanged):
        run_source(make_source("rijksoverheid", sitemap_fallback=False), MockFetcher(routes))


def test_api_and_sitemap_both_failing_raise_the_api_error(make_source, run_source) -> None:
    routes = {API: Reply(b"", status=500), SITEMAP_URL: Reply(b"", status=503)}
    with pytest.raises(HTTPStatus) as caught:
        run_source(make_source("rijksoverheid"), MockFetcher(routes))
    assert caught.value.status == 500 and caught.value.__cause__.status == 503


def test_a_bad_item_is_skipped_and_counted_not_the_whole_answer(make_source, run_source) -> None:
    good = ANSWER.read_bytes()
    bad = (b"<item><title>Zonder link</title><pubDate>Wed, 23 Sep 2026 10:00:00 +0200</pubDate></item>"
           b"<item><title>Datum onleesbaar</title><link>https://www.rijksoverheid.nl/x</link>"
           b"<pubDate>binnenkort</pubDate></item></channel>")
    body = good.replace(b"</channel>", bad)
    source = make_source("rijksoverheid", fetch_articles=False, first_run_days=100_000, sitemap_fallback=False)
    batches = run_source(source, MockFetcher({API: Reply(body)}))
    assert sorted(i.key for b in batches for i in b.items) == sorted([PAKKETJES, BORSSELE])
    assert all(b.cursor is not None for b in batches)  # the answer was read: the cursor moves
    assert len(source.skipped) == 2 and "without link" in source.skipped[0]


def test_the_items_it_left_out_are_counted_in_the_run_report(tmp_path, monkeypatch) -> None:
    """The skipped items were only logged: the run report (its JSON and the summary table at 80
    columns) shows how many each source left out, and why."""
    import io

    from rich.console import Console

    from monitor import cli as cli_module, pipeline
    from monitor.store import Store

    body = ANSWER.read_bytes().replace(b"</channel>", b"<item><title>Zonder link</title>"
                                       b"<pubDate>Wed, 23 Sep 2026 10:00:00 +0200</pubDate></item></channel>")
    config = load(db=tmp_path / "monitor.db", overrides={"sources": {"rijksoverheid": {
        "first_run_days": 100_000, "sitemap_fallback": False}}})
    page = Reply.file(PAGE, content_type="text/html; charset=utf-8")
    fetcher = MockFetcher({API: Reply(body), BORSSELE: page, PAKKETJES: page})
    with Store.open(config) as store:
        report = pipeline.Pipeline(config, store, fetcher_for=lambda sc: fetcher).run(["rijksoverheid"])
    [source] = report.asdict()["sources"]
    assert source["status"] == "ok" and source["new"] == 2 and source["unreadable"] == 1, source
    assert "without link" in source["unreadable_entries"][0] and report.ok  # counted, not a failure

    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(cli_module, "console", Console(file=out, width=80))
    monkeypatch.setattr(cli_module, "err", Console(file=err, width=80, soft_wrap=True))
    cli_module.print_run_report(report)
    lines = out.getvalue().splitlines()
    header = next(line for line in lines if line.strip().startswith("source"))
    assert header.split()[-1] == "unreadable" and all(len(line) <= 80 for line in lines)
    row = next(line for line in lines if line.strip().startswith("rijksoverheid"))
    assert row.split()[-1] == "1" and "rijksoverheid left out an item without link" in err.getvalue()
