"""Whole runs through the CLI against a loopback server that serves recorded responses.

The sources' base URLs point at 127.0.0.1 through a config file, as a user would point them at
a moved endpoint; links inside the recorded bodies that name the live hosts are rewritten to the
loopback origin when served (the only change made to the recordings). Everything else is the
real path: ``mkb-monitor run`` -> monitor.http.Client -> sources -> pipeline -> store.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from faultd import Faultd
from filemakers import docx_file, pdf_with_text
from monitor.cli import cli
from monitor.store import Store

FIXTURES = Path(__file__).parent / "fixtures"
LIVE_HOSTS = ("https://www.mkb.nl", "https://www.rijksoverheid.nl", "https://repository.overheid.nl",
              "https://gegevensmagazijn.tweedekamer.nl")
ROOT_KOOP = "/frbr/officielepublicaties"
DOSSIER_30218 = "1f031e16-cb3b-45b5-b3c9-a8abd27c913a"
RO_ITEMS = ("/actueel/nieuws/2026/09/22/europese-toeslag-van-euro-2-voor-pakketjes-van-buiten-de-eu",
            "/actueel/nieuws/2026/09/23/nederlandse-staat-neemt-aandelen-kerncentrale-borssele-over")


def serve(server: Faultd, path: str, fixture: str | bytes, content_type: str, **headers: str) -> None:
    body = fixture if isinstance(fixture, bytes) else (FIXTURES / fixture).read_bytes()
    for host in LIVE_HOSTS:
        body = body.replace(host.encode(), server.origin.encode())
    server.route(path, body=body, headers={"Content-Type": content_type, **headers})


@pytest.fixture
def site():
    """The recorded sources on one loopback server."""
    with Faultd(max_requests=400) as server:
        serve(server, "/rss/nieuws-mkb-nederland", "feeds/mkb-nederland_rss_nieuws_excerpt.xml",
              "application/rss+xml; charset=utf-8", ETag='"mkb-feed-1"')
        serve(server, "/artikelen/talent-van-nieuwkomers-sneller-en-beter-benutten",
              "articles/mkb_talent-van-nieuwkomers_constructed.html", "text/html; charset=utf-8")
        serve(server, "/api/rss", "rijksoverheid/api_rss_ondernemen_from_schema.xml", "application/rss+xml")
        serve(server, "/news/sitemap.xml", "rijksoverheid/rijksoverheid_news_sitemap_excerpt.xml", "application/xml")
        for path in RO_ITEMS:
            serve(server, path, "articles/ro_standin_no-canonical_constructed.html", "text/html; charset=utf-8")
        serve(server, "/sru", "koop/sru_searchRetrieve_kst-32545-143_ah-tk-20202021-3235_from_metadata.xml",
              "text/xml; charset=utf-8")
        for name in ("kst/32545/kst-32545-143/1/xml/kst-32545-143.xml",
                     "ah-tk/20202021/ah-tk-20202021-3235/1/xml/ah-tk-20202021-3235.xml"):
            folder = name.split("/")[-4 if name.startswith("ah") else -4]
            serve(server, f"{ROOT_KOOP}/{name}", f"koop/{folder}/{name.rsplit('/', 1)[1]}", "text/xml")
        serve(server, "/SyncFeed/2.0/Feed?category=Document&skiptoken=20127222",
              "tweedekamer/syncfeed_document_page_from_schema.xml", "application/atom+xml")
        serve(server, "/SyncFeed/2.0/Feed?category=Document&skiptoken=20127230",
              "tweedekamer/syncfeed_document_page_empty_from_schema.xml", "application/atom+xml")
        serve(server, f"/SyncFeed/2.0/Entiteiten/{DOSSIER_30218}",
              "tweedekamer/entiteiten_kamerstukdossier_30218_from_nsstripped.xml", "application/xml")
        # The files behind the enclosures: no real ones exist (fixtures/SOURCES.md), so these are
        # made at test time, one distinct letter per document.
        for n, guid in enumerate(("0a7e910e-38b7-45d0-8a4d-b9647d3159f5", "43171d7d-0716-44d3-8362-0bd64ed981cd",
                                  "9ca2329a-0290-41f6-b92b-0f7cc9821925", "c37a8815-bc16-4e39-ab5d-9bcd85a74671")):
            letter = pdf_with_text([["Geachte voorzitter,", f"Hierbij informeer ik uw Kamer (brief {n + 1}).",
                                     "Ruim 11.000 ondernemers maakten gebruik van de regeling."]])
            serve(server, f"/SyncFeed/2.0/Resources/{guid}", letter, "application/pdf")
        serve(server, "/SyncFeed/2.0/Resources/49039bba-8d9c-4857-a55e-d588ae373f5c",
              docx_file("Ondernemerschap", ["Het kabinet steunt het mkb bij digitalisering."]),
              "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
        yield server


@pytest.fixture
def config(tmp_path, site):
    path = tmp_path / "monitor.toml"
    path.write_text(f"""
