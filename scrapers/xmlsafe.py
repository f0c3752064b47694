"""Parsing XML from the network without trusting it.

API responses (SRU, SyncFeed, sitemaps) are parsed with lxml in a hardened mode: no DTD, no
entity expansion, no network, no XInclude, no huge trees. A document that declares a DOCTYPE is
refused outright (xml.forbidden): none of our sources needs one, and it is how XXE and entity
bombs arrive. Feeds go through feedparser instead, which has its own defences.
"""

from __future__ import annotations

from lxml import etree

from monitor.errors import NotAFeed, ParseError, UnsafeXML

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          dtd_validation=False, huge_tree=False, remove_blank_text=False)


def parse_xml(content: bytes, *, url: str | None = None) -> etree._Element:
    """Parse bytes as XML, honouring the document's own encoding declaration.

    Raises UnsafeXML for a DOCTYPE, NotAFeed for an HTML page, ParseError (with line and
    column) for anything that is not well-formed.
    """
    head = content[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<!doctype html") or head.startswith(b"<html"):
        raise NotAFeed(f"an HTML page where XML was expected ({url or 'response'})", url=url)
    if b"<!doctype" in head:
        # Refused before parsing, so an entity bomb is named as what it is, not as a parse error.
        raise UnsafeXML(f"XML with a DOCTYPE is refused ({url or 'response'})", url=url)
    try:
        root = etree.fromstring(content, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"not well-formed XML ({url or 'response'}): {exc.msg} "
                         f"at line {exc.lineno}, column {exc.offset}", url=url) from None
    if root is None:
        raise ParseError(f"empty XML document ({url or 'response'})", url=url)
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise UnsafeXML(f"XML with a DOCTYPE is refused ({url or 'response'})", url=url)
    return root
