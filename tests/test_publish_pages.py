"""The journalist pages, feeds and hardening of the plugin, on the fixture archive of test_publish.

Served in-process by ``serve.make_datasette`` (Datasette's own client); the archive is built by
``test_publish.build_fixture_archive`` from records written out there.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from test_publish import DISTRICT_URL, SEED_URL, build_fixture_archive

from kpi_archive.publish import plugin, serve
from kpi_archive.publish.plugin import functions
from kpi_archive.publish.plugin.metadata import metadata_for


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_fixture_archive(tmp_path_factory.mktemp("pages") / "kpi.db")


@pytest.fixture
def ds(db_path: Path) -> Any:
    return serve.make_datasette(db_path)


def _text(html: str) -> str:
    """The page's visible text, tags dropped and whitespace collapsed."""
    body = re.sub(r"(?s)<(script|style|head)\b.*?</\1>", " ", html)
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())


async def test_indicator_page_is_thai_first_with_target_quarters_and_reports(ds: Any) -> None:
    response = await ds.client.get("/kpi/0411-2029")
    assert response.status_code == 200
    assert '<html lang="th">' in response.text
    text = _text(response.text)
    assert "ร้อยละความสำเร็จของการรณรงค์สร้างจิตสำนึกโปร่งใส สะอาด ปลอดภัย และสิ่งแวดล้อม" in text
    assert "ค่าเป้าหมาย target 100 ร้อยละ" in text
    # the page prints no fiscal year: it is the year of its reports' dates, and says so
    assert "ปีงบประมาณ fiscal year 2566 ตามวันที่ในรายงานผลฯ · from the dates in its reports" in text
    assert "บรรลุเป้าหมาย · on target" in text
    quarter_rows = re.findall(r"ไตรมาสที่ (\d) (\S+) (\S+) (\S+ / \S+|–)", text)
    assert quarter_rows == [
        ("1", "10", "100", "–"),
        ("2", "30", "–", "–"),
        ("3", "70", "100", "–"),
        ("4", "100", "100", "–"),
    ]
    assert "30/04/2566 · ไตรมาสที่ 3" in text
    assert '<svg viewBox="0 0 100 100"' in response.text
    assert '<link rel="alternate" type="application/atom+xml"' in response.text
    assert 'href="/kpi/0411-2029.atom"' in response.text
    assert f'href="{SEED_URL}"' in response.text
    assert '"quarter":' not in response.text  # no raw JSON


async def test_indicator_page_lists_each_version_with_old_and_new_values(ds: Any) -> None:
    response = await ds.client.get("/kpi/5035-0100")
    text = _text(response.text)
    assert "ปีงบประมาณ fiscal year 2566 ค่าเป้าหมาย" in text  # a year not read from reports
    assert "เปลี่ยนแปลง / changed" in text
    assert "ผลงาน 60 70" in text
    assert "ผลงานรายไตรมาส 2 รายการ 3 รายการ" in text
    assert text.count("หน้าตามที่เก็บไว้ / as captured") == 2
    assert len(re.findall(r'href="/capture/\d+\.raw"', response.text)) == 2


async def test_a_capture_shows_its_visible_text_and_downloads_its_raw_bytes(ds: Any) -> None:
    page = await ds.client.get("/kpi/5035-0100")
    first = re.findall(r'href="/capture/(\d+)"', page.text)[-1]
    shown = await ds.client.get(f"/capture/{first}")
    assert shown.status_code == 200
    assert "<p>district 1</p>" in shown.text
    raw = await ds.client.get(f"/capture/{first}.raw")
    assert raw.content == b"<html>district 1</html>"
    assert raw.headers["content-type"] == "application/octet-stream"
    assert raw.headers["content-disposition"] == f'attachment; filename="capture-{first}.html"'


async def test_unknown_pids_and_agencies_are_404_in_thai(ds: Any) -> None:
    response = await ds.client.get("/kpi/9999-9999")
    assert response.status_code == 404
    assert "ไม่พบตัวชี้วัด 9999-9999" in response.text
    assert (await ds.client.get("/agency/9999")).status_code == 404


