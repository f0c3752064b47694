"""Government news from the 2026 rijksoverheid.nl: its RSS search endpoint, with the news sitemap
as fallback (SOURCES-API.md §3.2).

``GET {base_url}/api/rss?query=<JSON>`` answers RSS 2.0 for a search given as JSON: content type,
topic, and a date window. It is undocumented and reverse-engineered, so the query's shape lives in
the config (``query_template``, with ``"{topics}"``, ``"{from}"`` and ``"{to}"`` filled in here)
and every answer is checked: anything but RSS raises ``SourceChanged``; an item without a title,
a link or a readable pubDate is skipped, logged and counted (``skipped``), unless every item of
the answer is like that, which is a changed source again. An answer holds at most 20 items, so a window whose answer is
full is split in halves until every answer is below the cap.

Cursor: ``{"v": 1, "api": ISO, "sitemap": <the sitemap source's cursor>}``. ``api`` is the end of
the last window read completely that had items (an empty answer moves nothing, I6); the next run
starts ``overlap_hours`` before it, because an item's sort date can be set earlier than the
moment it went online (re-reading is harmless, I2).

When the API fails (any fetch or parse error), the news sitemap ``{base_url}/news/sitemap.xml``
is read instead, and the API's error is raised *after* the sitemap's batches: the news still
arrives, and the run is still recorded as failed under the API's error code, never silently.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

from monitor.errors import FetchError, ParseError, SourceChanged
from scrapers.article import html_text, news_document
from scrapers.base import Batch, Document, Fetcher, Item, Response
from scrapers.dates import parse_date
from scrapers.sitemaps import SitemapSource
from scrapers.xmlsafe import parse_xml

LOG = logging.getLogger(__name__)


def _instant(when: datetime) -> str:
    # The endpoint wants full instants with milliseconds; a date alone makes it answer HTTP 500.
    utc = when.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def build_query(template: str, topics: list[str], start: datetime, end: datetime) -> str:
    """The JSON for one window: the template with its placeholders filled in."""
    fill = {"{topics}": topics, "{from}": _instant(start), "{to}": _instant(end - timedelta(milliseconds=1))}

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return fill.get(node, node) if isinstance(node, str) else node

    return json.dumps(walk(json.loads(template)), ensure_ascii=False, separators=(",", ":"))


def parse_rss_answer(response: Response) -> tuple[list[Item], list[str]]:
    """The items of an /api/rss answer, and why each item that was left out was. An item
    without a title, link or readable pubDate is skipped; an answer that is not RSS, or whose
    items are all like that, raises SourceChanged."""
    try:
        root = parse_xml(response.content, url=response.url)
    except ParseError as exc:
        raise SourceChanged(f"/api/rss no longer answers RSS: {exc.message}", url=response.url) from None
    channel = root.find("channel")
    if root.tag != "rss" or channel is None:
        raise SourceChanged(f"/api/rss answered <{root.tag}> instead of RSS 2.0 ({response.url})", url=response.url)
    items, skipped = [], []
    for element in channel.findall("item"):
        fields = {name: (element.findtext(name) or "").strip() for name in ("title", "link", "pubDate", "guid")}
        missing = [name for name in ("title", "link", "pubDate") if not fields[name]]
        if missing:
            skipped.append(f"an item without {', '.join(missing)} ({fields['guid'] or fields['link'] or fields['title']})")
            continue
        if parse_date(fields["pubDate"]) is None:
            skipped.append(f"an item whose pubDate is in an unknown format: {fields['pubDate']!r}")
            continue
        data = {"guid": fields["guid"] or fields["link"], "title": fields["title"],
                "excerpt": html_text(element.findtext("description")), "published_raw": fields["pubDate"],
                "language": "nl"}
        items.append(Item(key=data["guid"], url=fields["link"], data={k: v for k, v in data.items() if v}))
    if skipped and not items:
        raise SourceChanged(f"/api/rss: every item is unreadable, e.g. {skipped[0]} ({response.url})", url=response.url)
    return items, skipped


class RijksoverheidSource:
    """News from rijksoverheid.nl on the configured topics."""

    kind: ClassVar[str] = "rijksoverheid"

    @dataclass(frozen=True)
    class Options:
        base_url: str
        query_template: str  # JSON; "{topics}", "{from}" and "{to}" are filled in per window
        topics: list[str]
        max_answer_items: int  # the endpoint's cap: a full answer means "split the window"
        min_window_minutes: int  # a full answer for a window this short is taken as incomplete
        first_run_days: int
        overlap_hours: int
        fetch_articles: bool
        min_article_chars: int
        sitemap_fallback: bool
        fallback_max_items: int  # pages per run from the sitemap fallback
        document_kind: str

    def __init__(self, name: str, options: Options) -> None:
        self.name = name
        self.options = options
        self.skipped: list[str] = []  # items of /api/rss answers left out this run, and why
        self.sitemap = SitemapSource(name, SitemapSource.Options(
            url=f"{options.base_url}/news/sitemap.xml", url_contains="", first_run_days=options.first_run_days,
            max_items=options.fallback_max_items, max_sitemaps=1, batch_size=options.fallback_max_items,
            min_article_chars=options.min_article_chars,
            document_kind=options.document_kind))

    def discover(self, fetcher: Fetcher, cursor: str | None) -> Iterator[Batch]:
        state = json.loads(cursor) if cursor else {"v": 1, "api": None, "sitemap": None}
        now = fetcher.now().astimezone(timezone.utc).replace(microsecond=0)
        since = parse_date(state["api"]) if state["api"] else None
        start = since - timedelta(hours=self.options.overlap_hours) if since else \
            now - timedelta(days=self.options.first_run_days)
        complete = True
        try:
            for end, items, window_complete in self._windows(fetcher, start, now):
                if not items:
                    continue  # I6: an empty answer is no proof that there was nothing to find
                # After one incomplete window, no later window may move the cursor past it.
                complete = complete and window_complete
                if complete:
                    state = {**state, "api": end.isoformat()}
                yield Batch(items, cursor=json.dumps(state) if complete else None, complete=complete)
        except (FetchError, ParseError) as exc:
            if not self.options.sitemap_fallback:
                raise
            try:
                for batch in self.sitemap.discover(fetcher, state["sitemap"]):
                    if batch.cursor:
                        state = {**state, "sitemap": batch.cursor}
                    yield replace(batch, cursor=json.dumps(state) if batch.cursor else None)
            except (FetchError, ParseError) as fallback_exc:
                raise exc from fallback_exc
            raise exc

    def _windows(self, fetcher: Fetcher, start: datetime, end: datetime
                 ) -> Iterator[tuple[datetime, list[Item], bool]]:
        """(window end, items, complete) for [start, end), oldest window first."""
        items, answered = self._ask(fetcher, start, end)
        if answered < self.options.max_answer_items:
            yield end, items, True
        elif end - start <= timedelta(minutes=self.options.min_window_minutes):
            yield end, items, False
        else:
            middle = start + (end - start) / 2
            yield from self._windows(fetcher, start, middle)
            yield from self._windows(fetcher, middle, end)

    def _ask(self, fetcher: Fetcher, start: datetime, end: datetime) -> tuple[list[Item], int]:
        """The readable items of one window's answer, and how many items it held."""
        query = build_query(self.options.query_template, self.options.topics, start, end)
        items, skipped = parse_rss_answer(fetcher.get(f"{self.options.base_url}/api/rss", params={"query": query}))
        for reason in skipped:
            LOG.warning("%s: /api/rss %s: skipped", self.name, reason)
        self.skipped += skipped
        return items, len(items) + len(skipped)

    def fetch(self, fetcher: Fetcher, item: Item) -> list[Response]:
        if not (self.options.fetch_articles and item.url):
            return []
        return [fetcher.get(item.url)]

    def parse(self, item: Item, responses: list[Response]) -> Document | None:
        return news_document(self.name, item, responses, min_chars=self.options.min_article_chars,
                             kind=self.options.document_kind)
