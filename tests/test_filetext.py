"""Text from PDF and DOCX files: a text layer, a scan, an encrypted and a broken file."""

from __future__ import annotations

import pytest

from monitor.errors import FileCorrupt, FileEncrypted, ParseError
from scrapers.filetext import DOCX_TYPE, extract_text, file_format
from tests.filemakers import docx_file, pdf_with_text, scanned_pdf

LETTER = [
    ["Geachte voorzitter,", "Met deze brief informeer ik u over de voortgang van de Digitale Werkplaatsen."],
    ["In 2025 hebben 4.200 mkb-ondernemers een traject afgerond.", "De Minister van Economische Zaken"],
]
CAPS = {"max_pages": 50, "max_unpacked_bytes": 10_000_000}


def test_pdf_text_keeps_pages_and_lines():
    result = extract_text(pdf_with_text(LETTER), "application/pdf", **CAPS)
    assert result is not None and result.format == "pdf"
    assert result.pages == 2 and not result.needs_ocr and not result.truncated
    first, second = result.text.split("\n\n")
    assert first.splitlines() == LETTER[0]
    assert "4.200 mkb-ondernemers" in second


def test_pdf_is_recognised_by_its_bytes_whatever_the_label():
    assert file_format(pdf_with_text(LETTER), "application/octet-stream") == "pdf"
    assert file_format(b"<html><body>Not found</body></html>", "application/pdf") is None


def test_a_scan_without_text_layer_needs_ocr_and_has_no_text():
    result = extract_text(scanned_pdf(pages=3), "application/pdf", **CAPS)
    assert result is not None
    assert result.text == "" and result.needs_ocr and result.pages == 3
    assert result.meta() == {"file_format": "pdf", "file_pages": 3, "needs_ocr": True}


def test_page_cap_reads_the_first_pages_and_says_so():
    result = extract_text(pdf_with_text(LETTER), "application/pdf", max_pages=1, max_unpacked_bytes=1)
    assert result is not None and result.truncated
    assert "Digitale Werkplaatsen" in result.text and "4.200" not in result.text
    assert result.meta()["file_pages_read"] == 1


def test_encrypted_pdf_is_a_named_error():
    with pytest.raises(FileEncrypted) as caught:
        extract_text(pdf_with_text(LETTER, encrypt="geheim"), "application/pdf", **CAPS)
    assert caught.value.code == "file.encrypted"
    assert isinstance(caught.value, ParseError)


def test_pdf_with_only_an_owner_password_is_read():
    # reportlab's empty user password: opening needs no password, as with many official PDFs.
    result = extract_text(pdf_with_text(LETTER, encrypt=""), "application/pdf", **CAPS)
    assert result is not None and "Digitale Werkplaatsen" in result.text


def test_truncated_pdf_is_corrupt_not_a_short_text():
    content = pdf_with_text(LETTER)
    with pytest.raises(FileCorrupt, match="truncated"):
        extract_text(content[: len(content) * 2 // 3], "application/pdf", **CAPS)


def test_pdf_with_a_broken_body_is_corrupt_not_a_crash():
    content = pdf_with_text(LETTER)
    broken = b"%PDF-1.4\n" + b"\x00garbage" * 200 + content[-30:]
    assert b"%%EOF" in broken
    with pytest.raises(FileCorrupt) as caught:
        extract_text(broken, "application/pdf", **CAPS)
    assert caught.value.code == "file.corrupt"


def test_docx_paragraphs_and_table_rows_in_order():
    content = docx_file("Voortgang Digitale Werkplaatsen",
                        ["Er zijn 37 werkplaatsen open.", "Ondernemers waarderen de hulp met een 8,1."],
                        table=[["Regio", "Werkplaatsen"], ["Noord", "9"]])
    result = extract_text(content, DOCX_TYPE, **CAPS)
    assert result is not None and result.format == "docx"
    assert result.text.split("\n\n") == [
        "Voortgang Digitale Werkplaatsen", "Er zijn 37 werkplaatsen open.",
        "Ondernemers waarderen de hulp met een 8,1.", "Regio\tWerkplaatsen", "Noord\t9",
    ]


def test_docx_that_unpacks_past_the_cap_is_refused():
    content = docx_file("Kop", ["Tekst. " * 2000])
    with pytest.raises(FileCorrupt, match="unpacks to"):
        extract_text(content, DOCX_TYPE, max_pages=1, max_unpacked_bytes=10_000)


def test_truncated_docx_is_corrupt():
    content = docx_file("Kop", ["Tekst."])
    with pytest.raises(FileCorrupt):
        extract_text(content[: len(content) // 2], DOCX_TYPE, **CAPS)


def test_other_formats_are_not_read():
    assert extract_text(b"Plain text, not a document file", "text/plain", **CAPS) is None


def test_docx_merged_cells_are_read_once():
    """Real moties put their body in a table whose cells span columns and rows; python-docx
    hands a merged cell out at every grid position it covers."""
    from io import BytesIO

    import docx

    document = docx.Document()
    table = document.add_table(rows=3, cols=3)
    table.cell(0, 0).merge(table.cell(0, 2)).text = "De Kamer, gehoord de beraadslaging,"
    table.cell(1, 0).merge(table.cell(2, 0)).text = "Nr. 12"
    table.cell(1, 1).merge(table.cell(1, 2)).text = "verzoekt de regering het mkb te steunen bij digitalisering,"
    table.cell(2, 1).text = "en gaat over tot de orde van de dag."
    out = BytesIO()
    document.save(out)
    text = extract_text(out.getvalue(), DOCX_TYPE, max_pages=10, max_unpacked_bytes=10_000_000).text
    assert text.count("De Kamer, gehoord de beraadslaging,") == 1
    assert text.count("Nr. 12") == 1 and text.count("verzoekt de regering") == 1
    assert text.split("\n\n") == ["De Kamer, gehoord de beraadslaging,",
                                "Nr. 12\tverzoekt de regering het mkb te steunen bij digitalisering,",
                                "en gaat over tot de orde van de dag.\t"]
