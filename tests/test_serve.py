"""Datasette on the corpus: search, facets, stored queries, charts, feeds, and serving it safely."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from click.testing import CliRunner
from datasette.app import Datasette

from models.records import Extraction, Figure, Mention
from monitor import config as config_module
from monitor.cli import cli
from monitor.errors import ConfigError
from monitor.serve import datasette, register_plugin
from monitor.store import Store
from monitor.store.private import PrivateStore
from scrapers.base import Document

GOVERNMENT = Path(__file__).parent / "fixtures" / "import" / "government.jsonl"
XSS_TITLE = 'Brief <script>alert(1)</script> over <img src=x onerror="alert(2)">'
XSS_TEXT = ("Een tekst met <script>alert(1)</script> erin, een <img src=x onerror=alert(2)> en "
            '<a href="javascript:alert(3)">een link</a>. De xsstoets moet als tekst verschijnen.')
# Organisations as the gazetteer names them, with the names they are found under in the texts.
ORGANISATIONS = {
    "kvk": ("Kamer van Koophandel", ("Kamer van Koophandel", "KVK")),
    "ezk": ("Ministerie van Economische Zaken en Klimaat", ("Ministerie van Economische Zaken", "EZK")),
    "tk": ("Tweede Kamer der Staten-Generaal", ("Tweede Kamer",)),
    "dtc": ("Digital Trust Center", ("Digital Trust Center",)),
    "cbs": ("Centraal Bureau voor de Statistiek", ("Centraal Bureau voor de Statistiek", "CBS")),
}
PERCENT = re.compile(r"(\d+(?:,\d+)?)\s*(?:procent|%)\s+(?:van\s+(?:de|het|alle)\s+)?(\w+)")


def run(coro):
    return asyncio.run(coro)


def get(ds: Datasette, path: str, **params: Any):
    return run(ds.client.get(path, params=params or None, follow_redirects=True))


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("serve") / "monitor.db"
    result = CliRunner().invoke(cli, ["--db", str(path), "import", str(GOVERNMENT), "--no-extract"])
    assert result.exit_code == 0, result.output
    return path


def sentence_at(text: str, start: int) -> str:
    left = max(text.rfind(".", 0, start), text.rfind("\n", 0, start)) + 1
    right = min((i for i in (text.find(".", start), text.find("\n", start)) if i >= 0), default=len(text))
    return text[left:right + 1].strip()


def extraction_of(text: str) -> Extraction:
    """Mentions of the known organisations and the percentages in a real text, at their true offsets."""
    mentions = [Mention(start=m.start(), end=m.end(), text=m.group(0), canonical=canonical, id=org_id,
                        kind="agency", sentence=sentence_at(text, m.start()))
                for org_id, (canonical, names) in ORGANISATIONS.items()
                for name in names for m in re.finditer(rf"\b{re.escape(name)}\b", text)]
    figures = [Figure(start=m.start(), end=m.end(), text=m.group(0), value=float(m.group(1).replace(",", ".")),
                      value_max=None, unit="percent", subject=m.group(2).lower(), qualifier=None,
                      sentence=sentence_at(text, m.start()))
               for m in PERCENT.finditer(text)]
    return Extraction(figures=figures, mentions=mentions, pipeline_version="test")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """The real government texts with dates, dossiers and the extraction records the store keeps;
    the first is a Kamerbrief of today, and one more document carries HTML and script."""
    path = tmp_path_factory.mktemp("corpus") / "monitor.db"
    records = [json.loads(line) for line in GOVERNMENT.read_text("utf-8").splitlines() if line.strip()]
    today = datetime.now(UTC).replace(microsecond=0)
    with Store(path) as store, store.transaction():
        for i, record in enumerate(records):
            published = (today if i == 0 else datetime(2016 + i % 9, 1 + i % 12, 10, 9, tzinfo=UTC)).isoformat()
            dossier = re.search(r"Kamerstuk (\d\d) ?(\d\d\d)", record["title"])
            doc = Document(source=record["source"], source_key=record["url"], url=record["url"], title=record["title"],
                           text=record["text"], kind="kamerbrief" if i == 0 else record["kind"], published=published,
                           dossiers=["".join(dossier.groups())] if dossier else [])
            store.put_document(doc, extraction=extraction_of(doc.text), extracted_with="test")
        store.put_document(Document(source="gold", source_key="xss", url="https://example.org/xss", title=XSS_TITLE,
                                    text=XSS_TEXT, kind="news", published="2024-05-01T10:00:00Z"),
                           extraction=Extraction(), extracted_with="test")
    return path


@pytest.fixture(scope="module")
def ds(corpus) -> Datasette:
    return datasette(config_module.load(db=corpus))


# --- search -------------------------------------------------------------------------------------


def test_search_box_finds_documents_newest_first_with_facets(db):
    ds = datasette(config_module.load(db=db))
    response = get(ds, "/monitor/documents.json", _search="mkb werkplaatsen", _shape="objects", _facet="kind")
    assert response.status_code == 200
    data = response.json()
    assert data["rows"] and all("werkplaats" in (r["title"] + r["text"]).lower() for r in data["rows"])
    assert {f["value"] for f in data["facet_results"]["kind"]["results"]} <= {"kamerstuk", "government"}


def test_search_page_shows_snippets_with_the_match_marked(ds):
    page = get(ds, "/monitor/documents", _q="werkplaatsen").text
    assert '<input id="mkb-q" type="search" name="_q" value="werkplaatsen"' in page
    results = page[page.index('<ol class="mkb-results">'):page.index("</ol>")]
    assert results.count('<li class="mkb-result">') == 2
    assert "<mark>werkplaatsen</mark>" in results
    assert re.search(r'<div class="mkb-snippet">[^<]*…?[^<]*(<mark>[^<]+</mark>[^<]*)+</div>', results)
    assert 'href="/monitor/documents/web-' in results
    assert get(ds, "/monitor/documents", _search="werkplaatsen").text.count('<li class="mkb-result">') == 2


def test_search_looks_at_the_newest_matches_only(ds):
    every = get(ds, "/monitor/documents.json", _q="de", _shape="objects", _sort_desc="rowid", _size="max").json()
    assert every["filtered_table_rows_count"] == 21 and "newest 2,000 matches" in every["human_description_en"]
    few = datasette(config_module.load(db=ds.databases["monitor"].path, overrides={"search": {"web_max_matches": 3}}))
    newest = get(few, "/monitor/documents.json", _q="de", _shape="objects", _sort_desc="rowid").json()
    assert [r["id"] for r in newest["rows"]] == [r["id"] for r in every["rows"][:3]]


def test_user_syntax_never_gives_a_server_error(db):
    ds = datasette(config_module.load(db=db))
    for q in ['"unbalanced', "12,5", "AND", "-x", "NEAR(", "'s-Hertogenbosch", "mkb’ers", "<b>"]:
        assert get(ds, "/monitor/documents.json", _search=q).status_code in (200, 400), q
        assert get(ds, "/monitor/documents", _search=q).status_code in (200, 400), q
        assert get(ds, "/monitor/documents", _q=q).status_code in (200, 400), q


@settings(max_examples=60, deadline=None)
@given(text=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=24))
def test_any_search_text_gives_a_page_or_a_clear_error(ds, text):
    for params in ({"_q": text}, {"_search": text}):
        assert get(ds, "/monitor/documents.json", **params).status_code in (200, 400), params


def test_metadata_titles_and_time_limit(db):
    ds = datasette(config_module.load(db=db))
    page = get(ds, "/monitor/documents")
    slow = get(ds, "/monitor.json",
               sql="with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c")
    assert page.status_code == 200 and "Every publication in the corpus" in page.text
    assert slow.status_code == 400 and "too long" in slow.text.lower()


def test_every_table_and_column_has_a_title_and_description(corpus):
    tables = datasette(config_module.load(db=corpus)).metadata("tables", database="monitor")
    with sqlite3.connect(corpus) as conn:
        names = [n for (n,) in conn.execute("select name from sqlite_master where type = 'table' "
                                            "and name not like 'documents_fts%' and name != 'sqlite_sequence'")]
        for name in names:
            assert tables[name].get("title") and tables[name].get("description"), name
            columns = {row[1] for row in conn.execute(f"pragma table_xinfo([{name}])")}  # generated ones too
            assert columns == set(tables[name]["columns"]), name


@pytest.mark.slow
def test_error_pages_work_when_monitor_serve_is_imported_first(db):
    """A fresh interpreter that imports monitor.serve before anything else of Datasette's."""
    script = ("import asyncio, sys\n"
              "from monitor.serve import datasette\n"
              "from monitor import config\n"
              "ds = datasette(config.load(db=sys.argv[1]))\n"
              "r = asyncio.run(ds.client.get('/monitor.json?sql=select+nothing'))\n"
              "print(r.status_code)\n")
    result = subprocess.run([sys.executable, "-c", script, str(db)], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "400", result.stderr[-2000:]


def test_database_page_counts_small_tables_only(ds, monkeypatch):
    from monitor import serve

    counts = run(ds.get_database("monitor").table_counts())
    assert counts["documents"] == 21 and counts["organisations"] == len(ORGANISATIONS)
    monkeypatch.setattr(serve, "COUNT_UP_TO", 20)
    counts = run(ds.get_database("monitor").table_counts())
    assert counts["documents"] is None and counts["organisations"] == len(ORGANISATIONS)
    assert "Many rows" in get(ds, "/monitor").text


@pytest.mark.slow
def test_plain_datasette_reads_the_same_file(db):
    """No project code: Datasette as any user would start it, in a process that never imported
    mkb-monitor, finds the FTS table by itself."""
    script = ("import asyncio, json, sys; from datasette.app import Datasette\n"
              "ds = Datasette(files=[sys.argv[1]])\n"
              "r = asyncio.run(ds.client.get(f'/{sys.argv[2]}/documents.json?_search=mkb&_shape=array'))\n"
              "assert not {'monitor', 'scrapers', 'models'} & set(sys.modules), 'project code was imported'\n"
              "print(r.status_code, len(r.json()))")
    done = subprocess.run([sys.executable, "-c", script, str(db), db.stem], capture_output=True, text=True,
                          timeout=120, cwd=db.parent)
    status, rows = done.stdout.split()
    assert done.returncode == 0 and status == "200" and int(rows) > 0, done.stderr


def test_datasettes_own_search_goes_to_the_bounded_search(ds):
    response = run(ds.client.get("/monitor/documents.json", params={"_search": "werkplaatsen", "_shape": "objects"}))
    assert response.status_code == 302
    assert response.headers["location"] == "/monitor/documents.json?_q=werkplaatsen&_shape=objects"


# --- facets -----------------------------------------------------------------------------------


def test_facets_on_source_kind_organisation_and_year(ds):
    data = get(ds, "/monitor/documents.json").json()
    facets = data["facet_results"]
    assert {"source", "kind", "mentions", "published"} <= set(facets)
    kvk = next(f for f in facets["mentions"]["results"] if f["value"] == "kvk")
    assert kvk["label"] == "Kamer van Koophandel" and kvk["count"] >= 3
    years = [f["value"] for f in facets["published"]["results"]]
    assert years == sorted(years, reverse=True) and str(date.today().year) in years

    filtered = get(ds, kvk["toggle_url"].replace("http://localhost", "").replace("/documents?", "/documents.json?"))
    rows = filtered.json()["rows"]
    assert len(rows) == kvk["count"]
    assert all("KVK" in row[-1] or "Kamer van Koophandel" in row[-1] for row in
               (list(r) + [get(ds, f"/monitor/documents/{r[0]}.json").text] for r in rows))

    year = next(f for f in facets["published"]["results"] if f["value"] == "2024")
    in_2024 = get(ds, "/monitor/documents.json", _year="2024", _shape="objects").json()["rows"]
    assert len(in_2024) == year["count"] and all(r["published"].startswith("2024") for r in in_2024)
    assert get(ds, "/monitor/documents.json", _year="twenty").json()["rows"] == []


def test_facets_are_left_out_above_their_row_limit(ds, monkeypatch):
    from monitor import datasette_plugin

    monkeypatch.setattr(datasette_plugin, "FACET_MAX_ROWS", 5)
    monkeypatch.setattr(datasette_plugin.YearFacet, "max_rows", 5)
    monkeypatch.setattr(datasette_plugin.OrganisationFacet, "max_rows", 5)
    assert get(ds, "/monitor/documents.json").json()["facet_results"] == {}
    narrowed = get(ds, "/monitor/documents.json", _q="Koophandel").json()
    assert narrowed["filtered_table_rows_count"] <= 5
    assert set(narrowed["facet_results"]) == {"source", "kind", "mentions", "published"}
    assert narrowed["facet_results"]["source"]["type"] == "column"


def test_documents_are_newest_first(ds):
    rows = get(ds, "/monitor/documents.json", _shape="objects").json()["rows"]
    published = [r["published"] for r in rows]
    assert published == sorted(published, reverse=True)


# --- stored queries ---------------------------------------------------------------------------


def test_new_kamerbrieven_this_week(ds):
    rows = get(ds, "/monitor/new_kamerbrieven.json", _shape="objects").json()["rows"]
    assert [r["title"] for r in rows] == ["Bedrijvenbeleid in beeld: Kamer van Koophandel en het Ondernemersplein"]


def test_everything_on_a_dossier(ds):
    rows = get(ds, "/monitor/dossier.json", dossier="32637", _shape="objects").json()["rows"]
    assert len(rows) == 4 and all("32 637" in r["title"] for r in rows)
    assert [r["published"] for r in rows] == sorted((r["published"] for r in rows), reverse=True)
    assert get(ds, "/monitor/dossier.json", dossier="99999", _shape="objects").json()["rows"] == []


def test_figures_about_a_subject(ds, corpus):
    rows = get(ds, "/monitor/figures_about.json", subject="bedrijven", unit="", _shape="objects").json()["rows"]
    with sqlite3.connect(corpus) as conn:
        expected = conn.execute("select count(*) from figures where subject = 'bedrijven'").fetchone()[0]
    assert expected >= 2 and len(rows) == expected
    assert {"value", "unit", "published", "sentence", "document_id", "title"} <= set(rows[0])
    sixteen = next(r for r in rows if r["value"] == 16)
    assert "16 procent van de bedrijven" in sixteen["sentence"] and sixteen["unit"] == "percent"
    assert get(ds, "/monitor/figures_about.json", subject="bedrijven", unit="EUR").json()["rows"] == []


def test_one_organisation_by_month_and_two_together(ds, corpus):
    months = get(ds, "/monitor/organisation_by_month.json", organisation="Kamer van Koophandel",
                 compare_with="ezk", since="2000-01-01", _shape="objects").json()["rows"]
    assert {r["organisation"] for r in months} == {"Kamer van Koophandel",
                                                   "Ministerie van Economische Zaken en Klimaat"}
    assert all(re.fullmatch(r"\d{4}-\d\d", r["month"]) for r in months)
    with sqlite3.connect(corpus) as conn:
        kvk_documents = conn.execute("select count(distinct document_id) from mentions "
                                     "where organisation_id = 'kvk'").fetchone()[0]
        both = {i for (i,) in conn.execute("select document_id from mentions where organisation_id = 'tk' "
                                           "intersect select document_id from mentions where organisation_id = 'dtc'")}
    assert sum(r["documents"] for r in months if r["organisation"] == "Kamer van Koophandel") == kvk_documents
    together = get(ds, "/monitor/organisations_together.json", organisation="tk",
                   other="Digital Trust Center", since="2000-01-01", _shape="objects").json()["rows"]
    assert len(both) == 2 and {r["document_id"] for r in together} == both
    recent = get(ds, "/monitor/organisation_by_month.json", organisation="kvk", compare_with="", since="",
                 _shape="objects").json()["rows"]
    half_a_year_ago = (date.today() - timedelta(days=184)).isoformat()[:7]
    assert recent and all(r["month"] >= half_a_year_ago for r in recent)
    assert len(recent) < len([r for r in months if r["organisation"] == "Kamer van Koophandel"])


def test_chart_pages_carry_the_spec_and_load_the_shipped_libraries(ds):
    page = get(ds, "/monitor/figures_about", subject="bedrijven", unit="").text
    spec = json.loads(re.search(r'data-chart-spec="([^"]+)"', page).group(1).replace("&#34;", '"')
                      .replace("&#39;", "'").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))
    assert spec["encoding"]["href"] == {"field": "link"} and spec["encoding"]["x"]["field"] == "published"
    assert 'data-json="/monitor/figures_about.json?subject=bedrijven' in page
    for script in ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js", "charts.js"):
        assert f'src="/mkb-static/{script}"' in page
        assert get(ds, f"/mkb-static/{script}").status_code == 200
    assert "http" not in re.sub(r"https?://vega\.github\.io/schema[^\"&]*", "",
                                " ".join(re.findall(r'<script src="([^"]+)"', page)))


