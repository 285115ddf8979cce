"""The tables' search box (publish/plugin/tablesearch.py) and the canned queries rewritten for
BMA scale (issue 12), on a small real archive served in-process exactly as ``kpi-archive serve``
serves it: the plan changes, what a reader sees does not.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from archive_factories import (
    FEBRUARY_2023,
    NOVEMBER_2022,
    STAMP_FEB,
    response,
    revised_seed_kpi,
    seed_kpi,
)
from datasette.plugins import pm

import archive
from kpi_archive.publish import plugin, serve
from kpi_archive.publish.plugin import tablesearch
from parsers.models import Report

DISTRICTS = ("5001", "5011", "5038", "5046")


def _url(code: str) -> str:
    return f"http://monitor.bangkok.go.th/mobile/mykpi.php?pid={code}-0742"


def _archive(path: Path) -> Path:
    """Four district KPIs about dust (one also about traffic) and the seed KPI, whose target is
    cut after Q1 and a past quarter rewritten; an indicator of 0411 missing from its next year."""
    db = archive.open_db(path)
    for n, code in enumerate(DISTRICTS):
        reports = [
            Report(
                quarter=q,
                seq=1,
                date=dt.date(2023, 1 + q, 10 + n),
                date_text=f"{10 + n:02d}/{1 + q:02d}/2566",
                text=f"ลดฝุ่นละอองในเขต ไตรมาส {q}" + (" และแก้ปัญหาการจราจร" if n == 0 else ""),
            )
            for q in (1, 2)
        ]
        record = seed_kpi(
            url=_url(code),
            pid=f"{code}-0742",
            title=f"ร้อยละของฝุ่นละอองที่ลดลง เขต {code}",
            reports=reports,
        )
        archive.save(db, response(_url(code), code.encode(), at=NOVEMBER_2022), record)
    archive.save(db, response(at=NOVEMBER_2022), seed_kpi())
    archive.save(db, response(body=b"v2", at=FEBRUARY_2023), revised_seed_kpi())
    other = "https://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2100"
    next_year = seed_kpi(url=other, pid="0411-2100", title="ร้อยละของข่าว", fiscal_year=2567)
    archive.save(db, response(other, b"2100", at=FEBRUARY_2023), next_year)
    archive.refresh_derived(db)
    archive.refresh_agencies(db)
    db.close()
    return path


@pytest.fixture
def ds(tmp_path: Path) -> Any:
    return serve.make_datasette(_archive(tmp_path / "kpi.db"))


async def _page(ds: Any, path: str) -> dict[str, Any]:
    response = await ds.client.get(path)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def _common_from(monkeypatch: pytest.MonkeyPatch, matches: int) -> None:
    monkeypatch.setattr(tablesearch, "SCAN_FROM_MATCHES", matches)


async def test_a_common_term_is_read_in_the_pages_order_and_finds_the_same_rows(
    ds: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = "/kpi/kpis.json?_search=" + quote("ฝุ่นละออง") + "&_facet=agency_code"
    rare = await _page(ds, path)
    _common_from(monkeypatch, 2)
    common = await _page(ds, path)
    assert "where rowid in (select rowid from kpis_fts where" in rare["query"]["sql"]
    assert "where +rowid in (select rowid from kpis_fts where" in common["query"]["sql"]
    assert [r[1] for r in common["rows"]] == [
        "5001-0742",
        "5011-0742",
        "5038-0742",
        "5046-0742",
    ]
    assert common["rows"] == rare["rows"]
    assert common["filtered_table_rows_count"] == rare["filtered_table_rows_count"] == 4
    assert (
        common["facet_results"]["agency_code"]["results"]
        == (rare["facet_results"]["agency_code"]["results"])
    )
    assert common["human_description_en"] == 'where search matches "ฝุ่นละออง" sorted by pid'


async def test_a_term_found_fewer_times_than_the_threshold_keeps_the_rowid_look_ups(
    ds: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _common_from(monkeypatch, 3)
    found = await _page(ds, "/kpi/reports.json?_search=" + quote("แก้ปัญหาการจราจร"))
    assert "where rowid in (select rowid from reports_fts where" in found["query"]["sql"]
    assert [(r[0], r[1]) for r in found["rows"]] == [(_url("5001"), 1), (_url("5001"), 0)]


async def test_the_reports_search_is_newest_first_whichever_plan(
    ds: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = "/kpi/reports.json?_shape=objects&_search=" + quote("ฝุ่นละออง")
    rare = await _page(ds, path)
    _common_from(monkeypatch, 2)
    common = await _page(ds, path)
    dates = [r["date"] for r in common["rows"]]
    assert dates[:3] == ["2023-03-13", "2023-03-12", "2023-03-11"]
    assert len(dates) == 8
    assert common["rows"] == rare["rows"]


async def test_a_column_search_and_a_raw_query_work_as_in_datasette(ds: Any) -> None:
    titles = await _page(ds, "/kpi/kpis.json?_shape=objects&_search_title=" + quote("เขต 5038"))
    assert [r["pid"] for r in titles["rows"]] == ["5038-0742"]
    # raw: FTS5's own syntax over the index's trigrams (it keeps no positions, so no phrases)
    raw = "/kpi/reports.json?_shape=objects&_searchmode=raw&_search="
    found = await _page(ds, raw + quote("(แก้ AND ้ปั AND ปัญ) OR (ข่า AND ่าว AND าวส)"))
    assert {r["url"] for r in found["rows"]} == {_url("5001")}
    phrase = await ds.client.get(raw + quote("แก้ปัญหา"))
    assert phrase.status_code == 400
    assert "phrase queries are not supported" in phrase.text
    # a column search finds only what that column holds, though the index has no columns
    other = await _page(ds, "/kpi/kpis.json?_shape=objects&_search_definition=" + quote("เขต 5038"))
    assert other["rows"] == []
    bad = await ds.client.get("/kpi/kpis.json?_search_nosuchcolumn=" + quote("ฝุ่น"))
    assert bad.status_code == 400


async def test_the_search_box_is_offered_on_kpis_and_reports_only(ds: Any) -> None:
    for table in ("kpis", "reports"):
        page = await ds.client.get(f"/kpi/{table}")
        assert 'name="_search"' in page.text
    quarters = await ds.client.get("/kpi/quarters")
    assert 'name="_search"' not in quarters.text


async def test_the_revisions_query_lists_the_views_rows_newest_first(ds: Any) -> None:
    columns = (
        "revision, pid, fiscal_year, quarter, measure, old_value, new_value, old_as_of, "
        "new_as_of, agency_code, indicator_id, url"
    )
    order = "new_as_of desc, revision, pid, indicator_id, url"
    sql = f"select {columns} from revisions order by {order}"
    view = await _page(ds, "/kpi.json?_shape=arrays&sql=" + quote(sql))
    query = await _page(ds, "/kpi/revisions_with_evidence.json?_shape=arrays")
    assert query["rows"] == view["rows"]
    assert [(r[0], r[8]) for r in query["rows"]] == [
        ("indicator disappeared", STAMP_FEB),  # 0411's first capture of fiscal year 2567
        ("past quarter rewritten", STAMP_FEB),
        ("target changed after Q1", STAMP_FEB),
    ]


async def test_reports_mentioning_lists_dated_reports_newest_first_with_their_kpi(ds: Any) -> None:
    rows = (await _page(ds, "/kpi/reports_mentioning.json?_shape=objects&term=" + quote("ฝุ่น")))[
        "rows"
    ]
    assert [(r["date"], r["pid"], r["quarter"]) for r in rows[:4]] == [
        ("2023-04-30", "0411-2029", 3),
        ("2023-04-30", "0411-2100", 3),
        ("2023-03-13", "5046-0742", 2),
        ("2023-03-12", "5038-0742", 2),
    ]
    assert rows[2]["title"] == "ร้อยละของฝุ่นละอองที่ลดลง เขต 5046"
    assert rows[2]["excerpt"] == "ลดฝุ่นละอองในเขต ไตรมาส 2"
    assert len(rows) == 10


async def test_read_connections_map_the_archive_file(ds: Any) -> None:
    result = await ds.get_database("kpi").execute("pragma mmap_size")
    assert result.rows[0][0] > 0


async def test_the_markdown_plugin_keeps_its_template_hooks_but_renders_no_cells(ds: Any) -> None:
    await ds.invoke_startup()
    assert "render_markdown" not in [i.plugin_name for i in pm.hook.render_cell.get_hookimpls()]
    kept = [i.plugin_name for i in pm.hook.prepare_jinja2_environment.get_hookimpls()]
    assert plugin.MARKDOWN_PLUGIN in kept
    extra = [i.plugin_name for i in pm.hook.extra_template_vars.get_hookimpls()]
    assert plugin.MARKDOWN_PLUGIN in extra
    dashboard = await ds.client.get("/-/dashboards/kpi-dashboard", follow_redirects=True)
    assert dashboard.status_code == 200


async def test_a_common_terms_page_skips_count_and_facets_and_links_to_them(
    ds: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _common_from(monkeypatch, 2)
    term = quote("ฝุ่นละออง")
    page = await ds.client.get(f"/kpi/reports?_search={term}")
    assert page.status_code == 200
    assert "more than 2 rows match a term this common" in page.text
    assert "ไม่สรุปตาม date_fiscal_year, quarter" in page.text
    assert f'href="/kpi/reports?_search={term}&amp;_totals=on"' in page.text
    assert "8 rows" not in page.text
    assert 'class="facet-info' not in page.text
    search_form = page.text.split('<form class="filters"')[1].split("</form>")[0]
    assert "_nofacet" not in search_form and "_nocount" not in search_form
    asked = await ds.client.get(f"/kpi/reports?_search={term}&_totals=on")
    assert "8 rows where search matches" in asked.text
    assert 'data-column="quarter"' in asked.text
    assert "a term this common" not in asked.text


async def test_a_rare_term_and_the_json_view_keep_count_and_facets(
    ds: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _common_from(monkeypatch, 9)
    term = quote("ฝุ่นละออง")
    page = await ds.client.get(f"/kpi/reports?_search={term}")
    assert "8 rows where search matches" in page.text
    assert "a term this common" not in page.text
    _common_from(monkeypatch, 2)
    data = await _page(ds, f"/kpi/reports.json?_search={term}")
    assert data["filtered_table_rows_count"] == 8
    assert sorted(data["facet_results"]) == ["date_fiscal_year", "quarter"]


async def test_a_raw_query_fts5_refuses_is_a_400_naming_the_error(ds: Any) -> None:
    bad = await ds.client.get("/kpi/reports.json?_searchmode=raw&_search=" + quote("NOT x"))
    assert bad.status_code == 400
    assert 'fts5: syntax error near "NOT"' in bad.json()["error"]
