"""HTML listing source on the real rijksoverheid.nl home page (2018) news block."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.errors import ConfigError, SourceChanged
from scrapers.base import Batch
from scrapers.listing import ListingSource
from tests.fakes import MockFetcher, Reply

FIXTURES = Path(__file__).parent / "fixtures"
HOME_URL = "https://www.rijksoverheid.nl/"
MORE_URL = "https://www.rijksoverheid.nl/actueel/nieuws"
HOME = FIXTURES / "articles" / "rijksoverheid_homepage_2018_shortened.html"
PAGE = FIXTURES / "articles" / "ro_standin_no-canonical_constructed.html"
FILES = "https://www.rijksoverheid.nl/actueel/nieuws/2018/03/17/maatregelen-voor-snelle-aanpak-files"


def make_source(**overrides: object) -> ListingSource:
    options = dict(url=HOME_URL, item_selector="section.nieuws div.brick", title_selector="h3",
                   date_selector="span.publDate", next_selector="", max_pages=3, max_seen=1000,
                   min_article_chars=250, document_kind="government") | overrides
    return ListingSource("ro-home", ListingSource.Options(**options))


def html(path: Path) -> Reply:
    return Reply.file(path, content_type="text/html; charset=utf-8")



def test_real_listing_items_with_titles_and_dates(run_source) -> None:
    source = make_source()
    fetcher = MockFetcher({HOME_URL: html(HOME), FILES: html(PAGE)})
    [batch] = run_source(source, fetcher)
    assert len(batch.items) == 6 and batch.complete
    newest = batch.items[-1]  # the listing runs newest first; the batch oldest first
    assert newest.key == FILES
    assert newest.data["title"] == "Maatregelen voor snelle aanpak files"
    doc = source.parse(newest, source.fetch(fetcher, newest))
    # "17-03-2018 | 18:30" on the listing: Amsterdam wall-clock time, CET in March.
    assert doc.published == "2018-03-17T18:30:00+01:00" and doc.published_raw == "17-03-2018 | 18:30"
    assert doc.title == "Maatregelen voor snelle aanpak files" and doc.text_quality == "full"
    assert run_source(source, MockFetcher({HOME_URL: html(HOME)}), batch.cursor) == [Batch([], cursor=None)]
    assert len(json.loads(batch.cursor)["seen"]) == 6


def test_next_page_followed_until_nothing_new(run_source) -> None:
    fetcher = MockFetcher({HOME_URL: html(HOME), MORE_URL: html(HOME)})
    [batch] = run_source(make_source(next_selector="a.more"), fetcher)
    # The "Meer nieuws" page (served here with the same items) holds nothing new: paging stops.
    assert len(batch.items) == 6 and fetcher.urls() == [HOME_URL, MORE_URL]


def test_failing_next_page_makes_the_batch_incomplete(run_source) -> None:
    fetcher = MockFetcher({HOME_URL: html(HOME), MORE_URL: Reply(b"", status=500)})
    [batch] = run_source(make_source(next_selector="a.more"), fetcher)
    assert len(batch.items) == 6 and batch.cursor is None and not batch.complete


def test_selector_matching_nothing_is_source_changed(run_source) -> None:
    with pytest.raises(SourceChanged):
        run_source(make_source(item_selector="ul.news-list li"), MockFetcher({HOME_URL: html(HOME)}))


def test_item_selector_is_required() -> None:
    with pytest.raises(ConfigError):
        make_source(item_selector="")
