"""Serving the corpus to whoever can reach it (issue 19): bounded SQL, no exposed network address
without --public, nosniff, no server paths, exact paging of undated documents, no 5xx on any
query string, and feeds that survive what an older corpus holds."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import re
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import feedparser
import pytest
from click.testing import CliRunner
from datasette.app import Datasette
from datasette.utils import path_from_row_pks
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

import monitor
from models.records import Extraction
from monitor import config as config_module
from monitor import serve as serve_module
from monitor.cli import cli
from monitor.notify import AtomFeeds, Match, Message
from monitor.search import Hit
from monitor.serve import datasette
from monitor.store import Store
from monitor.text import xml_safe
from scrapers.base import Document

GOVERNMENT = Path(__file__).parent / "fixtures" / "import" / "government.jsonl"
# A title and text as an older corpus may hold them (stored before text hygiene at ingest):
# C0 controls, an ANSI colour, a NUL, and U+FFFE, none of which XML 1.0 allows.
HOSTILE_TITLE = "Brief\x01 over mkb\ufffe en de \x1b[31mrode\x1b[0m draad"
HOSTILE_TEXT = "Tekst met\x00 een NUL,\x0b een verticale tab en\x08 een backspace over controletekens."
SAME_DAY = "2024-03-01"


def run(coro):
    return asyncio.run(coro)


def get(ds: Datasette, url: str):
    return run(ds.client.get(url))


def document(key: str, published: str | None, kind: str = "news", **fields: Any) -> Document:
    return Document(source="paging", source_key=key, url=f"https://example.org/{key}", title=f"Stuk {key}",
                    text=f"Een stuk, nummer {key}.", kind=kind, published=published, **fields)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """The real government texts (8 of 20 undated), 30 more undated documents, 12 of one bare date
    and 5 of one time (ties that a page break can fall in), and one Kamerbrief of today whose
    title and text hold control characters, written behind the store's back as an older version
    of mkb-monitor could have stored them."""
    path = tmp_path_factory.mktemp("hostile") / "monitor.db"
    result = CliRunner().invoke(cli, ["--db", str(path), "import", str(GOVERNMENT), "--no-extract"])
    assert result.exit_code == 0, result.output
    with Store(path) as store, store.transaction():
        for i in range(30):
            store.put_document(document(f"undated-{i:02d}", None), extraction=Extraction(), extracted_with="test")
        for i in range(12):
            store.put_document(document(f"day-{i:02d}", SAME_DAY), extraction=Extraction(), extracted_with="test")
        for i in range(5):
            store.put_document(document(f"hour-{i:02d}", f"{SAME_DAY}T09:00:00Z"), extraction=Extraction(),
                               extracted_with="test")
        store.put_document(document("hostile", now(), kind="kamerbrief", dossiers=["99999"]),
                           extraction=Extraction(), extracted_with="test")
    with sqlite3.connect(path) as conn:
        conn.execute("update documents set title = ?, text = ? where url = 'https://example.org/hostile'",
                     [HOSTILE_TITLE, HOSTILE_TEXT])
    return path


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def ds(corpus) -> Datasette:
    return datasette(config_module.load(db=corpus))


def all_documents_newest_first(corpus: Path, where: str = "1") -> list[str]:
    """The order the pages must list: newest first, ties by id (descending), undated last."""
    with sqlite3.connect(corpus) as conn:
        rows = conn.execute(f"select id, published from documents where {where}").fetchall()
    return [i for i, _ in sorted(rows, key=lambda r: (r[1] or "", r[0]), reverse=True)]


# --- one request cannot take the server down -----------------------------------------------------


@pytest.mark.parametrize("sql", [
    "select randomblob(50000000)",                       # 50 MB, over the 32 MB default
    "select zeroblob(1000000000)",
    "select length(randomblob(1000000000))",            # made, not returned: refused all the same
    "select group_concat(hex(zeroblob(1000000))) from (with recursive c(x) as (select 1 union all "
    "select x + 1 from c limit 40) select x from c)",  # grows past the limit one row at a time
    "select replace(hex(zeroblob(20000000)), '0', 'xx')",
])
def test_a_huge_value_is_refused_at_once(ds, sql):
    for path in ("/monitor.json", "/monitor"):
        response = get(ds, f"{path}?{urlencode({'sql': sql})}")
        assert response.status_code == 400, (path, sql, response.status_code)
        assert len(response.content) < 20_000 and "max_value_bytes" in response.text, (path, sql)
    # Datasette 0.65 answers the CSV of any failing query with an empty 200.
    assert get(ds, "/monitor.csv?" + urlencode({"sql": sql})).content.strip() == b""


def test_a_result_is_bounded_in_size(corpus):
    small = datasette(config_module.load(db=corpus, overrides={"serve": {"max_result_bytes": 1_000_000}}))
    many = ("with recursive n(i) as (select 1 union all select i + 1 from n limit 200) "
            "select i, randomblob(10000) from n")  # 200 rows of 10 kB: 2 MB
    response = get(small, "/monitor.json?" + urlencode({"sql": many}))
    assert response.status_code == 400 and "max_result_bytes" in response.text and len(response.content) < 20_000
    fewer = get(small, "/monitor.json?" + urlencode({"sql": many.replace("limit 200", "limit 50"), "_shape": "array"}))
    assert fewer.status_code == 200 and len(fewer.json()) == 50
    # The pages and stored queries of this corpus fit even in 1 MB.
    assert get(small, "/monitor/documents.json?_size=max").status_code == 200
    assert get(small, "/monitor/dossier.json?dossier=32637").status_code == 200


def test_stored_values_up_to_the_limit_are_served(corpus):
    """The value limit bounds what a query makes and what it reads: a stored text above it is a
    400 that names the setting, one below it is served."""
    with sqlite3.connect(corpus) as conn:
        longest = conn.execute("select max(length(cast(text as blob))) from documents").fetchone()[0]
    fits = datasette(config_module.load(db=corpus, overrides={"serve": {"max_value_bytes": longest}}))
    assert get(fits, "/monitor/documents.json?_size=max").status_code == 200
    short = datasette(config_module.load(db=corpus, overrides={"serve": {"max_value_bytes": longest - 1}}))
    response = get(short, "/monitor/documents.json?_size=max")
    assert response.status_code == 400 and "max_value_bytes" in response.text


# --- a network address needs --public ------------------------------------------------------------


@pytest.fixture
def started(monkeypatch) -> list[tuple[str, int]]:
    calls: list[tuple[str, int]] = []
    monkeypatch.setattr(serve_module, "serve", lambda config, *, host, port: calls.append((host, port)))
    return calls


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.7"])
def test_a_network_address_is_refused_without_public(corpus, started, host):
    result = CliRunner().invoke(cli, ["--db", str(corpus), "serve", "--host", host])
    assert result.exit_code == 2 and started == []
    assert "--public" in result.output and "read SQL" in result.output


def test_public_serves_there_with_a_warning(corpus, started):
    result = CliRunner().invoke(cli, ["--db", str(corpus), "serve", "--host", "0.0.0.0", "--public", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert started == [("0.0.0.0", 8123)] and "warning" in result.output and "0.0.0.0" in result.output


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_needs_no_flag(corpus, started, host):
    result = CliRunner().invoke(cli, ["--db", str(corpus), "serve", "--host", host])
    assert result.exit_code == 0, result.output
    assert started == [(host, 8001)] and "warning" not in result.output


# --- headers and paths ------------------------------------------------------------------------------


def test_every_response_says_nosniff(ds):
    for url in ("/monitor/documents.csv", "/monitor/documents.csv?_stream=on", "/monitor.csv?sql=select+1",
                "/monitor/documents.json", "/monitor/documents", "/monitor/documents.atom", "/-/versions.json",
                "/monitor/nope", "/monitor/documents.json?_sort=title", "/mkb-static/mkb.css"):
        response = get(ds, url)
        assert response.headers.get("x-content-type-options") == "nosniff", (url, response.status_code)
    assert get(ds, "/monitor/documents.csv").headers["content-type"].startswith("text/plain")


def test_no_page_tells_where_the_files_are(ds, corpus):
    secrets = {str(corpus.parent), str(Path(monitor.__file__).resolve().parent.parent), sys.prefix}
    pages = [f"/-/{name}{ext}" for name in ("databases", "metadata", "settings", "plugins", "versions", "threads",
                                            "actor", "config") for ext in ("", ".json")]
    pages += ["/", "/.json", "/monitor", "/monitor.json", "/monitor/documents", "/-/plugins.json?all=1",
              "/monitor.json?sql=select+*+from+pragma_database_list",
              "/monitor.json?sql=select+file+from+pragma_database_list+where+name+%3D+%27main%27"]
    for url in pages:
        text = get(ds, url).text
        assert not [s for s in secrets if s in text], url
    databases = get(ds, "/-/databases.json").json()
    assert "monitor" in [d["name"] for d in databases] and not [d for d in databases if "path" in d]


# --- paging ----------------------------------------------------------------------------------------


def walk(ds: Datasette, url: str) -> list[str]:
    ids: list[str] = []
    while url:
        response = get(ds, url)
        assert response.status_code == 200, (url, response.text[:300])
        data = response.json()
        ids += [row["id"] for row in data["rows"]]
        url = (data.get("next_url") or "").replace("http://localhost", "")
        assert len(ids) < 1000, "paging does not end"
    return ids


def test_pages_list_every_document_once_newest_first(ds, corpus):
    expected = all_documents_newest_first(corpus)
    assert len(expected) == 68 and len(set(expected)) == 68
    for size in (5, 7, 20):
        assert walk(ds, f"/monitor/documents.json?_shape=objects&_size={size}") == expected, size
    assert walk(ds, "/monitor/documents.json?_shape=objects&_size=6&_sort=sort_key") == expected[::-1]
    news = all_documents_newest_first(corpus, "kind = 'news'")
    assert walk(ds, "/monitor/documents.json?_shape=objects&_size=4&kind=news") == news


def test_csv_streams_every_document_once(ds, corpus, monkeypatch):
    # Datasette streams a CSV page by page, max_returned_rows at a time (1,000): 13 here.
    monkeypatch.setitem(ds._settings, "max_returned_rows", 13)
    monkeypatch.setattr(ds, "max_returned_rows", 13)
    text = get(ds, "/monitor/documents.csv?_stream=on&_size=max").text
    ids = [row["id"] for row in csv.DictReader(io.StringIO(text))]
    assert ids == all_documents_newest_first(corpus)


def test_the_documents_page_sorts_by_the_exact_key_only(ds):
    assert get(ds, "/monitor/documents.json?_sort_desc=published").status_code == 400
    assert get(ds, "/monitor/documents.json?_sort=title").status_code == 400
    assert get(ds, "/monitor/runs.json").json()["human_description_en"] == "sorted by id descending"


# --- no 5xx on any query string -------------------------------------------------------------------

# Datasette's documented parameters (table, row, query and JSON pages, facets, filters, 0.65)
# and this plugin's own, each given hostile values.
PARAMETERS = [
    "_sort", "_sort_desc", "_size", "_next", "_search", "_searchmode", "_where", "_col", "_nocol", "_facet",
    "_facet_array", "_facet_date", "_facet_size", "_through", "_labels", "_label", "_shape", "_json",
    "_json_infinity", "_nl", "_trace", "_timelimit", "_nofacet", "_nocount", "_nosuggest", "_ttl", "_stream",
    "_dl", "_context", "_fts_table", "_fts_pk", "_sort_by_desc", "_extras", "_header", "_show_hidden",
    "_hide_sql", "_show_sql", "_filter_column", "_filter_op", "_filter_value", "_blob_column", "_blob_hash",
    "_search_title", "_q", "_year", "_facet_year", "_facet_organisation", "_facet_counted",
]
FILTERS = ["exact", "not", "contains", "notcontains", "endswith", "startswith", "gt", "gte", "lt", "lte", "like",
           "notlike", "glob", "in", "notin", "arraycontains", "arraynotcontains", "date", "isnull", "notnull",
           "isblank", "notblank", "nosuchop"]
_VALUES = ["'", '"', "';--", "x", "-1", "0", "-99999999999999999999", "99999999999999999999", "1e309", "nan", "",
           "{", "[1, {]", '{"table": 1}', '{"table": "nope", "column": "x", "value": "1"}', '{"column": ["x"]}',
           "$null", "~zz", "max", "a" * 2000, "\u202e\U0001f600", "rowid", "id,", "\x00", "\x01\x1b[31m"]
# Non-UTF-8 and overlong escapes, sent exactly as written.
_RAW_VALUES = ["%ff%fe", "%C0%AF", "%ED%A0%80", "%", "%zz", "%00"]
VALUES = [quote(v, safe="") for v in _VALUES] + _RAW_VALUES
BAD_SQL = ["select :missing", "select 1 where 1 = :p", "select char(0)", "select 1e999", "select json('{')",
           "select * from documents where rowid = 99999999999999999999", "select zeroblob(99999999999)",
           "select randomblob(-1)", "with recursive c(x) as (select 1 union all select x + 1 from c) select x from c",
           "select * from nope", "select", "pragma database_list", "attach 'x' as y", "select load_extension('x')"]


def _targets(ds: Datasette, corpus: Path) -> tuple[list[str], list[str], list[tuple[str, list[str]]]]:
    """Every table page (in every format for documents), a row page of every table with rows,
    and every stored query with its named parameters."""
    with sqlite3.connect(corpus) as conn:
        tables = [n for (n,) in conn.execute("select name from sqlite_master where type = 'table' "
                                             "and name not like 'sqlite_%' order by name")]
    pages, rows = [], []
    for table in tables:
        formats = ("", ".json", ".csv", ".atom") if table == "documents" else ("", ".json", ".csv")
        pages += [f"/monitor/{table}{fmt}" for fmt in formats]
        data = get(ds, f"/monitor/{table}.json?_shape=objects&_size=1&_nofacet=1").json()
        if data.get("rows"):
            path = path_from_row_pks(data["rows"][0], data["primary_keys"], not data["primary_keys"])
            rows += [f"/monitor/{table}/{path}{fmt}" for fmt in ("", ".json")]
    queries = [(name, sorted(set(re.findall(r":(\w+)", q["sql"]))))
               for name, q in ds.metadata("queries", database="monitor").items()]
    return pages, rows, queries


@pytest.mark.slow
def test_no_query_string_gets_a_server_error(ds, corpus):
    """Each parameter with each hostile value, on table pages taken in turn (so every page, every
    format and every parameter meets many values in about 2,000 requests); every filter
    operator; row pages; stored queries with hostile values for their own parameters; hostile
    SQL. Every answer is a page or a 4xx."""
    pages, rows, queries = _targets(ds, corpus)
    columns = {page: [c for c in get(ds, page.split(".")[0] + ".json?_size=0&_nofacet=1").json().get("columns", [])]
               for page in pages if page.endswith(".json")}
    cycle = itertools.cycle(pages)
    urls = [f"{next(cycle)}?{p}={v}" for p in PARAMETERS for v in VALUES]
    json_pages = itertools.cycle(sorted(columns))
    for op in FILTERS:
        for v in VALUES[::5]:
            page = next(json_pages)
            urls += [f"{page}?{column}__{op}={v}" for column in (columns[page][:1] + ["nope"])]
    row_cycle = itertools.cycle(VALUES)
    urls += [f"{row}?{p}={next(row_cycle)}" for row in rows for p in ("_shape", "_json", "_labels", "_timelimit",
                                                                     "_col", "_json_infinity")]
    for name, params in queries:
        for fmt in ("", ".json", ".csv", ".atom"):
            for v in VALUES[::6]:
                urls.append(f"/monitor/{name}{fmt}?" + "&".join(f"{p}={v}" for p in params))
                urls.append(f"/monitor/{name}{fmt}?_timelimit={v}&_shape={v}&_json_infinity={v}")
    urls += [f"/monitor{fmt}?sql={quote(sql, safe='')}&{p}={v}" for sql in BAD_SQL
             for fmt, p, v in zip(("", ".json", ".csv"), ("p", "missing", "_shape"), VALUES[::7], strict=False)]
    urls += ["/monitor/documents.json?%ff=1", "/monitor/docu%ffments", "/monitor/documents/%ff%fe",
             "/-/databases.json?_shape=%ff", "/monitor/documents.json?_next=%24null%2C%ff",
             "/monitor/documents.json?_facet=kind&_facet=%7B"]
    failures = []
    for url in urls:
        status = get(ds, url).status_code
        if status >= 500:
            failures.append((status, url[:160]))
    assert len(urls) > 1500
    assert failures == []


# --- feeds survive what an older corpus holds -------------------------------------------------------


def test_a_control_character_in_a_title_leaves_every_feed_valid(ds, corpus):
    with sqlite3.connect(corpus) as conn:
        doc_id = conn.execute("select id from documents where url = 'https://example.org/hostile'").fetchone()[0]
    feeds = ["/monitor/documents.atom", "/monitor/documents.atom?_q=controletekens", "/monitor/new_kamerbrieven.atom",
             "/monitor/dossier.atom?dossier=99999", "/monitor/documents.atom?_q=mkb%01%0b",
             "/monitor/documents.atom?kind=kamerbrief&title__contains=%01"]
    for url in feeds:
        response = get(ds, url)
        assert response.status_code == 200, (url, response.text[:300])
        etree.fromstring(response.content)  # well-formed XML 1.0, or this raises
        feed = feedparser.parse(response.content)
        entry = next(e for e in feed.entries if e.link.endswith(doc_id))
        assert not feed.bozo and entry.title == "Brief over mkb en de [31mrode[0m draad", url
    assert "controletekens" in feedparser.parse(get(ds, feeds[1]).content).entries[0].content[0].value


def test_alert_feeds_take_the_same_text(tmp_path):
    hit = Hit(id="d1", title=HOSTILE_TITLE, kind="news", url="https://example.org/a\x01b", published=None,
              sources=["s"], snippet=HOSTILE_TEXT, rank=None)
    message = Message(alert_id=1, search_id=1, search_name="mkb\ufffe", kind="single",
                      created="2026-01-01T00:00:00+00:00", matches=[Match(hit, "new", [], [])])
    path = AtomFeeds(tmp_path, 10).write(1, "mkb\ufffe", [message], now=datetime.now(UTC))
    feed = feedparser.parse(path.read_bytes())
    etree.fromstring(path.read_bytes())
    assert not feed.bozo and "\ufffe" not in feed.entries[0].title and "draad" in feed.entries[0].title


@given(st.text(alphabet=st.characters(blacklist_categories=())))
def test_xml_safe_text_is_always_accepted_by_lxml(text):
    element = etree.Element("title")
    element.text = xml_safe(text)  # raises ValueError for a character XML 1.0 forbids
    assert etree.fromstring(etree.tostring(element, encoding="utf-8")).text in (xml_safe(text), None)
    assert xml_safe(text) == "".join(c for c in text if c in "\t\n\r" or (" " <= c <= "\ud7ff")
                                     or ("\ue000" <= c <= "\ufffd") or c >= "\U00010000")


def test_xml_safe_keeps_what_xml_allows():
    kept = "tab\tnl\ncr\r é € \ue000 \ufffd \U0001f600 \x85 \x7f"
    assert xml_safe(kept) == kept
    assert xml_safe("a\x00b\x01c\x1fd\ufffee\uffff\ud800f") == "abcdef"
