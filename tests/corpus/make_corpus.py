"""Write the derived and binary files of tests/corpus from the project's fixtures.

The hand-written attack and ill-formed files are committed as they are; the files this script
makes are *derived* (re-encoded copies of real fixtures, truncations, copies of real error
bodies) or binary (PDFs, made with the same reportlab helpers as tests/filemakers.py), so that
their origin is code rather than a claim. Run from the repository root:

    python tests/corpus/make_corpus.py
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).parent
FIXTURES = HERE.parent / "fixtures"
ARTICLE = FIXTURES / "articles" / "ro_2025-03-07_digitale-economie_constructed.html"
FEED = FIXTURES / "feeds" / "mkb-nederland_rss_nieuws_excerpt.xml"


def encodings() -> None:
    page = ARTICLE.read_text("utf-8")
    out = HERE / "encoding"
    # Served with "charset=utf-8" in the sidecar's headers, but the bytes are Windows-1252.
    (out / "article_cp1252_declared_utf8.html").write_bytes(
        page.replace('<meta charset="UTF-8"/>', "").encode("cp1252"))
    # Served with "charset=iso-8859-1", but the bytes are UTF-8.
    (out / "article_utf8_declared_latin1.html").write_bytes(page.replace('<meta charset="UTF-8"/>', "").encode("utf-8"))
    # No header charset; <meta> says windows-1252, the bytes are UTF-8.
    (out / "article_utf8_meta_says_cp1252.html").write_bytes(
        page.replace('<meta charset="UTF-8"/>', '<meta charset="windows-1252"/>').encode("utf-8"))
    # A UTF-8 byte order mark against a latin-1 header.
    (out / "article_bom_utf8_declared_latin1.html").write_bytes(
        b"\xef\xbb\xbf" + page.replace('<meta charset="UTF-8"/>', "").encode("utf-8"))
    feed = FEED.read_text("utf-8").replace("Talent van nieuwkomers", "Talent van nieuwkomers: één café")
    # The XML declaration says utf-8; the bytes are Windows-1252.
    (out / "feed_cp1252_declared_utf8.xml").write_bytes(feed.encode("cp1252"))
    utf16 = feed.replace('encoding="utf-8"', 'encoding="utf-16"')
    (out / "feed_utf16_with_bom.xml").write_bytes(utf16.encode("utf-16"))


def pdfs() -> None:
    sys.path.insert(0, str(HERE.parent))
    from filemakers import pdf_with_text, scanned_pdf

    out = HERE / "pdf"
    lines = [["Geachte voorzitter,", "Hierbij ontvangt u de voortgangsbrief over de Digitale Werkplaatsen",
              "voor het mkb. In 2026 bereikten de werkplaatsen ruim 4.000 ondernemers."]]
    text = pdf_with_text(lines * 2)
    (out / "letter_with_text_layer.pdf").write_bytes(text)
    (out / "scan_without_text_layer.pdf").write_bytes(scanned_pdf(2))
    (out / "encrypted_with_user_password.pdf").write_bytes(pdf_with_text(lines, encrypt="geheim"))
    (out / "truncated_without_eof.pdf").write_bytes(text[: len(text) * 2 // 3])


def api_errors() -> None:
    out = HERE / "api-errors"
    shutil.copyfile(FIXTURES / "tweedekamer" / "syncfeed_error_response_issue84.xml",
                    out / "syncfeed_error_response_issue84.xml")
    shutil.copyfile(FIXTURES / "koop" / "sru_diagnostic_query_syntax_from_schema.xml",
                    out / "sru_diagnostic_query_syntax_from_schema.xml")


if __name__ == "__main__":
    encodings()
    pdfs()
    api_errors()
