"""Sitemaps: the real rijksoverheid.nl news sitemap replayed with article pages, the lastmod
cursor, sitemap indexes and broken sub-sitemaps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.errors import NotAFeed, SourceChanged, UnsafeXML
from scrapers.base import Batch
from scrapers.sitemaps import SitemapSource
from tests.fakes import MockFetcher, Reply

FIXTURES = Path(__file__).parent / "fixtures"
SITEMAP_URL = "https://www.rijksoverheid.nl/news/sitemap.xml"
SITEMAP = FIXTURES / "rijksoverheid" / "rijksoverheid_news_sitemap_excerpt.xml"
PAGE = FIXTURES / "articles" / "ro_standin_no-canonical_constructed.html"
BORSSELE = "https://www.rijksoverheid.nl/actueel/nieuws/2026/09/23/nederlandse-staat-neemt-aandelen-kerncentrale-borssele-over"
PAKKETJES = "https://www.rijksoverheid.nl/actueel/nieuws/2026/09/22/europese-toeslag-van-euro-2-voor-pakketjes-van-buiten-de-eu"


def make_source(url: str = SITEMAP_URL, **overrides: object) -> SitemapSource:
    # first_run_days is large: the fixture's entries are from 2026-09 and must count as recent.
    options = dict(url=url, url_contains="", first_run_days=100_000, max_items=200, max_sitemaps=20, batch_size=50,
                   min_article_chars=250, document_kind="government") | overrides
    return SitemapSource("ro-news-sitemap", SitemapSource.Options(**options))


def routes() -> dict[str, Reply]:
    page = Reply.file(PAGE, content_type="text/html; charset=utf-8")
    return {SITEMAP_URL: Reply.file(SITEMAP), BORSSELE: page, PAKKETJES: page}



def test_real_news_sitemap_replayed_with_article_pages(run_source) -> None:
    source, fetcher = make_source(), MockFetcher(routes())
    [batch] = run_source(source, fetcher)
    # Oldest lastmod first: 14:30:13.751Z (pakketjes) before 14:47:39.847Z (Borssele).
    assert [i.key for i in batch.items] == [PAKKETJES, BORSSELE]
    assert json.loads(batch.cursor) == {"v": 1, "date": "2026-09-23T14:47:39.847000+00:00", "loc": BORSSELE}
    docs = [source.parse(item, source.fetch(fetcher, item)) for item in batch.items]
    assert [d.title for d in docs] == ["Europese toeslag van € 2 voor pakketjes van buiten de EU",
                                      "Nederlandse Staat neemt aandelen kerncentrale Borssele over"]
    # news:publication_date 2026-09-23T14:47:46.215Z: published; lastmod 14:47:39.847Z: modified.
    assert docs[1].published == "2026-09-23T14:47:46+00:00"
    assert docs[1].published_raw == "2026-09-23T14:47:46.215Z"
    assert docs[1].modified == "2026-09-23T14:47:39+00:00"
    assert docs[0].published == "2026-09-23T14:30:20+00:00"
    assert all(d.url == d.source_key and d.text_quality == "full" and d.kind == "government" for d in docs)
    assert all("MKB-actieplan laat mooi zien" in d.text and d.language == "nl" for d in docs)


def test_rerun_with_unchanged_lastmod_or_304_yields_nothing(run_source) -> None:
    source = make_source()
    [batch] = run_source(source, MockFetcher(routes()))
    # Nothing new: one empty batch, which commits the sitemap's validators; a 304 gives none.
    assert run_source(source, MockFetcher(routes()), batch.cursor) == [Batch([], cursor=None)]
    assert run_source(source, MockFetcher({SITEMAP_URL: Reply(b"", status=304)}), batch.cursor) == []


def test_entries_after_a_committed_batch_are_not_lost(run_source) -> None:
    source = make_source(batch_size=1)
    first, second = run_source(source, MockFetcher(routes()))
    assert [first.items[0].key, second.items[0].key] == [PAKKETJES, BORSSELE]
    # Committing only the first batch, then rerunning: the second entry comes again (T5).
    [again] = run_source(source, MockFetcher(routes()), first.cursor)
    assert [i.key for i in again.items] == [BORSSELE]


def test_sitemap_index_and_a_failing_sub_sitemap(run_source) -> None:
    index_url = "https://www.kvk.nl/sitemap_index.xml"
    index = (b'<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
             b"<sitemap><loc>https://www.kvk.nl/documents-1.xml</loc><lastmod>2026-09-23</lastmod></sitemap>"
             b"<sitemap><loc>https://www.kvk.nl/documents-2.xml</loc><lastmod>2026-09-24</lastmod></sitemap>"
             b"</sitemapindex>")
    fetcher = MockFetcher({index_url: Reply(index), "https://www.kvk.nl/documents-1.xml": Reply.file(SITEMAP),
                           "https://www.kvk.nl/documents-2.xml": Reply(b"<html><body>Fout</body></html>")})
    [batch] = run_source(make_source(index_url), fetcher)
    assert len(batch.items) == 2
    assert batch.cursor is None and batch.complete is False  # documents-2 may hold older entries


def test_sitemap_without_namespace_and_url_filter(run_source) -> None:
    bare = SITEMAP.read_bytes().replace(b' xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"', b"")
    [batch] = run_source(make_source(url_contains="/2026/09/23/"), MockFetcher({SITEMAP_URL: Reply(bare)}))
    assert [i.key for i in batch.items] == [BORSSELE]


def test_first_run_skips_old_entries(run_source) -> None:
    assert run_source(make_source(first_run_days=1), MockFetcher(routes())) == [Batch([], cursor=None)]


@pytest.mark.parametrize(("body", "error"), [
    (b"<!DOCTYPE html><html><body>Onderhoud</body></html>", NotAFeed),
    (b'<?xml version="1.0"?><rss version="2.0"><channel/></rss>', SourceChanged),
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><urlset/>', UnsafeXML),
])
def test_not_a_sitemap(body: bytes, error: type[Exception], run_source) -> None:
    with pytest.raises(error):
        run_source(make_source(), MockFetcher({SITEMAP_URL: Reply(body)}))


def test_index_skips_only_sub_sitemaps_older_than_the_cursor(run_source) -> None:
    index_url = "https://www.kvk.nl/sitemap_index.xml"
    index = (b'<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
             b"<sitemap><loc>https://www.kvk.nl/old.xml</loc><lastmod>2026-01-01</lastmod></sitemap>"
             b"<sitemap><loc>https://www.kvk.nl/documents-1.xml</loc><lastmod>2026-09-23</lastmod></sitemap>"
             b"</sitemapindex>")
    fetcher = MockFetcher({index_url: Reply(index), "https://www.kvk.nl/documents-1.xml": Reply.file(SITEMAP)})
    cursor = json.dumps({"v": 1, "date": "2026-09-23T14:40:00+00:00", "loc": ""})
    # documents-1 is dated the same day as the cursor (a bare date): read; old.xml is not fetched.
    [batch] = run_source(make_source(index_url), fetcher, cursor)
    assert [i.key for i in batch.items] == [BORSSELE] and batch.complete
    assert "https://www.kvk.nl/old.xml" not in fetcher.urls()


def test_a_huge_sitemap_index_is_walked_a_bounded_part_per_run(run_source) -> None:
    """Issue 19: an index of thousands of sub-sitemaps was walked in one run without end."""
    index_url = "https://www.kvk.nl/sitemap_index.xml"
    ns = b'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
    subs = [(f"https://www.kvk.nl/documents-{n}.xml", f"2026-09-{1 + n % 28:02d}") for n in range(60)]
    index = b"<sitemapindex " + ns + b">" + b"".join(
        f"<sitemap><loc>{loc}</loc><lastmod>{day}</lastmod></sitemap>".encode() for loc, day in subs) + b"</sitemapindex>"
    routes = {index_url: Reply(index)}
    for n, (loc, day) in enumerate(subs):
        routes[loc] = Reply(b"<urlset " + ns + b">" + b"".join(
            f"<url><loc>https://www.kvk.nl/artikel/{n}-{k}</loc><lastmod>{day}T1{k}:00:00Z</lastmod></url>".encode()
            for k in range(2)) + b"</urlset>")
    source = make_source(index_url, max_sitemaps=25, max_items=1000)
    delivered, cursor, per_run = [], None, []
    for _ in range(4):
        fetcher = MockFetcher(routes)
        batches = run_source(source, fetcher, cursor)
        per_run.append(sum(1 for u in fetcher.urls() if "documents-" in u))
        delivered += [i.key for b in batches for i in b.items]
        cursor = next((b.cursor for b in reversed(batches) if b.cursor), cursor)
    assert per_run[:3] == [25, 25, 10]  # never more than max_sitemaps; the walk goes on where it stopped
    assert set(delivered) == {f"https://www.kvk.nl/artikel/{n}-{k}" for n in range(60) for k in range(2)}
    assert "walked" not in json.loads(cursor) and json.loads(cursor)["date"].startswith("2026-09-28")


def test_a_walk_cut_short_keeps_the_date_mark(run_source) -> None:
    index_url = "https://www.kvk.nl/sitemap_index.xml"
    index = (b'<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
             b"<sitemap><loc>https://www.kvk.nl/documents-1.xml</loc><lastmod>2026-09-23</lastmod></sitemap>"
             b"<sitemap><loc>https://www.kvk.nl/documents-2.xml</loc><lastmod>2026-09-24</lastmod></sitemap>"
             b"</sitemapindex>")
    fetcher = MockFetcher({index_url: Reply(index), "https://www.kvk.nl/documents-1.xml": Reply.file(SITEMAP)})
    [batch] = run_source(make_source(index_url, max_sitemaps=1), fetcher)
    state = json.loads(batch.cursor)
    # documents-2 may hold entries older than those of documents-1: the date mark does not move yet.
    assert state["date"] is None and state["walked"] == ["2026-09-23T00:00:00+02:00", "https://www.kvk.nl/documents-1.xml"]
    assert "https://www.kvk.nl/documents-2.xml" not in fetcher.urls()
