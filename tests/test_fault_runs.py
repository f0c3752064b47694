"""Every HTTP fault through a whole run: the error is recorded with its code, no cursor moves and
nothing is stored from a broken response, the healthy source beside it is stored in full, and
once the server recovers the next run completes (RELIABILITY N1-N13, I6; "Lost" column).

tests/test_http.py proves the client maps each fault (attempts, sleeps, caps); this proves what
the *run* makes of it. One faultd per "host" on 127.0.0.x; every source is a feed whose URL is a
fault endpoint. The runs go through the real CLI (forked, tests/forkrun.py).
"""

from __future__ import annotations

import json
import socket
import sqlite3
from pathlib import Path

import pytest

from oracle import completed, fresh_db, integrity, runner, snapshot
from reliability import LEDGER

# Kills, forks and loopback fault servers: the full suite runs these, the fast loop does not.
# Each module writes the RELIABILITY figures (the ledger fixture) when it ends.
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ledger")]

__all__ = ["runner"]  # pytest fixture shared through oracle.py

FEED = Path(__file__).parent / "fixtures" / "feeds" / "mkb-nederland_rss_nieuws_excerpt.xml"
HTML_ERROR = Path(__file__).parent / "corpus" / "api-errors" / "html_error_page_with_200.html"

# source -> (matrix row, endpoint on host A, the code its run must record)
FAULTS = {
    "reset-fin": ("N1", "/reset?after=100&mode=fin", "fetch.data_loss"),
    "reset-rst": ("N1", "/reset?after=100&mode=rst", "fetch.data_loss"),
    "chunked-broken": ("N2", "/chunked-broken", "fetch.data_loss"),
    "retry-after-long": ("N3", "/status/429?ra=86400", "fetch.deferred"),
    "always-503": ("N4", "/status/503", "fetch.status"),
    "hang-before-headers": ("N5", "/hang-before-headers", "fetch.timeout.read"),
    "hang-after-headers": ("N5", "/hang-after-headers", "fetch.timeout.read"),
    "drip": ("N6", "/drip?interval=0.2&bytes=100", "fetch.deadline"),
    "drip-status-line": ("N6", "/drip-status?interval=0.2", "fetch.deadline"),
    "drip-headers": ("N6", "/drip-headers?interval=0.2", "fetch.deadline"),
    "redirect-loop": ("N7", "/redirect/loop", "fetch.redirect_loop"),
    "redirect-offhost": ("N7", "/redirect/offhost", "fetch.redirect_forbidden"),
    "redirect-file": ("N7", "/redirect/scheme", "fetch.redirect_forbidden"),
    "big-with-length": ("N8", "/big?mb=1&cl=1", "fetch.too_large"),
    "big-chunked": ("N8", "/big?mb=1&cl=0", "fetch.too_large"),
    "gzip-bomb": ("N9", "/bomb?codec=gzip&mb=5", "fetch.decompression_limit"),
    "deflate-bomb": ("N9", "/bomb?codec=deflate&mb=5", "fetch.decompression_limit"),
    "html-with-200": ("N11", "/flaky.xml", "parse.not_a_feed"),
    "empty-with-200": ("N11", "/empty.xml", "parse.not_a_feed"),
}



def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when this returns: nothing listens there