[http]
allow_private = true  # the site is a loopback server
host_interval = 0.0
backoff_base = 0.01
[sources.mkb-nederland]
url = "{site.origin}/rss/nieuws-mkb-nederland"
relevance = false
[sources.belastingdienst-zakelijk]
enabled = false
[sources.rijksoverheid]
base_url = "{site.origin}"
[sources.koop]
base_url = "{site.origin}/sru"
start_date = "2026-11-01"
[sources.tweedekamer]
base_url = "{site.origin}/SyncFeed/2.0"
dossiers = ["30218", "32637"]
start_skiptoken = 20127222                # the recorded page (the search for a start is tested apart)
""", "utf-8")
    return path


def run(config, db):
    result = CliRunner().invoke(cli, ["--config", str(config), "--db", str(db), "run", "--json", "--no-extract"])
    return result.exit_code, json.loads(result.stdout)


def by_source(report):
    return {s["source"]: s for s in report["sources"]}


def test_first_run_stores_everything_second_run_fetches_nothing_new(config, site, tmp_path):
    db = tmp_path / "monitor.db"
    code, report = run(config, db)
    sources = by_source(report)
    assert code == 0, report
    assert {name: s["status"] for name, s in sources.items()} == {
        "mkb-nederland": "ok", "rijksoverheid": "ok", "koop": "ok", "tweedekamer": "ok"}
    assert sources["koop"]["new"] == 2 and sources["rijksoverheid"]["new"] == 2
    with Store(db) as store:
        kst = store.document("kst-32545-143")
        assert kst["kind"] == "motie" and json.loads(kst["dossiers"]) == ["32545"]
        assert kst["text_quality"] == "full" and "\n\n" in kst["text"]  # paragraphs kept
        ah = store.document("ah-tk-20202021-3235")
        assert ah is not None and "TOZO" in ah["text"].upper()
        mkb = store._db.execute("SELECT published, title FROM documents d JOIN document_sources s "
                               "ON s.document_id = d.id WHERE s.source = 'mkb-nederland'").fetchone()
        assert mkb == ("2026-09-23T05:00:47Z", "Talent van nieuwkomers sneller en beter benutten")
        ro = dict(store._db.execute("SELECT title, published FROM documents d JOIN document_sources s "
                                   "ON s.document_id = d.id WHERE s.source = 'rijksoverheid'").fetchall())
        assert ro["Nederlandse Staat neemt aandelen kerncentrale Borssele over"] == "2026-09-23T14:47:46Z"
        tk = [dict(r) for r in store._db.query("SELECT d.id, d.text_quality, d.text, d.dossiers FROM documents d JOIN "
                                              "document_sources s ON s.document_id = d.id WHERE s.source = 'tweedekamer'")]
        in_dossier = {r["id"] for r in tk if "30218" in json.loads(r["dossiers"])}
        assert in_dossier == {"kst-30218-26", "kst-30218-27", "kst-30218-28"}  # the KOOP identifier
        assert sources["tweedekamer"]["new"] == len(tk) == 5
        assert sum("11.000 ondernemers" in r["text"] and r["text_quality"] == "extracted" for r in tk) == 4  # the PDFs
        assert [r["id"] for r in tk if r["text_quality"] == "metadata"] == ["kst-30218-27"]  # a letter without a file
        counts = store.document_count(), store.last_change_seq()
        cursors = dict(store._db.execute("SELECT name, cursor FROM sources").fetchall())

    first_run_requests = len(site.log)
    code, report = run(config, db)
    assert code == 0
    assert report["totals"]["new"] == 0 and report["totals"]["changed"] == 0
    second = [h for h in site.log[first_run_requests:] if h.path != "/robots.txt"]
    feed = [h for h in second if h.path == "/rss/nieuws-mkb-nederland"]
    assert len(feed) == 1 and feed[0].headers.get("if-none-match") == '"mkb-feed-1"'  # one conditional GET
    assert sum(h.path == "/sru" for h in second) == 1  # one query, its pages already stored
    assert sum(h.path == "/SyncFeed/2.0/Feed" for h in second) == 1  # resumes at the stored skiptoken
    assert not any(h.path.startswith("/artikelen/") or h.path.startswith(ROOT_KOOP) for h in second)
    with Store(db) as store:
        assert (store.document_count(), store.last_change_seq()) == counts
        assert dict(store._db.execute("SELECT name, cursor FROM sources").fetchall())["tweedekamer"] == cursors["tweedekamer"]


def test_an_off_topic_news_item_is_recorded_as_skipped(config, tmp_path):
    """The real MKB-Nederland item is on nieuwkomers at work, not on mkb and digitalisation."""
    config.write_text(config.read_text("utf-8").replace("relevance = false", "relevance = true"), "utf-8")
    db = tmp_path / "monitor.db"
    code, report = run(config, db)
    assert by_source(report)["mkb-nederland"]["skipped"] == 1
    with Store(db) as store:
        row = store._db.execute("SELECT title, score, reason FROM skipped_items WHERE source = 'mkb-nederland'").fetchone()
    assert row[0] == "Talent van nieuwkomers sneller en beter benutten" and "relevance" in row[2]


def test_a_source_error_is_recorded_and_the_cursor_stays(config, site, tmp_path):
    db = tmp_path / "monitor.db"
    run(config, db)
    with Store(db) as store:
        before = store.cursor("tweedekamer")
    site.route("/SyncFeed/2.0/Feed?category=Document&skiptoken=20127230", status=500,
               body=(FIXTURES / "tweedekamer/syncfeed_error_response_issue84.xml").read_bytes(),
               headers={"Content-Type": "application/xml"})
    code, report = run(config, db)
    tk = by_source(report)["tweedekamer"]
    assert code == 1 and tk["status"] == "failed" and tk["error_code"] == "fetch.status"
    with Store(db) as store:
        assert store.cursor("tweedekamer") == before
        row = store._db.execute("SELECT last_error_code FROM sources WHERE name = 'tweedekamer'").fetchone()
        assert row == ("fetch.status",)


def test_an_edited_article_becomes_a_version_not_a_second_document(config, site, tmp_path):
    db = tmp_path / "monitor.db"
    run(config, db)
    feed = (FIXTURES / "feeds/mkb-nederland_rss_nieuws_excerpt.xml").read_bytes()
    # The publisher edits the item. Its page has too little text to be an article (the constructed
    # page holds only the feed's description), so the feed's description is the stored text.
    serve(site, "/rss/nieuws-mkb-nederland", feed.replace(b"praktische steun", b"praktische en financi\xc3\xable steun"),
          "application/rss+xml; charset=utf-8", ETag='"mkb-feed-2"')
    code, report = run(config, db)
    assert by_source(report)["mkb-nederland"]["changed"] == 1 and report["totals"]["new"] == 0
    with Store(db) as store:
        doc_id = store._db.execute("SELECT document_id FROM document_sources WHERE source = 'mkb-nederland'").fetchone()[0]
        assert store.document(doc_id)["version"] == 2
        old = store._db.execute("SELECT text FROM document_versions WHERE document_id = ?", [doc_id]).fetchone()[0]
        assert "praktische steun" in old
        assert "praktische en financiële steun" in store.document(doc_id)["text"]
        assert store._db.execute("SELECT count(*) FROM document_sources WHERE source = 'mkb-nederland'").fetchone()[0] == 1


def test_a_recorded_run_replays_without_the_server(config, site, tmp_path):
    recording = tmp_path / "recording"
    code, live = run_with(config, tmp_path / "live.db", "--record", str(recording))
    assert code == 0 and (recording / "index.jsonl").is_file()
    site.stop()  # from here on, nothing answers on the loopback port
    code, replayed = run_with(config, tmp_path / "replayed.db", "--replay", str(recording))
    assert code == 0, [(s["source"], s["error"], s["failures"][:2]) for s in replayed["sources"]]
    with Store(tmp_path / "live.db") as a, Store(tmp_path / "replayed.db") as b:
        rows = "SELECT id, content_hash, published FROM documents ORDER BY id"
        assert a._db.execute(rows).fetchall() == b._db.execute(rows).fetchall()
    again = CliRunner().invoke(cli, ["--config", str(config), "--db", str(tmp_path / "x.db"), "run", "--record",
                                     str(recording)])
    assert again.exit_code == 2 and "new or empty directory" in again.output


def run_with(config, db, *extra):
    result = CliRunner().invoke(cli, ["--config", str(config), "--db", str(db), "run", "--json", "--no-extract", *extra])
    return result.exit_code, json.loads(result.stdout)


def test_reprocess_parses_again_from_the_stored_responses_without_the_network(config, site, tmp_path):
    db = tmp_path / "monitor.db"
    code, report = run(config, db)
    stored = report["totals"]["new"]
    site.stop()  # reprocess must not need the sources
    result = CliRunner().invoke(cli, ["--config", str(config), "--db", str(db), "reprocess", "--json"])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)
    assert counts["parse"] == {"parsed": stored, "changed": 0, "unchanged": stored, "failed": 0}
    assert counts["extract"]["failed"] == 0
