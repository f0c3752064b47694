"""Incremental runs: a run with nothing new costs one conditional request; N new cost O(N).

    python bench/bench_incremental.py

A news feed on a loopback server (tests/faultd.py) is run through the real path,
``mkb-monitor run`` -> monitor.http -> the feed source -> pipeline -> store: the feed, with
an ETag, lists the newest items, each linking to an article page on the same server (feed and
pages are generated from the recombined real texts of ``generate_corpus.Factory``, in the
RSS 2.0 and HTML shapes of the recorded MKB-Nederland feed and articles). Runs:

- first: the feed's first items, all new;
- nothing new: the same feed again; it must cost one conditional request (answered 304);
- N new, for each ``--new`` N: N more items at the top of a feed that still lists items already
  stored; the time per new document should stay flat as N grows.

Extraction (spaCy) is off unless ``--extract``: bench_extraction.py measures it. ``--base``
starts from a copy of a generated corpus instead of an empty one.
"""

from __future__ import annotations

import argparse
import email.utils
import json
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from lxml import etree
from lxml.builder import E

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # run as a script; faultd lives with the tests

from bench.common import print_environment, real_texts  # noqa: E402
from bench.generate_corpus import Factory, Generated, Material  # noqa: E402
from faultd import Faultd  # noqa: E402
from monitor.cli import cli  # noqa: E402

FEED = "/feed.xml"
KEEP = 50  # items a feed still lists from before


def article(g: Generated) -> bytes:
    page = E.html(E.head(E.title(g.doc.title)), E.body(E.article(
        E.h1(g.doc.title), *[E.p(paragraph) for paragraph in g.doc.text.split("\n\n")])))
    return etree.tostring(page, method="html", encoding="utf-8", doctype="<!DOCTYPE html>")


def rss(server: Faultd, items: list[tuple[int, Generated]]) -> bytes:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    channel = E.channel(E.title("Bench feed"), E.link(server.origin), E.description("Generated for bench_incremental"))
    for n, g in items:
        channel.append(E.item(
            E.title(g.doc.title), E.link(server.url(f"/nieuws/{n}")), E.guid(f"bench-{n}", isPermaLink="false"),
            E.pubDate(email.utils.format_datetime(moment + timedelta(minutes=n))),
            E.description(g.doc.text[:300])))
    return etree.tostring(E.rss(channel, version="2.0"), xml_declaration=True, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--first", type=int, default=KEEP)
    parser.add_argument("--new", type=int, nargs="+", default=[25, 100, 400])
    parser.add_argument("--extract", action="store_true", help="extract figures and organisations (spaCy)")
    parser.add_argument("--base", type=Path, help="run into a copy of this corpus (e.g. bench/out/corpus-100k.db)")
    args = parser.parse_args(argv)
    print_environment()
    _, texts = real_texts()
    factory = Factory(Material(texts, random.Random(5)), seed=5)
    total = args.first + sum(args.new)
    docs = [factory.make(n, date(2026, 1, 1)) for n in range(total)]
    with Faultd(max_requests=10 * total + 100, time_limit=3600) as server, tempfile.TemporaryDirectory() as tmp:
        for n, g in enumerate(docs):
            server.route(f"/nieuws/{n}", body=article(g), headers={"Content-Type": "text/html; charset=utf-8"})
        config = Path(tmp) / "monitor.toml"
        config.write_text(f"""
[http]
allow_private = true  # the site is a loopback server
host_interval = 0.0
[sources.bench-feed]
kind = "feed"
url = "{server.url(FEED)}"
relevance = false
fetch_articles = true
""", "utf-8")
        db = Path(tmp) / "monitor.db"
        if args.base:
            shutil.copyfile(args.base, db)

        stored = 0

        def run(label: str, upto: int) -> None:
            nonlocal stored
            listed = list(enumerate(docs))[max(0, stored - KEEP):upto][::-1]  # newest first
            server.route(FEED, body=rss(server, listed), headers={
                "Content-Type": "application/rss+xml; charset=utf-8", "ETag": f'"feed-{upto}"'})
            before = len(server.log)
            started = time.perf_counter()
            result = CliRunner().invoke(cli, ["--config", str(config), "--db", str(db), "run", "--source", "bench-feed", "--json",
                                              *([] if args.extract else ["--no-extract"])])
            seconds = time.perf_counter() - started
            if result.exit_code != 0:
                raise SystemExit(f"{label}: the run failed: {result.output[-2000:]}")
            report = json.loads(result.output)
            new = report["totals"]["new"]
            requests = [h for h in server.log[before:] if h.path != "/robots.txt"]
            feed_requests = [h for h in requests if h.path == FEED]
            conditional = sum(bool(h.headers.get("if-none-match")) for h in feed_requests)
            print(f"{label:12} {new:5d} new {len(requests):5d} requests ({len(feed_requests)} of the feed, "
                  f"{conditional} conditional) {seconds:7.2f} s"
                  + (f"  {seconds / new * 1000:6.1f} ms per new document" if new else ""))
            stored = upto

        run("first", args.first)
        run("nothing new", args.first)
        upto = args.first
        for n in args.new:
            upto += n
            run(f"{n} new", upto)


if __name__ == "__main__":
    main()
