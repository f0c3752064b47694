"""Sitemaps and sitemap indexes (KVK, the rijksoverheid.nl news sitemap): each <url> is an article.

The cursor is a high-water mark on the entry's date, with the URL to break ties between entries
that share a timestamp (RELIABILITY T5): ``{"v": 1, "date": ISO, "loc": URL}``. The date is the
entry's ``<lastmod>``, else its Google News ``<news:publication_date>``. Entries are delivered
oldest first, so every batch's cursor covers exactly its own items and everything before them.

Rules that keep the cursor honest (I6):

* a sub-sitemap of an index that fails or is malformed makes every batch of the run
  ``cursor=None, complete=False``: its entries might be older than the ones delivered;
* an entry without any date can only be told apart from an old one on the first run (no
  cursor), so it is delivered then only — a sitemap without dates cannot be followed;
* ``max_items`` bounds a run (KVK lists ~1,800 pages); the rest follows on the next runs;
* ``max_sitemaps`` bounds how many sub-sitemaps of an index one run reads, oldest first; the
  cursor then also holds ``walked``, the last sub-sitemap read, and the next run goes on after it
  (the date mark moves once a walk has reached the end of the index).

Parsing is namespace-aware by local name, so a sitemap served without its namespace still reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from lxml import etree

from monitor.errors import FetchError, ParseError, SourceChanged
from scrapers.article import news_document
from scrapers.base import Batch, Document, Fetcher, Item, Response
from scrapers.dates import parse_date
from scrapers.xmlsafe import parse_xml


@dataclass(frozen=True)
class Entry:
    loc: str
    lastmod: str | None
    publication_date: str | None
    title: str | None
    language: str | None

    @property
    def date(self) -> datetime | None:
        return parse_date(self.lastmod) or parse_date(self.publication_date)


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _child_text(element: etree._Element, *path: str) -> str | None:
    """Text of the first descendant along ``path`` (local names), stripped; None if absent."""
    current = [element]
    for name in path:
        current = [c for e in current for c in e if _local(c) == name]
    text = current[0].text if current else None
    return text.strip() if text and text.strip() else None


def parse_sitemap(response: Response) -> tuple[str, list[Entry]]:
    """("index", sub-sitemaps) or ("urlset", pages) from a sitemap response."""
    root = parse_xml(response.content, url=response.url)
    kind = _local(root)
    if kind not in ("urlset", "sitemapindex"):
        raise SourceChanged(f"not a sitemap: root element <{kind}> ({response.url})", url=response.url)
    child = "url" if kind == "urlset" else "sitemap"
    entries = []
    for element in (e for e in root if _local(e) == child):
        loc = _child_text(element, "loc")
        if not loc:
            raise SourceChanged(f"a <{child}> without <loc> ({response.url})", url=response.url)
        entries.append(Entry(loc=loc, lastmod=_child_text(element, "lastmod"),
                             publication_date=_child_text(element, "news", "publication_date"),
                             title=_child_text(element, "news", "title"),
                             language=_child_text(element, "news", "publication", "language")))
    return ("index" if kind == "sitemapindex" else "urlset"), entries


def entry_item(entry: Entry) -> Item:
    data = {"title": entry.title, "published_raw": entry.publication_date, "modified_raw": entry.lastmod,
            "language": entry.language}
    return Item(key=entry.loc, url=entry.loc, data={k: v for k, v in data.items() if v})


def read_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    if not cursor:
        return None
    mark = json.loads(cursor)
    if mark.get("date") is None:
        return None  # a first walk of an index still under way
    when = parse_date(mark["date"])
    if when is None:
        raise ParseError(f"unreadable sitemap cursor {cursor!r}")
    return when, mark["loc"]


def make_cursor(when: datetime, loc: str) -> str:
    return json.dumps({"v": 1, "date": when.isoformat(), "loc": loc}, separators=(",", ":"))


class SitemapSource:
    """Pages listed in a sitemap (or a sitemap index), each fetched and read with article.py."""

    kind: ClassVar[str] = "sitemap"

    @dataclass(frozen=True)
    class Options:
        url: str
        url_contains: str  # keep only page URLs containing this ("" = all), e.g. "/actueel/nieuws/"
        first_run_days: int  # on the first run, skip entries older than this
        max_items: int  # per run; the rest comes on the next run
        max_sitemaps: int  # sub-sitemaps of an index read per run; the walk goes on in the next run
        batch_size: int
        min_article_chars: int
        document_kind: str  # Document.kind of the pages: "news", "government", ...

    def __init__(self, name: str, options: Options) -> None:
        self.name = name
        self.options = options

    def discover(self, fetcher: Fetcher, cursor: str | None) -> Iterator[Batch]:
        mark = read_cursor(cursor)
        walked = json.loads(cursor).get("walked") if cursor else None
        entries, complete, stopped_at = self._entries(fetcher, mark, walked)
        if entries is None:
            return
        if stopped_at is None:
            batches = list(self.batches(entries, mark, now=fetcher.now(), complete=complete))
            if walked and complete and batches[-1].cursor is None:
                # A walk ended without anything new: the cursor forgets the walk, keeps the mark.
                end = make_cursor(*mark) if mark else json.dumps({"v": 1, "date": None, "loc": None})
                batches[-1] = Batch(batches[-1].items, cursor=end, complete=True)
            yield from batches
            return
        # The walk of the index stopped at max_sitemaps: everything found is delivered, the date
        # mark stays, and the last batch's cursor says which sub-sitemaps this walk has read.
        # A kill before that batch is committed means they are read again (I2), never skipped.
        chosen = list(self.batches(entries, mark, now=fetcher.now(), complete=False, capped=False))
        for n, batch in enumerate(chosen, 1):
            last = n == len(chosen)
            walk = {"v": 1, **json.loads(cursor or '{"date": null, "loc": null}'), "walked": stopped_at}
            yield Batch(batch.items, cursor=json.dumps(walk, separators=(",", ":")) if last and complete else None,
                        complete=complete)

    def batches(self, entries: list[Entry], mark: tuple[datetime, str] | None, *, now: datetime,
                complete: bool = True, capped: bool = True) -> Iterator[Batch]:
        """New entries since ``mark``, oldest first, in batches whose cursor covers them."""
        floor = now - timedelta(days=self.options.first_run_days)
        dated, undated = [], []
        for entry in entries:
            if self.options.url_contains not in entry.loc:
                continue
            when = entry.date
            if when is None:
                undated.append(entry)
            elif (mark is None and when >= floor) or (mark is not None and (when, entry.loc) > mark):
                dated.append((when, entry))
        dated.sort(key=lambda pair: (pair[0], pair[1].loc))
        chosen = ([(None, e) for e in undated] if mark is None else []) + dated
        if capped:
            chosen = chosen[: self.options.max_items]
        size = self.options.batch_size
        for start in range(0, len(chosen), size):
            chunk = chosen[start:start + size]
            last_when, last = chunk[-1]
            batch_cursor = make_cursor(last_when, last.loc) if complete and last_when else None
            yield Batch([entry_item(e) for _, e in chunk], cursor=batch_cursor, complete=complete)
        if not chosen:  # nothing new: an empty batch still commits the sitemap's validators
            yield Batch([], cursor=None, complete=complete)

    def _entries(self, fetcher: Fetcher, mark: tuple[datetime, str] | None, walked: list[str] | None
                 ) -> tuple[list[Entry] | None, bool, list[str] | None]:
        """The pages listed, whether all were read, and where the walk of an index stopped
        (``[lastmod, loc]`` of the last sub-sitemap read) when ``max_sitemaps`` cut it short."""
        response = fetcher.get(self.options.url, conditional=not walked)
        if response.not_modified:
            return None, True, None
        kind, entries = parse_sitemap(response)
        if kind == "urlset":
            return entries, True, None
        # Oldest first, so that a walk cut short goes on where it stopped next time.
        subs = sorted(((s.date.isoformat() if s.date else "", s.loc), s) for s in entries)
        pages: list[Entry] = []
        complete, read = True, 0
        for position, sub in subs:
            if walked is not None and list(position) <= walked:
                continue  # read by this walk in an earlier run
            when = sub.date
            # An index's lastmod is often a bare date: a day of slack keeps same-day changes.
            if mark is not None and when is not None and when + timedelta(days=1) < mark[0]:
                continue  # nothing in it changed since the cursor
            if read == self.options.max_sitemaps:
                return pages, complete, list(last_read)
            read += 1
            last_read = position
            try:
                sub_kind, sub_entries = parse_sitemap(fetcher.get(sub.loc))
            except (FetchError, ParseError):
                complete = False
                continue
            if sub_kind != "urlset":
                raise SourceChanged(f"a sitemap index inside a sitemap index ({sub.loc})", url=sub.loc)
            pages.extend(sub_entries)
        return pages, complete, None

    def fetch(self, fetcher: Fetcher, item: Item) -> list[Response]:
        return [fetcher.get(item.url or item.key)]

    def parse(self, item: Item, responses: list[Response]) -> Document | None:
        return news_document(self.name, item, responses, min_chars=self.options.min_article_chars,
                             kind=self.options.document_kind)

