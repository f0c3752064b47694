"""News from an HTML listing page, for sites without a feed or sitemap (Digitale Werkplaatsen).

Configured per site with CSS selectors (bs4 ``select``): ``item_selector`` matches one element
per news item (the ``<a href>`` itself or an element holding one); ``title_selector`` and
``date_selector`` are looked up inside it; ``next_selector`` finds the next listing page, followed
up to ``max_pages`` and only while a page still holds unseen items. Each item's page is read with
article.py.

A listing has no reliable dates, so the cursor is, as for feeds, the set of pages already
delivered: ``{"v": 1, "seen": [sha1(canonical URL)[:16], ...]}``, at most ``max_seen`` long.

Layout changes are the way such a source breaks (RELIABILITY N12): a first page on which the item
selector matches nothing raises ``SourceChanged``, so the source turns visibly failing instead
of quietly empty. A later page that cannot be read makes the run's batch incomplete, without a
cursor (I6).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import urljoin

from bs4 import BeautifulSoup, Tag

from monitor.errors import ConfigError, FetchError, SourceChanged
from scrapers.article import decode_html, news_document
from scrapers.base import Batch, Document, Fetcher, Item, Response, canonical_url


def _key_hash(url: str) -> str:
    return hashlib.sha1(canonical_url(url).encode()).hexdigest()[:16]


class ListingSource:
    """Items linked from an HTML listing page, each fetched and read with article.py."""

    kind: ClassVar[str] = "html_listing"

    @dataclass(frozen=True)
    class Options:
        url: str
        item_selector: str
        title_selector: str  # inside an item; "" = the page's own title
        date_selector: str  # inside an item; "" = the page's own date
        next_selector: str  # the next listing page's link; "" = one page only
        max_pages: int
        max_seen: int
        min_article_chars: int
        document_kind: str

    def __init__(self, name: str, options: Options) -> None:
        if not options.item_selector:
            raise ConfigError(f"[sources.{name}]: item_selector is required for an html_listing source")
        self.name = name
        self.options = options

    def discover(self, fetcher: Fetcher, cursor: str | None) -> Iterator[Batch]:
        seen = list(json.loads(cursor)["seen"]) if cursor else []
        known = set(seen)
        fresh: list[Item] = []
        url: str | None = self.options.url
        visited: set[str] = set()
        complete = True
        while url and url not in visited and len(visited) < self.options.max_pages:
            visited.add(url)
            try:
                response = fetcher.get(url, conditional=len(visited) == 1)
            except FetchError:
                if len(visited) == 1:
                    raise
                complete = False
                break
            if response.not_modified:
                return
            items, url = self.read_page(response, first=len(visited) == 1)
            new = [i for i in items if _key_hash(i.key) not in known]
            for item in new:
                known.add(_key_hash(item.key))
            fresh.extend(new)
            if not new:
                break  # the rest of the listing is older still
        if not fresh:  # nothing new: an empty batch still commits the listing page's validators
            yield Batch([], cursor=None, complete=complete)
            return
        fresh.reverse()  # listings run newest first; deliver oldest first
        seen.extend(_key_hash(i.key) for i in fresh)
        cursor_out = json.dumps({"v": 1, "seen": seen[-self.options.max_seen:]}, separators=(",", ":"))
        yield Batch(fresh, cursor=cursor_out if complete else None, complete=complete)

    def read_page(self, response: Response, *, first: bool) -> tuple[list[Item], str | None]:
        """The items on one listing page and the URL of the next page, if any."""
        soup = BeautifulSoup(decode_html(response.content, response.charset), "lxml")
        elements = soup.select(self.options.item_selector)
        if not elements and first:
            raise SourceChanged(f"item selector {self.options.item_selector!r} matches nothing on "
                                f"{response.url}: the page layout changed", url=response.url)
        items = []
        for element in elements:
            link = element if element.name == "a" and element.get("href") else element.select_one("a[href]")
            if link is None:
                continue
            href = urljoin(response.url, str(link["href"]))
            data = {"title": self._text(element, self.options.title_selector),
                    "published_raw": self._text(element, self.options.date_selector), "listing": response.url}
            items.append(Item(key=href, url=href, data={k: v for k, v in data.items() if v}))
        if elements and not items:
            raise SourceChanged(f"items on {response.url} hold no links", url=response.url)
        next_link = soup.select_one(self.options.next_selector) if self.options.next_selector else None
        next_url = urljoin(response.url, str(next_link["href"])) if next_link and next_link.get("href") else None
        return items, next_url

    @staticmethod
    def _text(element: Tag, selector: str) -> str | None:
        found = element.select_one(selector) if selector else None
        if found is None:
            return None
        return " ".join(found.get_text(" ").split()) or None

    def fetch(self, fetcher: Fetcher, item: Item) -> list[Response]:
        return [fetcher.get(item.url or item.key)]

    def parse(self, item: Item, responses: list[Response]) -> Document | None:
        return news_document(self.name, item, responses, min_chars=self.options.min_article_chars,
                             kind=self.options.document_kind)