async def test_agency_page_counts_its_indicators_on_target(ds: Any) -> None:
    response = await ds.client.get("/agency/5035")
    assert response.status_code == 200
    text = _text(response.text)
    assert "ปีงบประมาณ 2566" in text
    assert "บรรลุเป้าหมาย 0 จาก 1 ตัวชี้วัดที่ประเมินได้ (0%) · ทั้งหมด 1 ตัวชี้วัด" in text
    assert 'href="/kpi/5035-0100"' in response.text
    assert 'href="/agency/5035.atom"' in response.text


@pytest.mark.parametrize(
    ("query", "pids", "highlight"),
    [
        ("ฝุ่น", ["0411-2029", "5035-0100"], "ฝุ่น"),
        ("PM2.5", ["0411-2029"], "PM 2.5"),
        ("pm 2.5", ["0411-2029"], "PM 2.5"),
        ("๒๕๖๖", ["5035-0100"], "๒๕๖๖"),
        ("2566", ["5035-0100"], "๒๕๖๖"),
        ("จร", ["5035-0100"], "จร"),
    ],
)
async def test_search_page_folds_both_sides_and_highlights_the_printed_text(
    ds: Any, query: str, pids: list[str], highlight: str
) -> None:
    response = await ds.client.get(f"/search?q={quote(query)}")
    assert response.status_code == 200
    found = re.findall(r'<h2><a href="/kpi/([^"]+)">', response.text)
    assert sorted(found) == pids
    assert f"<mark>{highlight}</mark>" in response.text


async def test_search_page_hints_when_a_term_is_short(ds: Any) -> None:
    response = await ds.client.get("/search?q=จร")
    assert "คำค้นสั้น (2 ตัวอักษร)" in response.text
    assert "คำค้นสั้น" not in (await ds.client.get("/search?q=จราจร")).text


async def test_pid_cells_link_to_the_indicator_page(ds: Any) -> None:
    response = await ds.client.get("/kpi/below_target?fiscal_year=&agency=")
    assert '<a href="/kpi/5035-0100">5035-0100</a>' in response.text
    assert "<title>ตัวชี้วัดที่ต่ำกว่าเป้าหมาย / KPIs below target</title>" in response.text


@pytest.mark.parametrize("date", ["yesterday", "9999", "31/02/2566", "2566-13-01"])
async def test_page_as_of_refuses_what_is_not_a_date_with_a_message(ds: Any, date: str) -> None:
    response = await ds.client.get(
        f"/kpi/page_as_of.json?pid=5035-0100&date={quote(date)}&_shape=array"
    )
    rows = response.json()
    assert len(rows) == 1
    assert rows[0]["message"].startswith(f'วันที่ไม่ถูกต้อง: "{date}"')
    assert rows[0]["url"] is None


@pytest.mark.parametrize("date", ["31/03/2566", "31 มี.ค. 2566", "2566-03-31", "2023-03-31"])
async def test_page_as_of_says_when_the_first_capture_is_later(ds: Any, date: str) -> None:
    response = await ds.client.get(
        f"/kpi/page_as_of.json?pid=5035-0100&date={quote(date)}&_shape=array"
    )
    rows = response.json()
    assert [(r["url"], r["result"]) for r in rows] == [(DISTRICT_URL, None)]
    assert "หลังวันที่ถาม / first captured on" in rows[0]["message"]


async def test_crawl_bookkeeping_and_stored_headers_are_never_served(ds: Any) -> None:
    for sql in ("select args from runs", "select headers from snapshots"):
        response = await ds.client.get(f"/kpi.json?sql={quote(sql)}&_shape=array")
        assert response.status_code == 200, sql
        assert {v for row in response.json() for v in row.values()} <= {None}, sql
    assert (await ds.client.get("/kpi/runs")).status_code == 403
    assert (await ds.client.get("/kpi/fetch_log.json")).status_code == 403


