"""Chromium shows the same lines our reader gives, for every markup family and encoding.

Each rendering from ``markup_families`` is served to Debian's Chromium (Playwright, no network:
the page is answered in the browser from bytes) and ``document.body.innerText``'s non-empty lines
are compared, whitespace collapsed, with ``parsers.read(...).visible``. Run with
``make test-browser``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from markup_families import ENCODINGS, FAMILIES, page, sources

import parsers
from parsers.thai import collapse_space

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PAGE_URL = "http://127.0.0.1:9/page.html"
# Every fourth source: all families and encodings of ~57 pages, about a minute in Chromium.
SAMPLE = list(sources())[::4]


def normal(lines: list[str]) -> list[str]:
    return [line for line in (collapse_space(raw) for raw in lines) if line]


@pytest.fixture(scope="module")
def tab() -> Iterator[object]:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing: .ci/run must apt-get install chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(java_script_enabled=True)
        yield context.new_page()
        browser.close()


@pytest.mark.parametrize(("name", "url", "lines"), SAMPLE, ids=[s[0] for s in SAMPLE])
def test_chromium_shows_the_lines_our_reader_gives(
    tab: object, name: str, url: str | None, lines: list[str]
) -> None:
    checked = 0
    for family, render in FAMILIES.items():
        for encoding in ENCODINGS:
            body = page(render(lines), encoding)

            def answer(route, request, body: bytes = body) -> None:  # type: ignore[no-untyped-def]
                route.fulfill(status=200, headers={"Content-Type": "text/html"}, body=body)

            tab.route(PAGE_URL, answer)  # type: ignore[attr-defined]
            tab.goto(PAGE_URL)  # type: ignore[attr-defined]
            tab.unroute(PAGE_URL)  # type: ignore[attr-defined]
            shown = tab.evaluate("document.body.innerText").split("\n")  # type: ignore[attr-defined]
            ours = parsers.read(body, url).visible
            assert normal(shown) == normal(ours), (family, encoding)
            checked += 1
    assert checked == len(FAMILIES) * len(ENCODINGS)
