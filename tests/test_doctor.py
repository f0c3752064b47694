"""`mkb-monitor doctor` against recorded answers (MockTransport), never the network."""

from __future__ import annotations

from pathlib import Path

from monitor import doctor
from monitor.config import load
from tests.fakes import MockFetcher, Reply

FIXTURES = Path(__file__).parent / "fixtures"
FEED_URL = "https://www.mkb.nl/rss/nieuws-mkb-nederland"
TK = "https://gegevensmagazijn.tweedekamer.nl/SyncFeed/2.0"


def test_doctor_reports_what_each_source_answered_and_how() -> None:
    config = load(overrides={"sources": {"tweedekamer": {"start_skiptoken": 20127222}}})
    routes = {
        FEED_URL: Reply.file(FIXTURES / "feeds" / "mkb-nederland_rss_nieuws_excerpt.xml",
                             content_type="application/rss+xml"),
        f"{TK}/Feed?category=Document&skiptoken=20127222":
            Reply.file(FIXTURES / "tweedekamer" / "syncfeed_document_page_from_schema.xml"),
        f"{TK}/Entiteiten/1f031e16-cb3b-45b5-b3c9-a8abd27c913a":
            Reply.file(FIXTURES / "tweedekamer" / "entiteiten_kamerstukdossier_30218_from_nsstripped.xml"),
        "https://www.belastingdienst.nl/wps/wcm/connect/bldcontentnl/berichten/nieuws/rss/nieuwsfeed_actueel_zakelijk.xml":
            Reply(b"<html><body>Onderhoud</body></html>", headers={"content-type": "text/html"}),
    }
    results = {r.source: r for r in doctor.check(config, lambda sc: MockFetcher(routes),
                                                 ["mkb-nederland", "tweedekamer", "belastingdienst-zakelijk", "koop"])}
    mkb = results["mkb-nederland"]
    assert mkb.ok and mkb.entries == 1 and mkb.newest == "2026-09-23T05:00:47+00:00"
    assert [(e.url, e.status, e.content_type) for e in mkb.requests] == [(FEED_URL, 200, "application/rss+xml")]
    tk = results["tweedekamer"]
    assert tk.ok and tk.entries == 4 and len(tk.requests) == 2  # the page and its dossier
    assert not results["belastingdienst-zakelijk"].ok
    assert results["belastingdienst-zakelijk"].error_code == "parse.not_a_feed"
    koop = results["koop"]  # nothing recorded for it: the failure is named, the others still ran
    assert not koop.ok and koop.error_code == "fetch.no_recording" and koop.requests[0].error == "fetch.no_recording"
    summary = doctor.summary(list(results.values()))
    assert summary["ok"] is False and {s["source"] for s in summary["sources"]} == set(results)


def test_doctor_command_prints_a_table_and_json(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from monitor.cli import cli

    config = tmp_path / "monitor.toml"
    config.write_text('[sources.mkb-nederland]\nurl = "http://127.0.0.1:9/feed"\n', "utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "--db", str(tmp_path / "m.db"),
                                      "doctor", "mkb-nederland", "--json"])
    assert result.exit_code == 1 and '"source": "mkb-nederland"' in result.output and '"ok": false' in result.output
