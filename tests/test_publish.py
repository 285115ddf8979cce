"""Publishing: the packaged metadata, canned queries, feed and plugin on a small real archive.

The archive is built with the archive's own ``save`` from records written out below (the seed KPI
0411-2029, a district KPI that changed yesterday, an agency report, a page that failed to parse),
then served in-process by ``serve.make_datasette``: a plain ``Datasette([path])`` plus settings, the
plugin package supplying metadata, templates and routes exactly as under ``kpi-archive serve``.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from datasette.app import Datasette
from datasette_dashboards import replace_opts_in_query

import archive
from kpi_archive.cli import cli
from kpi_archive.errors import ParseError
from kpi_archive.publish import plugin, serve
from kpi_archive.publish.plugin import functions
from kpi_archive.publish.plugin.metadata import metadata_for
from parsers.models import DepartmentEntry, DepartmentPage, KpiPage, Quarter, Report
from scraper.models import FetchResult

SEED_URL = "https://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2029"
DISTRICT_URL = "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=5035-0100"
BROKEN_URL = "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=0800-0001"
AGENCY_URL = "http://monitor.bangkok.go.th/mobile/index11.php?selDEP=50350000&selYear=2566"
ATOM = "{http://www.w3.org/2005/Atom}"

SEED = KpiPage(
    page_kind="kpi",
    url=SEED_URL,
    pid="0411-2029",
    title="ร้อยละความสำเร็จของการรณรงค์สร้างจิตสำนึกโปร่งใส สะอาด ปลอดภัย และสิ่งแวดล้อม",
    fiscal_year=2566,
    fiscal_year_source="reports",
    unit="ร้อยละ",
    target_text="100",
    target_value=100,
    result_text="100",
    result_value=100,
    kpi_type="ตัวชี้วัดเชิงยุทธศาสตร์",
    kpi_level="outcome",
    quarters=[
        Quarter(quarter=1, result=10, assessment=100, score_2_1=100, score_2_2=100),
        Quarter(quarter=2, result=30, score_2_1=0, score_2_2=0),
        Quarter(quarter=3, result=70, assessment=100, score_2_1=100, score_2_2=100),
        Quarter(quarter=4, result=100, assessment=100, score_2_1=100, score_2_2=100),
    ],
    reports=[
        Report(
            quarter=3,
            seq=1,
            date=dt.date(2023, 4, 30),
            date_text="30/04/2566",
            text="จัดกิจกรรมให้ประชาชนร่วมสนุกตอบคำถาม “รู้ทันปัญหาฝุ่น PM 2.5” ทาง Facebook Fanpage",
        )
    ],
)
DISTRICT = KpiPage(
    page_kind="kpi",
    url=DISTRICT_URL,
    pid="5035-0100",
    title="ร้อยละของถนนที่ได้รับการแก้ไขปัญหาการจราจร",
    fiscal_year=2566,
    unit="ร้อยละ",
    target_text="80",
    target_value=80,
    result_text="60",
    result_value=60,
    kpi_type="ตัวชี้วัดงานประจำ",
    kpi_level="output",
    definition="ถนนสายหลักในเขต ปี ๒๕๖๖",
    quarters=[Quarter(quarter=1, result=20), Quarter(quarter=2, result=60)],
    reports=[
        Report(
            quarter=2,
            seq=1,
            date=dt.date(2023, 3, 31),
            date_text="31/03/2566",
            text="ตรวจวัดฝุ่นละอองริมถนน และแก้ไขจุดฝืดการจราจร 12 จุด",
        )
    ],
)
DISTRICT_LATER = DISTRICT.model_copy(
    update={
        "result_text": "70",
        "result_value": 70,
        "quarters": [*DISTRICT.quarters, Quarter(quarter=3, result=70)],
    }
)
AGENCY_REPORT = DepartmentPage(
    page_kind="department",
    url=AGENCY_URL,
    agency_code="50350000",
    fiscal_year=2566,
    entries=[
        DepartmentEntry(
            seq=1,
            title="ร้อยละของถนนที่ได้รับการแก้ไขปัญหาการจราจร",
            pid="5035-0100",
            url=DISTRICT_URL,
            unit="ร้อยละ",
            target_value=80,
            result_value=70,
        ),
        DepartmentEntry(
            seq=2,
            title="ร้อยละของชุมชนที่ได้รับการอบรม",
            pid="5035-0200",
            url="http://monitor.bangkok.go.th/mobile/mykpi.php?pid=5035-0200",
            unit="ร้อยละ",
            target_value=50,
            result_value=75,
        ),
    ],
)


def _response(url: str, body: bytes, fetched_at: dt.datetime) -> FetchResult:
    return FetchResult(
        url=url,
        final_url=url,
        status=200,
        headers={"Content-Type": "text/html; charset=utf-8"},
        body=body,
        fetched_at=fetched_at,
    )


def build_fixture_archive(path: Path) -> Path:
    """Write the fixture archive to ``path``: four pages, one change yesterday, one parse error."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    month_ago, yesterday = now - dt.timedelta(days=30), now - dt.timedelta(days=1)
    db = archive.open_db(path)
    archive.save(db, _response(SEED_URL, b"<html>seed</html>", month_ago), SEED)
    archive.save(db, _response(DISTRICT_URL, b"<html>district 1</html>", month_ago), DISTRICT)
    archive.save(db, _response(AGENCY_URL, b"<html>agency</html>", month_ago), AGENCY_REPORT)
    archive.save(db, _response(DISTRICT_URL, b"<html>district 2</html>", yesterday), DISTRICT_LATER)
    error = ParseError("no title", url=BROKEN_URL, missing="title")
    archive.save(db, _response(BROKEN_URL, b"<html>?</html>", yesterday), error)
    archive.refresh_agencies(db)
    archive.refresh_derived(db)
    db.close()
    return path