def config_for(path: Path, sources: dict[str, str]) -> Path:
    lines = ["[http]", "robots = true", "host_interval = 0.0", "retries = 2", "backoff_base = 0.05",
             "backoff_cap = 0.1", "read_timeout = 0.5", "total_deadline = 1.5", "max_bytes = 200000",
             "max_decoded_bytes = 500000", "breaker_failures = 50",
             "allow_private = true"]  # every faultd listens on 127.0.0.x
    for name, url in sources.items():
        lines += [f"[sources.{name}]", 'kind = "feed"', f'url = "{url}"', "fetch_articles = false"]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def test_each_http_fault_fails_its_source_only_and_moves_no_cursor(runner, faultd, faultd_factory, tmp_path):
    other_host = faultd_factory(host="127.0.0.2")
    other_host.robots = "500"  # RFC 9309: robots.txt unreachable -> disallow this run (N13)
    faultd.robots = "allow"
    faultd.route("/feed.xml", headers={"Content-Type": "application/rss+xml"}, body=FEED.read_bytes())
    faultd.route("/flaky.xml", headers={"Content-Type": "text/html"}, body=HTML_ERROR.read_bytes())
    faultd.route("/empty.xml", headers={"Content-Type": "application/rss+xml"}, body=b"")
    sources = {name: faultd.url(endpoint) for name, (_, endpoint, _) in FAULTS.items()}
    sources["refused"] = f"http://127.0.0.1:{closed_port()}/feed.xml"
    sources["robots-500"] = other_host.url("/feed.xml")
    sources["healthy"] = faultd.url("/feed.xml")
    # A host that refuses connections fails at its robots.txt first: unreachable, so the source is
    # deferred to the next run (RFC 9309), not failed; test_http shows the refusal is fetch.connect.
    expected = {name: code for name, (_, _, code) in FAULTS.items()} | {"refused": "fetch.deferred",
                                                                       "robots-500": "fetch.deferred"}
    config = config_for(tmp_path / "faults.toml", sources)
    db = fresh_db(tmp_path, "faults")
    argv = ["--config", str(config), "--db", str(db), "run", *[a for n in sources for a in ("--source", n)],
            "--no-extract", "--json"]

    result = runner.run(argv)
    assert result.code == 1, result.stderr  # sources failed: not a clean exit, not a crash
    assert "Traceback" not in result.stderr, result.stderr
    report = {s["source"]: s for s in json.loads(result.stdout)["sources"]}
    recorded = {name: report[name]["error_code"] for name in expected}
    assert recorded == expected
    assert {name: report[name]["status"] for name in expected if expected[name] == "fetch.deferred"} == \
        {"retry-after-long": "deferred", "robots-500": "deferred", "refused": "deferred"}
    assert report["healthy"]["status"] == "ok" and report["healthy"]["new"] == 1

    snap = snapshot(db)
    assert integrity(db) == []
    cursors = {name: cursor for (name,), (_, cursor) in snap["sources"].items()}
    assert [name for name, cursor in cursors.items() if cursor] == ["healthy"]  # I6: no fault moved a cursor
    assert {source for source, _ in snap["document_sources"]} == {"healthy"}  # nothing from a broken body
    assert other_host.hits("/feed.xml") == 0  # robots.txt unreachable: no page request at all
    for name, (row, _, _) in FAULTS.items():
        LEDGER.fault(row, True)
    LEDGER.fault("N10", True)
    LEDGER.fault("N13", True)

    # The server recovers (the HTML error page becomes the feed): the next run stores it and
    # moves that cursor; the healthy source's second run changes nothing (I2).
    faultd.route("/flaky.xml", headers={"Content-Type": "application/rss+xml"}, body=FEED.read_bytes())
    again = json.loads(runner.run(argv).stdout)
    by_source = {s["source"]: s for s in again["sources"]}
    assert by_source["html-with-200"]["status"] == "ok"
    assert by_source["healthy"]["new"] == 0 and by_source["healthy"]["changed"] == 0
    after = snapshot(db)
    assert after["sources"][("html-with-200",)][1] is not None
    # The same article from two sources is one document with two sightings (T1).
    assert len(after["documents"]) == 1 and len(after["document_sources"]) == 2
    assert integrity(db) == []


def test_an_empty_but_valid_feed_deletes_nothing_and_the_source_shows_stale(runner, faultd, tmp_path):
    """N12: silent breakage (a feed that suddenly has no items) must not read as "everything was
    deleted" (I6): no tombstone, the cursor stays; the source is reported stale instead."""
    empty = Path(__file__).parent / "corpus" / "illformed" / "rss_no_items.xml"
    faultd.route("/news.xml", headers={"Content-Type": "application/rss+xml"}, body=FEED.read_bytes())
    config = tmp_path / "stale.toml"
    config.write_text(f"""[http]
robots = false
host_interval = 0.0
allow_private = true

[sources.broken-overnight]
kind = "feed"
url = "{faultd.url('/news.xml')}"
fetch_articles = false
stale_after_hours = 1
""", "utf-8")
    db = fresh_db(tmp_path, "stale")
    argv = ["--config", str(config), "--db", str(db), "run", "--source", "broken-overnight", "--no-extract", "--json"]
    completed(runner, argv)
    before = snapshot(db)
    assert len(before["documents"]) == 1

    faultd.route("/news.xml", headers={"Content-Type": "application/rss+xml"}, body=empty.read_bytes())
    for _ in range(2):
        report = json.loads(completed(runner, argv).stdout)["sources"][0]
        assert report["status"] == "ok" and report["new"] == report["changed"] == 0
    after = snapshot(db)
    assert after["documents"] == before["documents"]  # nothing marked deleted
    assert after["sources"] == before["sources"]  # the cursor did not move
    assert after["changes"] == before["changes"]  # no change-log row: nothing for alerts to act on

    sources = json.loads(completed(runner, ["--config", str(config), "--db", str(db), "sources", "--json"]).stdout)
    # The last new document came just now, so it is not stale yet; a source that has never
    # brought anything new is (Huginn's `working?`).
    assert {s["name"]: s["stale"] for s in sources if s["name"] == "broken-overnight"} == {"broken-overnight": False}
    with sqlite3.connect(db) as conn:  # an hour and a bit later
        conn.execute("UPDATE sources SET last_new = '2000-01-01T00:00:00Z' WHERE name = 'broken-overnight'")
    conn.close()
    sources = json.loads(completed(runner, ["--config", str(config), "--db", str(db), "sources", "--json"]).stdout)
    assert {s["name"]: s["stale"] for s in sources if s["name"] == "broken-overnight"} == {"broken-overnight": True}
    LEDGER.fault("N12", True)
