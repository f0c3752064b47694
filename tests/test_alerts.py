"""Saved searches against real government texts: what matches, once, under the version, backfill
and digest policy (RELIABILITY I3, T2, T6, T7, D9), with the oracle recomputing from scratch."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import datetime

import pytest

from alerting import FakeClock, government, import_jsonl, make_config, save, write_jsonl
from monitor import alerts, notify, search
from monitor.alerts import SavedSearch
from monitor.errors import QueryError
from monitor.store import Store
from monitor.store.private import PrivateStore
from monitor.store.search import SearchIndex

QUERY = "ondernemers"


def hits(config) -> set[tuple[int, str]]:
    with PrivateStore.open(config) as private:
        return {(r[0], r[1]) for r in private.db.execute("SELECT search_id, document_id FROM hits")}


def expected(config, search_id: int, saved: SavedSearch) -> set[tuple[int, str]]:
    """The oracle: every document that matches now, recomputed from scratch."""
    with Store.open(config) as corpus:
        return {(search_id, h.id) for h in saved.match(corpus)}


@pytest.fixture
def config(tmp_path):
    return make_config(tmp_path)


def test_a_run_records_each_matching_document_once_and_a_rerun_nothing(config, tmp_path):
    saved = SavedSearch(name="ondernemers", query=QUERY)
    search_id = save(config, saved, ("console", "", None))
    path = write_jsonl(tmp_path / "gov.jsonl", government())
    first = import_jsonl(config, path)
    oracle = expected(config, search_id, saved)
    assert 0 < len(oracle) < 20  # the query tells documents apart
    assert hits(config) == oracle and first["hits"] == len(oracle)
    second = import_jsonl(config, path)
    assert second["hits"] == 0 and hits(config) == oracle
    with PrivateStore.open(config) as private:
        assert private.db.execute("SELECT count(*) FROM alerts").fetchone()[0] == len(oracle)
        assert private.check() == []


def test_an_edit_alerts_only_when_it_makes_a_document_match(config, tmp_path):
    docs = government(3)
    target = next(d for d in docs if "werkplaats" not in d["text"].lower())
    save(config, SavedSearch(name="werkplaats", query="werkplaats"))
    import_jsonl(config, write_jsonl(tmp_path / "v1.jsonl", docs))
    assert hits(config) == set()
    with Store.open(config) as corpus:
        seq = corpus.last_change_seq()
    cosmetic = {**target, "text": target["text"].replace(" ", "  ", 3) + "\n\n"}
    report = import_jsonl(config, write_jsonl(tmp_path / "v2.jsonl", [cosmetic]))
    with Store.open(config) as corpus:
        assert corpus.last_change_seq() == seq and report["hits"] == 0  # no change row at all
    edited = {**target, "text": target["text"] + "\n\nDe Digitale Werkplaats helpt ondernemers."}
    import_jsonl(config, write_jsonl(tmp_path / "v3.jsonl", [edited]))
    with PrivateStore.open(config) as private:
        rows = private.db.execute("SELECT document_id, reason FROM hits").fetchall()
    assert len(rows) == 1 and rows[0][1] == "edited"
    again = {**edited, "text": edited["text"] + " Werkplaats, nogmaals."}
    reverted = {**target, "text": target["text"] + "\n\nNiets meer."}
    import_jsonl(config, write_jsonl(tmp_path / "v4.jsonl", [again]))
    import_jsonl(config, write_jsonl(tmp_path / "v5.jsonl", [reverted]))
    assert len(hits(config)) == 1  # still matching, then no longer matching: no new alert


def test_a_new_search_sees_only_later_changes_unless_backfilled(config, tmp_path):
    clock = FakeClock()
    path = write_jsonl(tmp_path / "gov.jsonl", government())
    import_jsonl(config, path, clock=clock)
    saved = SavedSearch(name="late", query=QUERY)
    search_id = save(config, saved)
    import_jsonl(config, path, clock=clock)
    assert hits(config) == set()
    with Store.open(config) as corpus, PrivateStore.open(config) as private:
        counts = alerts.backfill(corpus, private, search_id, days=7, max_per_run=100, now=clock())
        again = alerts.backfill(corpus, private, search_id, days=7, max_per_run=100, now=clock())
    assert counts["hits"] == len(expected(config, search_id, saved)) > 0
    assert again["hits"] == 0 and hits(config) == expected(config, search_id, saved)


def test_editing_a_search_does_not_resend_old_hits(config, tmp_path):
    saved = SavedSearch(name="s", query=QUERY)
    search_id = save(config, saved)
    path = write_jsonl(tmp_path / "gov.jsonl", government())
    import_jsonl(config, path)
    before = hits(config)
    edited = SavedSearch(name="s", query="mkb", id=search_id)
    with Store.open(config) as corpus, PrivateStore.open(config) as private:
        alerts.edit(private, corpus, edited, now=FakeClock()())
    import_jsonl(config, path)
    assert hits(config) == before  # no re-send, and no back-fill unless asked for
    newly = expected(config, search_id, edited) - before
    assert newly  # the edit makes more documents match
    with Store.open(config) as corpus, PrivateStore.open(config) as private:
        counts = alerts.backfill(corpus, private, search_id, days=1, max_per_run=100, now=FakeClock()())
    assert counts["hits"] == len(newly) and hits(config) == before | newly
    import_jsonl(config, path)
    assert hits(config) == before | newly


def test_a_crash_between_the_corpus_commit_and_matching_loses_nothing_and_doubles_nothing(config, tmp_path, monkeypatch):
    saved = SavedSearch(name="s", query=QUERY)
    search_id = save(config, saved)
    import_jsonl(config, write_jsonl(tmp_path / "gov.jsonl", government()), alerts_stage=False)
    assert hits(config) == set()  # documents committed, matching never ran (the process died)

    def fail(self, seq):  # die inside the private transaction, after the hits were written
        raise OSError("disk gone")

    monkeypatch.setattr(PrivateStore, "set_watermark", fail)
    with Store.open(config) as corpus, PrivateStore.open(config) as private, pytest.raises(OSError):
        alerts.evaluate(corpus, private, max_per_run=100, now=FakeClock()())
    assert hits(config) == set()  # rolled back with the watermark
    monkeypatch.undo()
    with Store.open(config) as corpus, PrivateStore.open(config) as private:
        alerts.evaluate(corpus, private, max_per_run=100, now=FakeClock()())
        alerts.evaluate(corpus, private, max_per_run=100, now=FakeClock()())
        assert private.watermark() == corpus.last_change_seq()
    assert hits(config) == expected(config, search_id, saved)


def test_a_flood_becomes_one_digest_listing_every_hit(tmp_path):
    config = make_config(tmp_path, max_per_run=2)
    save(config, SavedSearch(name="flood", query=QUERY), ("console", "", None))
    save(config, SavedSearch(name="one", query='"Comité voor Ondernemerschap"'), ("console", "", None))
    import_jsonl(config, write_jsonl(tmp_path / "gov.jsonl", government()))
    with PrivateStore.open(config) as private:
        flood = private.search("flood")
        kinds = private.db.execute("SELECT kind, (SELECT count(*) FROM hits h WHERE h.alert_id = a.id) "
                                   "FROM alerts a WHERE search_id = ?", [flood["id"]]).fetchall()
        one = private.db.execute("SELECT kind FROM alerts WHERE search_id = ?", [private.search("one")["id"]]).fetchall()
        unassigned = private.db.execute("SELECT count(*) FROM hits WHERE alert_id IS NULL").fetchone()[0]
    assert len(kinds) == 1 and kinds[0][0] == "flood" and kinds[0][1] == len(private_hits(config, flood["id"])) > 2
    assert one == [("single",)]
    assert unassigned == 0


def private_hits(config, search_id):
    with PrivateStore.open(config) as private:
        return private.hits(search_id, limit=1000)


def test_hourly_digest_collects_until_its_hour_then_goes_out_as_one_message(config, tmp_path, capsys):
    clock = FakeClock()
    save(config, SavedSearch(name="hourly", query=QUERY, digest="hourly"), ("console", "", None))
    docs = government()
    import_jsonl(config, write_jsonl(tmp_path / "a.jsonl", docs[:10]), clock=clock)
    import_jsonl(config, write_jsonl(tmp_path / "b.jsonl", docs[10:]), clock=clock)
    with PrivateStore.open(config) as private:
        rows = private.db.execute("SELECT id, due_at FROM alerts").fetchall()
        sent = private.db.execute("SELECT count(*) FROM deliveries WHERE status = 'sent'").fetchone()[0]
    assert len(rows) == 1 and rows[0][1] > alerts.stamp(clock()) and sent == 0
    clock.now = datetime.fromisoformat(rows[0][1].replace("Z", "+00:00"))
    with PrivateStore.open(config) as private:
        assert notify.deliver(private, config, clock=clock)["sent"] == 1
    printed = capsys.readouterr().err
    n = len(expected(config, 1, SavedSearch(name="hourly", query=QUERY)))
    assert f"hourly: {n} documents" in printed and printed.count(" · new") == n  # one message, all hits


def test_filters_without_words_organisations_and_figures(config, tmp_path):
    # Built from sentences of Kamerstuk 32637-428 (shared/gold): the Comité is named once by an
    # alias, then twice as "het Comité"; the canonical name never occurs in the text.
    text = ("Het Comité voor Ondernemerschap komt hierin tot vijf aanbevelingen om de digitalisering van "
            "het mkb te versnellen.\n\nHet Comité formuleert de volgende aanbevelingen voor ondernemers. "
            "Graag spreek ik mijn dank uit aan het Comité. Ruim 58 procent van de mkb’ers gebruikt de cloud.")
    doc = {"id": "kst-test-1", "title": "Brief over het Jaarbericht", "text": text, "kind": "kamerstuk"}
    org = save(config, SavedSearch(name="ncvo", organisations=("Nederlands Comité voor Ondernemerschap",)))
    fig = save(config, SavedSearch(name="fig", figure=alerts.parse_figure("unit=percent subject~mkb'ers value>=50")))
    high = save(config, SavedSearch(name="high", figure=alerts.parse_figure("unit=percent value>60")))
    import_jsonl(config, write_jsonl(tmp_path / "doc.jsonl", [doc]), extract=True)
    found = hits(config)
    assert (org, "kst-test-1") in found and (fig, "kst-test-1") in found and (high, "kst-test-1") not in found
    with Store.open(config) as corpus:
        assert search.search(corpus, '="Nederlands Comité voor Ondernemerschap"') == []  # not by its words
        comite = corpus._db.execute("SELECT text, start FROM mentions WHERE organisation_id = 'org:ncvo' "
                                   "ORDER BY start").fetchall()
    assert len(comite) == 3 and comite[1][0] == "Comité"  # "het Comité", resolved by the linker
    with PrivateStore.open(config) as private:
        snippet = private.hits(fig)[0]["snippet"]
        facts = private.hits(org)[0]["facts"]
    assert search.MARK_START + "58 procent" + search.MARK_END in snippet
    assert "Nederlands Comité voor Ondernemerschap" in facts["organisations"]


@pytest.mark.parametrize("text, message", [
    ("unit=percent value>>50", "not a number"),
    ("unit:percent", "cannot read"),
    ("unit=euro", "unit must be one of"),
    ("value>=veel", "not a number"),
    ("subject=mkb", "use unit=UNIT and subject~WORD"),
])
def test_bad_figure_conditions_are_refused_with_a_clear_message(text, message):
    with pytest.raises(QueryError, match=message):
        alerts.parse_figure(text)


@pytest.mark.parametrize("saved, message", [
    (SavedSearch(name="x", query='-"only" -exclusions'), "no words to look for"),
    (SavedSearch(name="x"), "needs words or at least one filter"),
    (SavedSearch(name="x", organisations=("Geen Bestaande Club BV",)), "no organisation known"),
    (SavedSearch(name="x", query="mkb", digest="weekly"), "digest must be one of"),
])
def test_invalid_saved_searches_are_refused_when_saved(saved, message):
    with pytest.raises(QueryError, match=message):
        alerts.validate(saved, None)


def test_digest_times():
    from datetime import UTC, datetime

    assert alerts.digest_due("hourly", datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC), 7) == \
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    # 07:00 in Amsterdam is 06:00 UTC in winter and 05:00 UTC after the switch on 29 March 2026
    assert alerts.digest_due("daily", datetime(2026, 3, 28, 6, 0, tzinfo=UTC), 7) == datetime(2026, 3, 29, 5, 0, tzinfo=UTC)
    assert alerts.digest_due("daily", datetime(2026, 3, 28, 5, 0, tzinfo=UTC), 7) == datetime(2026, 3, 28, 6, 0, tzinfo=UTC)


# --- one bad saved search cannot silence the others (issue 13, Why 2) ---------------------------

EXCLUSIONS = "mkb " + " ".join(f"-woord{i}" for i in range(120))


def test_a_saved_search_of_120_exclusions_is_refused_by_alerts_add_with_the_reason(config, tmp_path):
    """Why: 100+ exclusions made FTS5 overflow its parser stack at match time (`storage.error`),
    after `alerts add` had accepted the search. `alerts add` compiles the query against the
    corpus (monitor.search.compile) and refuses what cannot run, naming the reason."""
    from click.testing import CliRunner

    from monitor.cli import cli

    import_jsonl(config, write_jsonl(tmp_path / "gov.jsonl", government(5)))
    added = CliRunner().invoke(cli, ["--db", str(config.db_path), "alerts", "add", "veel", "--", *EXCLUSIONS.split()])
    assert added.exit_code == 2 and "[search] max_query_" in added.output, added.output
    with PrivateStore.open(config) as private:
        assert private.searches() == []


def test_a_search_fts5_refuses_is_refused_when_saved_with_fts5s_reason(config, tmp_path, monkeypatch):
    """What FTS5's own parser cannot run is refused by the same compile, on the corpus."""
    import_jsonl(config, write_jsonl(tmp_path / "gov.jsonl", government(5)))
    check = SearchIndex.check

    def refusing(self, match):
        if "weigert" in match:
            raise QueryError("the search cannot run: fts5: parser stack overflow")
        return check(self, match)

    monkeypatch.setattr(SearchIndex, "check", refusing)
    with pytest.raises(QueryError, match="fts5: parser stack overflow"):
        save(config, SavedSearch(name="kapot", query="ondernemers weigert"))
    save(config, SavedSearch(name="goed", query="ondernemers"))