@pytest.fixture(scope="module")
def archive_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("publish")
    build_fixture_archive(folder / "kpi.db")
    return folder


@pytest.fixture
def ds(archive_dir: Path) -> Any:
    return serve.make_datasette(archive_dir / "kpi.db")


async def _rows(ds: Any, path: str) -> list[dict[str, Any]]:
    response = await ds.client.get(path + ("&" if "?" in path else "?") + "_shape=array")
    assert response.status_code == 200, response.text
    return response.json()


async def test_search_box_finds_dust_in_the_seed_kpis_reports(ds: Any) -> None:
    rows = await _rows(ds, "/kpi/reports.json?_search=ฝุ่น&_sort=url")
    assert [(r["url"], r["date"]) for r in rows] == [
        (DISTRICT_URL, "2023-03-31"),
        (SEED_URL, "2023-04-30"),
    ]


async def test_search_box_on_kpis_finds_a_title_word_and_arabic_digits_find_thai_ones(
    ds: Any,
) -> None:
    assert [r["pid"] for r in await _rows(ds, "/kpi/kpis.json?_search=จราจร")] == ["5035-0100"]
    assert [r["pid"] for r in await _rows(ds, "/kpi/kpis.json?_search=2566")] == ["5035-0100"]


async def test_canned_search_ranks_the_whole_word_above_a_longer_word(ds: Any) -> None:
    rows = await _rows(ds, "/kpi/search.json?q=ฝุ่น")
    assert [(r["kind"], r["pid"]) for r in rows] == [
        ("report", "0411-2029"),
        ("report", "5035-0100"),
    ]
    assert rows[0]["score"] > rows[1]["score"] > 0
    assert "รู้ทันปัญหาฝุ่น PM 2.5" in rows[0]["excerpt"]


async def test_canned_search_finds_two_letter_terms_and_thai_digits(ds: Any) -> None:
    two_letters = await _rows(ds, "/kpi/search.json?q=จร")
    assert sorted((r["kind"], r["pid"]) for r in two_letters) == [
        ("kpi", "5035-0100"),
        ("report", "5035-0100"),
    ]
    thai_digits = await _rows(ds, "/kpi/search.json?q=๒๕๖๖")
    assert [(r["kind"], r["pid"]) for r in thai_digits] == [("kpi", "5035-0100")]


async def test_below_target_filters_by_year_and_agency(ds: Any) -> None:
    rows = await _rows(ds, "/kpi/below_target.json?fiscal_year=2566&agency=")
    assert [(r["pid"], r["target_value"], r["result_value"], r["gap"]) for r in rows] == [
        ("5035-0100", 80.0, 70.0, -10.0)
    ]
    assert await _rows(ds, "/kpi/below_target.json?fiscal_year=2566&agency=0411") == []
    assert await _rows(ds, "/kpi/below_target.json?fiscal_year=2565&agency=") == []


