"""RSS and Atom news feeds (MKB-Nederland, Belastingdienst, ...), read with feedparser.

A feed is a sliding window of recent entries, so the cursor is the set of entries already
delivered: ``{"v": 1, "seen": {sha1(key)[:16]: sha1(title, dates, summary)[:8]}}``, newest
last, at most ``max_seen`` long. An entry is new when its key is not in the set, and edited
(RELIABILITY T2) when its fingerprint changed. Unlike a date high-water mark, the set loses
nothing to entries without a date or with a date in the past, and an entry missed once (a
truncated feed) is simply picked up the next time.

The feed itself is fetched with a conditional GET: a 304 yields no batch at all. A feed read
with nothing new yields an empty batch, so that its cursor and the response's validators (ETag,
Last-Modified) are committed and the next run can get that 304. feedparser
reads the bytes with the response headers, so the charset decision is its own (C1); dates are
parsed from the raw strings by ``scrapers.dates`` because feedparser's ``*_parsed`` are wrong
for zone-less and day-first dates (T4).

Malformed feeds (C2): feedparser keeps what it read before the error. Complete entries are kept,
the last one is dropped (it may have been cut off mid-text), and the batch carries no cursor
and ``complete=False`` (I6): the next run reads the feed again. A feed that is only "bozo"
because its declared charset or content type was wrong is well-formed, and moves the cursor.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import xml.parsers.expat
from html.entities import name2codepoint

import feedparser

from monitor.errors import MonitorError, NotAFeed, ParseError, UnsafeXML
from scrapers.article import html_text, news_document
from scrapers.base import Batch, Document, Fetcher, Item, Response
from scrapers.dates import parse_date

# Bozo reasons that do not mean the XML was broken: the body was read completely.
RECOVERABLE_BOZO = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


@dataclass(frozen=True)
class ParsedFeed:
    format: str  # feedparser's version: "rss20", "atom10", ...
    title: str | None
    language: str | None
    entries: list[Any]  # complete entries only
    dropped: int  # entries left out because the feed broke off in or after them
    bozo: str | None  # why feedparser flagged the feed, if it did
    well_formed: bool


def parse_feed(response: Response) -> ParsedFeed:
    """Parse feed bytes. Raises NotAFeed for an HTML page or an empty body, ParseError for a feed
    too broken to yield a single complete entry."""
    head = response.content[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not head:
        raise NotAFeed(f"empty response where a feed was expected ({response.url})", url=response.url)
    if head.startswith((b"<!doctype html", b"<html")):
        raise NotAFeed(f"an HTML page where a feed was expected ({response.url})", url=response.url)
    if declares_entities(response.content):
        # Entity declarations are how XXE and entity bombs arrive; no real feed needs one (an old
        # RSS 0.91 DOCTYPE without an internal subset is still read).
        raise UnsafeXML(f"a feed that declares XML entities is refused ({response.url})", url=response.url)
    parsed, exc = _feedparser(response.content, response)
    if not parsed.version and not parsed.entries:
        reason = parsed.get("bozo_exception") or "no RSS or Atom root element"
        raise NotAFeed(f"not an RSS or Atom feed ({response.url}): {reason}", url=response.url)
    if exc is not None and not isinstance(exc, RECOVERABLE_BOZO):
        # HTML entities (&nbsp;, &euro;) are no XML, but common in real feeds: written as the
        # character references they stand for, the feed may well be complete and well-formed.
        fixed = _html_entities_as_references(response.content)
        if fixed != response.content:
            reparsed, reexc = _feedparser(fixed, response)
            if reexc is None or isinstance(reexc, RECOVERABLE_BOZO):
                parsed, exc = reparsed, reexc
    well_formed = exc is None or isinstance(exc, RECOVERABLE_BOZO)
    entries = list(parsed.entries)
    if not well_formed and len(entries) > _closed_entries(response.content):
        entries = entries[:-1]  # the last entry was cut off: its closing tag never came
    # In a broken feed, an entry without a title is what feedparser makes of one cut off early
    # (C2, verified); in a well-formed one it is an RSS item that has only a description (RSS 2.0
    # makes every element of an item optional), titled from its text in entry_item.
    complete = [e for e in entries if (e.get("title") or well_formed) and (e.get("id") or e.get("link"))]
    if not well_formed and not complete:
        raise ParseError(f"malformed feed with no complete entry ({response.url}): {exc}", url=response.url)
    return ParsedFeed(format=parsed.version or "unknown", title=parsed.feed.get("title"),
                      language=parsed.feed.get("language"), entries=complete,
                      dropped=len(parsed.entries) - len(complete),
                      bozo=f"{type(exc).__name__}: {exc}" if exc else None, well_formed=well_formed)


def _feedparser(content: bytes, response: Response) -> tuple[Any, BaseException | None]:
    # content-location gives feedparser the base URL for relative links in the entries.
    parsed = feedparser.parse(content, response_headers={"content-location": response.url, **response.headers})
    return parsed, (parsed.get("bozo_exception") if parsed.bozo else None)


class _PrologEnd(Exception):
    pass


def declares_entities(content: bytes) -> bool:
    """Whether the document's prolog (all of it, however long) declares an entity.

    expat reads the prolog (XML declaration, comments, the DOCTYPE and its internal subset, in
    any encoding it knows) and is stopped at the root element, before any entity is expanded.
    Where expat cannot read the prolog, any ``<!ENTITY`` in the bytes counts."""
    parser = xml.parsers.expat.ParserCreate()
    declared = False

    def entity(*_: Any) -> None:
        nonlocal declared
        declared = True
        raise _PrologEnd

    def root(*_: Any) -> None:
        raise _PrologEnd

    parser.EntityDeclHandler = entity
    parser.StartElementHandler = root
    try:
        parser.Parse(content, True)
    except _PrologEnd:
        return declared
    except (xml.parsers.expat.ExpatError, ValueError):
        pass
    return any(re.search(form, content, re.IGNORECASE) for form in _ENTITY_FORMS)


# "<!ENTITY" as bytes in the encodings a feed may come in (ASCII-compatible, UTF-16 both ways).
_ENTITY_FORMS = [re.escape("<!ENTITY".encode(codec)) for codec in ("ascii", "utf-16-le", "utf-16-be")]
# Character data and CDATA sections are skipped; an entity reference outside them is replaced.
_ENTITY_REFERENCE = re.compile(rb"<!\[CDATA\[.*?\]\]>|&([A-Za-z][A-Za-z0-9]{1,31});", re.DOTALL)
_XML_ENTITIES = {"amp", "lt", "gt", "quot", "apos"}


def _html_entities_as_references(content: bytes) -> bytes:
    """HTML's named entities written as the numeric character references XML understands."""
    def replace(match: re.Match[bytes]) -> bytes:
        name = match.group(1)
        if name is None or name.decode() in _XML_ENTITIES or name.decode() not in name2codepoint:
            return match.group(0)
        return b"&#%d;" % name2codepoint[name.decode()]

    return _ENTITY_REFERENCE.sub(replace, content)


