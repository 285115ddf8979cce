"""The ``reports_mentioning`` canned query (plugin/metadata.yml) on a real archive served
in-process as ``kpi-archive serve`` serves it: the newest 200 dated reports mentioning a term,
found the same way whether the term is rare or common (issue 12).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from archive_factories import NOVEMBER_2022, response, seed_kpi

import archive
from kpi_archive.publish import serve
from kpi_archive.publish.plugin.metadata import TEMPLATE_KEY, template
from parsers.models import Report

PIDS = ("5001-0742", "5011-0742", "5038-0742")
MANY_HITS = "count(*) > 1500"


def _url(pid: str) -> str:
    return f"http://monitor.bangkok.go.th/mobile/mykpi.php?pid={pid}"


def _reports(n: int) -> list[Report]:
    """90 reports about dust: 85 dated on 85 days counting back from 30 April 2023 (the three
    pages share those days), five undated; the 10th also mentions traffic."""
    made = []
    for seq in range(1, 91):
        date = dt.date(2023, 4, 30) - dt.timedelta(days=seq - 1) if seq <= 85 else None
        printed = None if date is None else f"{date:%d/%m}/{date.year + 543}"
        text = f"ลดฝุ่นละอองในเขต ครั้งที่ {seq} หน้า {n}" + (" และแก้ปัญหาการจราจร" if seq == 10 else "")
        made.append(Report(quarter=3, seq=seq, date=date, date_text=printed, text=text))
    return made


@pytest.fixture
def ds(tmp_path: Path) -> Any:
    db = archive.open_db(tmp_path / "kpi.db")
    for n, pid in enumerate(PIDS):
        record = seed_kpi(
            url=_url(pid), pid=pid, title=f"ฝุ่นละออง เขต {pid[:4]}", reports=_reports(n)
        )
        archive.save(db, response(_url(pid), pid.encode(), at=NOVEMBER_2022), record)
    archive.refresh_derived(db)
    db.close()
    return serve.make_datasette(tmp_path / "kpi.db")


def _sql() -> str:
    sql: str = template()["databases"][TEMPLATE_KEY]["queries"]["reports_mentioning"]["sql"]
    return sql


async def _rows(ds: Any, term: str) -> list[dict[str, Any]]:
    response = await ds.client.get(
        "/kpi/reports_mentioning.json?_shape=objects&term=" + quote(term)
    )
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["rows"]
    return rows


async def test_reports_mentioning_shows_the_newest_200_dated_reports(ds: Any) -> None:
    rows = await _rows(ds, "ฝุ่น")

    assert len(rows) == 200  # of 255 dated and 15 undated reports mentioning it
    assert [(r["date"], r["pid"], r["excerpt"]) for r in rows[:4]] == [
        ("2023-04-30", "5001-0742", "ลดฝุ่นละอองในเขต ครั้งที่ 1 หน้า 0"),
        ("2023-04-30", "5011-0742", "ลดฝุ่นละอองในเขต ครั้งที่ 1 หน้า 1"),
        ("2023-04-30", "5038-0742", "ลดฝุ่นละอองในเขต ครั้งที่ 1 หน้า 2"),
        ("2023-04-29", "5001-0742", "ลดฝุ่นละอองในเขต ครั้งที่ 2 หน้า 0"),
    ]
    assert (rows[-1]["date"], rows[-1]["date_text"], rows[-1]["pid"]) == (
        "2023-02-23",
        "23/02/2566",
        "5011-0742",
    )
    assert rows[0]["title"] == "ฝุ่นละออง เขต 5001"
    assert rows[0]["url"] == _url("5001-0742")


async def test_a_rare_term_lists_every_dated_report_mentioning_it(ds: Any) -> None:
    rows = await _rows(ds, "การจราจร")

    assert [(r["date"], r["pid"], r["quarter"]) for r in rows] == [
        ("2023-04-21", "5001-0742", 3),
        ("2023-04-21", "5011-0742", 3),
        ("2023-04-21", "5038-0742", 3),
    ]


@pytest.mark.parametrize("term", ["ฝุ่น", "การจราจร", "ครั้งที่ 8", "ไม่มีคำนี้"])
async def test_walking_the_dates_finds_the_rows_reading_each_hit_finds(ds: Any, term: str) -> None:
    assert _sql().count(MANY_HITS) == 1
    db = ds.get_database("kpi")

    walked = await db.execute(_sql().replace(MANY_HITS, "count(*) >= 0"), {"term": term})
    read = await db.execute(_sql().replace(MANY_HITS, "count(*) < 0"), {"term": term})

    assert [tuple(r) for r in walked.rows] == [tuple(r) for r in read.rows]
    assert len(walked.rows) == {"ฝุ่น": 200, "การจราจร": 3, "ครั้งที่ 8": 21, "ไม่มีคำนี้": 0}[term]


async def test_the_html_page_shows_200_rows_with_pid_links(ds: Any) -> None:
    response = await ds.client.get("/kpi/reports_mentioning?term=" + quote("ฝุ่น"))

    assert response.status_code == 200
    assert response.text.count('<td class="col-date">') == 200
    assert '<td class="col-pid"><a href="/kpi/5001-0742">5001-0742</a></td>' in response.text
    assert "the search box of the reports table" in response.text


async def test_a_common_terms_reports_are_walked_newest_first_on_a_date_index(ds: Any) -> None:
    walk = _sql().replace(MANY_HITS, "count(*) >= 0")
    plan = await ds.get_database("kpi").execute("explain query plan " + walk, {"term": "ฝุ่น"})

    details = [row["detail"] for row in plan.rows]
    assert any(re.fullmatch(r"SEARCH r USING INDEX \w+ \(date>\?\)", d) for d in details), details