async def test_kpi_progress_lists_each_quarter_against_the_target(ds: Any) -> None:
    rows = await _rows(ds, "/kpi/kpi_progress.json?pid=0411-2029")
    assert [
        (r["quarter"], r["result"], r["target"], r["percent_of_target"], r["score_2_1"])
        for r in rows
    ] == [
        (1, 10.0, 100.0, 10.0, 100.0),
        (2, 30.0, 100.0, 30.0, 0.0),
        (3, 70.0, 100.0, 70.0, 100.0),
        (4, 100.0, 100.0, 100.0, 100.0),
    ]


async def test_recent_changes_shows_yesterdays_change_but_not_last_months_captures(
    ds: Any,
) -> None:
    rows = await _rows(ds, "/kpi/recent_changes.json?days=7")
    assert [
        (r["pid"], r["field"], r["old"], r["new"]) for r in rows if r["field"] != "quarters"
    ] == [
        ("5035-0100", "result_text", "60", "70"),
        ("5035-0100", "result_value", 60.0, 70.0),
    ]
    assert [r["field"] for r in rows] == ["quarters", "result_text", "result_value"]


async def test_page_as_of_a_date_gives_the_version_then_and_counts_later_ones(ds: Any) -> None:
    today = dt.datetime.now(dt.UTC).date()
    ten_days_ago = today - dt.timedelta(days=10)
    rows = await _rows(ds, f"/kpi/page_as_of.json?pid=5035-0100&date={ten_days_ago.isoformat()}")
    assert [(r["pid"], r["result"], r["versions_since"]) for r in rows] == [("5035-0100", "60", 1)]
    buddhist_era = f"{ten_days_ago.year + 543}-{ten_days_ago:%m-%d}"
    rows = await _rows(ds, f"/kpi/page_as_of.json?pid=5035-0100&date={buddhist_era}")
    assert [(r["result"], r["versions_since"]) for r in rows] == [("60", 1)]
    rows = await _rows(ds, f"/kpi/page_as_of.json?pid={quote(DISTRICT_URL)}&date={today}")
    assert [(r["result"], r["versions_since"]) for r in rows] == [("70", 0)]


async def test_agency_scorecard_counts_kpi_pages_and_unfetched_report_entries(ds: Any) -> None:
    rows = await _rows(ds, "/kpi/agency_scorecard.json")
    assert [
        (r["agency_code"], r["fiscal_year"], r["kpis"], r["on_target"], r["on_target_percent"])
        for r in rows
    ] == [
        ("0411", 2566, 1, 1, 100.0),
        ("5035", 2566, 2, 1, 50.0),
    ]


async def test_reports_mentioning_a_term_are_dated_and_newest_first(ds: Any) -> None:
    rows = await _rows(ds, "/kpi/reports_mentioning.json?term=ฝุ่น")
    assert [(r["date"], r["date_text"], r["pid"], r["quarter"]) for r in rows] == [
        ("2023-04-30", "30/04/2566", "0411-2029", 3),
        ("2023-03-31", "31/03/2566", "5035-0100", 2),
    ]


async def test_parse_failures_lists_the_page_the_parser_could_not_read(ds: Any) -> None:
    rows = await _rows(ds, "/kpi/parse_failures.json")
    assert [(r["url"], r["page_kind"], r["pid"]) for r in rows] == [
        (BROKEN_URL, "kpi", "0800-0001")
    ]
    assert "no title" in rows[0]["last_error"]


async def test_changes_feed_has_one_thai_entry_per_changed_version_linking_to_our_page(
    ds: Any,
) -> None:
    response = await ds.client.get("/changes.atom")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    feed = ET.fromstring(response.content)
    assert feed.tag == f"{ATOM}feed"
    assert feed.findtext(f"{ATOM}title") == "ตัวชี้วัดกรุงเทพมหานคร: ความเปลี่ยนแปลงล่าสุด"
    entries = feed.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == [
        "ร้อยละของถนนที่ได้รับการแก้ไขปัญหาการจราจร: ผลงาน 60 → 70 ร้อยละ (และอีก 1 รายการ)"
    ]
    entry = entries[0]
    assert entry.find(f"{ATOM}link").get("href") == "http://localhost/kpi/5035-0100"
    content = entry.findtext(f"{ATOM}content") or ""
    assert "<tr><th>ผลงาน</th><td>60</td><td>70</td></tr>" in content
    assert "<tr><th>ผลงานรายไตรมาส</th><td>2 รายการ</td><td>3 รายการ</td></tr>" in content
    assert dt.datetime.fromisoformat(entry.findtext(f"{ATOM}updated") or "").tzinfo


