"""The bad-input corpus (RELIABILITY §4.2, C1-C5, C7, N11, T1, T4) and truncations of every real fixture.

Each file under tests/corpus/<category>/ has a sidecar ``<file>.expect.json``::

    {"description": "...", "parser": "feed" | ["sru", "syncfeed"], "headers": {...}, "expect": {...}}

and is fed to the named parser(s), the same functions the sources call. The expectation is an
error code from monitor/errors.py (``"error": "xml.forbidden"``) or facts about the result
(``"entries": 2``, ``"well_formed": false``, ``"contains"``/``"absent"`` strings, ...). Whatever
the file, a parser may only fail with an error of the vocabulary: anything else is a crash.

XML attacks name ``{SECRET}`` (the path of xml-attacks/secret.txt) and ``{CANARY}`` (a faultd
URL that counts its hits); both are filled in here. Neither the secret nor a canary hit may come
out of any parser.

Then hypothesis truncates every real fixture under tests/fixtures/ at random offsets: never a
crash outside the vocabulary, and never a partial page: an API page cut short is rejected whole,
and a feed cut short keeps only entries that are exactly as in the full feed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.errors import MonitorError
from monitor.store import Store
from reliability import LEDGER
from scrapers.article import extract_article, news_document
from scrapers.base import Response
from scrapers.dates import to_iso
from scrapers.feeds import entry_item, parse_feed
from scrapers.filetext import document_text
from scrapers.koop import read_page
from scrapers.sitemaps import parse_sitemap
from scrapers.tweedekamer import read_feed
from scrapers.xmlsafe import parse_xml

HERE = Path(__file__).parent
CORPUS = HERE / "corpus"
FIXTURES = HERE / "fixtures"
SECRET = CORPUS / "xml-attacks" / "secret.txt"
SECRET_MARK = SECRET.read_text("utf-8").split(":")[0]
NOT_DATA = {"README.md", "make_corpus.py", "secret.txt"}
# The matrix row each category stands for, for the report's per-class figures.
# The module writes the RELIABILITY figures (the ledger fixture) when it ends.
pytestmark = pytest.mark.usefixtures("ledger")

ROWS = {"illformed": "C2", "encoding": "C1", "xml-attacks": "C5", "dates": "T4", "identity": "T1", "pdf": "C7",
        "api-errors": "N11"}



# --- the parsers, as the sources call them; each returns the facts a sidecar can expect ---------


def _feed(r: Response) -> dict[str, Any]:
    feed = parse_feed(r)
    kept = [(e.get("id") or e.get("link"), e.get("title"), e.get("summary")) for e in feed.entries]
    return {"entries": len(kept), "well_formed": feed.well_formed, "dropped": feed.dropped, "kept": kept,
            "text": " ".join(f"{title} {summary}" for _, title, summary in kept)}


def _dates(r: Response) -> dict[str, Any]:
    feed = parse_feed(r)
    items = [entry_item(e, feed) for e in feed.entries]
    return {"entries": len(items), "published": [to_iso(i.data.get("published_raw")) for i in items if i]}


def _identity(r: Response) -> dict[str, Any]:
    """Every entry stored as a news document (its excerpt): how many documents do they make?"""
    feed = parse_feed(r)
    with Store(":memory:") as store, store.transaction():
        for entry in feed.entries:
            item = entry_item(entry, feed)
            store.put_document(news_document("corpus", item, [], min_chars=250), item=item)
        documents = store.document_count()
        sightings = store._db.execute("SELECT count(*) FROM document_sources").fetchone()[0]
    return {"entries": len(feed.entries), "documents": documents, "sightings": sightings}


def _article(r: Response) -> dict[str, Any]:
    article = extract_article(r, min_chars=250)
    return {"title": article.title, "text": f"{article.title}\n{article.text}"}


def _pdf(r: Response) -> dict[str, Any]:
    text, quality, meta = document_text(r.content, "application/pdf", max_pages=50, max_unpacked_bytes=0)
    return {"text": text, "text_quality": quality, "needs_ocr": bool(meta.get("needs_ocr")),
            "file_error": meta.get("file_error")}


def _xml(r: Response) -> dict[str, Any]:
    root = parse_xml(r.content, url=r.url)
    return {"entries": len(root), "text": " ".join(root.itertext())}


def _sru(r: Response) -> dict[str, Any]:
    records, next_position = read_page(r)
    return {"entries": len(records), "next": next_position}


def _syncfeed(r: Response) -> dict[str, Any]:
    return {"entries": len(read_feed(r))}


def _sitemap(r: Response) -> dict[str, Any]:
    kind, entries = parse_sitemap(r)
    return {"entries": len(entries), "kind": kind, "text": " ".join(e.loc for e in entries)}


PARSERS: dict[str, Callable[[Response], dict[str, Any]]] = {
    "feed": _feed, "dates": _dates, "identity": _identity, "article": _article, "pdf": _pdf, "xml": _xml,
    "sru": _sru, "syncfeed": _syncfeed, "sitemap": _sitemap,
}


def outcome(parser: str, content: bytes, headers: dict[str, str], url: str) -> dict[str, Any]:
    """The parser's facts, or ``{"error": code, "message": ...}`` for an error of the vocabulary.
    Any other exception propagates: that is a crash the test reports."""
    try:
        return PARSERS[parser](Response(url=url, status=200, headers=headers, content=content))
    except MonitorError as exc:
        return {"error": exc.code, "message": str(exc)}


# --- the corpus ------------------------------------------------------------------------------------


def corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.glob("*/*") if p.is_file() and p.name not in NOT_DATA
                  and not p.name.endswith(".expect.json"))


def test_every_corpus_file_has_an_expectation():
    missing = [str(p.relative_to(CORPUS)) for p in corpus_files() if not sidecar(p).is_file()]
    assert missing == []
    assert {p.parent.name for p in corpus_files()} == set(ROWS)


def sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".expect.json")


def check(expect: dict[str, Any], got: dict[str, Any]) -> list[str]:
    problems = []
    for key, want in expect.items():
        if key == "contains":
            problems += [f"text lacks {s!r}" for s in want if s not in got.get("text", "")]
        elif key == "absent":
            problems += [f"text has {s!r}" for s in want if s in got.get("text", "")]
        elif key == "max_seconds":
            continue
        elif got.get(key) != want:
            problems.append(f"{key}: expected {want!r}, got {got.get(key)!r}" +
                            (f" ({got['message']})" if "message" in got else ""))
    return problems


def corpus_params() -> list[Any]:
    """Each corpus file; one whose sidecar names a known bug (``"xfail": "why"``) must fail."""
    params = []
    for path in corpus_files():
        bug = json.loads(sidecar(path).read_text("utf-8")).get("xfail") if sidecar(path).is_file() else None
        marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
        params.append(pytest.param(path, marks=marks, id=f"{path.parent.name}/{path.name}"))
    return params


@pytest.mark.parametrize("path", corpus_params())
def test_corpus_file(path: Path, faultd):
    spec = json.loads(sidecar(path).read_text("utf-8"))
    content = path.read_bytes().replace(b"{SECRET}", str(SECRET.resolve()).encode()) \
        .replace(b"{CANARY}", faultd.url("/canary").encode())
    parsers = spec["parser"] if isinstance(spec["parser"], list) else [spec["parser"]]
    problems = []
    for parser in parsers:
        started = time.monotonic()
        try:
            got = outcome(parser, content, spec.get("headers", {}), f"https://corpus.test/{path.name}")
        except Exception as exc:  # noqa: BLE001 - reported, and counted as a crash outside the vocabulary
            LEDGER.bad_input(False, outside_vocabulary=True)
            raise AssertionError(f"{parser}: crashed outside the error vocabulary: {type(exc).__name__}: {exc}")
        seconds = time.monotonic() - started
        found = [f"{parser}: {p}" for p in check(spec["expect"], got)]
        if seconds > spec["expect"].get("max_seconds", 5.0):
            found.append(f"{parser}: took {seconds:.1f} s")
        if SECRET_MARK in json.dumps(got, default=str):
            found.append(f"{parser}: the secret leaked into the result")
            LEDGER.security["xxe_secret_leaks"] += 1
        LEDGER.bad_input(not found)
        problems += found
    canary = faultd.hits("/canary")
    LEDGER.security["xxe_canary_hits"] += canary
    LEDGER.fault(ROWS[path.parent.name], not problems and not canary)
    assert canary == 0, "a parser fetched the canary URL"
    assert problems == [], spec["description"]


# --- truncations of every real fixture --------------------------------------------------------------


def fixture_parser(path: Path) -> str | None:
    """The parser a fixture is read with in the sources, by where it lives and what it is."""
    name, area = path.name, path.relative_to(FIXTURES).parts[0]
    if path.suffix == ".html":
        return "article" if area == "articles" else None
    if path.suffix not in (".xml", ".xsd"):
        return None
    if area == "koop" and name.startswith("sru_searchRetrieve") and "bijlage" not in name:
        return "sru"
    if "sitemap" in name:
        return "sitemap"
    if area in ("feeds", "http") or name.startswith("api_rss"):
        return "feed"
    if area == "tweedekamer" and name.startswith("syncfeed_") and "page" in name:
        return "syncfeed"
    return "xml"


TRUNCATABLE = [(p, fixture_parser(p)) for p in sorted(FIXTURES.rglob("*")) if p.is_file() and fixture_parser(p)]


@pytest.mark.parametrize("path, parser", TRUNCATABLE,
                         ids=lambda v: str(v.relative_to(FIXTURES)) if isinstance(v, Path) else v)
@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_truncated_fixture(path: Path, parser: str, data):
    content = path.read_bytes()
    full = outcome(parser, content, {}, f"https://fixture.test/{path.name}")
    cut = data.draw(st.integers(min_value=0, max_value=len(content) - 1), label="offset")
    try:
        got = outcome(parser, content[:cut], {}, f"https://fixture.test/{path.name}")
    except Exception as exc:  # noqa: BLE001
        LEDGER.bad_input(False, outside_vocabulary=True)
        raise AssertionError(f"cut at {cut}: crashed outside the error vocabulary: {type(exc).__name__}: {exc}")
    LEDGER.bad_input(True)
    LEDGER.fault("C3" if parser in ("sru", "syncfeed", "sitemap", "xml") else "C2", True)
    if "error" in got or "error" in full:
        return
    if parser in ("sru", "syncfeed", "sitemap", "xml"):
        # An API page is all or nothing (C3): a cut that leaves a parseable page left only white space off.
        assert content[cut:].strip() == b"" or _only_trailer_cut(content, cut), f"cut at {cut} parsed as a page"
        assert got == full, f"cut at {cut}: a partial page"
    elif parser == "feed":
        # Complete entries only (C2): each kept entry is exactly one of the full feed's, never
        # one whose title or text was cut short.
        cut_short = set(got["kept"]) - set(full["kept"])
        assert not cut_short, f"cut at {cut}: kept a partial entry {cut_short}"


def _only_trailer_cut(content: bytes, cut: int) -> bool:
    """True when the cut falls after the root element's end tag (comments or blanks after it)."""
    root_end = content.rstrip().rfind(b">")
    return cut > root_end
