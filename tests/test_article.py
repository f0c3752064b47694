"""Article pages: main text and metadata, wrong charsets both ways, pages that are not articles."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.errors import NotAnArticle
from scrapers.article import decode_html, extract_article, html_text
from scrapers.base import Response

FIXTURES = Path(__file__).parent / "fixtures" / "articles"
RO_2025 = FIXTURES / "ro_2025-03-07_digitale-economie_constructed.html"
RO_2025_URL = ("https://www.rijksoverheid.nl/actueel/nieuws/2025/03/07/"
               "meer-digitalisering-mkb-concurrentiekracht-totale-digitale-economie-onder-druk")
HOME = FIXTURES / "rijksoverheid_homepage_2018_shortened.html"
# Words of the real text with é, ï, ë and curly quotes: each breaks differently when misdecoded.
NON_ASCII = ["geïnformeerd", "mkb’ers", "één", "technologieën", "“In 2022"]


def page(content: bytes, content_type: str = "text/html; charset=utf-8", url: str = RO_2025_URL) -> Response:
    return Response(url=url, status=200, headers={"content-type": content_type}, content=content)


def assert_clean(text: str) -> None:
    assert "\ufffd" not in text and "Ã" not in text and "â€" not in text
    for word in NON_ASCII:
        assert word in text


def test_article_text_and_metadata() -> None:
    article = extract_article(page(RO_2025.read_bytes(), url=RO_2025_URL + "?utm_source=nieuwsbrief"),
                              min_chars=250)
    assert article.url == RO_2025_URL  # the page's canonical link, not the tracking URL
    assert article.title == "Meer digitalisering mkb, concurrentiekracht totale digitale economie onder druk"
    assert article.published == "2025-03-07T00:00:00+01:00" and article.language == "nl"
    assert article.text.startswith("Meer digitalisering mkb") or "Digitalisering door het mkb" in article.text
    assert "Contact" not in article.text and "Onderwerpen" not in article.text  # no menu or footer
    assert_clean(article.text)


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "text/html"])
def test_windows_1252_body_declared_utf8(content_type: str) -> None:
    body = RO_2025.read_bytes().decode("utf-8").encode("cp1252")  # <meta charset="UTF-8"> stays
    assert_clean(extract_article(page(body, content_type), min_chars=250).text)


@pytest.mark.parametrize("content_type", ["text/html; charset=iso-8859-1", "text/html; charset=windows-1252"])
def test_utf8_body_declared_latin1(content_type: str) -> None:
    body = RO_2025.read_bytes().replace(b'<meta charset="UTF-8"/>', b'<meta charset="windows-1252"/>')
    assert_clean(extract_article(page(body, content_type), min_chars=250).text)


def test_decode_html_bom_and_plain_declared_charset() -> None:
    assert decode_html("\ufeff<p>café</p>".encode("utf-8")) == "<p>café</p>"
    assert decode_html("<p>café</p>".encode("cp1252"), "windows-1252") == "<p>café</p>"


def test_home_page_is_not_an_article() -> None:
    with pytest.raises(NotAnArticle):
        extract_article(page(HOME.read_bytes(), url="https://www.rijksoverheid.nl/"), min_chars=250)


@pytest.mark.parametrize("body", [
    b"<html><body><nav><a href='/'>Home</a></nav></body></html>",
    b"<html><body><div id='cookiewall'><p>Wij gebruiken cookies. Accepteer om verder te gaan.</p>"
    b"<button>Accepteren</button></div></body></html>",
    b"",
    b"<html><body>\x00\x00\x00</body></html>",
])
def test_pages_without_main_text_are_not_articles(body: bytes) -> None:
    with pytest.raises(NotAnArticle):
        extract_article(page(body, url="https://www.mkb.nl/artikelen/x"), min_chars=250)


def test_a_pdf_is_not_an_article_page() -> None:
    with pytest.raises(NotAnArticle):
        extract_article(page(b"%PDF-1.7", "application/pdf", url="https://www.mkb.nl/a.pdf"), min_chars=10)


def test_script_in_the_body_does_not_reach_the_text() -> None:
    body = RO_2025.read_bytes().replace(b"</h1>", b"</h1><script>alert('x')</script><p onmouseover='x()'>")
    article = extract_article(page(body), min_chars=250)
    assert "alert" not in article.text and "x()" not in article.text
    assert_clean(article.text)


def test_deeply_nested_page_is_an_article_or_a_clean_refusal() -> None:
    # RELIABILITY C4: 10,000 unclosed <div>s must not crash the extraction.
    body = RO_2025.read_bytes().replace(b"</h1>", b"</h1>" + b"<div>" * 10_000)
    try:
        article = extract_article(page(body), min_chars=250)
    except NotAnArticle:
        return
    assert_clean(article.text)


def test_canonical_pointing_at_the_home_page_is_ignored() -> None:
    body = RO_2025.read_bytes().replace(RO_2025_URL.encode(), b"https://www.rijksoverheid.nl/")
    assert extract_article(page(body), min_chars=250).url == RO_2025_URL


def test_html_text_of_a_fragment() -> None:
    fragment = "<p>Een <b>vet</b> woord</p><script>alert(1)</script><ul><li>één</li><li>twee</li></ul>"
    assert html_text(fragment) == "Een vet woord\néén\ntwee"
    assert html_text("") is None and html_text("<p> </p>") is None


# --- issue 14: page furniture, share buttons, footnotes, canonical URLs ----------------------

RO_2026 = FIXTURES / "ro_2026_page_structure_constructed.html"


def test_the_2026_rijksoverheid_blocks_are_not_article_text() -> None:
    article = extract_article(page(RO_2026.read_bytes()), min_chars=100)
    for furniture in ("Heeft deze informatie u geholpen", "Meer over dit onderwerp", "Hoort bij", "Onderwerp",
                      "Documenten", "Kamerbrief over de stand", "Deel op", "Delen via", "Terug naar boven"):
        assert furniture not in article.text, furniture
    assert article.text.rstrip().endswith("zoals AI en cloud.”")


@pytest.mark.parametrize("line", ["Deel op Facebook Deel op Twitter", "Deel op Facebook", "Deel op X",
                                  "Deel op LinkedIn", "Delen via e-mail", "Delen: Facebook", "Share on LinkedIn",
                                  "- Deel op Facebook | Deel op LinkedIn | Delen via e-mail"])
def test_share_button_lines_are_dropped_wherever_they_stand(line: str) -> None:
    from scrapers.article import clean_text

    assert clean_text(f"Eerste alinea.\n{line}\nTweede alinea over delen op Facebook.") == \
        "Eerste alinea.\nTweede alinea over delen op Facebook."


def test_footnote_markers_are_references_not_part_of_words_or_numbers() -> None:
    article = extract_article(page(RO_2026.read_bytes()), min_chars=100)
    assert article.text.split("\n")[1].startswith("Digitalisering [1] door het mkb")  # <sup>1</sup>
    assert "De Tweede Kamer [2] is over" in article.text  # a link to #footnote-2
    assert html_text("<p>De Tweede Kamer[1] en digitalisering<sup>2</sup>, 25 m<sup>2</sup>, "
                     "10<sup>6</sup> euro, <a href='#fn3'>3</a> en <a href='https://x.nl/4'>4</a></p>") == \
        "De Tweede Kamer [1] en digitalisering [2], 25 m2, 106 euro, [3] en 4"


def test_a_canonical_url_that_drops_what_identifies_the_page_is_not_trusted() -> None:
    for fetched, canonical, kept in [
            ("https://www.example.nl/artikel?id=123", "https://www.example.nl/artikel", "https://www.example.nl/artikel?id=123"),
            ("https://www.example.nl/artikel?id=123&utm_source=x", "https://www.example.nl/artikel?id=123",
             "https://www.example.nl/artikel?id=123"),  # only a tracking parameter dropped
            ("https://www.example.nl/artikel?id=123", "https://www.example.nl/artikel?id=124",
             "https://www.example.nl/artikel?id=123"),
            ("https://www.example.nl/oud-adres", "https://www.example.nl/artikel", "https://www.example.nl/artikel")]:
        body = RO_2025.read_bytes().replace(RO_2025_URL.encode(), canonical.encode())
        assert extract_article(page(body, url=fetched), min_chars=100).url == kept, fetched