def test_120_exclusions_within_raised_caps_are_accepted_because_they_run(tmp_path):
    """Exclusions compile flat: with the caps raised, the same search is saved and matches."""
    config = dataclasses.replace(make_config(tmp_path), search=dataclasses.replace(
        make_config(tmp_path).search, max_query_terms=500, max_query_chars=10_000))
    import_jsonl(config, write_jsonl(tmp_path / "gov.jsonl", government(5)))
    search_id = save(config, SavedSearch(name="veel", query=EXCLUSIONS))
    with PrivateStore.open(config) as private, Store.open(config) as corpus:
        assert SavedSearch.from_row(private.search(search_id)).match(corpus)


def test_the_save_time_check_needs_no_corpus_yet():
    with pytest.raises(QueryError, match="max_query_"):
        alerts.check_runs(SavedSearch(name="veel", query=EXCLUSIONS), None)
    alerts.check_runs(SavedSearch(name="goed", query="mkb -belasting"), None)


@pytest.mark.parametrize("spoil", [
    "UPDATE saved_searches SET filters = '{\"figure\": {\"unit\": \"furlongs\"}}' WHERE name = 'kapot'",
    "UPDATE saved_searches SET filters = 'geen json' WHERE name = 'kapot'",
    # a query FTS5 refuses (as 120 exclusions made it overflow its parser stack): injected below
    "UPDATE saved_searches SET query = 'ondernemers fts5-weigert-dit' WHERE name = 'kapot'",
])
def test_a_search_spoilt_behind_its_back_is_skipped_and_marked_and_the_others_fire(config, tmp_path, spoil,
                                                                                    monkeypatch):
    """Why: one saved search that failed at match time silenced every other saved search, run
    after run. Now it is skipped, marked invalid with the reason (alerts list, the run's
    summary), and the run is not failed by it."""
    save(config, SavedSearch(name="kapot", query="ondernemers"))
    good = save(config, SavedSearch(name="goed", query=QUERY))
    with PrivateStore.open(config) as private, private.transaction():
        private.db.execute(spoil)
    among = SearchIndex.among

    def refusing(self, expression, ids):
        if "weigert" in expression:
            raise sqlite3.OperationalError("fts5: parser stack overflow")
        return among(self, expression, ids)

    monkeypatch.setattr(SearchIndex, "among", refusing)
    counts = import_jsonl(config, write_jsonl(tmp_path / "gov.jsonl", government()))  # asserts the run is ok
    assert counts["invalid_searches"] == 1 and counts["invalid"][0]["name"] == "kapot"
    assert counts["hits"] == len(expected(config, good, SavedSearch(name="goed", query=QUERY))) > 0
    assert {s for s, _ in hits(config)} == {good}
    with PrivateStore.open(config) as private:
        assert private.search("kapot")["invalid_reason"]
    from click.testing import CliRunner

    from monitor.cli import cli
    listed = CliRunner().invoke(cli, ["--db", str(config.db_path), "alerts", "list"])
    assert listed.exit_code == 0 and "invalid" in listed.output and "kapot is skipped" in listed.output


