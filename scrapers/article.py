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

from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import trafilatura
from bs4 import BeautifulSoup, UnicodeDammit

from monitor.errors import NotAnArticle, ParseError
from scrapers.base import Document, Item, Response
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
    language = tree.get("lang") or tree.get("{http://www.w3.org/XML/1998/namespace}lang")
    doc = trafilatura.bare_extraction(tree, url=response.url, with_metadata=True, include_comments=False,
                                      include_tables=True, favor_precision=True,
                                      date_extraction_params=_DATE_PARAMS)
    text = (doc.text or "").strip() if doc is not None else ""
    if len(text) < min_chars:
        raise NotAnArticle(f"{len(text)} characters of main text (fewer than {min_chars}): {response.url}",
                           url=response.url, chars=len(text))
    if _is_site_root(response.url):
        # A site's home page is an index, however much teaser text trafilatura keeps of it.
        raise NotAnArticle(f"the page is a site's home page ({response.url})", url=response.url)
    canonical = urljoin(response.url, doc.url) if doc.url else response.url
    if _is_site_root(canonical):
        canonical = response.url  # a CMS that names its home page as every page's canonical URL
    return Article(url=canonical, title=doc.title or None, text=text, published=to_iso(doc.date),
                   published_raw=doc.date or None, author=doc.author or None,
                   language=_language(doc.language or language), description=doc.description or None)


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
    for block in soup.find_all(_BLOCKS):
        block.insert_after("\n")
    lines = (" ".join(line.split()) for line in soup.get_text().splitlines())
    return "\n".join(line for line in lines if line) or None


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
