"""RSS/Atom feeds: the real MKB-Nederland feed replayed with its article page, conditional GET,
truncated and non-feed answers, and the date pitfalls of feedparser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import httpx

from monitor import http
from monitor.config import load
from monitor.errors import MonitorError, NotAFeed, NotAnArticle, UnsafeXML
from monitor.pipeline import Pipeline
from monitor.store import Store
from scrapers.base import Batch, Response
from scrapers.feeds import FeedSource, check_feed, parse_feed
from tests.fakes import MockFetcher, Reply

FIXTURES = Path(__file__).parent / "fixtures"
FEED_URL = "https://www.mkb.nl/rss/nieuws-mkb-nederland"
MKB_FEED = FIXTURES / "feeds" / "mkb-nederland_rss_nieuws_excerpt.xml"
ARTICLE_URL = "https://www.mkb.nl/artikelen/talent-van-nieuwkomers-sneller-en-beter-benutten"
ARTICLE = FIXTURES / "articles" / "mkb_talent-van-nieuwkomers_constructed.html"
RO_HOME = FIXTURES / "articles" / "rijksoverheid_homepage_2018_shortened.html"




def feed_routes(feed: bytes | None = None, page: Path = ARTICLE) -> dict[str, Reply]:
    return {FEED_URL: Reply(feed if feed is not None else MKB_FEED.read_bytes(),
                            headers={"content-type": "application/rss+xml; charset=utf-8"}),
            ARTICLE_URL: Reply.file(page, content_type="text/html; charset=utf-8")}


def rss(*items: str) -> bytes:
    return ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>t</title>"
            + "".join(items) + "</channel></rss>").encode()


def rss_item(n: int, pub: str) -> str:
    return (f"<item><title>Bericht {n}</title><link>https://example.nl/{n}</link>"
            f"<guid>https://example.nl/{n}</guid><pubDate>{pub}</pubDate><description>Tekst {n}</description></item>")


def test_real_mkb_feed_replayed_with_its_article_page(make_source, run_source) -> None:
    source = make_source("mkb-nederland", min_article_chars=100)
    fetcher = MockFetcher(feed_routes())
    [batch] = run_source(source, fetcher)
    [item] = batch.items
    assert batch.complete and batch.cursor
    doc = source.parse(item, source.fetch(fetcher, item))
    assert doc.title == "Talent van nieuwkomers sneller en beter benutten"
    assert doc.url == ARTICLE_URL and doc.id is None and doc.aliases == [ARTICLE_URL]
    # "Wed, 23 Sep 2026 05:00:47 GMT": the instant and the zone exactly as the feed gave them.
    assert doc.published == "2026-09-23T05:00:47+00:00"
    assert doc.published_raw == "Wed, 23 Sep 2026 05:00:47 GMT"
    assert "SER-advies om nieuwkomers sneller aan werk te helpen" in doc.text
    assert doc.text_quality == "full" and doc.kind == "news" and doc.language == "nl"
    assert doc.meta["feed"] == "MKB Nederland Nieuws"
    assert fetcher.urls() == [FEED_URL, ARTICLE_URL]


def test_rerun_with_same_feed_or_304_yields_nothing_and_keeps_cursor(make_source, run_source) -> None:
    source = make_source("mkb-nederland", min_article_chars=100)
    [batch] = run_source(source, MockFetcher(feed_routes()))
    # Nothing new: an empty batch, whose cursor (and the response's validators) gets committed.
    [nothing_new] = run_source(source, MockFetcher(feed_routes()), batch.cursor)
    assert nothing_new.items == [] and json.loads(nothing_new.cursor) == json.loads(batch.cursor)
    not_modified = MockFetcher({FEED_URL: Reply(b"", status=304)})
    assert run_source(source, not_modified, batch.cursor) == []
    assert not_modified.urls() == [FEED_URL]


def test_new_and_edited_entries_after_the_cursor(make_source, run_source) -> None:
    source = make_source("mkb-nederland")
    first = rss(rss_item(1, "Mon, 02 Nov 2026 09:00:00 +0100"))
    [batch] = run_source(source, MockFetcher({FEED_URL: Reply(first)}))
    edited = rss(rss_item(2, "Tue, 03 Nov 2026 09:00:00 +0100"),
                 rss_item(1, "Mon, 02 Nov 2026 09:00:00 +0100").replace("Tekst 1", "Tekst 1, bijgewerkt"))
    [again] = run_source(source, MockFetcher({FEED_URL: Reply(edited)}), batch.cursor)
    # Oldest first; the edited entry comes back (a new version for the store, T2).
    assert [i.key for i in again.items] == ["https://example.nl/1", "https://example.nl/2"]
    [nothing_new] = run_source(source, MockFetcher({FEED_URL: Reply(edited)}), again.cursor)
    assert nothing_new.items == [] and json.loads(nothing_new.cursor) == json.loads(again.cursor)


def test_excerpt_when_articles_are_not_fetched_or_page_is_not_an_article(make_source, run_source) -> None:
    source = make_source("mkb-nederland", fetch_articles=False)
    fetcher = MockFetcher(feed_routes())
    [batch] = run_source(source, fetcher)
    [item] = batch.items
    assert source.fetch(fetcher, item) == []
    doc = source.parse(item, [])
    assert doc.text_quality == "excerpt" and doc.text.startswith("VNO-NCW en MKB-Nederland steunen")
    # A page that is not an article (here: a real home page) leaves the excerpt in place.
    page = Response(url=ARTICLE_URL, status=200, headers={"content-type": "text/html"},
                    content=RO_HOME.read_bytes())
    doc = make_source("mkb-nederland").parse(item, [page])
    assert doc.text_quality == "excerpt" and "page_not_article" in doc.meta


def test_entry_without_excerpt_and_without_article_is_not_an_article(make_source, run_source) -> None:
    source = make_source("mkb-nederland")
    feed = rss("<item><title>Leeg</title><link>https://example.nl/leeg</link></item>")
    [batch] = run_source(source, MockFetcher({FEED_URL: Reply(feed)}))
    page = Response(url="https://www.rijksoverheid.nl/", status=200, headers={"content-type": "text/html"},
                    content=RO_HOME.read_bytes())
    with pytest.raises(NotAnArticle):
        source.parse(batch.items[0], [page])


def test_html_error_page_with_200_is_not_a_feed(make_source, run_source) -> None:
    source = make_source("mkb-nederland")
    fetcher = MockFetcher({FEED_URL: Reply.file(RO_HOME, content_type="text/html")})
    with pytest.raises(NotAFeed):
        run_source(source, fetcher)
    with pytest.raises(NotAFeed):
        run_source(source, MockFetcher({FEED_URL: Reply(b"")}))


def test_truncated_feed_keeps_complete_entries_and_does_not_move_cursor(make_source, run_source) -> None:
    body = rss(*(rss_item(n, f"Mon, 0{n} Nov 2026 09:00:00 +0100") for n in range(1, 4)))
    cut = body[: body.index(b"<description>Tekst 3") + 20]
    [batch] = run_source(make_source("mkb-nederland"), MockFetcher({FEED_URL: Reply(cut)}))
    assert [i.key for i in batch.items] == ["https://example.nl/1", "https://example.nl/2"]
    assert batch.cursor is None and batch.complete is False
    assert all("feed_bozo" in i.data for i in batch.items)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_real_feed_truncated_anywhere_never_crashes(make_source, run_source, data: st.DataObject) -> None:
    body = MKB_FEED.read_bytes()
    body = body.replace(b"</channel>", b"".join(
        body[body.index(b"<item>"):body.index(b"</item>") + 7].replace(b"talent", f"t{n}".encode())
        for n in range(3)) + b"</channel>")
    cut = data.draw(st.integers(min_value=0, max_value=len(body)))
    try:
        batches = run_source(make_source("mkb-nederland"), MockFetcher({FEED_URL: Reply(body[:cut])}))
    except MonitorError:
        return
    for batch in batches:
        assert all(item.data.get("title") for item in batch.items)
        assert batch.cursor is None or b"</rss>" in body[:cut]


def test_dates_are_parsed_from_the_raw_strings(make_source, run_source) -> None:
    feed = rss(rss_item(1, "31-03-2026"), rss_item(2, "Tue, 03 Nov 2026 09:00:00"),
               rss_item(3, "2026-10-25T02:30:00"))
    [batch] = run_source(make_source("mkb-nederland", fetch_articles=False), MockFetcher({FEED_URL: Reply(feed)}))
    published = {i.key[-1]: make_source("mkb-nederland").parse(i, []).published for i in batch.items}
    # feedparser itself reads 31-03-2026 as 2031 and zone-less times as UTC.
    assert published == {"1": "2026-03-31T00:00:00+02:00", "2": "2026-11-03T09:00:00+01:00",
                         "3": "2026-10-25T02:30:00+02:00"}


@pytest.mark.parametrize(("declared", "encoding", "content_type"), [
    ("utf-8", "cp1252", "application/rss+xml; charset=utf-8"),  # says UTF-8, is Windows-1252
    ("utf-8", "cp1252", "text/xml"),
    ("windows-1252", "cp1252", "application/rss+xml; charset=utf-8"),  # header against declaration
    ("utf-8", "utf-8", "application/rss+xml; charset=iso-8859-1"),  # says Latin-1, is UTF-8
    ("windows-1252", "utf-8", "application/rss+xml"),
])
def test_wrong_charsets_in_feeds_are_read_correctly(declared: str, encoding: str, content_type: str) -> None:
    title = "Café – “ondernemers” en mkb’ers"
    body = (f"<?xml version='1.0' encoding='{declared}'?><rss version='2.0'><channel><title>t</title>"
            f"<item><title>{title}</title><link>https://example.nl/1</link></item></channel></rss>")
    feed = parse_feed(Response(url=FEED_URL, status=200, content=body.encode(encoding),
                               headers={"content-type": content_type}))
    # feedparser's CharacterEncodingOverride is recorded, but the feed counts as well-formed.
    assert feed.entries[0]["title"] == title and feed.well_formed


def test_check_feed_reports_format_dates_and_errors() -> None:
    report = check_feed(MockFetcher(feed_routes()), FEED_URL)
    assert (report["ok"], report["format"], report["title"], report["entries"]) == (True, "rss20", "MKB Nederland Nieuws", 1)
    assert report["newest"] == "2026-09-23T05:00:47+00:00" and report["dates_parse"] is True
    html = check_feed(MockFetcher({FEED_URL: Reply.file(RO_HOME, content_type="text/html")}), FEED_URL)
    assert html["ok"] is False and html["error"] == "parse.not_a_feed"
    gone = check_feed(MockFetcher({FEED_URL: Reply(b"", status=404)}), FEED_URL)
    assert gone["error"] == "fetch.status"


def test_cursor_is_bounded(make_source, run_source) -> None:
    source = make_source("mkb-nederland", max_seen=2)
    feed = rss(*(rss_item(n, f"Mon, 0{n} Nov 2026 09:00:00 +0100") for n in range(1, 5)))
    [batch] = run_source(source, MockFetcher({FEED_URL: Reply(feed)}))
    assert len(json.loads(batch.cursor)["seen"]) == 2


def test_markup_and_script_in_an_entry_become_plain_text(make_source, run_source) -> None:
    feed = rss("<item><title>Script</title><link>https://example.nl/s</link><description><![CDATA["
               "<p>Eerste alinea</p><script>alert('x')</script><img src=x onerror=alert(1)>"
               "<p>Tweede <a href='javascript:alert(2)'>alinea</a></p>]]></description></item>")
    [batch] = run_source(make_source("mkb-nederland", fetch_articles=False), MockFetcher({FEED_URL: Reply(feed)}))
    doc = make_source("mkb-nederland").parse(batch.items[0], [])
    assert doc.text == "Eerste alinea\nTweede alinea"
    assert "alert" not in doc.text and "<" not in doc.text


# --- issue 14: feeds as they are written ------------------------------------------------------


def test_items_without_a_title_are_kept_and_titled_from_their_text_or_link(make_source, run_source) -> None:
    # RSS 2.0: "All elements of an item are optional, however at least one of title or
    # description must be present." A well-formed feed's title-less item is no cut-off entry.
    feed = rss("<item><link>https://example.nl/a</link><description>Kabinet steunt digitalisering "
               "van het mkb met een nieuw fonds.</description></item>",
               "<item><link>https://example.nl/b</link><guid>https://example.nl/b</guid></item>",
               rss_item(3, "Mon, 02 Nov 2026 09:00:00 +0100"))
    source = make_source("mkb-nederland", fetch_articles=False)
    [batch] = run_source(source, MockFetcher({FEED_URL: Reply(feed)}))
    assert sorted(i.key for i in batch.items) == ["https://example.nl/3", "https://example.nl/a", "https://example.nl/b"]
    a = next(i for i in batch.items if i.key.endswith("/a"))
    assert source.parse(a, []).title == "Kabinet steunt digitalisering van het mkb met een nieuw fonds."
    page = Response(url="https://example.nl/b", status=200, headers={"content-type": "text/html"},
                    content=ARTICLE.read_bytes())
    b = next(i for i in batch.items if i.key.endswith("/b"))
    assert make_source("mkb-nederland", min_article_chars=100).parse(b, [page]).title == "Talent van nieuwkomers sneller en beter benutten"


def test_a_long_text_gives_a_title_cut_at_a_word() -> None:
    from scrapers.article import title_from

    title = title_from("woord " * 60)
    assert title is not None and len(title) <= 121 and title.endswith("woord…")


def test_a_complete_feed_with_html_entities_is_complete_and_moves_its_cursor(make_source, run_source) -> None:
    feed = rss("<item><title>Subsidie van &euro;&nbsp;5.000 voor caf&eacute;s</title>"
               "<link>https://example.nl/1</link><description>Tekst&hellip;</description></item>",
               "<item><title>Letterlijk</title><link>https://example.nl/2</link>"
               "<description><![CDATA[&nbsp;blijft&nbsp;staan]]></description></item>")
    [batch] = run_source(make_source("mkb-nederland", fetch_articles=False), MockFetcher({FEED_URL: Reply(feed)}))
    assert batch.complete and batch.cursor is not None
    assert batch.items[0].data["title"] == "Subsidie van € 5.000 voor cafés"
    # In a CDATA section "&nbsp;" is text, left as the feed wrote it (and read as HTML later).
    assert batch.items[1].data["excerpt"] == "blijft staan"


def test_a_truncated_feed_with_html_entities_stays_incomplete(make_source, run_source) -> None:
    feed = rss(*(rss_item(n, "Mon, 02 Nov 2026 09:00:00 +0100").replace("Tekst", "Tekst&nbsp;")
                 for n in range(1, 4)))
    cut = feed[: feed.index(b"<description>Tekst&nbsp; 3") + 20]
    [batch] = run_source(make_source("mkb-nederland"), MockFetcher({FEED_URL: Reply(cut)}))
    assert batch.cursor is None and not batch.complete and len(batch.items) == 2


def test_an_entity_declaration_anywhere_in_the_prolog_is_refused() -> None:
    entity = b'<!DOCTYPE rss [<!ENTITY x "y">]>'
    for prolog in (b"<!-- " + b"x" * 70_000 + b" -->" + entity,  # past the first 64 KiB
                   b'<!DOCTYPE rss [<!-- ' + b"x" * 70_000 + b' --><!ENTITY x "y">]>'):
        body = b"<?xml version='1.0' encoding='utf-8'?>" + prolog + rss(rss_item(1, "2026-11-02"))[38:]
        with pytest.raises(UnsafeXML):
            parse_feed(Response(url=FEED_URL, status=200, headers={}, content=body))
    utf16 = ("<?xml version='1.0' encoding='utf-16'?><!DOCTYPE rss [<!ENTITY x 'y'>]>"
             "<rss version='2.0'><channel><title>&x;</title></channel></rss>").encode("utf-16")
    with pytest.raises(UnsafeXML):
        parse_feed(Response(url=FEED_URL, status=200, headers={}, content=utf16))
    # "<!ENTITY" as text of an entry is no declaration.
    text = rss("<item><title>t</title><link>https://example.nl/e</link>"
               "<description><![CDATA[<!ENTITY x 'y'>]]></description></item>")
    assert len(parse_feed(Response(url=FEED_URL, status=200, headers={}, content=text)).entries) == 1


def test_validators_of_a_feed_without_new_entries_are_stored(tmp_path: Path) -> None:
    """A feed whose body changed (a new lastBuildDate) but that has no new entry still gets its
    new ETag stored, so the run after it is answered 304 instead of the whole feed again."""
    feed = rss(rss_item(1, "Mon, 02 Nov 2026 09:00:00 +0100"))
    versions = {'"v1"': feed, '"v2"': feed.replace(b"<title>t</title>", b"<title>t</title><lastBuildDate>x</lastBuildDate>")}
    current = ['"v1"']
    asked: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.headers.get("if-none-match"))
        if request.headers.get("if-none-match") == current[0]:
            return httpx.Response(304, headers={"etag": current[0]})
        return httpx.Response(200, headers={"etag": current[0], "content-type": "application/rss+xml"},
                              content=versions[current[0]])

    config = load(overrides={"http": {"robots": False, "host_interval": 0.0},
                             "sources": {"mkb-nederland": {"fetch_articles": False, "relevance": False}}})
    settings_ = config.http
    with Store(tmp_path / "monitor.db") as store:
        pipeline = Pipeline(config, store, fetcher_for=lambda sc: http.Client(
            settings_, transport=httpx.MockTransport(answer), cache=store))
        assert pipeline.run(["mkb-nederland"]).sources[0].new == 1
        current[0] = '"v2"'
        report = pipeline.run(["mkb-nederland"]).sources[0]
        assert (report.status, report.new) == ("ok", 0)
        pipeline.run(["mkb-nederland"])
    assert asked == [None, '"v1"', '"v2"']  # the third run asks with the ETag of the second


# --- issue 19: bounded runs -----------------------------------------------------------------------


@pytest.mark.slow
def test_a_huge_feed_is_read_in_bounded_batches_over_several_runs(make_source, run_source) -> None:
    feed = rss(*(rss_item(n, f"Mon, 02 Nov 2026 {n // 60 % 24:02d}:{n % 60:02d}:00 +0100") for n in range(1, 401)))
    source = make_source("mkb-nederland", fetch_articles=False, max_items=100, batch_size=50, max_seen=5000)
    delivered: list[str] = []
    cursor = None
    for _ in range(4):
        batches = run_source(source, MockFetcher({FEED_URL: Reply(feed)}), cursor)
        assert [len(b.items) for b in batches] == [50, 50]  # each committed with its cursor
        delivered += [i.key for b in batches for i in b.items]
        cursor = batches[-1].cursor
    assert len(delivered) == len(set(delivered)) == 400  # all of it, oldest first, none twice
    assert delivered[:2] == ["https://example.nl/1", "https://example.nl/2"]
    [done] = run_source(source, MockFetcher({FEED_URL: Reply(feed)}), cursor)
    assert done.items == []


def test_a_kill_after_one_batch_loses_only_what_was_not_committed(make_source, run_source) -> None:
    feed = rss(*(rss_item(n, f"Mon, 02 Nov 2026 09:{n:02d}:00 +0100") for n in range(1, 31)))
    source = make_source("mkb-nederland", fetch_articles=False, max_items=200, batch_size=10)
    first = next(iter(source.discover(MockFetcher({FEED_URL: Reply(feed)}), None)))  # then the run is killed
    again = run_source(source, MockFetcher({FEED_URL: Reply(feed)}), first.cursor)
    assert [i.key for b in again for i in b.items] == [f"https://example.nl/{n}" for n in range(11, 31)]
