"""Take the README's screenshots of the demo archive with Debian's Chromium (Playwright).

Run after ``make demo`` (or ``python -m kpi_archive.publish.demo --no-serve``):
``python tools/screenshots.py [DB]``. Serves ``DB`` (default ``data/demo.db``) with
``kpi-archive serve`` on a loopback port, opens each page at 1280 and 390 px with every request
off 127.0.0.1 refused, and writes ``docs/screenshot-<name>-<width>.png``. Prints each file with
the page's scroll width, so horizontal overflow at 390 px shows up as a number above 390.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CHROMIUM = "/usr/bin/chromium"
WIDTHS = (1280, 390)
PAGES = {
    "kpi": "/kpi/0411-2029",
    "series": "/kpi/5035-905",
    "agency": "/agency/5013",
    "search": "/search?q=ดำรงตำแหน่ง",
    "league": "/{db}/league_table?pid=5035-905&fiscal_year=",
    "dashboard": "/-/dashboards/kpi-dashboard?kpi={label}",
}
# The dashboard's KPI picker shows the option whose label is in the URL: its query, for one pid.
PICKER_LABEL = (
    "select k.pid || ' · ' || substr(min(k.title), 1, 60) from kpis k"
    " join quarters q on q.url = k.url where k.pid = '5035-905' group by k.pid"
)


def serve(db: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``kpi-archive serve`` on a free loopback port; return it and its base URL."""
    command = [str(Path(sys.executable).parent / "kpi-archive"), "serve", str(db), "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    started = time.monotonic()
    for line in process.stderr:
        match = re.search(rb"http://127\.0\.0\.1:(\d+)", line)
        if match:
            return process, f"http://127.0.0.1:{match.group(1).decode()}"
        if time.monotonic() - started > 30:
            break
    process.terminate()
    raise SystemExit("kpi-archive serve did not start")


def main(argv: list[str]) -> int:
    from playwright.sync_api import Route, sync_playwright

    db = Path(argv[1]) if len(argv) > 1 else ROOT / "data" / "demo.db"
    label = sqlite3.connect(db).execute(PICKER_LABEL).fetchone()[0]
    process, base = serve(db)

    def only_loopback(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            route.abort()

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
            )
            for width in WIDTHS:
                context = browser.new_context(viewport={"width": width, "height": 900})
                context.route("**/*", only_loopback)
                tab = context.new_page()
                for name, path in PAGES.items():
                    tab.goto(base + path.format(db=db.stem, label=label), wait_until="networkidle")
                    tab.wait_for_timeout(500)  # let Vega draw the dashboard's charts
                    out = DOCS / f"screenshot-{name}-{width}.png"
                    tab.screenshot(path=str(out), full_page=True)
                    scroll = tab.evaluate("document.documentElement.scrollWidth")
                    print(f"{out.relative_to(ROOT)}  scroll width {scroll}")
                context.close()
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
