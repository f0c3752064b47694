"""An article page (HTML bytes) -> its main text and metadata, with trafilatura.

Shared by every news source (feeds, sitemaps, rijksoverheid.nl, HTML listings): they find the
article; this module reads it. Two things go wrong with real pages and are handled here:

* the charset. A server that declares UTF-8 and sends Windows-1252 (or the reverse) is common
  (RELIABILITY C1). Bytes that are valid UTF-8 are UTF-8 — text in a legacy 8-bit charset with
  any accented letter almost never is — so UTF-8 is tried strictly first and the declared charset
  (header, then ``<meta>``) only after; bs4's ``UnicodeDammit`` does the trying.
* pages that are not articles: an index, a cookie wall, a page with (almost) no main text. They
  raise ``NotAnArticle`` so that the pipeline records them instead of storing a menu as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import trafilatura
from bs4 import BeautifulSoup, UnicodeDammit

from monitor.errors import NotAnArticle, ParseError
from scrapers.base import Document, Item, Response, canonical_url
from scrapers.dates import to_iso

# htmldate's own output format: with the time and offset where the page gives them.
_DATE_PARAMS = {"extensive_search": True, "original_date": True, "outputformat": "%Y-%m-%dT%H:%M:%S%z"}


@dataclass(frozen=True)
class Article:
    url: str  # the page's canonical URL where it names one, else the URL it was fetched from
    title: str | None
    text: str
    published: str | None  # ISO 8601
    published_raw: str | None
    author: str | None
    language: str | None
    description: str | None


def decode_html(content: bytes, declared: str | None = None) -> str:
    """The page as text, whatever charset its server claimed (see the module docstring)."""
    # Windows-1252 before any statistical guess: it is what a Dutch page that is not UTF-8 is
    # written in (and what browsers read "iso-8859-1" as); a guesser picks Windows-1250 for
    # "geïnformeerd" and stores "geďnformeerd".
    dammit = UnicodeDammit(content, known_definite_encodings=["utf-8"],
                           user_encodings=[*([declared] if declared else []), "windows-1252"], is_html=True)
    if dammit.unicode_markup is None:
        raise ParseError("the page cannot be decoded in any charset")
    return dammit.unicode_markup.lstrip("\ufeff")


def extract_article(response: Response, *, min_chars: int) -> Article:
    """Main text and metadata of an article page. Raises NotAnArticle for anything else."""
    if response.content_type and "html" not in response.content_type:
        raise NotAnArticle(f"not an HTML page ({response.content_type}): {response.url}", url=response.url)
    tree = trafilatura.load_html(decode_html(response.content, response.charset))
    if tree is None:
        raise NotAnArticle(f"no HTML document in the response: {response.url}", url=response.url)
    _mark_footnotes(tree)
    language = tree.get("lang") or tree.get("{http://www.w3.org/XML/1998/namespace}lang")
    doc = trafilatura.bare_extraction(tree, url=response.url, with_metadata=True, include_comments=False,
                                      include_tables=True, favor_precision=True,
                                      date_extraction_params=_DATE_PARAMS)
    text = clean_text((doc.text or "") if doc is not None else "")
    if len(text) < min_chars:
        raise NotAnArticle(f"{len(text)} characters of main text (fewer than {min_chars}): {response.url}",
                           url=response.url, chars=len(text))
    if _is_site_root(response.url):
        # A site's home page is an index, however much teaser text trafilatura keeps of it.
        raise NotAnArticle(f"the page is a site's home page ({response.url})", url=response.url)
    canonical = urljoin(response.url, doc.url) if doc.url else response.url
    if not trusted_canonical(response.url, canonical):
        canonical = response.url
    return Article(url=canonical, title=doc.title or None, text=text, published=to_iso(doc.date),
                   published_raw=doc.date or None, author=doc.author or None,
                   language=_language(doc.language or language), description=doc.description or None)


def trusted_canonical(fetched: str, canonical: str) -> bool:
    """Whether a page's ``<link rel=canonical>`` may stand for it: not a site's home page (a CMS
    that names it as every page's canonical URL), and not one that drops or changes the query
    parameters that tell this page from its siblings (``?id=123``), beyond tracking ones."""
    if _is_site_root(canonical):
        return False
    wanted = set(parse_qsl(urlsplit(canonical_url(fetched)).query, keep_blank_values=True))
    return wanted <= set(parse_qsl(urlsplit(canonical_url(canonical)).query, keep_blank_values=True))


# Page furniture that trafilatura keeps as text, as data (trafilatura style): lines that end an
# article (what follows is the page's own: feedback, related topics), a block that may stand just
# before that end, and share buttons, which may stand anywhere and several to a line.
ARTICLE_END = [r"Heeft deze informatie u geholpen\??(?: Ja Nee)?", r"Meer over dit onderwerp", r"Hoort bij",
               r"Was deze informatie nuttig\??(?: Ja Nee)?"]
BLOCKS_BEFORE_END = [r"Documenten"]
SHARE_BUTTONS = [r"(?:Deel|Delen)(?: dit| deze pagina| dit bericht| dit artikel)?(?: op| via)?:? "
                 r"(?:Facebook|Twitter|X|LinkedIn|WhatsApp|Bluesky|Mastodon|e-?mail|mail)",
                 r"Share(?: on| via)? (?:Facebook|Twitter|X|LinkedIn|WhatsApp|e-?mail)", r"Tweet", r"Printen?",
                 r"Deel(?: dit| deze pagina| dit bericht)?:?", r"Delen:?"]
_END = re.compile("|".join(ARTICLE_END), re.IGNORECASE)
_BEFORE_END = re.compile("|".join(BLOCKS_BEFORE_END), re.IGNORECASE)
_SHARE_LINE = re.compile(rf"(?:[-•|·,\s]*(?:{'|'.join(SHARE_BUTTONS)}))+[-•|·,\s]*", re.IGNORECASE)
# A footnote reference glued to the word before it: "Tweede Kamer[1]".
_GLUED_REFERENCE = re.compile(r"(?<=[^\W\d_])\[(\d{1,3})\]")
_FOOTNOTE_MARK = re.compile(r"\s*\[?(\d{1,3})\]?\s*|\s*(\*{1,3}|[†‡])\s*")


def clean_text(text: str) -> str:
    """An extracted main text without page furniture, footnote references apart from words."""
    lines = text.strip().split("\n")
    for n, line in enumerate(lines):
        if n and _END.fullmatch(line.strip(" -")):
            lines = lines[:n]
            break
    for n in range(len(lines) - 1, 0, -1):  # a "Documenten" list right before the end
        if _BEFORE_END.fullmatch(lines[n].strip()):
            if all(line.startswith("- ") for line in lines[n + 1:]):
                lines = lines[:n]
            break
    kept = (_GLUED_REFERENCE.sub(r" [\1]", line) for line in lines if not _SHARE_LINE.fullmatch(line))
    return "\n".join(kept).strip()


# A superscript after a number or a unit is an exponent (10<sup>6</sup>, m<sup>2</sup>), no footnote.
_EXPONENT_BASE = re.compile(r"(?:\d|\b(?:m|cm|mm|dm|km|kWh|s))\s*$")


def _is_footnote(tag: str, text: str, href: str, before: str) -> re.Match[str] | None:
    mark = _FOOTNOTE_MARK.fullmatch(text)
    if mark is None:
        return None
    if tag == "a":
        return mark if href.startswith("#") else None
    return None if _EXPONENT_BASE.search(before) else mark


def _mark_footnotes(tree: Any) -> None:
    """A footnote marker in the page (``<sup>1</sup>``, a link to ``#footnote-1``) becomes a
    reference of its own, `` [1]``, instead of a digit glued to the word before it."""
    for element in tree.iter("sup", "a"):
        previous, parent = element.getprevious(), element.getparent()
        before = (previous.tail if previous is not None else parent.text if parent is not None else None) or ""
        mark = _is_footnote(element.tag, "".join(element.itertext()), element.get("href") or "", before)
        if mark is None:
            continue
        for child in list(element):
            element.remove(child)
        element.text = f" [{mark.group(1) or mark.group(2)}]"


def _is_site_root(url: str) -> bool:
    return urlsplit(url).path.strip("/") == ""


def _language(tag: str | None) -> str | None:
    # "nl-NL", "nl_NL" -> "nl": the corpus filters on the language, not on the region.
    return tag.replace("_", "-").split("-")[0].lower() if tag else None


_BLOCKS = ["p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr", "table"]


def html_text(markup: str | None) -> str | None:
    """The text of an HTML fragment (a feed entry's summary), one block a line: inline markup
    (``<a>``, ``<b>``) neither splits a line nor glues two words together."""
    if not markup:
        return None
    soup = BeautifulSoup(markup, "lxml")
    for hidden in soup.find_all(["script", "style", "template", "noscript"]):
        hidden.decompose()  # feedparser sanitises feeds; the rijksoverheid API text is not
    for element in soup.find_all(["sup", "a"]):
        before = element.previous_sibling if isinstance(element.previous_sibling, str) else ""
        mark = _is_footnote(element.name, element.get_text(), str(element.get("href") or ""), before)
        if mark:
            element.replace_with(f" [{mark.group(1) or mark.group(2)}]")
    for block in soup.find_all(_BLOCKS):
        block.insert_after("\n")
    lines = (" ".join(line.split()) for line in soup.get_text().splitlines())
    return clean_text("\n".join(line for line in lines if line)) or None


TITLE_FROM_TEXT_CHARS = 120


def title_from(text: str | None) -> str | None:
    """A title for an item that has none: the first line of its text, cut at a word."""
    if not text:
        return None
    first = text.strip().split("\n", 1)[0]
    if len(first) <= TITLE_FROM_TEXT_CHARS:
        return first
    return first[:TITLE_FROM_TEXT_CHARS].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def news_document(source: str, item: Item, responses: list[Response], *, min_chars: int,
                  kind: str = "news") -> Document:
    """The Document for a news item: the article page's text where it has one, else the excerpt
    that came with the item (a feed entry's summary) as ``text_quality="excerpt"``.

    ``item.data`` is what discovery knew: ``title``, ``published_raw``, ``modified_raw``,
    ``excerpt``, ``guid``, ``language``, and anything else, which goes to ``meta``. The source's
    own title and date win over the page's: they are what the publisher put in its feed.
    """
    data = dict(item.data)
    title, excerpt = data.pop("title", None), data.pop("excerpt", None)
    published_raw, modified_raw = data.pop("published_raw", None), data.pop("modified_raw", None)
    guid, language = data.pop("guid", None), data.pop("language", None)
    article: Article | None = None
    page = next((r for r in responses if r.status == 200 and not r.not_modified), None)
    if page is not None:
        try:
            article = extract_article(page, min_chars=min_chars)
        except NotAnArticle as exc:
            if not excerpt:
                raise
            data["page_not_article"] = exc.message
    if article is None and not excerpt:
        raise NotAnArticle(f"no article page and no excerpt for {item.key}", url=item.url)
    if article is not None:
        data.update({k: v for k, v in (("author", article.author), ("description", article.description)) if v})
    # An item without a title of its own (RSS 2.0 allows one with only a description) takes the
    # page's, else the start of its text, else its link.
    title = title or (article.title if article else None) or title_from(excerpt) or item.url
    if not title:
        raise ParseError(f"news item without a title: {item.key}", url=item.url)
    return Document(
        source=source, source_key=item.key, url=article.url if article else item.url, title=title,
        text=article.text if article else excerpt, kind=kind,
        published=to_iso(published_raw) or (article.published if article else None),
        published_raw=published_raw or (article.published_raw if article else None),
        modified=to_iso(modified_raw), aliases=[guid] if guid else [],
        language=(article.language if article else None) or language or "nl", meta=data,
        text_quality="full" if article else "excerpt")
