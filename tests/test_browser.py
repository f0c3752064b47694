"""End to end in headless Chromium: `mkb-monitor serve` as a real process on a corpus imported from
real government texts (with extraction), driven by Playwright the way a reader uses it.

The texts carry their real publication date where the record itself shows it (evidence per text
in fixtures/import/README.md); the others stay undated and are left out of the time charts.
Screenshots are saved in the test's temporary folder; docs/screenshots/ holds search.png and
chart.png from a run with `--basetemp`.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
GOVERNMENT = Path(__file__).parent / "fixtures" / "import" / "government.jsonl"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
XSS = {"url": "https://example.org/xss-proef", "title": "Proef <script>alert(1)</script> met opmaak",
       "text": 'De xssproef bevat <script>alert(1)</script> en <img src=x onerror="alert(2)"> als gewone tekst.',
       "kind": "news", "source": "xss", "published": "2024-05-01T10:00:00Z"}

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")]


def mkb_monitor(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("browser")
    xss = folder / "xss.jsonl"
    xss.write_text(json.dumps(XSS) + "\n", "utf-8")
    db = folder / "monitor.db"
    mkb_monitor("--db", str(db), "import", str(GOVERNMENT))
    mkb_monitor("--db", str(db), "import", str(xss), "--no-extract")
    return db


@pytest.fixture(scope="module")
def server(corpus) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "monitor", "--db", str(corpus), "serve",
                                "--host", "127.0.0.1", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/-/versions.json", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                pytest.fail(f"mkb-monitor serve exited: {process.stdout.read()}")
            time.sleep(0.1)
        else:
            pytest.fail("mkb-monitor serve did not answer within 30 s")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 1100})
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.dialogs = dialogs
    yield page
    context.close()


def test_search_document_figures_and_chart(server, corpus, page, tmp_path):
    page.goto(server + "/monitor/documents")
    page.fill("#mkb-q", "digitalisering")
    page.press("#mkb-q", "Enter")
    page.wait_for_selector("ol.mkb-results")
    assert "_q=digitalisering" in page.url
    marks = page.locator(".mkb-snippet mark")
    assert marks.count() > 0 and marks.first.inner_text().lower().startswith("digitalisering")
    # Each result shows the date its text was published, an undated text "no date" (sorted last).
    records = map(json.loads, GOVERNMENT.read_text("utf-8").splitlines())
    recorded = {r["url"]: r.get("published", "no date") for r in records}
    metas = page.locator("ol.mkb-results .mkb-meta")
    shown = [(metas.nth(i).inner_text(), metas.nth(i).locator("a").get_attribute("href")) for i in range(metas.count())]
    assert all(meta.startswith(recorded[url]) for meta, url in shown) and "no date" in shown[-1][0]
    page.screenshot(path=tmp_path / "search.png", full_page=False)

    with sqlite3.connect(corpus) as conn:
        with_figures = {i for (i,) in conn.execute("select distinct document_id from figures")}
    results = page.locator("ol.mkb-results .mkb-title a")
    hrefs = [results.nth(i).get_attribute("href") for i in range(results.count())]
    target = next(h for h in hrefs if h.rsplit("/", 1)[-1] in with_figures)
    page.click(f'ol.mkb-results .mkb-title a[href="{target}"]')
    page.wait_for_load_state()
    assert page.url.endswith(target)
    page.screenshot(path=tmp_path / "document.png", full_page=False)

    page.click('a[href*="/monitor/figures?document_id="]')
    page.wait_for_selector("table.rows-and-columns")
    figure_rows = page.locator("table.rows-and-columns tbody tr")
    assert figure_rows.count() > 0
    page.screenshot(path=tmp_path / "figures.png", full_page=False)

    with sqlite3.connect(corpus) as conn:
        subject, unit, dated, rows = conn.execute(
            "select subject, unit, count(d.published), count(*) from figures f "
            "join documents d on d.id = f.document_id where subject is not null "
            "group by 1, 2 order by 3 desc limit 1").fetchone()
    page.goto(f"{server}/monitor/figures_about?" + httpx.QueryParams(subject=subject, unit=unit).__str__())
    page.wait_for_selector('.mkb-chart[data-rendered="1"]', timeout=20000)
    # The table lists every figure; the chart draws those of dated documents only.
    assert int(page.get_attribute(".mkb-chart", "data-points")) == rows
    assert page.locator(".mkb-chart svg .mark-symbol.role-mark path").count() == dated > 0
    page.screenshot(path=tmp_path / "chart.png")
    assert (tmp_path / "search.png").stat().st_size > 10000 and (tmp_path / "chart.png").stat().st_size > 5000


def test_organisation_chart_has_points(server, corpus, page, tmp_path):
    with sqlite3.connect(corpus) as conn:
        name, months = conn.execute(
            "select o.canonical, count(distinct substr(d.published, 1, 7)) from mentions m "
            "join organisations o on o.id = m.organisation_id join documents d on d.id = m.document_id "
            "group by o.id order by 2 desc limit 1").fetchone()
    page.goto(f"{server}/monitor/organisation_by_month?"
              + str(httpx.QueryParams(organisation=name, compare_with="", since="2000-01-01")))
    page.wait_for_selector('.mkb-chart[data-rendered="1"]', timeout=20000)
    assert int(page.get_attribute(".mkb-chart", "data-points")) == months
    assert page.locator(".mkb-chart svg .mark-symbol.role-mark path").count() == months
    page.locator(".mkb-chart").screenshot(path=tmp_path / "organisation.png")


def test_stored_script_is_shown_as_text_and_never_runs(server, page):
    page.goto(server + "/monitor/documents?_q=xssproef")
    page.wait_for_selector("ol.mkb-results")
    assert "<script>alert(1)</script>" in page.inner_text("ol.mkb-results")
    page.click("ol.mkb-results .mkb-title a")
    page.wait_for_load_state()
    assert "<script>alert(1)</script>" in page.inner_text("body")
    assert page.locator("img[src=x]").count() == 0
    html = httpx.get(page.url).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    page.wait_for_timeout(300)
    assert page.dialogs == []