def _closed_entries(content: bytes) -> int:
    """How many entries the raw feed closes: an ill-formed feed (an undefined entity, say) may
    still be complete, and only a truncated one loses its last entry."""
    return len(re.findall(rb"</(?:[\w-]+:)?(?:item|entry)\s*>", content))


def entry_item(entry: Any, feed: ParsedFeed) -> Item | None:
    """One feed entry as an Item whose ``data`` is what ``article.news_document`` reads."""
    link = entry.get("link")
    guid = entry.get("id") or link
    if not guid:
        return None
    content = entry.get("content") or []
    body = content[0].get("value") if content else entry.get("summary")
    data = {
        "guid": guid, "title": html_text(entry.get("title")), "excerpt": html_text(body),
        # dict.get: feedparser's own get() maps a missing "updated" to "published", with a warning.
        "published_raw": dict.get(entry, "published") or dict.get(entry, "updated"),
        "modified_raw": dict.get(entry, "updated") if dict.get(entry, "published") else None,
        "language": feed.language, "feed": feed.title, "feed_author": entry.get("author"),
    }
    if feed.bozo:
        data["feed_bozo"] = feed.bozo
    return Item(key=guid, url=link, data={k: v for k, v in data.items() if v})


def _fingerprint(item: Item) -> str:
    parts = [item.data.get(k) or "" for k in ("title", "published_raw", "modified_raw", "excerpt")]
    return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()[:8]


