"""The published archive in a real browser: Debian's Chromium driven by Playwright.

Run alone with ``make test-browser``.

Starts the real ``kpi-archive serve`` on a loopback port it picks itself (port 0), over the
fixture archive of ``test_publish``. Every request the page makes to anything but 127.0.0.1 is
refused and recorded, so these tests also prove the site works offline (the dashboard's Vega comes
from the plugin's own static files). Screenshots go to ``tests/screenshots/`` (git-ignored).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.error import URLError
from urllib.parse import urlsplit
from urllib.request import urlopen

import pytest
from archive_factories import JUNE, LATER_FIXTURES, load_fixtures
from helpers import loopback_port
from test_publish import SEED_URL, build_fixture_archive

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
SERVER_START_TIMEOUT = 30.0


@pytest.fixture(scope="module")
def chromium_path() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing: .ci/run must apt-get install chromium")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("browser")
    yield from _serve(folder, build_fixture_archive(folder / "kpi.db"))


@pytest.fixture(scope="module")
def real_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The recorded real pages (the seed 0411-2029 among them), read by the real parser."""
    import archive

    folder = tmp_path_factory.mktemp("browser-real")
    db = archive.open_db(folder / "real.db")
    load_fixtures(db)
    load_fixtures(db, LATER_FIXTURES, JUNE)
    archive.refresh_agencies(db)
    db.close()
    yield from _serve(folder, folder / "real.db")


def _serve(folder: Path, db_path: Path) -> Iterator[str]:
    command = shutil.which("kpi-archive", path=str(Path(sys.executable).parent))
    assert command, "kpi-archive is not installed in this environment"
    # The server's log goes to a file: an unread pipe would fill up and stall the server.
    log_path = folder / "serve.log"
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        [command, "serve", str(db_path), "--port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=log_file,
    )
    started = time.monotonic()
    try:
        while True:
            port = loopback_port(log_path.read_text(encoding="utf-8", errors="replace"))
            base = f"http://127.0.0.1:{port}"
            try:
                if port is None:
                    raise ConnectionError("not listening yet")
                with urlopen(f"{base}/{db_path.stem}", timeout=5) as response:
                    assert response.status == 200
                break
            except (URLError, ConnectionError):
                if process.poll() is not None or time.monotonic() - started > SERVER_START_TIMEOUT:
                    err = log_path.read_text(encoding="utf-8", errors="replace")
                    pytest.fail(f"kpi-archive serve did not start: {err}")
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
        log_file.close()


@pytest.fixture
def page(chromium_path: Path, server: str) -> Iterator[tuple[object, list[str]]]:
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(exist_ok=True)
    refused: list[str] = []

    def only_loopback(route, request) -> None:  # type: ignore[no-untyped-def]
        if urlsplit(request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            refused.append(request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="th-TH")
        context.route("**/*", only_loopback)
        tab = context.new_page()
        tab.set_default_timeout(15_000)
        yield tab, refused
        browser.close()


def test_typing_a_thai_word_in_the_search_box_finds_the_seed_kpi(page: tuple, server: str) -> None:
    tab, refused = page
    tab.goto(f"{server}/kpi/reports")
    tab.fill("input[name=_search]", "ฝุ่น")
    tab.press("input[name=_search]", "Enter")
    tab.wait_for_url("**_search=*")
    table = tab.locator("table.rows-and-columns")
    rows = table.locator("tbody tr")
    assert rows.count() == 2
    assert "0411-2029" in rows.first.inner_text()  # newest report first: 30/04/2566
    assert "รู้ทันปัญหาฝุ่น" in rows.first.inner_text()
    tab.screenshot(path=str(SCREENSHOTS / "search-reports.png"), full_page=True)
    assert refused == []


def test_opening_a_kpi_row_shows_its_quarters(page: tuple, server: str) -> None:
    tab, refused = page
    tab.goto(f"{server}/kpi/kpis?pid=0411-2029")
    tab.locator("table.rows-and-columns tbody tr td.type-pk a").first.click()
    tab.wait_for_selector("section.kpi-quarters")
    assert tab.locator("p.kpi-page-link a").get_attribute("href") == "/kpi/0411-2029"
    assert SEED_URL in tab.locator("h1").inner_text()
    rows = tab.locator("table.kpi-quarters-table tbody tr")
    assert [rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())] == [
        "1",
        "2",
        "3",
        "4",
    ]
    assert "100 / 100" in rows.nth(3).inner_text()
    tab.screenshot(path=str(SCREENSHOTS / "kpi-row.png"), full_page=True)
    assert refused == []