def test_an_edit_clears_the_mark_and_the_search_runs_again(config, tmp_path):
    save(config, SavedSearch(name="kapot", query="ondernemers"))
    with PrivateStore.open(config) as private, private.transaction():
        private.db.execute("UPDATE saved_searches SET filters = 'geen json'")
    import_jsonl(config, write_jsonl(tmp_path / "v1.jsonl", government(3)))
    with PrivateStore.open(config) as private, Store.open(config) as corpus:
        row = private.search("kapot")
        assert row["invalid_reason"]
        private.db.execute("UPDATE saved_searches SET filters = '{}'")
        alerts.edit(private, corpus, SavedSearch(name="kapot", query="werkplaats", id=row["id"]), now=datetime.now())
        assert private.search("kapot")["invalid_reason"] is None


def test_an_alert_name_with_markup_is_listed_as_written(config):
    """Why (issue 19): an alert named `a[/]b` made `alerts list` raise for every saved search."""
    from click.testing import CliRunner

    from monitor.cli import cli
    for name in ("a[/]b", "[bold]x", "\x1b[31mrood"):
        assert CliRunner().invoke(cli, ["--db", str(config.db_path), "alerts", "add", name, "mkb"]).exit_code == 0
    listed = CliRunner().invoke(cli, ["--db", str(config.db_path), "alerts", "list"])
    assert listed.exit_code == 0 and "a[/]b" in listed.output and "[bold]x" in listed.output
    assert "\x1b" not in listed.output
    shown = CliRunner().invoke(cli, ["--db", str(config.db_path), "alerts", "show", "a[/]b"])
    assert shown.exit_code == 0 and "a[/]b" in shown.output


