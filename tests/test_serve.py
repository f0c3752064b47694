"""Datasette on the corpus: search through datasette.client, facets, metadata, the time limit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from datasette.app import Datasette

from monitor import config as config_module
from monitor.cli import cli
from monitor.serve import datasette

GOVERNMENT = Path(__file__).parent / "fixtures" / "import" / "government.jsonl"


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("serve") / "monitor.db"
    result = CliRunner().invoke(cli, ["--db", str(path), "import", str(GOVERNMENT), "--no-extract"])
    assert result.exit_code == 0, result.output
    return path




def run(coro):
    import asyncio

    return asyncio.run(coro)


def test_search_box_finds_documents_newest_first_with_facets(db):
    ds = datasette(config_module.load(db=db))

    async def go():
        response = await ds.client.get("/monitor/documents.json",
                                       params={"_search": "mkb werkplaatsen", "_shape": "objects",
                                               "_facet": "kind"})
        return response

    response = run(go())
    assert response.status_code == 200
    data = response.json()
    assert data["rows"] and all("werkplaats" in (r["title"] + r["text"]).lower() for r in data["rows"])
    assert {f["value"] for f in data["facet_results"]["kind"]["results"]} <= {"kamerstuk", "government"}


def test_user_syntax_never_gives_a_server_error(db):
    ds = datasette(config_module.load(db=db))

    async def go(q):
        return (await ds.client.get("/monitor/documents.json", params={"_search": q})).status_code

    for q in ['"unbalanced', "12,5", "AND", "-x", "NEAR(", "'s-Hertogenbosch", "mkb’ers"]:
        assert run(go(q)) in (200, 400), q


def test_metadata_titles_and_time_limit(db):
    ds = datasette(config_module.load(db=db))

    async def go():
        page = await ds.client.get("/monitor/documents")
        slow = await ds.client.get("/monitor.json", params={
            "sql": "with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c"})
        return page, slow

    page, slow = run(go())
    assert page.status_code == 200 and "Every publication in the corpus" in page.text
    assert slow.status_code == 400 and "too long" in slow.text.lower()


def test_plain_datasette_reads_the_same_file(db):
    """No project code: Datasette as any user would start it finds the FTS table by itself."""
    ds = Datasette(files=[str(db)])

    async def go():
        return await ds.client.get(f"/{db.stem}/documents.json", params={"_search": "mkb", "_shape": "array"})

    response = run(go())
    assert response.status_code == 200 and len(response.json()) > 0
