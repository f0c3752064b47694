"""Kamerstukken and Kamervragen from officielebekendmakingen.nl, through KOOP's SRU 2.0 service.

    discover  one CQL selection (the configured publications, in a configured dossier or with a
              configured term), asked per window of dt.modified dates from the cursor date (minus
              an overlap: dt.modified is a date, so the last day is read again) up to today;
              each window's pages followed by nextRecordPosition to the end
    fetch     the XML manifestation the record names (HTML, then PDF, where there is no XML)
    parse     metadata from the SRU record, text from the manifestation: no network

The cursor is JSON, ``{"modified": "2026-11-27", "query": "<hash>"}``: the newest dt.modified
seen and a hash of the selection it belongs to, so that changing the dossiers or terms starts
again from ``start_date`` instead of skipping everything older. SRU results are not ordered by
date, so only the last page of a window carries a cursor (I1). Windows keep each query far below
the startRecord the server stops serving (9999, seen by a 2026 third-party client) and let a
long first run commit its progress as it goes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, ClassVar

import lxml.html
from lxml import etree

from monitor.errors import APIError, ConfigError, ParseError, SourceChanged
from scrapers.base import Batch, Document, Fetcher, Item, Response
from scrapers.dates import AMSTERDAM
from scrapers.filetext import document_text
from scrapers.xmlsafe import parse_xml

SRU = "http://docs.oasis-open.org/ns/search-ws/sruResponse"
DIAG = "http://docs.oasis-open.org/ns/search-ws/diagnostic"
NS = {
    "sru": SRU,
    "gzd": "http://standaarden.overheid.nl/sru",
    "ow": "http://standaarden.overheid.nl/wetgeving/",
}
# The parser below reads SRU 2.0 with KOOP's own "gzd" record schema; neither is a free choice.
SRU_PARAMS = {"operation": "searchRetrieve", "version": "2.0", "recordSchema": "gzd"}

# Manifestations to take the text from, best first: the XML is the publisher's own structured
# text; the HTML is the same text in a page; a Bijlage often exists only as a PDF.
TEXT_MANIFESTATIONS = ("xml", "html", "pdf")

# Parts of an officiele-publicatie that are metadata or a running head, not the text.
NOT_TEXT = {"metadata", "kamerstukkop", "kamervraagkop"}
HTML_BLOCKS = ("h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "td", "th", "dt", "dd")


@dataclass
class Options:
    base_url: str
    publications: list[str]  # w.publicatienaam values, e.g. "Kamerstuk", "Kamervragen (Aanhangsel)"
    dossiers: list[str]  # w.dossiernummer values, e.g. "32637"
    terms: list[str]  # searched in text and indexes (cql.textAndIndexes)
    start_date: str  # ISO date the first run (or a changed query) reads from
    overlap_days: int
    window_days: int  # one query per window of this many days: each ends well below SRU's paging limit
    page_size: int
    max_file_pages: int  # pages of a PDF-only publication read for text


class KoopSource:
    kind: ClassVar[str] = "koop"
    Options: ClassVar[type] = Options

    def __init__(self, name: str, options: Options) -> None:
        if not options.dossiers and not options.terms:
            raise ConfigError(f"[sources.{name}]: give at least one of 'dossiers' or 'terms'")
        self.name = name
        self.options = options

    # --- discover -----------------------------------------------------------------------

    def selection(self) -> str:
        """The CQL of what this source follows, without the date: its hash is part of the cursor."""
        quote = _cql_string
        publications = " or ".join(f"w.publicatienaam=={quote(p)}" for p in self.options.publications)
        topics = " or ".join([f"w.dossiernummer=={quote(d)}" for d in self.options.dossiers]
                             + [f"cql.textAndIndexes={quote(t)}" for t in self.options.terms])
        clauses = ['c.product-area=="officielepublicaties"', f"({topics})"]
        if publications:
            clauses.insert(1, f"({publications})")
        return " and ".join(clauses)

    def query(self, first: date, last: date | None) -> str:
        """The CQL for what changed from ``first`` through ``last`` (None: up to now)."""
        until = f' and dt.modified<="{last.isoformat()}"' if last else ""
        return f'{self.selection()} and dt.modified>="{first.isoformat()}"{until}'

    def discover(self, fetcher: Fetcher, cursor: str | None) -> Iterator[Batch]:
        selection_hash = hashlib.sha256(self.selection().encode()).hexdigest()[:16]
        committed = _load_cursor(cursor, selection_hash)
        since = (committed - timedelta(days=self.options.overlap_days) if committed
                 else date.fromisoformat(self.options.start_date))
        newest = committed
        today = fetcher.now().astimezone(AMSTERDAM).date()  # dt.modified is a Dutch date
        for first, last in date_windows(since, today, self.options.window_days):
            for items, window_done in self._pages(fetcher, self.query(first, last)):
                for item in items:
                    modified = date.fromisoformat(item.data["modified"])
                    newest = max(newest, modified) if newest else modified
                if window_done and items:
                    # Windows run oldest first, so once one is read to its end everything
                    # modified up to its last day is stored (I1); the cursor never moves back.
                    newest = max(d for d in (newest, min(last or today, today)) if d is not None)
                # An empty window moves nothing (I6).
                advance = window_done and newest is not None and newest != committed
                yield Batch(items, cursor=json.dumps({"modified": newest.isoformat(), "query": selection_hash})
                            if advance else None)
                if advance:
                    committed = newest

    def _pages(self, fetcher: Fetcher, query: str) -> Iterator[tuple[list[Item], bool]]:
        """The items of each page of one query, and whether that page was the last."""
        params = {**SRU_PARAMS, "query": query, "maximumRecords": str(self.options.page_size)}
        start = 1
        while True:
            response = fetcher.get(self.options.base_url, params={**params, "startRecord": str(start)})
            records, next_position = read_page(response)
            items = [record_item(record, url=response.url) for record in records]
            if next_position is None:
                yield items, True
                return
            if next_position <= start:
                raise SourceChanged(f"SRU paging goes backwards ({start} -> {next_position})", url=response.url)
            yield items, False
            start = next_position

    # --- fetch and parse ----------------------------------------------------------------

    def fetch(self, fetcher: Fetcher, item: Item) -> list[Response]:
        chosen = text_manifestation(item.data)
        return [fetcher.get(chosen[1])] if chosen else []

    def parse(self, item: Item, responses: list[Response]) -> Document:
        data = item.data
        text, quality, file_meta = "", "metadata", {}
        chosen = text_manifestation(data)
        if chosen and responses:
            manifestation, response = chosen[0], responses[0]
            if manifestation == "pdf":
                # A PDF is not a zip: the unpacked-size cap is for DOCX only.
                text, quality, file_meta = document_text(response.content, "application/pdf",
                                                         max_pages=self.options.max_file_pages,
                                                         max_unpacked_bytes=0)
            else:
                text = html_text(response) if manifestation == "html" else xml_text(response)
                quality = "full"
        published = data.get("issued") or data.get("date") or data.get("available")
        dossiers = _unique(_as_list(data.get("dossiernummer")) + _as_list(data.get("behandeldDossier")))
        meta = {key: value for key, value in data.items()
                if key not in ("identifier", "title", "language", "manifestations", "preferredUrl", "url")}
        return Document(
            source=self.name, source_key=item.key, url=item.url, title=data.get("title") or item.key,
            text=text, kind=document_kind(data), published=published, published_raw=published,
            id=item.key, modified=data.get("datumTijdstipWijzigingExpression") or data.get("modified"),
            language=data.get("language") or "nl", dossiers=dossiers, meta={**meta, **file_meta},
            text_quality=quality,
        )


# --- SRU ------------------------------------------------------------------------------------


def read_page(response: Response) -> tuple[list[etree._Element], int | None]:
    """The records of one searchRetrieve page and the next start position (None on the last)."""
    root = parse_xml(response.content, url=response.url)
    diagnostics = [_diagnostic_text(d) for d in root.iter(f"{{{DIAG}}}diagnostic")]
    if diagnostics:
        raise APIError(f"SRU diagnostic: {'; '.join(diagnostics)}", url=response.url)
    if root.tag != f"{{{SRU}}}searchRetrieveResponse":
        raise SourceChanged(f"expected an SRU 2.0 searchRetrieveResponse, got <{root.tag}>", url=response.url)
    next_position = root.findtext("sru:nextRecordPosition", namespaces=NS)
    try:
        return root.findall("sru:records/sru:record", NS), int(next_position) if next_position else None
    except ValueError:
        raise SourceChanged(f"nextRecordPosition is not a number: {next_position!r}", url=response.url) from None


def record_item(record: etree._Element, *, url: str | None = None) -> Item:
    """An Item from one SRU record: every OWMS and tpmeta field by its local name, and the
    manifestation URLs of enrichedData (taken from the record, never built: SOURCES-API 2.2)."""
    gzd = record.find("sru:recordData/gzd:gzd", NS)
    meta = gzd.find("gzd:originalData/ow:meta", NS) if gzd is not None else None
    if meta is None:
        raise SourceChanged("an SRU record without gzd:originalData/meta", url=url)
    data: dict[str, Any] = {}
    for part in meta:
        for element in part:
            if isinstance(element.tag, str) and (element.text or "").strip():
                _add(data, etree.QName(element).localname, element.text.strip())
    enriched = gzd.find("gzd:enrichedData", NS)
    manifestations = {}
    if enriched is not None:
        for element in enriched.iterfind("gzd:itemUrl", NS):
            manifestations[element.get("manifestation", "")] = (element.text or "").strip()
        data["url"] = enriched.findtext("gzd:url", namespaces=NS)
        data["preferredUrl"] = enriched.findtext("gzd:preferredUrl", namespaces=NS)
    data["manifestations"] = manifestations
    identifier = data.get("identifier")
    if not isinstance(identifier, str) or not data.get("modified"):
        raise SourceChanged("an SRU record without one dcterms:identifier and dcterms:modified", url=url)
    return Item(key=identifier, url=data.get("preferredUrl") or data.get("url"), data=data,
                version=str(data.get("datumTijdstipWijzigingExpression") or data["modified"]))


def text_manifestation(data: dict[str, Any]) -> tuple[str, str] | None:
    """The (manifestation, URL) to read the text from, or None when the record names none."""
    named = dict(data.get("manifestations") or {})
    main = data.get("url") or ""
    # gzd:url is the main manifestation; older records name it without a matching itemUrl.
    for suffix in TEXT_MANIFESTATIONS:
        if main.endswith(f".{suffix}"):
            named.setdefault(suffix, main)
    for manifestation in TEXT_MANIFESTATIONS:
        if named.get(manifestation):
            return manifestation, named[manifestation]
    return None


def document_kind(data: dict[str, Any]) -> str:
    """kamerbrief, motie, kamervragen, bijlage, handelingen or kamerstuk."""
    identifier = data["identifier"]
    if identifier.startswith("ah-"):
        return "kamervragen"
    if data.get("type") == "Bijlage":
        return "bijlage"
    if identifier.startswith("h-"):
        return "handelingen"
    return {"Brief": "kamerbrief", "Motie": "motie"}.get(data.get("subrubriek", ""), "kamerstuk")


# --- text -----------------------------------------------------------------------------------


def xml_text(response: Response) -> str:
    """The text of an officiele-publicatie: one paragraph per block, a blank line between.

    A block is the innermost element that holds text of its own (an <al>, a <titel>, a <nr>);
    its inline children (<naam>, <extref>, <datum>) stay in its line. Unknown elements are
    read the same way, so a letter's <ondertekening> or a table is kept without a rule for it.
    """
    root = parse_xml(response.content, url=response.url)
    if root.tag != "officiele-publicatie":
        raise SourceChanged(f"expected <officiele-publicatie>, got <{root.tag}>", url=response.url)
    blocks: list[str] = []
    _blocks(root, blocks)
    if not blocks:
        raise ParseError("the publication XML holds no text", url=response.url)
    return "\n\n".join(blocks)


def _blocks(element: etree._Element, out: list[str]) -> None:
    for child in element:
        if not isinstance(child.tag, str) or child.tag in NOT_TEXT:
            continue
        if _has_own_text(child):
            text = " ".join("".join(child.itertext()).split())
            if text:
                out.append(text)
        else:
            _blocks(child, out)


def _has_own_text(element: etree._Element) -> bool:
    return bool((element.text or "").strip()) or any((c.tail or "").strip() for c in element) or len(element) == 0


def html_text(response: Response) -> str:
    """The text of the HTML manifestation: its block elements in order, inside #broodtekst."""
    page = lxml.html.document_fromstring(response.content)
    main = page.xpath('//*[@id="broodtekst"]')
    body = main[0] if main else page.body
    blocks = []
    for element in body.iter(*HTML_BLOCKS):
        if any(ancestor.tag in HTML_BLOCKS for ancestor in element.iterancestors()):
            continue
        text = " ".join(element.text_content().split())
        if text:
            blocks.append(text)
    if not blocks:
        raise ParseError("the publication HTML holds no text", url=response.url)
    return "\n\n".join(blocks)