# --- feeds --------------------------------------------------------------------------------------


def test_every_search_and_stored_query_is_an_atom_feed(ds):
    search = feedparser.parse(get(ds, "/monitor/documents.atom", _q="werkplaatsen").content)
    assert not search.bozo and len(search.entries) == 2
    assert all(e.link.startswith("http://localhost/monitor/documents/web-") for e in search.entries)
    assert "werkplaatsen" in search.feed.title
    assert 'href="/monitor/documents.atom?_q=werkplaatsen"' in get(ds, "/monitor/documents", _q="werkplaatsen").text

    for path, params in [("/monitor/new_kamerbrieven.atom", {}), ("/monitor/dossier.atom", {"dossier": "32637"}),
                         ("/monitor/figures_about.atom", {"subject": "bedrijven", "unit": ""}),
                         ("/monitor/organisations_together.atom", {"organisation": "tk", "other": "dtc",
                                                                   "since": "2000-01-01"})]:
        json_rows = get(ds, path.replace(".atom", ".json"), **params, _shape="array").json()
        feed = feedparser.parse(get(ds, path, **params).content)
        assert not feed.bozo and len(feed.entries) == len(json_rows) > 0, path

    empty = feedparser.parse(get(ds, "/monitor/documents.atom", _q="geenwoorddatbestaat").content)
    assert not empty.bozo and empty.entries == []