def test_a_documents_facts_are_kept_once_for_every_saved_search_it_matches(config, tmp_path):
    """Why (issue 19): 1,000 saved searches over a 5,000-document import took 9 minutes and
    5.9 GB, every hit carrying its own copy of the document's figures and organisations. They are
    kept once a document and every hit reads them back (time and size: bench/bench_alert_scale.py)."""
    ids = [save(config, SavedSearch(name=f"s{i}", query=QUERY if i % 2 else "ondernemers OR mkb")) for i in range(12)]
    import_jsonl(config, write_jsonl(tmp_path / "gov.jsonl", government()), extract=True)
    with PrivateStore.open(config) as private, Store.open(config) as corpus:
        documents = {r[0] for r in private.db.execute("SELECT DISTINCT document_id FROM hits")}
        n_hits = private.db.execute("SELECT count(*) FROM hits").fetchone()[0]
        n_facts = private.db.execute("SELECT count(*) FROM facts").fetchone()[0]
        assert n_hits >= len(ids) * 3 and n_facts <= len(documents) < n_hits
        assert private.db.execute("SELECT count(*) FROM hits WHERE facts != '{}' OR facts_key IS NULL").fetchone()[0] == 0
        for search_id in ids:
            for hit in private.hits(search_id, limit=1000):
                assert hit["facts"] == search.facts(corpus, hit["document_id"])
        assert any(hit["facts"]["figures"] for hit in private.hits(ids[1], limit=1000))