async def test_indicator_and_agency_feeds_hold_only_their_own_versions(ds: Any) -> None:
    for path, count in [
        ("/kpi/5035-0100.atom", 1),
        ("/kpi/0411-2029.atom", 0),
        ("/agency/5035.atom", 1),
        ("/agency/0411.atom", 0),
    ]:
        response = await ds.client.get(path)
        assert response.headers["content-type"].startswith("application/atom+xml"), path
        assert len(ET.fromstring(response.content).findall(f"{ATOM}entry")) == count, path


async def test_tables_offer_the_configured_facets(ds: Any) -> None:
    response = await ds.client.get("/kpi/kpis.json?_size=0")
    assert response.json()["suggested_facets"] == []
    facets = response.json()["facet_results"]
    assert sorted(facets) == sorted(
        ["agency_code", "fiscal_year", "kpi_type", "kpi_level", "unit", "page_kind"]
    )
    assert {v["value"]: v["count"] for v in facets["agency_code"]["results"]} == {
        "0411": 1,
        "5035": 1,
    }
    pages = (await ds.client.get("/kpi/pages.json?_size=0")).json()["facet_results"]
    assert {v["value"]: v["count"] for v in pages["status"]["results"]} == {
        "ok": 3,
        "parse_error": 1,
    }


async def test_bookkeeping_tables_are_hidden_but_reachable(ds: Any) -> None:
    tables = {t["name"]: t["hidden"] for t in (await ds.client.get("/kpi.json")).json()["tables"]}
    assert tables["kpis"] is False
    assert tables["reports"] is False
    assert tables["snapshots"] is True
    assert tables["captures"] is True
    assert (await ds.client.get("/kpi/snapshots.json")).status_code == 200


async def test_a_write_through_sql_is_refused(ds: Any) -> None:
    for sql in ("delete from kpis", "update kpis set title = 'x'", "drop table kpis"):
        response = await ds.client.get("/kpi.json", params={"sql": sql})
        assert response.status_code == 400, sql
    rows = await _rows(ds, "/kpi.json?sql=select+count(*)+as+n+from+kpis")
    assert rows == [{"n": 2}]


async def test_kpi_row_page_shows_its_quarters(ds: Any) -> None:
    from datasette.utils import tilde_encode

    response = await ds.client.get(f"/kpi/kpis/{tilde_encode(SEED_URL)}")
    assert response.status_code == 200
    assert "ผลงานรายไตรมาส / Quarterly progress" in response.text
    assert response.text.count("<td>100 / 100</td>") == 3
    assert "<td>0 / 0</td>" in response.text


async def test_version_records_read_as_json_text_in_tables_and_sql(ds: Any) -> None:
    table = await ds.client.get("/kpi/kpi_versions?id=1")
    row = await ds.client.get("/kpi/kpi_versions/1")
    assert "Binary" not in table.text and "Binary" not in row.text
    assert "&#34;pid&#34;: &#34;0411-2029&#34;" in table.text
    assert "&#34;page_kind&#34;: &#34;kpi&#34;}</td>" in row.text
    rows = await _rows(
        ds,
        "/kpi.json?sql=select+json_extract(kpi_record(record),+'$.pid')+as+pid+from+kpi_versions",
    )
    assert [r["pid"] for r in rows] == ["0411-2029", "5035-0100", None, "5035-0100"]


async def test_version_history_gives_every_version_of_a_page_with_its_whole_record(
    ds: Any,
) -> None:
    rows = await _rows(ds, "/kpi/version_history.json?pid=5035-0100")
    assert [(r["id"], r["change_kind"], r["changed"], r["previous_id"]) for r in rows] == [
        (2, "new", "[]", None),
        (4, "changed", '["result_text", "result_value", "quarters"]', 2),
    ]
    records = [json.loads(r["record"]) for r in rows]
    assert [(r["result_value"], len(r["quarters"])) for r in records] == [(60.0, 2), (70.0, 3)]


async def test_a_long_version_record_is_cut_with_a_link_to_the_whole_one(archive_dir: Path) -> None:
    ds = Datasette(
        [str(archive_dir / "kpi.db")], settings={**serve.settings(), "truncate_cells_html": 40}
    )
    row = await ds.client.get("/kpi/kpi_versions/1")
    link = (
        "{&#34;url&#34;: &#34;https://dp.bangkok.go.th/mobile… "
        '<a href="/kpi.json?sql=select+id%2C+kpi_record%28record%29+as+record+from+kpi_versions'
        '+where+id+%3D+%3Aid&amp;id=1&amp;_shape=array">ทั้งฉบับ / whole record (JSON)</a>'
    )
    assert link in row.text
    (whole,) = await _rows(
        ds,
        "/kpi.json?sql=select+id,+kpi_record(record)+as+record+from+kpi_versions+where+id+=+:id&id=1",
    )
    assert json.loads(whole["record"])["title"] == SEED.title


