"""Tweede Kamer documents from the Gegevensmagazijn SyncFeed 2.0 (Atom), kept in step by skiptoken.

    discover  Feed?category=Document&skiptoken=N, one Batch per page; entries filtered here on
              soort, dossier and terms; a document's dossier number resolved from its
              kamerstukdossier ref via Entiteiten/<guid> (memoised for the run)
    fetch     the document's file (link rel="enclosure") when fetch_files is on
    parse     the entry's XML (kept in item.data) and the file: no network

Every feed entry carries a ``next`` link whose skiptoken resumes right after it, so a page's
cursor is the token of its last entry: committing it with the page's items covers exactly
those (I1). A page without entries, or without a next link, means the feed is read to its end.
The cursor is JSON: ``{"category": "Document", "skiptoken": 20127222}``.

Why Entiteiten and not the Kamerstukdossier category: a source keeps no table of its own, so a
GUID -> number map built from that feed would have to live in the cursor; one small request per
dossier per run is cheaper than that, and far fewer than the documents it serves.

Real pages put Atom in the default namespace and the entity in TK's namespace, with
``tk:verwijderd``/``tk:bijgewerkt`` attributes; copies of the feed in the wild often have the
namespaces stripped. Both are read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qs, quote, urlsplit

from lxml import etree

from monitor.errors import APIError, SourceChanged
from scrapers.base import Batch, Document, Fetcher, Item, Response
from scrapers.dates import parse_date
from scrapers.filetext import document_text
from scrapers.xmlsafe import parse_xml

ATOM = "http://www.w3.org/2005/Atom"
TK = "http://www.tweedekamer.nl/xsd/tkData/v1-0"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
CATEGORY = "Document"
LOG = logging.getLogger(__name__)
DOCUMENT_PAGE = "https://www.tweedekamer.nl/kamerstukken/detail?id={number}&did={number}"

# TK's document soorten, mapped to the kinds KOOP's publications get (scrapers.koop.document_kind).
KINDS = {
    "Brief regering": "kamerbrief",
    "Motie": "motie",
    "Motie (gewijzigd/nader)": "motie",
    "Schriftelijke vragen": "kamervragen",
    "Antwoord schriftelijke vragen": "kamervragen",
    "Antwoord schriftelijke vragen (nader)": "kamervragen",
}


@dataclass
class Options:
    base_url: str  # .../SyncFeed/2.0
    soorten: list[str]  # document soorten to keep; empty keeps every soort
    dossiers: list[str]  # kamerstukdossier numbers, e.g. "32637" or "36600-XIII"
    terms: list[str]  # matched at word starts in titel, onderwerp and the dossier's titel
    first_run_days: int  # the first run starts at the first change of this many days ago (0: the feed's start)
    start_skiptoken: int  # an explicit start for the first run instead (0: find it from first_run_days)
    max_start_requests: int  # feed pages the search for that start may ask
    max_pages: int  # feed pages per run; the rest follows on the next run
    fetch_files: bool
    max_file_pages: int
    max_file_unpacked_bytes: int


@dataclass
class Entry:
    """One feed entry: the entity element and what the Atom envelope says about it."""

    element: etree._Element  # the <entry>
    entity: etree._Element | None  # the <document> (or other entity) inside <content>
    guid: str
    next_skiptoken: int | None
    enclosure: str | None
    updated: datetime | None = None  # Atom <updated>: when the change reached the feed

    @property
    def deleted(self) -> bool:
        return self.entity is not None and _is_true(_attr(self.entity, "verwijderd"))


class SyncFeedSource:
    kind: ClassVar[str] = "tk_syncfeed"
    Options: ClassVar[type] = Options

    def __init__(self, name: str, options: Options) -> None:
        self.name = name
        self.options = options
        self._terms = [re.compile(rf"(?<!\w){re.escape(term)}", re.IGNORECASE) for term in options.terms]

    # --- discover -----------------------------------------------------------------------

    def discover(self, fetcher: Fetcher, cursor: str | None) -> Iterator[Batch]:
        token = _load_cursor(cursor) if cursor else self._first_token(fetcher)
        dossiers: dict[str, dict[str, Any]] = {}  # kamerstukdossier GUID -> fields, for this run
        for _ in range(self.options.max_pages):
            response, entries = self._page(fetcher, token)
            if not entries:
                return
            items = [item for entry in entries
                     if (item := self._item(fetcher, entry, dossiers)) is not None]
            next_token = entries[-1].next_skiptoken
            if next_token is None:
                yield Batch(items, cursor=None)
                return
            if token and next_token <= token:
                raise SourceChanged(f"SyncFeed skiptoken goes backwards ({token} -> {next_token})",
                                    url=response.url)
            yield Batch(items, cursor=json.dumps({"category": CATEGORY, "skiptoken": next_token}))
            token = next_token

    def _page(self, fetcher: Fetcher, token: int) -> tuple[Response, list[Entry]]:
        params = {"category": CATEGORY, **({"skiptoken": str(token)} if token else {})}
        response = fetcher.get(f"{self.options.base_url}/Feed", params=params)
        return response, read_feed(response)

    def _first_token(self, fetcher: Fetcher) -> int:
        """Where a first run starts: the configured token, else the last change before
        ``first_run_days`` ago, found by searching the feed."""
        if self.options.start_skiptoken or not self.options.first_run_days:
            return self.options.start_skiptoken
        since = fetcher.now() - timedelta(days=self.options.first_run_days)
        return find_start(lambda token: self._page(fetcher, token)[1], since, now=fetcher.now(),
                          max_requests=self.options.max_start_requests)

    def _item(self, fetcher: Fetcher, entry: Entry, dossiers: dict[str, dict[str, Any]]) -> Item | None:
        """The entry as an Item, or None when it is a placeholder or outside the selection."""
        if entry.entity is None or etree.QName(entry.entity).localname != "document":
            # Skipping it would move the cursor past it for good: fail the page instead (I6).
            raise SourceChanged(f"a {CATEGORY} feed entry without a <document> ({entry.guid})")
        xml = etree.tostring(entry.element, encoding="unicode")
        version = hashlib.sha256(xml.encode()).hexdigest()[:16]  # the entry as published, tk:bijgewerkt included
        if entry.deleted:  # a tombstone has no fields to filter on; the store ignores unknown ones
            return Item(key=entry.guid, data={"entry": xml}, version=version)
        fields = document_fields(entry.entity)
        # TK#75: real documents can have a null titel; a placeholder row has none of these.
        if not any(fields.get(name) for name in ("titel", "onderwerp", "documentNummer")):
            return None
        if self.options.soorten and fields.get("soort") not in self.options.soorten:
            return None
        dossier = None
        ref = fields["refs"].get("kamerstukdossier")
        if ref:
            if ref[0] not in dossiers:
                dossiers[ref[0]] = read_dossier(fetcher.get(f"{self.options.base_url}/Entiteiten/{ref[0]}"))
            dossier = dossiers[ref[0]]
        if not self._selected(fields, dossier):
            return None
        return Item(key=entry.guid, url=_entity_url(entry.element),
                    data={"entry": xml, "dossier": dossier, "enclosure": entry.enclosure}, version=version)

    def _selected(self, fields: dict[str, Any], dossier: dict[str, Any] | None) -> bool:
        if not self.options.dossiers and not self._terms:
            return True
        if dossier and dossier_number(dossier) in self.options.dossiers:
            return True
        haystack = " ".join(filter(None, (fields.get("titel"), fields.get("onderwerp"),
                                          (dossier or {}).get("titel"))))
        return any(term.search(haystack) for term in self._terms)

    # --- fetch and parse ----------------------------------------------------------------

    def fetch(self, fetcher: Fetcher, item: Item) -> list[Response]:
        enclosure = item.data.get("enclosure")
        return [fetcher.get(enclosure)] if enclosure and self.options.fetch_files else []

    def parse(self, item: Item, responses: list[Response]) -> Document:
        entry = read_entry(parse_xml(item.data["entry"].encode()))
        if entry.entity is None:
            raise SourceChanged(f"entry {item.key} has no entity")
        changed = _iso(_attr(entry.entity, "bijgewerkt"))
        if entry.deleted:
            return Document(source=self.name, source_key=item.key, url=item.url, title="", text="",
                            kind="parlementair", modified=changed, text_quality="metadata", deleted=True)
        fields = document_fields(entry.entity)
        dossier = item.data.get("dossier")
        number = fields.get("documentNummer")
        text, quality, file_meta = self._file_text(responses, entry.entity)
        if not text:
            text = "\n\n".join(_unique([fields.get("titel"), fields.get("onderwerp")]))
        meta = {key: value for key, value in fields.items() if key not in ("onderwerp", "refs") and value}
        meta.update(refs=fields["refs"], api_url=item.url, **file_meta)
        if dossier:
            meta["dossier_titel"] = dossier.get("titel")
        return Document(
            source=self.name, source_key=item.key, url=document_page(number) if number else item.url,
            title=fields.get("onderwerp") or fields.get("titel") or number or item.key,
            text=text, kind=KINDS.get(fields.get("soort") or "", "kamerstuk" if dossier else "parlementair"),
            published=_iso(fields.get("datum")), published_raw=fields.get("datum"),
            id=kamerstuk_id(dossier, fields.get("volgnummer")), aliases=[number] if number else [],
            modified=changed, dossiers=[dossier_number(dossier)] if dossier else [], meta=meta,
            text_quality=quality,
        )

    def _file_text(self, responses: list[Response], entity: etree._Element) -> tuple[str, str, dict[str, Any]]:
        """The text of the document's file, its text_quality, and what meta records about it."""
        if not responses:
            return "", "metadata", {}
        response = responses[0]
        return document_text(response.content, response.content_type or (_attr(entity, "contentType") or ""),
                             max_pages=self.options.max_file_pages,
                             max_unpacked_bytes=self.options.max_file_unpacked_bytes)