def test_the_dashboard_renders_its_charts_offline(page: tuple, server: str) -> None:
    tab, refused = page
    tab.goto(f"{server}/-/dashboards/kpi-dashboard?kpi=0411-2029")
    for chart in ("progress", "on-target"):
        tab.wait_for_selector(f"#chart-{chart} canvas, #chart-{chart} svg", state="attached")
    box = tab.locator("#chart-progress canvas, #chart-progress svg").first.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 50
    tab.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)
    assert refused == []


SEED_TITLE = "ร้อยละความสำเร็จของการรณรงค์สร้างจิตสำนึกโปร่งใส สะอาด ปลอดภัย และสิ่งแวดล้อม"
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}


def _overflow(tab: object) -> int:
    """How many CSS pixels the page is wider than the viewport (0 = no horizontal scrolling)."""
    return int(
        tab.evaluate(  # type: ignore[attr-defined]
            "document.documentElement.scrollWidth - window.innerWidth"
        )
    )


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_the_seed_indicator_page_reads_in_thai_at_desktop_and_phone_width(
    page: tuple, real_server: str, width: str
) -> None:
    tab, refused = page
    tab.set_viewport_size(dict(zip(("width", "height"), WIDTHS[width], strict=True)))
    tab.goto(f"{real_server}/kpi/0411-2029")
    assert tab.locator("html").get_attribute("lang") == "th"
    assert tab.locator("h1").inner_text() == SEED_TITLE
    facts = tab.locator("dl.kpi-facts").inner_text()
    assert "ค่าเป้าหมาย" in facts and "100" in facts
    rows = tab.locator("table.kpi-quarters-table tbody tr")
    cells = [
        (rows.nth(i).locator("th").inner_text(), rows.nth(i).locator("td").first.inner_text())
        for i in range(rows.count())
    ]
    assert cells == [
        ("ไตรมาสที่ 1", "10.00"),
        ("ไตรมาสที่ 2", "30.00"),
        ("ไตรมาสที่ 3", "70.00"),
        ("ไตรมาสที่ 4", "100.00"),
    ]
    header = tab.locator("table.kpi-quarters-table thead").inner_text()
    assert "ผลงาน (ร้อยละ)" in header
    body = tab.locator("article.kpi").inner_text()
    assert '"quarter"' not in body and "{" not in body
    assert _overflow(tab) == 0
    tab.screenshot(path=str(SCREENSHOTS / f"kpi-page-{width}.png"), full_page=True)
    assert refused == []


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_searching_a_word_typed_with_a_doubled_sara_am_finds_the_seed(
    page: tuple, real_server: str, width: str
) -> None:
    tab, refused = page
    tab.set_viewport_size(dict(zip(("width", "height"), WIDTHS[width], strict=True)))
    tab.goto(f"{real_server}/search")
    tab.fill("input[name=q]", "ดำรงตำแหน่ง")
    tab.press("input[name=q]", "Enter")
    tab.wait_for_url("**/search?q=*")
    first = tab.locator("ol.results li").first
    assert first.locator("h2 a").get_attribute("href") == "/kpi/0411-2029"
    assert first.locator("h2").inner_text() == SEED_TITLE
    assert first.locator("mark").inner_text() == "ดำารงตำาแหน่ง"  # the page's own spelling
    assert _overflow(tab) == 0
    tab.screenshot(path=str(SCREENSHOTS / f"search-page-{width}.png"), full_page=True)
    assert refused == []


def test_a_dashboard_filter_with_no_rows_keeps_its_chart_small_and_shows_the_year(
    page: tuple, server: str
) -> None:
    tab, refused = page
    tab.goto(f"{server}/-/dashboards/kpi-dashboard?kpi=0411-2029&fiscal_year=2566")
    assert tab.locator("select#fiscal_year").input_value() == "2566"
    tab.goto(f"{server}/-/dashboards/kpi-dashboard?kpi=5035-0100&fiscal_year=2563")
    tab.wait_for_selector("#chart-progress canvas, #chart-progress svg", state="attached")
    height = tab.evaluate("document.documentElement.scrollHeight")
    assert height < 3000  # it was 33,554,432 px
    assert refused == []