async def test_the_dashboard_and_its_offline_scripts_are_served(ds: Any) -> None:
    response = await ds.client.get("/-/dashboards/kpi-dashboard?kpi=0411-2029")
    assert response.status_code == 200
    assert "https://cdn" not in response.text
    assert "/-/static-plugins/datasette_dashboards/vega.min.js" in response.text
    script = await ds.client.get("/-/static-plugins/datasette_dashboards/vega.min.js")
    assert script.status_code == 200


async def test_metadata_applies_whatever_the_file_is_called(archive_dir: Path) -> None:
    renamed = archive_dir / "archive-2567.db"
    renamed.write_bytes((archive_dir / "kpi.db").read_bytes())
    ds = serve.make_datasette(renamed)
    data = (await ds.client.get("/archive-2567.json")).json()
    assert {"search", "below_target", "page_as_of"} <= {q["name"] for q in data["queries"]}
    rows = await _rows(ds, "/archive-2567/kpi_progress.json?pid=5035-0100")
    assert [r["quarter"] for r in rows] == [1, 2, 3]
    page = await ds.client.get("/-/dashboards/kpi-dashboard?kpi=5035-0100")
    assert page.status_code == 200
    assert "archive-2567" in page.text


async def test_serving_is_read_only_with_the_configured_time_limit(ds: Any) -> None:
    settings = (await ds.client.get("/-/settings.json")).json()
    assert settings["sql_time_limit_ms"] == 2000
    assert settings["suggest_facets"] is False
    args = serve.datasette_args("data/demo.db", port=8123)
    assert args[:2] == ["serve", "data/demo.db"]
    assert "--metadata" not in args and "--template-dir" not in args
    assert "-i" not in args and "--immutable" not in args
    assert args[args.index("--port") + 1] == "8123"
    assert args[args.index("--setting") + 1 : args.index("--setting") + 3] == [
        "sql_time_limit_ms",
        "2000",
    ]


def test_plugin_metadata_keys_the_database_and_dashboards_by_name() -> None:
    metadata = metadata_for(["demo"])
    assert list(metadata["databases"]) == ["demo"]
    dashboard = metadata["plugins"]["datasette-dashboards"]["kpi-dashboard"]
    assert {c["db"] for c in dashboard["charts"].values()} == {"demo"}
    assert serve.database_name("data/archive-2567.db") == "archive-2567"


def test_deep_copies_of_the_metadata_share_its_descriptions_queries_and_dashboards() -> None:
    # Datasette deep-copies the metadata on every table permission check (one per table on the
    # front page): the bulky read-only parts are handed over, not copied.
    metadata = metadata_for(["demo"])
    copied = copy.deepcopy(metadata)
    database, copied_database = metadata["databases"]["demo"], copied["databases"]["demo"]
    assert copied_database["tables"] is database["tables"]
    assert copied_database["queries"] is database["queries"]
    assert copied["plugins"] is metadata["plugins"]
    assert copied_database["tables"]["kpis"]["facets"][0] == "agency_code"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("ปี ๒๕๖๖", "ปี 2566"), ("  a \n b ", "a b"), (None, None)],
)
def test_thai_normalize_turns_thai_digits_arabic_and_collapses_spaces(
    text: str | None, expected: str | None
) -> None:
    assert plugin.thai_normalize(text) == expected


def test_thai_segment_joins_newmm_words_with_spaces() -> None:
    assert plugin.thai_segment("รู้ทันปัญหาฝุ่น PM ๒.๕") == "รู้ทัน ปัญหา ฝุ่น PM 2.5"


def test_thai_rank_prefers_a_whole_word_to_part_of_a_longer_one() -> None:
    whole = plugin.thai_rank("รู้ทันปัญหาฝุ่น PM 2.5", "ฝุ่น")
    part = plugin.thai_rank("ตรวจวัดฝุ่นละอองริมถนน", "ฝุ่น")
    assert whole > part > 0
    assert plugin.thai_rank("ถนน", "ฝุ่น") == 0.0
    assert plugin.thai_rank(None, "ฝุ่น") == 0.0