# --- where a first run starts ---------------------------------------------------------------


def find_start(page: Callable[[int], list[Entry]], since: datetime, *, now: datetime, max_requests: int) -> int:
    """The skiptoken after which the feed holds the changes made since ``since``.

    The feed is ordered by change, and every entry's ``<updated>`` says when its change came
    in, so the token is found by searching: the first page (the feed's start) gives a lower
    bound; tokens growing fast (extrapolated from the dates seen, at least x4) find an upper
    bound (a page whose first change is new enough, or an empty page past the feed's end); then
    the bracket is narrowed by interpolating on the dates, falling back to halving when an
    interpolation did not halve it (mass updates put millions of changes on one day). A page
    that holds the boundary ends the search with the exact token. Each request is logged.
    Should ``max_requests`` run out, the search starts at its lower bound: earlier than the
    window, never later.
    """
    lo, lo_date = 0, None  # the answer is >= lo; lo_date: the change at lo
    hi: int | None = None  # the answer is < hi
    hi_date: datetime | None = None
    token, last_width = 0, None
    for request in range(1, max_requests + 1):
        entries = page(token)
        dated = [e for e in entries if e.updated is not None and e.next_skiptoken is not None]
        LOG.info("SyncFeed start search, request %d: skiptoken %d -> %s", request, token,
                 f"{len(entries)} entries, {dated[0].updated:%Y-%m-%d %H:%M} .. {dated[-1].updated:%Y-%m-%d %H:%M}"
                 if dated else f"{len(entries)} entries")
        if not dated:  # past the feed's end (or nothing dated to go by): an upper bound
            if token == 0:
                return 0
            hi, hi_date = token, now
        elif dated[0].updated >= since:
            if token == 0:
                return 0  # the whole feed is younger than the window
            hi, hi_date = token, dated[0].updated
        elif dated[-1].updated < since:
            lo, lo_date = dated[-1].next_skiptoken, dated[-1].updated
        else:  # the boundary is on this page
            before = [e for e in dated if e.updated < since]
            start = before[-1].next_skiptoken
            LOG.info("SyncFeed start for changes since %s: skiptoken %d (%d requests)", since.isoformat(), start, request)
            return start
        if hi is not None and hi - lo <= 1:
            break
        token, last_width = _next_probe(lo, lo_date, hi, hi_date, since, last_width), (hi - lo if hi else None)
    LOG.info("SyncFeed start for changes since %s: skiptoken %d (search ended after %d requests)",
             since.isoformat(), lo, max_requests)
    return lo


