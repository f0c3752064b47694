"""Tweede Kamer SyncFeed: paging by skiptoken, local filters, tombstones, kst- ids, files, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.errors import APIError, HTTPStatus, NotAFeed, ParseError, SourceChanged
from scrapers import source_class
from scrapers.base import Batch, Document, Item, Response, options_from
from scrapers.filetext import DOCX_TYPE
from scrapers.tweedekamer import Options, SyncFeedSource, dossier_number, kamerstuk_id, read_dossier, read_feed
from tests.fakes import MockFetcher, Reply
from tests.filemakers import docx_file, pdf_with_text, scanned_pdf

FIXTURES = Path(__file__).parent / "fixtures" / "tweedekamer"
BASE = "https://gegevensmagazijn.tweedekamer.nl/SyncFeed/2.0"
FEED = f"{BASE}/Feed"
DOSSIER_30218 = "1f031e16-cb3b-45b5-b3c9-a8abd27c913a"
PAGE = FIXTURES / "syncfeed_document_page_from_schema.xml"
EMPTY = FIXTURES / "syncfeed_document_page_empty_from_schema.xml"
ERROR = FIXTURES / "syncfeed_error_response_issue84.xml"

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
                  start_skiptoken=20127222, max_pages=10, fetch_files=True, max_file_pages=50,
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


def run(source: SyncFeedSource, fetcher: MockFetcher, cursor: str | None = None) -> list[Batch]:
    return list(source.discover(fetcher, cursor))


def parse_all(source: SyncFeedSource, fetcher: MockFetcher, batch: Batch) -> dict[str, Document]:
    return {item.key: source.parse(item, source.fetch(fetcher, item)) for item in batch.items}


def test_registered_and_configured_with_the_shipped_defaults():
    from monitor import config

    tk = config.load().source("tweedekamer")
    assert source_class(tk.kind) is SyncFeedSource
    source = SyncFeedSource(tk.name, options_from(Options, tk.name, tk.options))
    assert source.options.base_url == BASE and source.options.start_skiptoken > 0


def test_paging_by_skiptoken_until_a_page_without_entries():
    fetcher = MockFetcher(routes())
    batches = run(make_source(), fetcher)
    feed_urls = [u for u in fetcher.urls() if "/Feed" in u]
    assert feed_urls == [f"{FEED}?category=Document&skiptoken=20127222",
                         f"{FEED}?category=Document&skiptoken=20127230"]
    [batch] = batches
    # The cursor is the skiptoken of the last entry's next link: it covers this page exactly.
    assert json.loads(batch.cursor) == {"category": "Document", "skiptoken": 20127230}


def test_next_run_resumes_from_the_cursor_and_an_empty_page_moves_nothing():
    [batch] = run(make_source(), MockFetcher(routes()))
    fetcher = MockFetcher(routes())
    assert run(make_source(), fetcher, batch.cursor) == []
    assert fetcher.urls() == [f"{FEED}?category=Document&skiptoken=20127230"]


def test_local_filters_keep_soort_dossier_and_terms_and_drop_placeholders():
    fetcher = MockFetcher(routes())
    [batch] = run(make_source(), fetcher)
    # Kept: a letter in dossier 30218, an answer and a letter matching a term, the deletion, and
    # a second letter in 30218. Dropped: the placeholder, the Motie (soort not followed) and the
    # letter about fisheries (no dossier, no term).
    assert [item.key for item in batch.items] == [BRIEF, ANTWOORD, WERKPLAATSEN, DELETED, SECOND_BRIEF]
    # The dossier is asked once for the run, not once per document (and not for the dropped Motie).
    assert fetcher.urls().count(f"{BASE}/Entiteiten/{DOSSIER_30218}") == 1


def test_without_selection_every_soort_and_topic_is_kept_but_never_a_placeholder():
    [batch] = run(make_source(soorten=[], dossiers=[], terms=[]), MockFetcher(routes()))
    assert len(batch.items) == 7 and "5433b810-ce0c-4c74-bcfc-df3da6721eeb" not in [i.key for i in batch.items]


def test_a_page_of_unwanted_entries_still_moves_the_cursor():
    [batch] = run(make_source(soorten=["Verslag van een commissiedebat"]), MockFetcher(routes()))
    assert [item.key for item in batch.items] == [DELETED]  # tombstones are never filtered away
    assert json.loads(batch.cursor)["skiptoken"] == 20127230


def test_letter_in_a_dossier_gets_the_koop_id_and_its_pdf_text():
    fetcher = MockFetcher(routes())
    source = make_source()
    [batch] = run(source, fetcher)
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
    assert doc.url == f"{BASE}/Entiteiten/{BRIEF}"


def test_a_scan_keeps_its_metadata_and_says_it_needs_ocr():
    fetcher = MockFetcher(routes())
    source = make_source()
    [batch] = run(source, fetcher)
    doc = parse_all(source, fetcher, batch)[ANTWOORD]
    assert doc.id is None and doc.aliases == ["2019D16854"]  # no dossier: no kst- id
    assert doc.kind == "kamervragen" and doc.meta["needs_ocr"] is True
    assert doc.text_quality == "metadata"
    assert doc.text == "Antwoord op vragen van het lid Amhaouch over digitalisering in het mkb"
    assert "titel" not in doc.meta  # xsi:nil="true" is no value


def test_docx_text_is_extracted():
    fetcher = MockFetcher(routes())
    source = make_source()
    [batch] = run(source, fetcher)
    doc = parse_all(source, fetcher, batch)[WERKPLAATSEN]
    assert doc.text == "Voortgang Digitale Werkplaatsen\n\nIn 2026 zijn 37 Digitale Werkplaatsen open."
    assert doc.text_quality == "extracted" and doc.meta["file_format"] == "docx"


def test_document_without_file_is_metadata_only():
    fetcher = MockFetcher(routes())
    source = make_source()
    [batch] = run(source, fetcher)
    doc = parse_all(source, fetcher, batch)[SECOND_BRIEF]
    assert doc.id == "kst-30218-27" and doc.text_quality == "metadata"
    assert doc.text == ("Wijziging van de Wet ruimtelijke ordening inzake de grondexploitatie\n\n"
                        "Planning van de vervolgevaluatie")


def test_files_are_not_fetched_when_switched_off():
    fetcher = MockFetcher(routes())
    source = make_source(fetch_files=False)
    [batch] = run(source, fetcher)
    docs = parse_all(source, fetcher, batch)
    assert not [u for u in fetcher.urls() if "/Resources/" in u]
    assert docs[BRIEF].text_quality == "metadata" and docs[BRIEF].id == "kst-30218-26"


def test_deletion_is_a_tombstone_keyed_by_guid():
    fetcher = MockFetcher(routes())
    source = make_source()
    [batch] = run(source, fetcher)
    doc = parse_all(source, fetcher, batch)[DELETED]
    assert doc.deleted and doc.source_key == DELETED and doc.id is None
    assert doc.modified == "2026-08-20T16:08:11+02:00"


def test_an_encrypted_file_keeps_the_document_with_the_error_named():
    fetcher = MockFetcher(routes(**{
        f"{BASE}/Resources/{BRIEF}": Reply(pdf_with_text(LETTER, encrypt="x"), headers={"content-type": "application/pdf"}),
    }))
    source = make_source()
    [batch] = run(source, fetcher)
    doc = parse_all(source, fetcher, batch)[BRIEF]
    assert doc.meta["file_error"] == "file.encrypted" and doc.text_quality == "metadata"
    assert doc.id == "kst-30218-26" and doc.title


def test_parse_reruns_from_the_stored_item_without_network():
    fetcher = MockFetcher(routes())
    source = make_source()
    [batch] = run(source, fetcher)
    item = batch.items[0]
    responses = source.fetch(fetcher, item)
    stored = Item.from_json(item.to_json())
    assert source.parse(stored, responses) == source.parse(item, responses)


def test_error_body_with_200_is_an_api_error():
    fetcher = MockFetcher({FEED: Reply.file(ERROR)})
    with pytest.raises(APIError, match="An error has occurred."):
        run(make_source(start_skiptoken=0), fetcher)


def test_error_body_with_500_is_an_http_status():
    fetcher = MockFetcher({FEED: Reply.file(ERROR, status=500)})
    with pytest.raises(HTTPStatus) as caught:
        run(make_source(start_skiptoken=0), fetcher)
    assert caught.value.status == 500 and caught.value.retryable


def test_html_page_with_200_is_not_a_feed():
    fetcher = MockFetcher({FEED: Reply(b"<!DOCTYPE html>\n<html><head><title>Storing</title></head></html>",
                                       headers={"content-type": "text/html"})})
    with pytest.raises(NotAFeed):
        run(make_source(start_skiptoken=0), fetcher)


def test_first_run_without_start_token_asks_for_the_feed_from_its_start():
    fetcher = MockFetcher({FEED: Reply.file(EMPTY)})
    assert run(make_source(start_skiptoken=0), fetcher) == []
    assert fetcher.urls() == [f"{FEED}?category=Document"]


def test_a_failing_second_page_keeps_the_first_pages_cursor():
    page_2 = f"{FEED}?category=Document&skiptoken=20127230"
    fetcher = MockFetcher(routes(**{page_2: Reply.file(ERROR, status=500)}))
    batches = []
    with pytest.raises(HTTPStatus):
        for batch in make_source().discover(fetcher, None):
            batches.append(batch)
    assert [json.loads(b.cursor)["skiptoken"] for b in batches] == [20127230]


def test_truncated_page_is_rejected_whole():
    body = PAGE.read_bytes()
    fetcher = MockFetcher({f"{FEED}?skiptoken=20127222": Reply(body[: len(body) // 2])})
    with pytest.raises(ParseError, match="not well-formed"):
        run(make_source(), fetcher)


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


def test_an_entry_of_another_entity_fails_the_page():
    entry = (FIXTURES / "syncfeed_entry_kamerstukdossier_30218_nsstripped.xml").read_bytes()
    fetcher = MockFetcher({FEED: Reply(b"<feed>" + entry + b"</feed>")})
    with pytest.raises(SourceChanged, match="without a <document>"):
        run(make_source(start_skiptoken=0), fetcher)


def test_kst_ids_follow_koop_numbering():
    assert kamerstuk_id({"nummer": "36600", "toevoeging": "XIII"}, "12") == "kst-36600-XIII-12"
    assert dossier_number({"nummer": "21501", "toevoeging": "(R2034)"}) == "21501"
    assert kamerstuk_id({"nummer": "32637", "toevoeging": None}, None) is None
