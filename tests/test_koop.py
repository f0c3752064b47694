"""KOOP SRU: discover through real SRU pages, fetch and parse real Kamerstuk and Aanhangsel XML."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from monitor.errors import APIError, ConfigError, NotAFeed, NoRecording, ParseError
from scrapers import source_class
from scrapers.base import Batch, Item, options_from
from scrapers.koop import KoopSource, Options, date_windows, record_item
from scrapers.xmlsafe import parse_xml
from tests.fakes import MockFetcher, Reply
from tests.filemakers import pdf_with_text, scanned_pdf

FIXTURES = Path(__file__).parent / "fixtures" / "koop"
SRU = "https://repository.overheid.nl/sru"
REPO = "https://repository.overheid.nl/frbr/officielepublicaties"
KST_143_XML = f"{REPO}/kst/32545/kst-32545-143/1/xml/kst-32545-143.xml"
AH_3235_XML = f"{REPO}/ah-tk/20202021/ah-tk-20202021-3235/1/xml/ah-tk-20202021-3235.xml"

PAGE_1 = FIXTURES / "sru_searchRetrieve_statengeneraal_modified_2021-10-13_page1.xml"
PAGE_2 = FIXTURES / "sru_searchRetrieve_identifier_kst-35842-4.xml"  # one record, no nextRecordPosition
TWO_RECORDS = FIXTURES / "sru_searchRetrieve_kst-32545-143_ah-tk-20202021-3235_from_metadata.xml"


def make_source(**changes: object) -> KoopSource:
    values = dict(base_url=SRU, publications=["Kamerstuk", "Kamervragen (Aanhangsel)"],
                  dossiers=["32637", "26643"], terms=["mkb", "midden- en kleinbedrijf", "digitalisering"],
                  start_date="2024-11-27", overlap_days=1, window_days=36500, page_size=10,
                  max_file_pages=50)
    values.update(changes)
    return KoopSource("koop", options_from(Options, "koop", values))



def sru_params(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def test_registered_and_configured_with_the_shipped_defaults():
    from monitor import config

    cfg = config.load()
    koop = cfg.source("koop")
    assert source_class(koop.kind) is KoopSource
    source = KoopSource(koop.name, options_from(Options, koop.name, koop.options))
    assert source.options.base_url == SRU and "32637" in source.options.dossiers


def test_query_quotes_terms_and_selects_publications_dossiers_and_terms():
    source = make_source(terms=['Digitale "Werk"plaatsen', "mkb"], dossiers=["32637"])
    assert source.selection() == (
        'c.product-area=="officielepublicaties" and '
        '(w.publicatienaam=="Kamerstuk" or w.publicatienaam=="Kamervragen (Aanhangsel)") and '
        '(w.dossiernummer=="32637" or cql.textAndIndexes="Digitale \\"Werk\\"plaatsen" '
        'or cql.textAndIndexes="mkb")')


def test_nothing_to_follow_is_a_config_error():
    with pytest.raises(ConfigError, match="dossiers"):
        make_source(dossiers=[], terms=[])


def test_paging_follows_next_record_position_to_the_end(run_source):
    fetcher = MockFetcher({SRU: Reply.file(PAGE_1), f"{SRU}?startRecord=11": Reply.file(PAGE_2)})
    batches = run_source(make_source(), fetcher)

    assert [len(b.items) for b in batches] == [10, 1]
    first = [sru_params(url) for url in fetcher.urls()]
    assert [p["startRecord"] for p in first] == ["1", "11"]
    assert first[0]["version"] == "2.0" and first[0]["recordSchema"] == "gzd"
    assert first[0]["query"].endswith('dt.modified>="2024-11-27"')  # the first run starts at start_date
    # The page fixture's oddity (its last record says recordPosition 3) does not matter: paging
    # follows nextRecordPosition, and every record is read.
    keys = [item.key for b in batches for item in b.items]
    assert keys[5] == "kst-22112-3185" and keys[-1] == "kst-35842-4" and len(set(keys)) == 11
    # I1: only the page that completes the query carries the cursor.
    assert batches[0].cursor is None
    cursor = json.loads(batches[1].cursor)
    # Everything modified up to today was read (the fixture's records are older than the window
    # asked for, as a server ignoring the date would answer): the cursor is the window's end.
    assert cursor["modified"] == date.today().isoformat()


def test_date_windows_cover_every_day_once_and_end_open():
    windows = list(date_windows(date(2026, 10, 1), date(2026, 11, 27), 31))
    assert windows == [(date(2026, 10, 1), date(2026, 10, 31)), (date(2026, 11, 1), None)]
    assert list(date_windows(date(2026, 11, 27), date(2026, 11, 27), 31)) == [(date(2026, 11, 27), None)]


def test_each_window_read_to_its_end_commits_its_last_day(run_source):
    since = date.today() - timedelta(days=40)
    fetcher = MockFetcher({SRU: Reply.file(PAGE_2)})  # every window answers with kst-35842-4
    batches = run_source(make_source(start_date=since.isoformat(), window_days=31), fetcher)
    queries = [sru_params(url)["query"] for url in fetcher.urls()]
    first_end = since + timedelta(days=30)
    assert queries[0].endswith(f'dt.modified>="{since}" and dt.modified<="{first_end}"')
    assert queries[1].endswith(f'dt.modified>="{first_end + timedelta(days=1)}"')
    assert json.loads(batches[0].cursor)["modified"] == first_end.isoformat()
    assert json.loads(batches[1].cursor)["modified"] == date.today().isoformat()


def test_an_empty_window_moves_nothing(run_source):
    empty = (FIXTURES / "sru_searchRetrieve_identifier_kst-35842-4.xml").read_text("utf-8")
    empty = re.sub(r"<sru:records>.*</sru:records>", "<sru:records/>", empty, flags=re.S)
    empty = re.sub(r"<sru:numberOfRecords>\d+</sru:numberOfRecords>", "<sru:numberOfRecords>0</sru:numberOfRecords>", empty)
    batches = run_source(make_source(start_date=date.today().isoformat()), MockFetcher({SRU: Reply(empty.encode())}))
    assert all(b.cursor is None for b in batches)


def test_next_run_starts_at_the_cursor_minus_the_overlap(run_source):
    source = make_source()
    [_, last] = run_source(source, MockFetcher({SRU: Reply.file(PAGE_1), f"{SRU}?startRecord=11": Reply.file(PAGE_2)}))
    fetcher = MockFetcher({SRU: Reply.file(PAGE_2)})
    [again] = run_source(source, fetcher, last.cursor)
    yesterday = date.today() - timedelta(days=1)
    assert sru_params(fetcher.urls()[0])["query"].endswith(f'dt.modified>="{yesterday}"')
    assert again.cursor is None  # only older records came back: the cursor stays at today, never moves back


def test_a_changed_selection_starts_again_from_start_date(run_source):
    [_, last] = run_source(make_source(), MockFetcher({SRU: Reply.file(PAGE_1), f"{SRU}?startRecord=11": Reply.file(PAGE_2)}))
    fetcher = MockFetcher({SRU: Reply.file(PAGE_2)})
    run_source(make_source(dossiers=["32637", "26643", "33009"]), fetcher, last.cursor)
    assert sru_params(fetcher.urls()[0])["query"].endswith('dt.modified>="2024-11-27"')


def test_a_failing_second_page_yields_no_cursor():
    fetcher = MockFetcher({SRU: Reply.file(PAGE_1), f"{SRU}?startRecord=11": Reply(b"busy", status=503)})
    batches = []
    with pytest.raises(Exception) as caught:
        for batch in make_source().discover(fetcher, None):
            batches.append(batch)
    assert getattr(caught.value, "status", None) == 503
    assert [b.cursor for b in batches] == [None]  # page 1 is stored, the cursor has not moved


def test_sru_diagnostic_is_an_api_error(run_source):
    fetcher = MockFetcher({SRU: Reply.file(FIXTURES / "sru_diagnostic_query_syntax_from_schema.xml")})
    with pytest.raises(APIError, match="Query syntax error .unbalanced parenthesis.") as caught:
        run_source(make_source(), fetcher)
    assert caught.value.code == "api.error"


def test_html_with_status_200_is_not_a_feed(run_source):
    fetcher = MockFetcher({SRU: Reply(b"<!DOCTYPE html><html><body>Onderhoud</body></html>",
                                      headers={"content-type": "text/html"})})
    with pytest.raises(NotAFeed):
        run_source(make_source(), fetcher)


def test_truncated_page_is_rejected_whole(run_source):
    body = PAGE_1.read_bytes()
    fetcher = MockFetcher({SRU: Reply(body[: len(body) // 2])})
    with pytest.raises(ParseError, match="not well-formed"):
        run_source(make_source(), fetcher)


def test_built_records_carry_the_values_of_the_real_metadata_files(run_source):
    [batch] = run_source(make_source(), MockFetcher({SRU: Reply.file(TWO_RECORDS)}))
    for item in batch.items:
        metadata = parse_xml((FIXTURES / item.key / "metadata.xml").read_bytes())
        real = {(m.get("name"), m.get("content")) for m in metadata}
        assert ("DC.identifier", item.key) in real and ("DC.title", item.data["title"]) in real
        assert ("DCTERMS.issued", item.data["issued"]) in real
        for name in ("indiener", "vergaderjaar", "dossiernummer", "ondernummer"):
            for value in ([item.data[name]] if isinstance(item.data.get(name), str) else item.data.get(name, [])):
                assert (f"OVERHEIDop.{name}", value) in real


def test_record_metadata_from_a_real_sru_record(run_source):
    [batch] = run_source(make_source(), MockFetcher({SRU: Reply.file(PAGE_2)}))
    [item] = batch.items
    assert item.key == "kst-35842-4"
    assert item.url == "https://zoek.officielebekendmakingen.nl/kst-35842-4.html"
    assert item.data["indiener"] == ["Th.C. de Graaf", "K.H. Ollongren"]
    assert item.data["dossiernummer"] == "35842" and item.data["ondernummer"] == "4"
    assert item.data["manifestations"]["xml"].endswith("/kst/35842/kst-35842-4/1/xml/kst-35842-4.xml")
    assert Item.from_json(item.to_json()).data == item.data  # stored with the item, for reprocess


def full_run(fetcher: MockFetcher) -> dict[str, object]:
    source = make_source()
    [batch] = source.discover(fetcher, None)
    return {item.key: source.parse(item, source.fetch(fetcher, item)) for item in batch.items}


def test_kamerstuk_full_text_keeps_its_paragraphs():
    fetcher = MockFetcher({
        SRU: Reply.file(TWO_RECORDS),
        KST_143_XML: Reply.file(FIXTURES / "kst-32545-143" / "kst-32545-143.xml"),
        AH_3235_XML: Reply.file(FIXTURES / "ah-tk-20202021-3235" / "ah-tk-20202021-3235.xml"),
    })
    doc = full_run(fetcher)["kst-32545-143"]
    assert KST_143_XML in fetcher.urls()
    assert doc.id == "kst-32545-143" and doc.source_key == "kst-32545-143"
    assert doc.kind == "motie" and doc.text_quality == "full"
    assert doc.dossiers == ["32545"]
    assert doc.published == "2021-07-06"
    assert doc.url == "https://zoek.officielebekendmakingen.nl/kst-32545-143.html"
    assert doc.title.startswith("Wet- en regelgeving financiële markten; Motie;")
    assert doc.meta["indiener"] == ["I. (Inge) van Dijk", "P.A. Grinwis"]
    assert doc.meta["vergaderjaar"] == "2020-2021"
    paragraphs = doc.text.split("\n\n")
    assert paragraphs[:4] == ["32 545", "Wet- en regelgeving financiële markten", "Nr. 143",
                              "MOTIE VAN DE LEDEN INGE VAN DIJK EN GRINWIS"]
    assert "De Kamer," in paragraphs and "gehoord de beraadslaging," in paragraphs
    assert ("constaterende dat veel financiële instellingen een negatieve spaarrente hanteren vanaf "
            "€ 100.000;") in paragraphs
    assert paragraphs[-2:] == ["Inge van Dijk", "Grinwis"]
    assert "Vergaderjaar 2020-2021" not in doc.text  # the running head is metadata, not text


def test_aanhangsel_answers_parse_as_kamervragen():
    fetcher = MockFetcher({
        SRU: Reply.file(TWO_RECORDS),
        KST_143_XML: Reply.file(FIXTURES / "kst-32545-143" / "kst-32545-143.xml"),
        AH_3235_XML: Reply.file(FIXTURES / "ah-tk-20202021-3235" / "ah-tk-20202021-3235.xml"),
    })
    doc = full_run(fetcher)["ah-tk-20202021-3235"]
    assert doc.id == "ah-tk-20202021-3235" and doc.kind == "kamervragen"
    assert doc.title == "Antwoord op vragen van de leden Van Weyenberg, Romke de Jong en Kat over de Tozo"
    assert doc.dossiers == [] and doc.published == "2021-06-21"
    assert doc.meta["vraagnummer"] == "2021Z09739" and doc.meta["aanhangselnummer"] == "3235"
    paragraphs = doc.text.split("\n\n")
    assert paragraphs[paragraphs.index("Vraag 2") + 1] == (
        "Kunt u toelichten waarom het rentepercentage voor de TOZO-lening op 2% is gesteld?")
    assert "Antwoord 9" in paragraphs
    assert any(p.startswith("Vragen van de leden Van Weyenberg, Romke de Jong en Kat (allen D66)") for p in paragraphs)


def test_windows_1252_text_decodes_by_its_declaration():
    # The header says utf-8; the XML declaration says windows-1252 and wins, as it must.
    cp1252 = (FIXTURES / "kst-32545-143" / "kst-32545-143_windows-1252_from_utf8.xml").read_bytes()
    assert "€".encode("cp1252") in cp1252 and "€".encode() not in cp1252
    fetcher = MockFetcher({
        SRU: Reply.file(TWO_RECORDS),
        KST_143_XML: Reply(cp1252, headers={"content-type": "application/xml; charset=utf-8"}),
        AH_3235_XML: Reply.file(FIXTURES / "ah-tk-20202021-3235" / "ah-tk-20202021-3235.xml"),
    })
    doc = full_run(fetcher)["kst-32545-143"]
    assert "Wet- en regelgeving financiële markten" in doc.text
    assert "vanaf € 100.000;" in doc.text


def test_html_manifestation_is_the_fallback():
    page = parse_xml(TWO_RECORDS.read_bytes())
    item = record_item(page.find(".//{http://docs.oasis-open.org/ns/search-ws/sruResponse}record"))
    del item.data["manifestations"]["xml"]
    item.data["url"] = None
    html_url = item.data["manifestations"]["html"]
    fetcher = MockFetcher({html_url: Reply.file(FIXTURES / "kst-32545-143" / "kst-32545-143.html",
                                                content_type="text/html")})
    source = make_source()
    doc = source.parse(item, source.fetch(fetcher, item))
    assert fetcher.urls() == [html_url]
    assert doc.text_quality == "full"
    paragraphs = doc.text.split("\n\n")
    assert paragraphs[0] == "32 545 Wet- en regelgeving financiële markten"
    assert "constaterende dat veel financiële instellingen een negatieve spaarrente hanteren vanaf € 100.000;" in paragraphs


def test_bijlage_text_comes_from_its_pdf():
    record = parse_xml((FIXTURES / "sru_searchRetrieve_bijlage_blg-936562.xml").read_bytes())
    item = record_item(record)
    pdf_url = f"{REPO}/blg/onopgemaakt/blg-936562/1/pdf/blg-936562.pdf"
    pdf = pdf_with_text([["Eindnotitie verkenning haalbaarheid epidemiologisch onderzoek chroom 6 Defensie",
                          "Samenvattende conclusies van de verkenning."]])
    fetcher = MockFetcher({pdf_url: Reply(pdf, headers={"content-type": "application/pdf"})})
    source = make_source()
    doc = source.parse(item, source.fetch(fetcher, item))
    assert doc.id == "blg-936562" and doc.kind == "bijlage"
    assert doc.text_quality == "extracted" and "chroom 6 Defensie" in doc.text
    assert doc.dossiers == ["35300-X"] and doc.meta["hoofddocument"] == "kst-35300-X-63"
    assert doc.meta["file_format"] == "pdf"


def test_scanned_bijlage_is_kept_on_its_metadata():
    item = record_item(parse_xml((FIXTURES / "sru_searchRetrieve_bijlage_blg-936562.xml").read_bytes()))
    pdf_url = f"{REPO}/blg/onopgemaakt/blg-936562/1/pdf/blg-936562.pdf"
    fetcher = MockFetcher({pdf_url: Reply(scanned_pdf(), headers={"content-type": "application/pdf"})})
    source = make_source()
    doc = source.parse(item, source.fetch(fetcher, item))
    assert doc.text == "" and doc.text_quality == "metadata" and doc.meta["needs_ocr"] is True
    assert doc.title.startswith("Eindnotitie verkenning haalbaarheid") and doc.published == "2020-06-16"


def test_a_publication_that_is_not_there_fails_the_item_only(run_source):
    fetcher = MockFetcher({SRU: Reply.file(TWO_RECORDS)})
    source = make_source()
    [batch] = run_source(source, fetcher)
    with pytest.raises(NoRecording):
        source.fetch(fetcher, batch.items[0])