def _next_probe(lo: int, lo_date: datetime | None, hi: int | None, hi_date: datetime | None, since: datetime,
                last_width: int | None) -> int:
    if hi is None:  # no upper bound yet: grow fast
        return max(4 * lo, 1024)
    width = hi - lo
    if lo_date is None or hi_date is None or hi_date <= lo_date or (last_width and width > last_width // 2):
        return lo + width // 2
    fraction = (since - lo_date) / (hi_date - lo_date)
    # Never at the very edge of the bracket: each probe must be able to shrink it for good.
    return lo + min(max(int(fraction * width), 1), width - 1)


# --- reading the feed -----------------------------------------------------------------------


def read_feed(response: Response) -> list[Entry]:
    """The entries of one SyncFeed page. An <Error> body is an APIError whatever the status."""
    root = parse_xml(response.content, url=response.url)
    local = etree.QName(root).localname
    if local == "Error":
        message = " ".join(" ".join(root.itertext()).split()) or "no message"
        raise APIError(f"SyncFeed error: {message}", url=response.url)
    if local != "feed" or root.nsmap.get(None, ATOM) != ATOM:
        raise SourceChanged(f"expected an Atom <feed>, got <{root.tag}>", url=response.url)
    return [read_entry(element) for element in _children(root, ATOM, "entry")]


def read_entry(element: etree._Element) -> Entry:
    links = {link.get("rel"): link.get("href") for link in _children(element, ATOM, "link")}
    content = _child(element, ATOM, "content")
    entity = next((child for child in content if isinstance(child.tag, str)), None) if content is not None else None
    guid = (entity.get("id") if entity is not None else None) or _text(element, ATOM, "title")
    if not guid:
        raise SourceChanged("a SyncFeed entry without an id")
    return Entry(element=element, entity=entity, guid=guid, next_skiptoken=_skiptoken(links.get("next")),
                 enclosure=links.get("enclosure"), updated=parse_date(_text(element, ATOM, "updated")))


def document_fields(entity: etree._Element) -> dict[str, Any]:
    """The text fields of an entity by name (nil ones left out) and its relations under
    ``refs`` (name -> list of GUIDs)."""
    fields: dict[str, Any] = {"refs": {}}
    for child in entity:
        if not isinstance(child.tag, str) or _is_true(_attr(child, "nil")):
            continue
        name = etree.QName(child).localname
        if child.get("ref"):
            fields["refs"].setdefault(name, []).append(child.get("ref"))
        elif (child.text or "").strip():
            fields[name] = child.text.strip()
    return fields


def read_dossier(response: Response) -> dict[str, Any]:
    """nummer, toevoeging and titel of a kamerstukdossier from its Entiteiten/<guid> response."""
    root = parse_xml(response.content, url=response.url)
    if etree.QName(root).localname == "Error":
        raise APIError(f"SyncFeed error for {response.url}: {' '.join(root.itertext()).strip()}",
                       url=response.url)
    entity = next((e for e in root.iter() if isinstance(e.tag, str)
                   and etree.QName(e).localname == "kamerstukdossier" and e.get("ref") is None), None)
    fields = document_fields(entity) if entity is not None else {}
    if not fields.get("nummer"):
        raise SourceChanged("a kamerstukdossier entity without a nummer", url=response.url)
    return {key: fields.get(key) for key in ("nummer", "toevoeging", "titel")}


def dossier_number(dossier: dict[str, Any]) -> str:
    """The number KOOP uses for a dossier: ``32637``, or ``36600-XIII`` with a toevoeging.

    A toevoeging in brackets is not part of it (tkapi builds kst- URLs the same way)."""
    toevoeging = dossier.get("toevoeging")
    return f"{dossier['nummer']}-{toevoeging}" if toevoeging and "(" not in toevoeging else dossier["nummer"]


def document_page(number: str) -> str:
    """The tweedekamer.nl page of a document, by its number (``2026D34574``). The site knows
    documents by number only (not by GUID), and wants it as both ``id`` and ``did``."""
    return DOCUMENT_PAGE.format(number=quote(number, safe=""))


def kamerstuk_id(dossier: dict[str, Any] | None, volgnummer: str | None) -> str | None:
    """The KOOP identifier (``kst-32637-428``) of a document in a dossier, so the store merges the
    TK record with KOOP's publication of the same Kamerstuk."""
    if not dossier or not volgnummer or not volgnummer.isdigit():
        return None
    return f"kst-{dossier_number(dossier)}-{volgnummer}"


# --- helpers --------------------------------------------------------------------------------


def _child(element: etree._Element, ns: str, local: str) -> etree._Element | None:
    found = element.find(f"{{{ns}}}{local}")
    return found if found is not None else element.find(local)


def _children(element: etree._Element, ns: str, local: str) -> list[etree._Element]:
    return element.findall(f"{{{ns}}}{local}") or element.findall(local)


def _text(element: etree._Element, ns: str, local: str) -> str | None:
    found = _child(element, ns, local)
    return (found.text or "").strip() or None if found is not None else None


def _attr(element: etree._Element, local: str) -> str | None:
    for ns in (TK, XSI):
        if f"{{{ns}}}{local}" in element.attrib:
            return element.get(f"{{{ns}}}{local}")
    return element.get(local)


def _is_true(value: str | None) -> bool:
    # xs:boolean is "true" or "1"; copies of the feed in the wild also write "True".
    return (value or "").strip().lower() in ("true", "1")


def _entity_url(entry: etree._Element) -> str | None:
    return _text(entry, ATOM, "id")


def _skiptoken(href: str | None) -> int | None:
    if not href:
        return None
    values = parse_qs(urlsplit(href).query).get("skiptoken")
    try:
        return int(values[0]) if values else None
    except ValueError:
        raise SourceChanged(f"a next link with a skiptoken that is not a number: {href}") from None


def _load_cursor(cursor: str) -> int:
    try:
        state = json.loads(cursor)
        if state["category"] != CATEGORY:
            raise ValueError(state["category"])
        return int(state["skiptoken"])
    except (ValueError, KeyError, TypeError):
        raise SourceChanged(f"not a SyncFeed cursor: {cursor!r}") from None


def _iso(value: str | None) -> str | None:
    """ISO 8601 with an offset, to the precision TK gives; TK writes local times without one,
    which are Amsterdam time."""
    moment = parse_date(value)
    return moment.isoformat() if moment else None


def _unique(values: list[str | None]) -> list[str]:
    return list(dict.fromkeys(value for value in values if value))