def test_thai_snippet_cuts_around_the_first_hit() -> None:
    text = "ก" * 100 + "ฝุ่น" + "ข" * 100
    assert plugin.thai_snippet(text, "ฝุ่น", 3) == "…กกกฝุ่นขขข…"
    assert plugin.thai_snippet("สั้น", "ฝุ่น", 3) == "สั้น"


def test_serve_refuses_a_file_that_is_not_an_archive_in_one_line(tmp_path: Path) -> None:
    notes = tmp_path / "notes.db"
    notes.write_bytes(b"not sqlite")
    result = CliRunner().invoke(cli, ["serve", str(notes)])
    assert result.exit_code == 1
    assert result.stderr == f"Error: {notes}: not an SQLite database; refusing to touch it\n"
    assert notes.read_bytes() == b"not sqlite"


async def test_issue_11_tables_show_the_descriptions_of_columns_yml(ds: Any) -> None:
    page = (await ds.client.get("/kpi/indicators")).text
    assert "ตัวชี้วัดเดียวกันข้ามปี / One agency&#39;s indicator across fiscal years" in page
    tables = metadata_for(["kpi"])["databases"]["kpi"]["tables"]
    assert tables["observations"]["columns"]["measure"] == (
        "target, result, assessment, score_2_1, score_2_2 or audit"
    )
    # metadata.yml wins where both describe a column
    assert tables["kpis"]["columns"]["unit"].startswith("หน่วยนับ / unit the page states")


def _chart_rows(archive_dir: Path, chart: str, options: dict[str, str]) -> list[tuple[Any, ...]]:
    """A dashboard chart's rows, its [[ optional ]] parts filled as datasette-dashboards does."""
    charts = metadata_for(["kpi"])["plugins"]["datasette-dashboards"]["kpi-dashboard"]["charts"]
    conn = sqlite3.connect(archive_dir / "kpi.db")
    functions.register(conn)
    return conn.execute(replace_opts_in_query(charts[chart]["query"], options), options).fetchall()


def test_dashboard_series_chart_gives_target_and_result_per_fiscal_year(archive_dir: Path) -> None:
    assert _chart_rows(archive_dir, "series", {"kpi": "5035-0100 · ร้อยละ…"}) == [
        ("2566", "ค่าเป้าหมาย / target", 80.0),
        ("2566", "ผลงาน / result", 70.0),
    ]
    assert _chart_rows(archive_dir, "series", {"kpi": "9999-0000"}) == [
        ("–", "ไม่มีค่าเป้าหมายหรือผลงานรายปีสำหรับตัวกรองนี้ / no yearly figures for these filters", None)
    ]  # fmt: skip


def test_dashboard_league_chart_ranks_the_measure_in_the_picked_or_the_kpis_year(
    archive_dir: Path,
) -> None:
    expected = [("1. หน่วยงาน 5035", 1, 70.0, 80.0, 70.0, 1, 2566, "ร้อยละ")]
    assert _chart_rows(archive_dir, "league", {"kpi": "5035-0100"}) == expected
    assert (
        _chart_rows(archive_dir, "league", {"kpi": "5035-0100", "fiscal_year": "2566"}) == expected
    )
    assert [row[1:] for row in _chart_rows(
        archive_dir, "league", {"kpi": "5035-0100", "fiscal_year": "2565"}
    )] == [(None,) * 7]  # fmt: skip


async def test_the_database_page_counts_tables_but_not_the_full_text_ones(ds: Any) -> None:
    # counting a trigram index's shadow tables took 130-340 ms each at 30,000 pages
    tables = (await ds.client.get("/kpi.json")).json()["tables"]
    counts = {t["name"]: t["count"] for t in tables}
    assert counts["kpis"] == 2
    assert counts["pages"] == 4
    assert counts["kpis_fts"] is None
    assert counts["reports_fts_data"] is None
    page = await ds.client.get("/kpi?_show_hidden=1")
    assert "Many rows" in page.text


def test_the_plugin_keeps_its_hooks_when_a_submodule_is_imported_before_datasette():
    # A fresh interpreter: which module Python imports first is decided once per process.
    script = (
        "import kpi_archive.publish.plugin.metadata\n"
        "from datasette.plugins import pm\n"
        "hooks = {h.name for h in pm.get_hookcallers(pm.get_plugin('kpi_archive'))}\n"
        "print(sorted(hooks & {'get_metadata', 'filters_from_request', 'register_routes'}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "['filters_from_request', 'get_metadata', 'register_routes']"
