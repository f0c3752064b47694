"""Tweede Kamer SyncFeed: paging by skiptoken, local filters, tombstones, kst- ids, files, errors."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from monitor.errors import APIError, HTTPStatus, NotAFeed, ParseError, SourceChanged
from scrapers import source_class
from scrapers.base import Batch, Document, Item, Response, options_from
from scrapers.filetext import DOCX_TYPE
from scrapers.tweedekamer import Options, SyncFeedSource, dossier_number, kamerstuk_id, read_dossier, read_feed
from tests.fakes import MockFetcher, Reply
from monitor.store.private import PrivateStore
from tests.filemakers import docx_file, pdf_with_text, scanned_pdf

FIXTURES = Path(__file__).parent / "fixtures" / "tweedekamer"
BASE = "https://gegevensmagazijn.tweedekamer.nl/SyncFeed/2.0"
FEED = f"{BASE}/Feed"
DOSSIER_30218 = "1f031e16-cb3b-45b5-b3c9-a8abd27c913a"
PAGE = FIXTURES / "syncfeed_document_page_from_schema.xml"
EMPTY = FIXTURES / "syncfeed_document_page_empty_from_schema.xml"
ERROR = FIXTURES / "syncfeed_error_response_issue84.xml"

FEED_TIME = datetime(2026, 8, 21, tzinfo=timezone.utc)  # the day after the page's changes
BRIEF = "0a7e910e-38b7-45d0-8a4d-b9647d3159f5"  # Brief regering 2026D34574 in dossier 30218, PDF
ANTWOORD = "9ca2329a-0290-41f6-b92b-0f7cc9821925"  # 2019D16854, titel nil, "digitalisering", PDF
WERKPLAATSEN = "43171d7d-0716-44d3-8362-0bd64ed981cd"  # Brief regering, "Digitale Werkplaatsen", DOCX
DELETED = "f288044f-e5fe-4229-8a4c-4896218340ff"
SECOND_BRIEF = "1f2d7782-ebc4-4940-a555-f3f32c0a0892"  # Brief regering in dossier 30218, no file

LETTER = [["Geachte voorzitter,", "Hierbij ontvangt u de voortgang van de evaluatie van de grondexploitatiewet."],
          ["De Minister van Volkshuisvesting en Ruimtelijke Ordening"]]


def make_source(**changes: object) -> SyncFeedSource:
    values = dict(base_url=BASE, soorten=["Brief regering", "Antwoord schriftelijke vragen"],
                  dossiers=["30218"], terms=["digitalisering", "Digitale Werkplaatsen"],
                  first_run_days=14, start_skiptoken=20127222, max_start_requests=40, max_pages=10,
                  fetch_files=True, max_file_pages=50,
                  max_file_unpacked_bytes=10_000_000)
    values.update(changes)
    return SyncFeedSource("tweedekamer", options_from(Options, "tweedekamer", values))


def routes(**extra: Reply) -> dict[str, Reply]:
    return {
        f"{FEED}?category=Document&skiptoken=20127222": Reply.file(PAGE, content_type="application/atom+xml"),
        f"{FEED}?category=Document&skiptoken=20127230": Reply.file(EMPTY, content_type="application/atom+xml"),
        f"{BASE}/Entiteiten/{DOSSIER_30218}": Reply.file(FIXTURES / "entiteiten_kamerstukdossier_30218_from_nsstripped.xml"),
        f"{BASE}/Resources/{BRIEF}": Reply(pdf_with_text(LETTER), headers={"content-type": "application/pdf"}),
        f"{BASE}/Resources/{ANTWOORD}": Reply(scanned_pdf(), headers={"content-type": "application/pdf"}),
        f"{BASE}/Resources/{WERKPLAATSEN}": Reply(
            docx_file("Voortgang Digitale Werkplaatsen", ["In 2026 zijn 37 Digitale Werkplaatsen open."]),
            headers={"content-type": DOCX_TYPE}),
        **extra,
    }



def parse_all(source: SyncFeedSource, fetcher: MockFetcher, batch: Batch) -> dict[str, Document]:
    return {item.key: source.parse(item, source.fetch(fetcher, item)) for item in batch.items}


def test_registered_and_configured_with_the_shipped_defaults():
    from monitor import config

    tk = config.load().source("tweedekamer")
    assert source_class(tk.kind) is SyncFeedSource
    source = SyncFeedSource(tk.name, options_from(Options, tk.name, tk.options))
    # No hand-set token: a first run searches the feed for the start of its first_run_days.
    assert source.options.base_url == BASE and source.options.start_skiptoken == 0
    assert source.options.first_run_days == 14


def test_paging_by_skiptoken_until_a_page_without_entries(run_source):
    fetcher = MockFetcher(routes())
    batches = run_source(make_source(), fetcher)
    feed_urls = [u for u in fetcher.urls() if "/Feed" in u]
    assert feed_urls == [f"{FEED}?category=Document&skiptoken=20127222",
                         f"{FEED}?category=Document&skiptoken=20127230"]
    [batch] = batches
    # The cursor is the skiptoken of the last entry's next link: it covers this page exactly.
    assert json.loads(batch.cursor) == {"category": "Document", "skiptoken": 20127230}


def test_next_run_resumes_from_the_cursor_and_an_empty_page_moves_nothing(run_source):
    [batch] = run_source(make_source(), MockFetcher(routes()))
    fetcher = MockFetcher(routes())
    assert run_source(make_source(), fetcher, batch.cursor) == []
    assert fetcher.urls() == [f"{FEED}?category=Document&skiptoken=20127230"]


def test_local_filters_keep_soort_dossier_and_terms_and_drop_placeholders(run_source):
    fetcher = MockFetcher(routes())
    [batch] = run_source(make_source(), fetcher)
    # Kept: a letter in dossier 30218, an answer and a letter matching a term, the deletion, and
    # a second letter in 30218. Dropped: the placeholder, the Motie (soort not followed) and the
    # letter about fisheries (no dossier, no term).
    assert [item.key for item in batch.items] == [BRIEF, ANTWOORD, WERKPLAATSEN, DELETED, SECOND_BRIEF]
    # The dossier is asked once for the run, not once per document (and not for the dropped Motie).
    assert fetcher.urls().count(f"{BASE}/Entiteiten/{DOSSIER_30218}") == 1


def test_without_selection_every_soort_and_topic_is_kept_but_never_a_placeholder(run_source):
    [batch] = run_source(make_source(soorten=[], dossiers=[], terms=[]), MockFetcher(routes()))
    assert len(batch.items) == 7 and "5433b810-ce0c-4c74-bcfc-df3da6721eeb" not in [i.key for i in batch.items]


def test_a_page_of_unwanted_entries_still_moves_the_cursor(run_source):
    [batch] = run_source(make_source(soorten=["Verslag van een commissiedebat"]), MockFetcher(routes()))
    assert [item.key for item in batch.items] == [DELETED]  # tombstones are never filtered away
    assert json.loads(batch.cursor)["skiptoken"] == 20127230


def test_letter_in_a_dossier_gets_the_koop_id_and_its_pdf_text(run_source):
    fetcher = MockFetcher(routes())
    source = make_source()
    [batch] = run_source(source, fetcher)
    doc = parse_all(source, fetcher, batch)[BRIEF]
    assert doc.id == "kst-30218-26"  # merges with KOOP's publication of the same Kamerstuk
    assert doc.aliases == ["2026D34574"] and doc.source_key == BRIEF
    assert doc.dossiers == ["30218"] and doc.kind == "kamerbrief"
    assert doc.title == "Voortgang van de evaluatie van de grondexploitatiewet"
    assert doc.published == "2026-08-20T00:00:00+02:00"
    assert doc.modified == "2026-08-20T16:04:58.107000+02:00"  # tk:bijgewerkt, Amsterdam time
    assert doc.text_quality == "extracted"
    assert doc.text.startswith("Geachte voorzitter,\nHierbij ontvangt u de voortgang")
    assert doc.meta["dossier_titel"] == "Wijziging van de Wet ruimtelijke ordening inzake de grondexploitatie"
    assert doc.meta["refs"]["zaak"] == ["c5d7c17c-b8cc-4504-ba2e-471683cd2b9e"]
    assert doc.url == "https://www.tweedekamer.nl/kamerstukken/detail?id=2026D34574&did=2026D34574"


def test_a_scan_keeps_its_metadata_and_says_it_needs_ocr(run_source):
    fetcher = MockFetcher(routes())
    source = make_source()
    [batch] = run_source(source, fetcher)
    doc = parse_all(source, fetcher, batch)[ANTWOORD]
    assert doc.id is None and doc.aliases == ["2019D16854"]  # no dossier: no kst- id
    assert doc.kind == "kamervragen" and doc.meta["needs_ocr"] is True
    assert doc.text_quality == "metadata"
    assert doc.text == "Antwoord op vragen van het lid Amhaouch over digitalisering in het mkb"
    assert "titel" not in doc.meta  # xsi:nil="true" is no value


def test_docx_text_is_extracted(run_source):
    fetcher = MockFetcher(routes())
    source = make_source()
    [batch] = run_source(source, fetcher)
    doc = parse_all(source, fetcher, batch)[WERKPLAATSEN]
    assert doc.text == "Voortgang Digitale Werkplaatsen\n\nIn 2026 zijn 37 Digitale Werkplaatsen open."
    assert doc.text_quality == "extracted" and doc.meta["file_format"] == "docx"


def test_document_without_file_is_metadata_only(run_source):
    fetcher = MockFetcher(routes())
    source = make_source()
    [batch] = run_source(source, fetcher)
    doc = parse_all(source, fetcher, batch)[SECOND_BRIEF]
    assert doc.id == "kst-30218-27" and doc.text_quality == "metadata"
    assert doc.text == ("Wijziging van de Wet ruimtelijke ordening inzake de grondexploitatie\n\n"
                        "Planning van de vervolgevaluatie")


def test_files_are_not_fetched_when_switched_off(run_source):
    fetcher = MockFetcher(routes())
    source = make_source(fetch_files=False)
    [batch] = run_source(source, fetcher)
    docs = parse_all(source, fetcher, batch)
    assert not [u for u in fetcher.urls() if "/Resources/" in u]
    assert docs[BRIEF].text_quality == "metadata" and docs[BRIEF].id == "kst-30218-26"


def test_deletion_is_a_tombstone_keyed_by_guid(run_source):
    fetcher = MockFetcher(routes())
    source = make_source()
    [batch] = run_source(source, fetcher)
    doc = parse_all(source, fetcher, batch)[DELETED]
    assert doc.deleted and doc.source_key == DELETED and doc.id is None
    assert doc.modified == "2026-08-20T16:08:11+02:00"


def test_an_encrypted_file_keeps_the_document_with_the_error_named(run_source):
    fetcher = MockFetcher(routes(**{
        f"{BASE}/Resources/{BRIEF}": Reply(pdf_with_text(LETTER, encrypt="x"), headers={"content-type": "application/pdf"}),
    }))
    source = make_source()
    [batch] = run_source(source, fetcher)
    doc = parse_all(source, fetcher, batch)[BRIEF]
    assert doc.meta["file_error"] == "file.encrypted" and doc.text_quality == "metadata"
    assert doc.id == "kst-30218-26" and doc.title


def test_parse_reruns_from_the_stored_item_without_network(run_source):
    fetcher = MockFetcher(routes())
    source = make_source()
    [batch] = run_source(source, fetcher)
    item = batch.items[0]
    responses = source.fetch(fetcher, item)
    stored = Item.from_json(item.to_json())
    assert source.parse(stored, responses) == source.parse(item, responses)


def test_error_body_with_200_is_an_api_error(run_source):
    fetcher = MockFetcher({FEED: Reply.file(ERROR)})
    with pytest.raises(APIError, match="An error has occurred."):
        run_source(make_source(start_skiptoken=0), fetcher)


def test_error_body_with_500_is_an_http_status(run_source):
    fetcher = MockFetcher({FEED: Reply.file(ERROR, status=500)})
    with pytest.raises(HTTPStatus) as caught:
        run_source(make_source(start_skiptoken=0), fetcher)
    assert caught.value.status == 500 and caught.value.retryable


def test_html_page_with_200_is_not_a_feed(run_source):
    fetcher = MockFetcher({FEED: Reply(b"<!DOCTYPE html>\n<html><head><title>Storing</title></head></html>",
                                       headers={"content-type": "text/html"})})
    with pytest.raises(NotAFeed):
        run_source(make_source(start_skiptoken=0), fetcher)


def test_first_run_without_start_token_asks_for_the_feed_from_its_start(run_source):
    fetcher = MockFetcher({FEED: Reply.file(EMPTY)})
    assert run_source(make_source(start_skiptoken=0, first_run_days=0), fetcher) == []
    assert fetcher.urls() == [f"{FEED}?category=Document"]


def test_a_failing_second_page_keeps_the_first_pages_cursor():
    page_2 = f"{FEED}?category=Document&skiptoken=20127230"
    fetcher = MockFetcher(routes(**{page_2: Reply.file(ERROR, status=500)}))
    batches = []
    with pytest.raises(HTTPStatus):
        for batch in make_source().discover(fetcher, None):
            batches.append(batch)
    assert [json.loads(b.cursor)["skiptoken"] for b in batches] == [20127230]


def test_truncated_page_is_rejected_whole(run_source):
    body = PAGE.read_bytes()
    fetcher = MockFetcher({f"{FEED}?skiptoken=20127222": Reply(body[: len(body) // 2])})
    with pytest.raises(ParseError, match="not well-formed"):
        run_source(make_source(), fetcher)


def test_namespace_stripped_entries_read_like_real_ones():
    # The real entries as WetSuite printed them, without namespaces, wrapped in a <feed>.
    entries = b"".join((FIXTURES / name).read_bytes() for name in (
        "syncfeed_entry_fractieZetelPersoon_nsstripped.xml", "syncfeed_entry_kamerstukdossier_30218_nsstripped.xml"))
    feed = read_feed(Response(url=FEED, status=200, headers={}, content=b"<feed>" + entries + b"</feed>"))
    assert [(e.guid, e.next_skiptoken, e.deleted) for e in feed] == [
        ("808fcd50-a0dc-4f60-8b9d-c404a2eb5b2e", 16687327, False),
        ("1f031e16-cb3b-45b5-b3c9-a8abd27c913a", 53457, False),
    ]
    stripped = read_dossier(Response(url=FEED, status=200, headers={},
                                     content=(FIXTURES / "syncfeed_entry_kamerstukdossier_30218_nsstripped.xml").read_bytes()))
    assert stripped == {"nummer": "30218", "toevoeging": None,
                        "titel": "Wijziging van de Wet ruimtelijke ordening inzake de grondexploitatie"}


def test_a_feed_in_another_namespace_is_a_changed_source():
    with pytest.raises(SourceChanged):
        read_feed(Response(url=FEED, status=200, headers={},
                           content=b'<feed xmlns="http://purl.org/rss/1.0/"><entry/></feed>'))


def test_an_entry_of_another_entity_fails_the_page(run_source):
    entry = (FIXTURES / "syncfeed_entry_kamerstukdossier_30218_nsstripped.xml").read_bytes()
    fetcher = MockFetcher({FEED: Reply(b"<feed>" + entry + b"</feed>")})
    with pytest.raises(SourceChanged, match="without a <document>"):
        run_source(make_source(start_skiptoken=0), fetcher)


def test_kst_ids_follow_koop_numbering():
    assert kamerstuk_id({"nummer": "36600", "toevoeging": "XIII"}, "12") == "kst-36600-XIII-12"
    assert dossier_number({"nummer": "21501", "toevoeging": "(R2034)"}) == "21501"
    assert kamerstuk_id({"nummer": "32637", "toevoeging": None}, None) is None


# --- issue 14: a first run without a hand-set token ------------------------------------------


class SimulatedSyncFeed_from_schema(MockFetcher):
    """A SyncFeed of 26 million changes, built from the real page fixture's schema: every page
    is PAGE's envelope with its first (namespaced) entry repeated, each copy given its own GUID,
    ``<updated>`` and ``rel="next"`` skiptoken. A page at skiptoken t holds the next 250
    changes; past the end, a page without entries (as EMPTY). The changes are spread over
    2008-09-01 .. 2026-08-20 unevenly, with the mass updates that make the real feed hard to
    search by date: two million changes on one day in 2019, one million on 2026-08-03."""

    END = 26_000_000
    PER_PAGE = 250
    # (skiptoken, time) knots; the time of a change is interpolated between them.
    KNOTS = [(0, datetime(2008, 9, 1, tzinfo=timezone.utc)), (12_000_000, datetime(2019, 3, 1, tzinfo=timezone.utc)),
             (14_000_000, datetime(2019, 3, 2, tzinfo=timezone.utc)), (24_000_000, datetime(2026, 8, 3, tzinfo=timezone.utc)),
             (25_000_000, datetime(2026, 8, 3, 20, tzinfo=timezone.utc)), (END, datetime(2026, 8, 20, 15, tzinfo=timezone.utc))]

    def __init__(self) -> None:
        super().__init__({}, now=datetime(2026, 8, 20, 15, 30, tzinfo=timezone.utc))
        text = PAGE.read_text("utf-8")
        start, end = text.index("<entry>"), text.index("</entry>") + len("</entry>")
        self.head, self.entry = text[text.index("<feed"):start], text[start:end]
        self.feed_requests = 0

    @classmethod
    def updated(cls, token: int) -> datetime:
        for (t0, d0), (t1, d1) in zip(cls.KNOTS, cls.KNOTS[1:]):
            if token <= t1:
                return d0 + (d1 - d0) * ((token - t0) / (t1 - t0))
        raise AssertionError(token)

    def _route(self, url):
        if url.path.endswith("/Entiteiten/" + DOSSIER_30218):
            return Reply.file(FIXTURES / "entiteiten_kamerstukdossier_30218_from_nsstripped.xml")
        self.feed_requests += 1
        after = int(url.params.get("skiptoken", "0"))
        entries = []
        for token in range(after + 1, min(after + self.PER_PAGE, self.END) + 1):
            guid = f"00000000-0000-4000-8000-{token:012d}"
            entries.append(self.entry.replace(BRIEF, guid)
                           .replace("2026-08-20T14:05:10.1234567Z", self.updated(token).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
                           .replace("skiptoken=20127223", f"skiptoken={token}"))
        return Reply(("<?xml version='1.0' encoding='utf-8'?>" + self.head + "".join(entries) + "</feed>").encode())


def test_a_first_run_finds_the_start_of_its_window_in_few_requests():
    feed = SimulatedSyncFeed_from_schema()
    source = make_source(start_skiptoken=0, first_run_days=14, max_start_requests=40,
                         soorten=[], dossiers=[], terms=[], fetch_files=False)
    first = next(source.discover(feed, None))
    since = feed.now() - timedelta(days=14)
    first_in_window = next(t for t in range(24_990_000, feed.END) if feed.updated(t) >= since)
    # The first batch starts with the window's first change, exactly.
    assert first.items[0].key == f"00000000-0000-4000-8000-{first_in_window:012d}"
    assert feed.updated(first_in_window - 1) < since
    assert feed.feed_requests <= 30, feed.feed_requests


def test_a_feed_younger_than_the_window_is_read_from_its_start(run_source):
    fetcher = MockFetcher(routes(**{FEED: Reply.file(PAGE), f"{FEED}?category=Document&skiptoken=20127230": Reply.file(EMPTY)}),
                          now=datetime(2026, 8, 21, tzinfo=timezone.utc))
    [batch] = run_source(make_source(start_skiptoken=0, first_run_days=14), fetcher)
    assert [u for u in fetcher.urls() if "/Feed" in u][:2] == [f"{FEED}?category=Document"] * 2
    assert batch.items[0].key == BRIEF


def test_the_search_gives_up_early_rather_than_late():
    feed = SimulatedSyncFeed_from_schema()
    source = make_source(start_skiptoken=0, first_run_days=14, max_start_requests=5,
                         soorten=[], dossiers=[], terms=[], fetch_files=False)
    first = next(source.discover(feed, None))
    since = feed.now() - timedelta(days=14)
    assert feed.updated(int(first.items[0].key.rsplit("-", 1)[1])) < since  # earlier than the window


# --- issue 14: tombstones, human URLs, mass updates -------------------------------------------


@pytest.mark.parametrize("written", ["True", "TRUE", " true ", "1"])
def test_a_tombstone_is_read_however_true_is_written(written, run_source):
    body = PAGE.read_bytes().replace(b'tk:verwijderd="true"', f'tk:verwijderd="{written}"'.encode())
    fetcher = MockFetcher(routes(**{f"{FEED}?category=Document&skiptoken=20127222": Reply(body)}))
    source = make_source()
    [batch] = run_source(source, fetcher)
    assert parse_all(source, fetcher, batch)[DELETED].deleted


def test_the_document_url_is_the_page_a_person_can_open(run_source):
    fetcher = MockFetcher(routes())
    source = make_source()
    [batch] = run_source(source, fetcher)
    docs = parse_all(source, fetcher, batch)
    assert docs[BRIEF].url == "https://www.tweedekamer.nl/kamerstukken/detail?id=2026D34574&did=2026D34574"
    assert docs[BRIEF].meta["api_url"] == f"{BASE}/Entiteiten/{BRIEF}"


def test_a_mass_update_of_an_unchanged_document_is_no_change_and_no_alert(tmp_path):
    """The TK re-sends old documents in bulk (a new tk:bijgewerkt and <updated>, the same
    content): the store keeps them as they were, with no change row, so no alert fires."""
    from monitor.alerts import SavedSearch, match_and_deliver
    from monitor.config import SourceConfig
    from monitor.pipeline import Pipeline
    from monitor.store import Store
    from tests.alerting import FakeClock, make_config, save

    config = make_config(tmp_path)
    save(config, SavedSearch(name="grondexploitatie", query="grondexploitatiewet"), ("console", "", None))
    sc = SourceConfig(name="tweedekamer", kind="tk_syncfeed", enabled=True, allowed_hosts=[], relevance=False,
                      stale_after_hours=24, options={})
    resent = PAGE.read_bytes().replace(b'tk:bijgewerkt="2026-08-20T16:', b'tk:bijgewerkt="2026-09-30T03:') \
        .replace(b"<updated>2026-08-20T14:", b"<updated>2026-09-30T01:")
    alerts = []
    with Store.open(config) as store:
        for body in (PAGE.read_bytes(), resent):
            fetcher = MockFetcher(routes(**{f"{FEED}?category=Document&skiptoken=20127222": Reply(body)}), now=FEED_TIME)
            report = Pipeline(config, store, fetcher_for=lambda sc: fetcher, clock=lambda: FEED_TIME,
                              after_commit=match_and_deliver(config, clock=FakeClock())).run(sources=[(sc, make_source())])
            alerts.append(report.alerts)
            changes = store._db.execute("SELECT count(*) FROM changes").fetchone()[0]
            versions = store._db.execute("SELECT count(*) FROM document_versions").fetchone()[0]
            if body is not resent:
                first_changes = changes
        assert report.sources[0].new == 0 and report.sources[0].changed == 0
        assert changes == first_changes and versions == 0
    assert alerts[0]["hits"] >= 1 and alerts[1]["hits"] == 0


def test_an_old_document_never_stored_resent_by_a_mass_update_is_resurfaced_not_new(tmp_path):
    """Issue 14: a mass update re-surfaces old documents. One the corpus never had (the page's
    2019 Antwoord schriftelijke vragen, re-sent with a 2026 tk:bijgewerkt) is stored, but as
    `resurfaced`, and no saved search alerts on it; the new Brief regering of the same page is
    a new publication and alerts as before."""
    from monitor import alerts
    from monitor.alerts import SavedSearch, match_and_deliver
    from monitor.config import SourceConfig
    from monitor.pipeline import Pipeline
    from monitor.store import Store
    from tests.alerting import FakeClock, make_config, save

    config = make_config(tmp_path)
    assert config.alerts.new_within_days == 30  # the shipped horizon
    save(config, SavedSearch(name="oud", query="digitalisering"), ("console", "", None))
    new = save(config, SavedSearch(name="nieuw", query="grondexploitatiewet"), ("console", "", None))
    sc = SourceConfig(name="tweedekamer", kind="tk_syncfeed", enabled=True, allowed_hosts=[], relevance=False,
                      stale_after_hours=24, options={})
    fetcher = MockFetcher(routes(), now=FEED_TIME)
    with Store.open(config) as store:
        report = Pipeline(config, store, fetcher_for=lambda sc: fetcher, clock=lambda: FEED_TIME,
                          after_commit=match_and_deliver(config, clock=FakeClock())).run(sources=[(sc, make_source())])
        reasons = store._db.execute(
            "SELECT d.published_raw, c.reason FROM changes c JOIN documents d ON d.id = c.document_id").fetchall()
        resurfaced = [r[0] for r in store._db.execute(
            "SELECT d.id FROM changes c JOIN documents d ON d.id = c.document_id WHERE c.reason = 'resurfaced'")]
        assert alerts.SavedSearch(name="oud", query="digitalisering").match(store, ids=resurfaced)  # it would match
    assert {reason for published, reason in reasons if published.startswith("2019")} == {"resurfaced"}
    assert {reason for published, reason in reasons if published.startswith("2026")} == {"new"}
    assert report.sources[0].new == len(reasons)  # stored all the same: new to the corpus
    assert report.alerts["resurfaced"] == len(resurfaced) == 1
    with PrivateStore.open(config) as private:
        assert private.db.execute("SELECT count(*) FROM hits WHERE document_id = ?", resurfaced).fetchone()[0] == 0
        assert private.hit_count(new) >= 1


def test_a_source_may_count_every_first_sighting_as_new(tmp_path):
    """`new_within_days = 0` (here for the source) turns the rule off: the 2019 document alerts."""
    from monitor.alerts import SavedSearch, match_and_deliver
    from monitor.pipeline import Pipeline
    from monitor.store import Store
    from tests.alerting import FakeClock, make_config, save

    config = make_config(tmp_path)
    config.data["sources"]["tweedekamer"]["new_within_days"] = 0
    old = save(config, SavedSearch(name="oud", query="digitalisering"), ("console", "", None))
    fetcher = MockFetcher(routes(), now=FEED_TIME)
    with Store.open(config) as store:
        report = Pipeline(config, store, fetcher_for=lambda sc: fetcher, clock=lambda: FEED_TIME,
                          after_commit=match_and_deliver(config, clock=FakeClock())).run(
            sources=[(config.source("tweedekamer"), make_source())])
        assert store._db.execute("SELECT count(*) FROM changes WHERE reason = 'resurfaced'").fetchone()[0] == 0
        [old_doc] = [r[0] for r in store._db.execute("SELECT id FROM documents WHERE published_raw LIKE '2019%'")]
    assert report.alerts["resurfaced"] == 0
    with PrivateStore.open(config) as private:
        assert old_doc in {h["document_id"] for h in private.hits(old)}