def test_sql_functions_read_a_bounded_prefix_of_a_huge_input() -> None:
    huge = "ร้อยละความสำเร็จ" * 70_000  # about a million characters
    started = time.perf_counter()
    words = plugin.thai_segment(huge) or ""
    rank = plugin.thai_rank(huge, "สำเร็จ")
    elapsed = time.perf_counter() - started
    assert len(words.replace(" ", "")) == functions.MAX_INPUT
    assert rank > 0
    assert elapsed < 30  # a bound on work, not a speed goal: unbounded took about a minute


@pytest.mark.parametrize(
    ("typed", "iso"),
    [
        ("2566-03-31", "2023-03-31"),
        ("31/03/2566", "2023-03-31"),
        ("31 มี.ค. 2566", "2023-03-31"),
        ("๓๑/๐๓/๒๕๖๖", "2023-03-31"),
        ("2023-03-31", "2023-03-31"),
        ("yesterday", None),
        ("9999", None),
        ("มี.ค. 2566", None),
        ("", None),
    ],
)
def test_kpi_date_reads_the_dates_readers_type(typed: str, iso: str | None) -> None:
    assert functions.kpi_date(typed) == iso


async def test_a_short_term_in_a_tables_search_box_gets_a_hint(ds: Any) -> None:
    response = await ds.client.get("/kpi/reports?_search=" + quote("จร"))
    assert "สั้นกว่า 3 ตัวอักษร" in response.text
    assert f'href="/search?q={quote("จร")}"' in response.text
    longer = await ds.client.get("/kpi/reports?_search=" + quote("จราจร"))
    assert "สั้นกว่า 3 ตัวอักษร" not in longer.text


async def test_the_dashboards_kpi_picker_shows_names_and_the_year_picker_the_chosen_year(
    ds: Any,
) -> None:
    response = await ds.client.get("/-/dashboards/kpi-dashboard?kpi=5035-0100&fiscal_year=2566")
    assert '<option value="5035-0100 · ร้อยละของถนนที่ได้รับการแก้ไขปัญหาการจราจร"' in response.text
    assert '<option value="2566" selected>2566</option>' in response.text


async def test_the_dashboards_kpi_picker_lists_the_picked_kpis_agency_and_the_first_pids(
    ds: Any,
) -> None:
    # all 30,000 KPIs made a 6 MB page; past 100 options the picker takes any typed pid
    district = await ds.client.get("/-/dashboards/kpi-dashboard?kpi=5035-0100")
    assert '<option value="5035-0100 · ' in district.text
    assert '<option value="0411-2029 · ' in district.text  # among the first 200 pids
    picker = metadata_for(["kpi"])["plugins"]["datasette-dashboards"]["kpi-dashboard"]
    query = picker["filters"]["kpi"]["query"]
    assert "limit 200" in query
    assert "k.agency_code in ('' [[ , substr(:kpi, 1, 4) ]])" in query


async def test_indicator_page_charts_target_and_result_per_fiscal_year(ds: Any) -> None:
    text = (await ds.client.get("/kpi/0411-2029")).text
    section = text[text.index('<section class="kpi-series">') :]
    section = section[: section.index("</section>")]
    assert re.findall(r'class="year">(\d+)<', section) == ["2566"]
    assert re.findall(r"<title>(\d+ \S+: [\d.,]+)</title>", section) == [
        "2566 ค่าเป้าหมาย: 100",
        "2566 ผลงาน: 100",
    ]
    assert "<script" not in section and "http" not in section  # inline SVG, nothing fetched
    assert 'href="/kpi/indicator_over_years?pid=0411-2029"' in section
    assert "league_table" not in section  # no other agency reports this measure


async def test_the_series_link_leads_to_the_latest_capture_of_each_year(ds: Any) -> None:
    link = "/kpi/indicator_over_years.json?pid=5035-0100&_shape=array"
    series = (await ds.client.get(link)).json()
    # the page changed yesterday (result 60 -> 70): the series holds the current record
    assert [(r["fiscal_year"], r["pid"], r["target"], r["result"]) for r in series] == [
        (2566, "5035-0100", 80.0, 70.0)
    ]


async def test_the_crumbs_say_home_in_thai_first(ds: Any) -> None:
    text = _text((await ds.client.get("/kpi/0411-2029")).text)
    assert text.startswith("หน้าแรก / home")
