"""One query language in three places: the same query string finds the same documents through
``mkb-monitor search --json``, the Datasette JSON API of the documents table (``_search``, as a
person types it in the search box) and ``mkb-monitor alerts test`` of a saved search (issue 16)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings, strategies as st

from monitor import config as config_module
from monitor.cli import cli
from monitor.serve import datasette

GOVERNMENT = Path(__file__).parent / "fixtures" / "import" / "government.jsonl"

QUERIES = [
    "ondernemers",  # Dutch forms: ondernemer, ondernemers
    "bedrijf",  # irregular plural: bedrijven
    "kleine bedrijven",
    "mkb OR zzp",
    "digitali*",
    '"digitale economie"',
    "mkb -digitalisering",
    "ondernemers -\"midden- en kleinbedrijf\" -KVK",
    "=ondernemers",
    "mkb'ers",
    "kunstmatige intelligentie",
    "EZK",
    "werknemer OR personeel",
    "subsidie* -regeling",
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("everywhere") / "monitor.db"
    result = CliRunner().invoke(cli, ["--db", str(path), "import", str(GOVERNMENT), "--no-extract"])
    assert result.exit_code == 0, result.output
    return path


def from_cli(corpus: Path, query: str) -> set[str]:
    result = CliRunner().invoke(cli, ["--db", str(corpus), "search", "--json", "--limit", "1000", "--", query])
    assert result.exit_code == 0, result.output
    return {hit["id"] for hit in json.loads(result.stdout)}


@pytest.fixture(scope="module")
def ds(corpus):
    return datasette(config_module.load(db=corpus))


def from_datasette(ds, query: str) -> set[str]:
    response = asyncio.run(ds.client.get("/monitor/documents.json", params={
        "_search": query, "_shape": "objects", "_size": "max", "_col": "id"}, follow_redirects=True))
    assert response.status_code == 200, response.text
    return {row["id"] for row in response.json()["rows"]}


def from_alerts(corpus: Path, query: str, name: str) -> set[str]:
    runner = CliRunner()
    added = runner.invoke(cli, ["--db", str(corpus), "alerts", "add", name, "--", query])
    assert added.exit_code == 0, added.output
    tested = runner.invoke(cli, ["--db", str(corpus), "alerts", "test", name, "--json", "--limit", "1000"])
    assert tested.exit_code == 0, tested.output
    return {hit["id"] for hit in json.loads(tested.stdout)["documents"]}


@pytest.mark.parametrize("n, query", list(enumerate(QUERIES)), ids=QUERIES)
def test_the_same_query_finds_the_same_documents_in_all_three_places(corpus, ds, n, query):
    ids = from_cli(corpus, query)
    assert ids, f"{query!r} finds nothing in the fixture: the comparison would prove nothing"
    assert from_datasette(ds, query) == ids
    assert from_alerts(corpus, query, f"search {n}") == ids


def test_dutch_forms_are_found_and_marked_in_all_three_places(corpus, ds):
    exact, forms = from_cli(corpus, "=ondernemer"), from_cli(corpus, "ondernemer")
    assert exact < forms  # "ondernemer" also finds the texts that only say "ondernemers"
    assert from_datasette(ds, "ondernemer") == forms
    # the form that matched is marked: in the terminal's JSON, the browser's page, an alert
    result = CliRunner().invoke(cli, ["--db", str(corpus), "search", "--json", "--", "ondernemer"])
    assert any("[ondernemers]" in hit["snippet"] for hit in json.loads(result.stdout))
    page = asyncio.run(ds.client.get("/monitor/documents", params={"_search": "ondernemer"},
                                     follow_redirects=True)).text
    assert "<mark>ondernemers</mark>" in page
    assert from_alerts(corpus, "ondernemer", "marked") == forms
    tested = CliRunner().invoke(cli, ["--db", str(corpus), "alerts", "test", "marked", "--json", "--limit", "1000"])
    assert any("[ondernemers]" in hit["snippet"] for hit in json.loads(tested.stdout)["documents"])


WORDS = ["ondernemer", "=ondernemers", "mkb'ers", "EZK", "kunstmatige", "intelligentie", '"digitale', 'economie"',
         "OR", "-", "-KVK", "digitali*", "*", "'s", "12,5", "NEAR(", "(", "é", "ＭＫＢ", "\x00"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(WORDS), max_size=8))
def test_no_query_gives_the_browser_a_server_error(ds, parts):
    for path in ("/monitor/documents.json", "/monitor/documents"):
        response = asyncio.run(ds.client.get(path, params={"_search": " ".join(parts)}, follow_redirects=True))
        assert response.status_code in (200, 400), response.text


def test_a_query_that_cannot_run_is_refused_everywhere(corpus, ds):
    too_long = "mkb " * 300
    result = CliRunner().invoke(cli, ["--db", str(corpus), "search", "--", too_long])
    assert result.exit_code == 2 and "at most 1000" in result.output
    response = asyncio.run(ds.client.get("/monitor/documents.json", params={"_search": too_long},
                                         follow_redirects=True))
    assert response.status_code == 400 and "at most 1000" in response.text