def _oldest_first(item: Item) -> tuple[bool, float]:
    when = parse_date(item.data.get("published_raw"))
    return (when is not None, when.timestamp() if when else 0.0)


def _key_hash(key: str) -> str:
    return hashlib.sha1(key.encode()).hexdigest()[:16]


class FeedSource:
    """An RSS or Atom feed whose entries link to article pages."""

    kind: ClassVar[str] = "feed"

    @dataclass(frozen=True)
    class Options:
        url: str
        max_items: int  # entries per run, oldest first; the rest follows on the next run
        batch_size: int  # entries committed together with the cursor that covers them
        fetch_articles: bool  # fetch each entry's page for the full text (else: the excerpt)
        min_article_chars: int  # less main text than this makes a page "not an article"
        max_seen: int  # entries remembered in the cursor; more than the feed ever holds

    def __init__(self, name: str, options: Options) -> None:
        self.name = name
        self.options = options

    def discover(self, fetcher: Fetcher, cursor: str | None) -> Iterator[Batch]:
        response = fetcher.get(self.options.url, conditional=True)
        if response.not_modified:
            return
        feed = parse_feed(response)
        seen: dict[str, str] = json.loads(cursor)["seen"] if cursor else {}
        items = [item for item in (entry_item(e, feed) for e in feed.entries) if item]
        fresh = [i for i in items if seen.get(_key_hash(i.key)) != _fingerprint(i)]
        fresh.sort(key=_oldest_first)
        taken = fresh[:self.options.max_items]  # the rest stays unseen: the next run takes it
        size = self.options.batch_size
        if not feed.well_formed:
            for start in range(0, len(taken), size):
                yield Batch(taken[start:start + size], cursor=None, complete=False)
            return
        # Entries still in the feed are re-inserted, so they stay at the new end of the window.
        for item in items:
            key = _key_hash(item.key)
            if key in seen:
                seen[key] = seen.pop(key)
        for start in range(0, max(len(taken), 1), size):
            for item in taken[start:start + size]:
                seen.pop(_key_hash(item.key), None)
                seen[_key_hash(item.key)] = _fingerprint(item)
            kept = dict(list(seen.items())[-self.options.max_seen:])
            yield Batch(taken[start:start + size], cursor=json.dumps({"v": 1, "seen": kept}, separators=(",", ":")))

    def fetch(self, fetcher: Fetcher, item: Item) -> list[Response]:
        if not (self.options.fetch_articles and item.url):
            return []
        return [fetcher.get(item.url)]

    def parse(self, item: Item, responses: list[Response]) -> Document | None:
        return news_document(self.name, item, responses, min_chars=self.options.min_article_chars)


def check_feed(fetcher: Fetcher, url: str) -> dict[str, Any]:
    """Fetch a candidate feed and report what is there: for ``mkb-monitor feeds check URL``,
    before an [unverified] feed is enabled."""
    report: dict[str, Any] = {"url": url}
    try:
        response = fetcher.get(url)
        report.update(status=response.status, content_type=response.content_type or None)
        feed = parse_feed(response)
    except MonitorError as exc:
        return {**report, "ok": False, "error": exc.code, "message": exc.message}
    raws = [dict.get(e, "published") or dict.get(e, "updated") for e in feed.entries]
    dates = [parse_date(raw) for raw in raws]
    known = [d for d in dates if d is not None]
    return {
        **report, "ok": bool(feed.entries) and feed.well_formed, "format": feed.format,
        "title": feed.title, "language": feed.language, "entries": len(feed.entries),
        "dropped_entries": feed.dropped, "newest": max(known).isoformat() if known else None,
        "dates_parse": bool(raws) and all(raw and d for raw, d in zip(raws, dates)),
        "undated_entries": sum(1 for raw in raws if not raw),
        "unparsed_dates": sorted({raw for raw, d in zip(raws, dates) if raw and d is None})[:5],
        "bozo": feed.bozo, "well_formed": feed.well_formed,
    }
