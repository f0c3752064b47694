"""SSRF through a whole run (issue 19 item 2): an internal address is never connected to, and
nothing from one lands in a served table, whether a source URL, a feed entry's link or a
robots.txt redirect points there. The run goes through the real CLI (forked, tests/forkrun.py).

"Internal" here is 127.0.0.1; the sources' own hosts are 127.0.0.2 and 127.0.0.3, each allowed
for its source alone (``allow_private_addresses``), as an intranet user would configure it.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from oracle import fresh_db, runner

__all__ = ["runner"]  # pytest fixture shared through oracle.py

FEED = Path(__file__).parent / "fixtures" / "feeds" / "mkb-nederland_rss_nieuws_excerpt.xml"
ARTICLE = b"https://www.mkb.nl/artikelen/talent-van-nieuwkomers-sneller-en-beter-benutten"
SECRET = b"internal-only-text"


@pytest.mark.slow
def test_internal_addresses_are_never_fetched_nor_stored(runner, faultd_factory, tmp_path):
    internal = faultd_factory(host="127.0.0.1")
    internal.robots = b"User-agent: *\nDisallow:\n# " + SECRET + b"\n"
    internal.route("/article", body=b"<html><body><p>" + SECRET * 50 + b"</p></body></html>",
                   headers={"Content-Type": "text/html"})

    linking = faultd_factory(host="127.0.0.2")  # a feed whose entry links to the internal host
    linking.robots = "allow"
    linking.route("/feed.xml", headers={"Content-Type": "application/rss+xml"},
                  body=FEED.read_bytes().replace(ARTICLE, internal.url("/article").encode()))

    redirecting = faultd_factory(host="127.0.0.3")  # a robots.txt that redirects to the internal host
    redirecting.route("/robots.txt", status=302, headers={"Location": internal.url("/robots.txt")})
    redirecting.route("/feed.xml", headers={"Content-Type": "application/rss+xml"}, body=FEED.read_bytes())

    config = tmp_path / "ssrf.toml"
    config.write_text(f"""[http]
robots = true
host_interval = 0.0
retries = 1
read_timeout = 1.0
total_deadline = 2.0

[sources.linked-internal]
kind = "feed"
url = "{linking.url('/feed.xml')}"
allow_private_addresses = ["127.0.0.2"]

[sources.robots-redirect]
kind = "feed"
url = "{redirecting.url('/feed.xml')}"
allow_private_addresses = ["127.0.0.3/32"]

[sources.metadata]
kind = "feed"
url = "http://169.254.169.254/latest/meta-data/"
""", "utf-8")
    db = fresh_db(tmp_path, "ssrf")
    argv = ["--config", str(config), "--db", str(db), "run", "--source", "linked-internal", "--source",
            "robots-redirect", "--source", "metadata", "--no-extract", "--json"]
    result = runner.run(argv)
    assert "Traceback" not in result.stderr, result.stderr
    report = {s["source"]: s for s in json.loads(result.stdout)["sources"]}

    assert internal.log == []  # nothing reached the internal host, not even robots.txt
    assert report["robots-redirect"]["error_code"] == "fetch.address_refused"
    assert report["metadata"]["error_code"] == "fetch.address_refused"
    assert "169.254.169.254 is a non-public address (cloud metadata)" in report["metadata"]["error"]
    assert redirecting.hits("/feed.xml") == 0  # no robots.txt, no page

    with sqlite3.connect(db) as conn:
        failures = conn.execute("SELECT code, url FROM item_failures WHERE source = 'linked-internal'").fetchall()
        served = b"".join(bytes(row[0] or b"") for row in conn.execute("SELECT body FROM robots"))
        raw_urls = [row[0] for row in conn.execute("SELECT url FROM raw_responses")]
    conn.close()
    assert failures == [("fetch.address_refused", internal.url("/article"))]
    assert SECRET not in served and not any(url.startswith(internal.origin) for url in raw_urls)
