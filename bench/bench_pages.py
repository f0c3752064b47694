"""Time every page and stored query of `mkb-monitor serve` on a corpus, and print the table.

    python bench/generate_corpus.py --docs 1000000 --out bench/out/corpus-1m.db
    python bench/bench_pages.py --db bench/out/corpus-1m.db

Datasette is the one `mkb-monitor serve` builds (``monitor.serve.datasette``), called in process
through ``datasette.client`` (a full ASGI request: routing, SQL, template, no socket). Parameters
are taken from the corpus itself: its most and least common dossier, figure subject and
organisation, so both the heaviest and a typical case are timed. Each page is fetched ``--repeat``
times after one warm-up; the table shows the median and the slowest. "note" says when a facet
or the SQL time limit cut a page short, which the target (every page within 1 s) counts as a miss.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlencode

from datasette.utils import tilde_encode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from bench.common import file_size, print_environment  # noqa: E402
from monitor import config as config_module  # noqa: E402
from monitor.serve import datasette, metadata  # noqa: E402

TARGET_MS = 1000


def samples(db: Path) -> dict[str, str]:
    """Real parameter values from the corpus: the most and least common of each kind."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    one = lambda sql: conn.execute(sql).fetchone()  # noqa: E731
    values = {
        "doc": one("select id from documents order by rowid desc limit 1")[0],
        "dossier_big": one("select dossiers from documents where kind = 'kamerbrief' and dossiers != '[]' "
                           "order by published desc limit 1")[0],
        "subject_big": one("select subject from figures where subject is not null "
                           "group by subject order by count(*) desc limit 1")[0],
        "subject_small": one("select subject from (select subject, count(*) n from figures where subject is not null "
                             "group by subject) where n >= 5 order by n limit 1")[0],
        "org_big": one("select organisation_id from mentions group by organisation_id "
                       "order by count(*) desc limit 1")[0],
        "org_small": one("select organisation_id from (select organisation_id, count(*) n from mentions "
                         "group by organisation_id) where n >= 20 order by n limit 1")[0],
        "figure": str(one("select max(id) from figures")[0]),
    }
    # Datasette's _next for the documents table: the last row's sort value and id (the 20th row,
    # and the middle of the corpus: a next page and a deep one).
    order = metadata()["databases"]["monitor"]["tables"]["documents"]["sort_desc"]
    for name, offset in (("next", 19), ("deep_next", one("select count(*) from documents")[0] // 2)):
        key, doc = one(f"select {order}, id from documents order by {order} desc limit 1 offset {offset}")
        values[name] = f"{tilde_encode(key)},{tilde_encode(doc)}"
    values["order"] = order
    values["dossier_big"] = json.loads(values["dossier_big"])[0]
    values["org_big_name"] = one(f"select canonical from organisations where id = '{values['org_big']}'")[0]
    conn.close()
    return values


def pages(s: dict[str, str]) -> list[tuple[str, str]]:
    through = json.dumps({"table": "mentions", "column": "organisation_id", "value": s["org_small"]})
    q = lambda path, **params: f"{path}?{urlencode(params)}" if params else path  # noqa: E731
    return [
        ("home", "/"),
        ("database", "/monitor"),
        ("documents, newest first", "/monitor/documents"),
        ("documents, next page", q("/monitor/documents", _next=s["next"], _sort_desc=s["order"])),
        ("documents, a page halfway", q("/monitor/documents", _next=s["deep_next"], _sort_desc=s["order"])),
        ("search: word in 2/3 of documents", q("/monitor/documents", _q="mkb")),
        ("search: two words", q("/monitor/documents", _q="digitalisering ondernemers")),
        ("search: rare word", q("/monitor/documents", _q="cyberweerbaarheid")),
        ("search mkb, newest stored first", q("/monitor/documents", _q="mkb", _sort_desc="rowid")),
        ("search mkb in a year", q("/monitor/documents", _q="mkb", _year="2024")),
        ("Datasette's own _search (sent to the bounded search)", q("/monitor/documents", _search="mkb")),
        ("documents of a year", q("/monitor/documents", _year="2024")),
        ("documents of a kind", q("/monitor/documents", kind="kamerbrief")),
        ("documents naming an organisation", q("/monitor/documents", _through=through)),
        ("search feed (atom)", q("/monitor/documents.atom", _q="mkb")),
        ("search json", q("/monitor/documents.json", _q="mkb")),
        ("document page", f"/monitor/documents/{s['doc']}"),
        ("figures table", "/monitor/figures"),
        ("figure page", f"/monitor/figures/{s['figure']}"),
        ("mentions table", "/monitor/mentions"),
        ("organisations table", "/monitor/organisations"),
        ("sources table", "/monitor/sources"),
        ("runs table", "/monitor/runs"),
        ("query: new Kamerbrieven", "/monitor/new_kamerbrieven"),
        ("query: dossier (largest)", q("/monitor/dossier", dossier=s["dossier_big"])),
        ("query: dossier (none)", q("/monitor/dossier", dossier="99999")),
        ("query: figures about (largest subject)", q("/monitor/figures_about", subject=s["subject_big"], unit="")),
        ("query: figures about (largest, count)", q("/monitor/figures_about", subject=s["subject_big"], unit="count")),
        ("query: figures about (small subject)", q("/monitor/figures_about", subject=s["subject_small"], unit="")),
        ("chart data: figures about (largest)", q("/monitor/figures_about.json", subject=s["subject_big"], unit="",
                                                   _shape="array")),
        ("query: organisation by month (largest)", q("/monitor/organisation_by_month", organisation=s["org_big_name"],
                                                      compare_with="", since="")),
        ("query: organisation by month (two)", q("/monitor/organisation_by_month", organisation=s["org_small"],
                                                  compare_with=s["org_big"], since="")),
        ("chart data: organisation by month", q("/monitor/organisation_by_month.json", organisation=s["org_big"],
                                                compare_with="", since="", _shape="array")),
        ("query: two organisations together", q("/monitor/organisations_together", organisation=s["org_big"],
                                                 other=s["org_small"], since="")),
        ("query feed (atom): new Kamerbrieven", "/monitor/new_kamerbrieven.atom"),
    ]


def note(status: int, body: str) -> str:
    if status != 200:
        return f"HTTP {status}"
    if "facets-timed-out" in body:
        names = body.split('class="facets-timed-out">', 1)[1].split("<", 1)[0]
        return "facet timed out: " + names.split(":", 1)[-1].strip()
    if "took too long" in body.lower():
        return "SQL time limit"
    return ""


async def measure(ds, path: str, repeat: int) -> tuple[list[float], int, str]:
    response = await ds.client.get(path, follow_redirects=True)  # warm-up: page cache, prepared templates
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = await ds.client.get(path, follow_redirects=True)
        times.append((time.perf_counter() - started) * 1000)
    return times, response.status_code, note(response.status_code, response.text)


async def run(db: Path, repeat: int, only: str | None) -> int:
    ds = datasette(config_module.load(db=db), db)
    s = samples(db)
    print(f"# corpus: {db.name}, {file_size(db) / 2**30:.2f} GiB; samples: {json.dumps(s, ensure_ascii=False)}")
    print(f"{'page':42} {'median ms':>10} {'max ms':>8}  status  note")
    misses = 0
    for name, path in pages(s):
        if only and only not in name:
            continue
        times, status, remark = await measure(ds, path, repeat)
        slow = max(times) > TARGET_MS or remark
        misses += bool(slow)
        print(f"{name:42} {statistics.median(times):10.0f} {max(times):8.0f}  {status:6}  "
              f"{remark}{' MISS' if slow else ''}", flush=True)
    print(f"# {misses} page(s) over {TARGET_MS} ms or cut short")
    return misses


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="the corpus (see bench/generate_corpus.py)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", help="only the pages whose name contains this")
    args = parser.parse_args(argv)
    print_environment()
    asyncio.run(run(args.db, args.repeat, args.only))


if __name__ == "__main__":
    main()