# --- helpers --------------------------------------------------------------------------------


def date_windows(since: date, today: date, days: int) -> Iterator[tuple[date, date | None]]:
    """Consecutive inclusive date ranges of ``days`` days from ``since``; the last is open-ended,
    so a publication dated "tomorrow" by a clock ahead of ours is not cut off."""
    first = since
    while (today - first).days >= days:
        last = first + timedelta(days=days - 1)
        yield first, last
        first = last + timedelta(days=1)
    yield first, None


def _load_cursor(cursor: str | None, selection_hash: str) -> date | None:
    if not cursor:
        return None
    try:
        state = json.loads(cursor)
        modified = date.fromisoformat(state["modified"])
    except (ValueError, KeyError, TypeError):
        raise SourceChanged(f"not a KOOP cursor: {cursor!r}") from None
    return modified if state.get("query") == selection_hash else None


def _cql_string(value: str) -> str:
    """A CQL quoted string: backslash and double quote escaped, per the CQL grammar."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _diagnostic_text(diagnostic: etree._Element) -> str:
    parts = {etree.QName(child).localname: (child.text or "").strip() for child in diagnostic
             if isinstance(child.tag, str)}
    message = parts.get("message") or parts.get("uri") or "unknown diagnostic"
    detail = f" ({parts['details']})" if parts.get("details") else ""
    return f"{message}{detail} [{parts.get('uri', '')}]"


def _add(data: dict[str, Any], key: str, value: str) -> None:
    if key not in data:
        data[key] = value
    elif isinstance(data[key], list):
        data[key].append(value)
    else:
        data[key] = [data[key], value]


def _as_list(value: str | list[str] | None) -> list[str]:
    return [] if value is None else [value] if isinstance(value, str) else list(value)


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))
