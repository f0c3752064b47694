"""Build a replay directory from real fixtures: the input of the crash suite.

A replay directory is the ``monitor.recording`` format (``index.jsonl`` + ``bodies/<sha256>``)
that ``mkb-monitor run --replay DIR`` answers every request from. This one is *built*, not
recorded: the bodies are the fixture files named in README.md, byte for byte, placed at the URLs
the sources ask for when they run with the ``monitor.toml`` written beside the index. Every
answer is a 200 with a fixture's own bytes.

It is built for a day, not committed: after a complete window KOOP's cursor is today's date, so
the SRU query of the run after the first one names yesterday, and a frozen directory would go
stale at midnight. The tests build it into a temporary directory; to look at one:

    python tests/replays/build_replays.py DIR
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from datetime import date, timedelta
from pathlib import Path

import httpx

HERE = Path(__file__).parent
FIXTURES = HERE.parent / "fixtures"
# The replay is built, so it has no recording time; one fixed stamp keeps the build reproducible.
BUILT_AT = "2026-11-27T00:00:00Z"

SRU = "https://repository.overheid.nl/sru"
REPO = "https://repository.overheid.nl/frbr/officielepublicaties"
FEED = "https://www.mkb.nl/rss/nieuws-mkb-nederland"
SITEMAP = "https://www.rijksoverheid.nl/news/sitemap.xml"
NEWS = "https://www.rijksoverheid.nl/actueel/nieuws/2026/09"

# The config the replay is made for: the KOOP selection and start date fix the SRU query, and a
# window longer than any test run keeps that query the same whatever today's date is.
CONFIG = """\
# Config for `mkb-monitor --config THIS run --replay DIR --source koop --source mkb-nederland
# --source rijksoverheid-news`. Built with tests/replays/build_replays.py; see README.md.
[http]
host_interval = 0.0     # nothing to be polite to on replay
robots = false          # no robots.txt was recorded for these hosts
retries = 1
read_timeout = 2.0
total_deadline = 5.0

[sources.koop]
kind = "koop"
publications = ["Kamerstuk", "Kamervragen (Aanhangsel)"]
dossiers = ["32545"]
terms = ["mkb"]
start_date = "2021-06-01"
window_days = 36500
page_size = 10
new_within_days = 0     # the recorded documents are years old: new to the corpus, not resurfaced

[sources.mkb-nederland]
kind = "feed"
url = "https://www.mkb.nl/rss/nieuws-mkb-nederland"
relevance = false
new_within_days = 0

[sources.rijksoverheid-news]
kind = "sitemap"
url = "https://www.rijksoverheid.nl/news/sitemap.xml"
first_run_days = 36500
batch_size = 1
document_kind = "government"
new_within_days = 0
"""
SOURCES = ("koop", "mkb-nederland", "rijksoverheid-news")


def sru_url(query_from: str) -> str:
    """The searchRetrieve URL scrapers.koop asks for, from the selection in CONFIG."""
    import tomllib

    from scrapers.koop import SRU_PARAMS, KoopSource
    from scrapers.base import options_from
    from monitor import config

    table = tomllib.loads(CONFIG)["sources"]["koop"]
    options = config.shipped().source_config("koop", table).options
    source = KoopSource("koop", options_from(KoopSource.Options, "koop", options))
    query = f'{source.selection()} and dt.modified>="{query_from}"'
    params = {**SRU_PARAMS, "query": query, "maximumRecords": str(source.options.page_size), "startRecord": "1"}
    return str(httpx.URL(SRU).copy_merge_params(params))


def fixture_run(today: date) -> list[tuple[str, Path, str]]:
    """(URL, fixture, content type) of every exchange of one run and of the runs after it."""
    two_records = FIXTURES / "koop" / "sru_searchRetrieve_kst-32545-143_ah-tk-20202021-3235_from_metadata.xml"
    no_records = HERE / "sru_searchRetrieve_no_records_from_schema.xml"
    standin = FIXTURES / "articles" / "ro_standin_no-canonical_constructed.html"
    html = "text/html; charset=utf-8"
    return [
        # The first run reads from start_date; once that window is read to its end the cursor is
        # today, and the next run asks from yesterday (one day of overlap), where nothing changed.
        (sru_url("2021-06-01"), two_records, "text/xml; charset=utf-8"),
        (sru_url((today - timedelta(days=1)).isoformat()), no_records, "text/xml; charset=utf-8"),
        (f"{REPO}/kst/32545/kst-32545-143/1/xml/kst-32545-143.xml",
         FIXTURES / "koop" / "kst-32545-143" / "kst-32545-143.xml", "application/xml"),
        (f"{REPO}/ah-tk/20202021/ah-tk-20202021-3235/1/xml/ah-tk-20202021-3235.xml",
         FIXTURES / "koop" / "ah-tk-20202021-3235" / "ah-tk-20202021-3235.xml", "application/xml"),
        (FEED, FIXTURES / "feeds" / "mkb-nederland_rss_nieuws_excerpt.xml", "application/rss+xml; charset=utf-8"),
        ("https://www.mkb.nl/artikelen/talent-van-nieuwkomers-sneller-en-beter-benutten",
         FIXTURES / "articles" / "mkb_talent-van-nieuwkomers_constructed.html", html),
        (SITEMAP, FIXTURES / "rijksoverheid" / "rijksoverheid_news_sitemap_excerpt.xml", "text/xml; charset=utf-8"),
        (f"{NEWS}/23/nederlandse-staat-neemt-aandelen-kerncentrale-borssele-over", standin, html),
        (f"{NEWS}/22/europese-toeslag-van-euro-2-voor-pakketjes-van-buiten-de-eu", standin, html),
    ]


def build(directory: Path, today: date | None = None) -> Path:
    """Write the replay directory (its index, bodies and monitor.toml) for ``today``."""
    if directory.exists():
        shutil.rmtree(directory)
    (directory / "bodies").mkdir(parents=True)
    lines = []
    for url, fixture, content_type in fixture_run(today or date.today()):
        body = fixture.read_bytes()
        digest = hashlib.sha256(body).hexdigest()
        (directory / "bodies" / digest).write_bytes(body)
        lines.append(json.dumps({
            "method": "GET", "url": url, "status": 200, "headers": [["content-type", content_type]],
            "body": f"bodies/{digest}", "sha256": digest, "size": len(body), "form": "decoded",
            "complete": True, "error": None, "recorded_at": BUILT_AT}, ensure_ascii=False))
    (directory / "index.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    (directory / "monitor.toml").write_text(CONFIG, "utf-8")
    return directory


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent.parent))
    print(build(Path(sys.argv[1])))