# --- safe to serve ------------------------------------------------------------------------------


def test_stored_html_is_shown_escaped(ds):
    xss_id = get(ds, "/monitor/documents.json", _q="xsstoets", _shape="array").json()[0]["id"]
    pages = [get(ds, "/monitor/documents", _q="xsstoets").text, get(ds, "/monitor/documents").text,
             get(ds, f"/monitor/documents/{xss_id}").text,
             get(ds, "/monitor", sql="select title, text from documents where id = :id", id=xss_id).text,
             get(ds, "/monitor/documents.atom", _q="xsstoets").text]
    for page in pages:
        assert "&lt;script&gt;alert(1)" in page
        assert "<script>alert" not in page and "<img src=x" not in page and '<a href="javascript:' not in page


def test_no_write_is_possible_through_datasette(ds, corpus):
    assert get(ds, "/monitor.json", sql="insert into documents (id) values ('x')").status_code == 400
    assert run(ds.client.post("/monitor/-/insert", json={"row": {"id": "x"}})).status_code in (400, 403, 404, 405)

    async def write():
        return await ds.get_database("monitor").execute_write("delete from documents")

    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        run(write())
    with sqlite3.connect(corpus) as conn:
        assert conn.execute("select count(*) from documents").fetchone()[0] == 21


def test_odd_paths_get_a_404_or_a_same_site_redirect(ds):
    for path in ("//evil.example", "//evil.example/", "/\\evil.example", "/monitor/nope", "/monitor/documents/nope"):
        response = run(ds.client.get(path, follow_redirects=False))
        location = response.headers.get("location", "/")
        assert response.status_code in (302, 404), path
        assert location.startswith("/") and not location.startswith(("//", "/\\")), (path, location)


def test_private_alert_state_is_not_served(tmp_path):
    config = config_module.load(db=tmp_path / "monitor.db")
    Store(config.db_path).close()
    with PrivateStore(config.private_db_path) as private, private.transaction():
        search_id = private.add_search(name="geheim", query="mkb", filters={}, digest="each", since_seq=0,
                                       now="2026-01-01T00:00:00Z")
        private.add_channel(search_id, "webhook", "https://example.org/hook", secret="s3cret-token")
    with sqlite3.connect(config.private_db_path) as conn:
        private_tables = {n for (n,) in conn.execute("select name from sqlite_master where type = 'table'")}
    assert "channels" in private_tables

    ds = datasette(config)
    assert [name for name, db in ds.databases.items() if db.path] == ["monitor"]
    served = get(ds, "/monitor.json", sql="select name from sqlite_master", _shape="array").json()
    assert served and not ({r["name"] for r in served} & private_tables)
    for table in private_tables:
        response = get(ds, "/monitor.json", sql=f"select * from [{table}]")
        assert response.status_code == 400 and "no such table" in response.text, table
    attach = get(ds, "/monitor.json", sql="select * from pragma_database_list")
    assert "private.db" not in attach.text
    assert "s3cret-token" not in get(ds, "/monitor.json", sql="select * from sqlite_master").text


def test_immutable_or_unlocked_launch_is_refused(corpus):
    register_plugin()
    with pytest.raises(ConfigError, match="immutable"):
        run(Datasette(immutables=[str(corpus)]).invoke_startup())
    with pytest.raises(ConfigError, match="nolock"):
        run(Datasette(files=[str(corpus)], nolock=True).invoke_startup())
    run(Datasette(files=[str(corpus)]).invoke_startup())  # a normal launch is fine


def test_pages_are_served_while_a_run_holds_the_write_lock(ds, corpus):
    writer = Store(corpus)
    try:
        with writer.transaction():
            writer._db.execute("update documents set title = 'half-written' where kind = 'kamerbrief'")
            page = get(ds, "/monitor/documents", _q="Ondernemersplein")
            query = get(ds, "/monitor/new_kamerbrieven.json", _shape="array")
            assert page.status_code == 200 and "Ondernemersplein" in page.text and "half-written" not in page.text
            assert query.status_code == 200 and query.json()[0]["title"] != "half-written"
            writer._db.execute("update documents set title = ? where kind = 'kamerbrief'", [query.json()[0]["title"]])
    finally:
        writer.close()
