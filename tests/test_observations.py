"""Tidy observations from every version, and the series views built on them."""

from __future__ import annotations

import datetime as dt

import pytest
from archive_factories import response, seed_kpi
from helpers import SEED_URL, get_fixture

import archive
from parsers import parse_page
from parsers.models import Quarter

NOVEMBER_2022 = dt.datetime(2022, 11, 15, 3, 0, tzinfo=dt.UTC)  # inside Q1 of fiscal year 2566
FEBRUARY_2023 = dt.datetime(2023, 2, 1, 3, 0, tzinfo=dt.UTC)  # after Q1
STAMP_NOV = "2022-11-15T03:00:00.000000Z"
STAMP_FEB = "2023-02-01T03:00:00.000000Z"


@pytest.fixture
def db(tmp_path):
    return archive.open_db(tmp_path / "kpi.db")


def test_the_seed_page_gives_one_row_per_quarter_and_measure(db):
    body = get_fixture("kpi/dp_0411-2029.table.utf8.html")
    archive.save(db, response(SEED_URL, body, at=NOVEMBER_2022), parse_page(body, SEED_URL))
    archive.refresh_derived(db)
    rows = db.execute(
        "SELECT version_id, pid, agency_code, fiscal_year, quarter, measure, value, value_text, "
        "as_of, indicator_id IS NOT NULL FROM observations ORDER BY rowid"
    ).fetchall()
    head = (1, "0411-2029", "0411", 2566)
    tail = (STAMP_NOV, 1)
    assert rows == [
        (*head, None, "target", 100.0, "100", *tail),
        (*head, None, "result", 100.0, "100", *tail),
        (*head, 1, "result", 10.0, "10.00", *tail),
        (*head, 1, "assessment", 100.0, "100", *tail),
        (*head, 1, "score_2_1", 100.0, "100 / 100", *tail),
        (*head, 1, "score_2_2", 100.0, "100 / 100", *tail),
        (*head, 1, "audit", 100.0, "100", *tail),
        (*head, 2, "result", 30.0, "30.00", *tail),
        (*head, 2, "score_2_1", 0.0, "0 / 0", *tail),
        (*head, 2, "score_2_2", 0.0, "0 / 0", *tail),
        (*head, 3, "result", 70.0, "70.00", *tail),
        (*head, 3, "assessment", 100.0, "100", *tail),
        (*head, 3, "score_2_1", 100.0, "100 / 100", *tail),
        (*head, 3, "score_2_2", 100.0, "100 / 100", *tail),
        (*head, 4, "result", 100.0, "100.00", *tail),
        (*head, 4, "assessment", 100.0, "100", *tail),
        (*head, 4, "score_2_1", 100.0, "100 / 100", *tail),
        (*head, 4, "score_2_2", 100.0, "100 / 100", *tail),
    ]


def test_a_blank_cell_gives_no_row_not_a_zero(db):
    record = seed_kpi(
        audit_quarter=None,
        audit_score=None,
        audit_score_text=None,
        quarters=[Quarter(quarter=1, result=None, result_text="", assessment=None)],
    )
    archive.save(db, response(), record)
    archive.refresh_derived(db)
    assert db.execute("SELECT quarter, measure FROM observations").fetchall() == [
        (None, "target"),
        (None, "result"),
    ]


def test_every_version_keeps_its_own_rows_and_a_refresh_is_idempotent(db):
    archive.save(db, response(at=NOVEMBER_2022), seed_kpi())
    archive.save(db, response(body=b"v2", at=FEBRUARY_2023), seed_kpi(target_value=80.0))
    assert archive.refresh_observations(db) == archive.refresh_observations(db) == 12
    assert db.execute(
        "SELECT version_id, value, as_of FROM observations WHERE measure = 'target'"
    ).fetchall() == [(1, 100.0, STAMP_NOV), (2, 80.0, STAMP_FEB)]


def _revisions(db):
    return db.execute(
        "SELECT revision, pid, fiscal_year, quarter, measure, old_value, new_value, old_as_of, "
        "new_as_of FROM revisions ORDER BY revision, quarter"
    ).fetchall()


def test_a_target_cut_after_q1_and_a_rewritten_past_quarter_are_revisions(db):
    archive.save(db, response(at=NOVEMBER_2022), seed_kpi())
    later = seed_kpi(
        target_value=80.0,
        target_text="80",
        quarters=[
            Quarter(quarter=1, result=8.0, result_text="8.00", assessment=100.0),
            Quarter(quarter=2, result=30.0, result_text="30.00"),
        ],
    )
    archive.save(db, response(body=b"v2", at=FEBRUARY_2023), later)
    archive.refresh_derived(db)
    assert _revisions(db) == [
        ("past quarter rewritten", "0411-2029", 2566, 1, "result", 10.0, 8.0, STAMP_NOV, STAMP_FEB),
        (
            "target changed after Q1",
            "0411-2029",
            2566,
            None,
            "target",
            100.0,
            80.0,
            STAMP_NOV,
            STAMP_FEB,
        ),
    ]


def test_a_target_changed_within_q1_and_a_quarter_filled_in_are_not_revisions(db):
    archive.save(db, response(at=dt.datetime(2022, 10, 5, tzinfo=dt.UTC)), seed_kpi(quarters=[]))
    archive.save(db, response(body=b"v2", at=NOVEMBER_2022), seed_kpi(target_value=80.0))
    archive.refresh_derived(db)
    assert _revisions(db) == []


def test_an_indicator_missing_from_a_later_year_of_its_agency_has_disappeared(db):
    other = "https://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2100"
    archive.save(db, response(at=NOVEMBER_2022), seed_kpi())
    archive.save(
        db,
        response(other, at=FEBRUARY_2023),
        seed_kpi(url=other, pid="0411-2100", title="ร้อยละของข่าวที่ได้รับการชี้แจง", fiscal_year=2567),
    )
    archive.refresh_derived(db)
    assert _revisions(db) == [
        ("indicator disappeared", None, 2566, None, None, None, None, STAMP_NOV, STAMP_FEB),
    ]


def _district(db, code, result, *, year=2599, unit="ร้อยละ", title="พื้นที่สีเขียวที่เพิ่มขึ้น"):
    url = f"http://monitor.bangkok.go.th/mobile/mykpi.php?pid={code}-0742"
    record = seed_kpi(
        url=url,
        pid=f"{code}-0742",
        title=title,
        fiscal_year=year,
        unit=unit,
        target_value=50.0,
        result_value=result,
    )
    archive.save(db, response(url, at=NOVEMBER_2022), record)


def test_the_league_table_ranks_districts_of_one_measure_with_count_and_median(db):
    for code, result in (("5038", 40.0), ("5011", 90.0), ("5046", 65.0), ("5001", 20.0)):
        _district(db, code, result)
    _district(db, "5046", 12.0, unit="แห่ง", title="พื้นที่สีเขียวที่เพิ่มขึ้น ")
    _district(db, "5002", 99.0, year=2598)
    archive.refresh_derived(db)
    rows = db.execute(
        "SELECT fiscal_year, rank, agency_code, result, on_target, agencies, agencies_on_target, "
        "median, measure_unit FROM measure_league WHERE fiscal_year = 2599 AND measure_unit = "
        "'ร้อยละ' ORDER BY rank"
    ).fetchall()
    assert rows == [
        (2599, 1, "5011", 90.0, 1, 4, 2, 52.5, "ร้อยละ"),
        (2599, 2, "5046", 65.0, 1, 4, 2, 52.5, "ร้อยละ"),
        (2599, 3, "5038", 40.0, 0, 4, 2, 52.5, "ร้อยละ"),
        (2599, 4, "5001", 20.0, 0, 4, 2, 52.5, "ร้อยละ"),
    ]


def test_the_audit_gap_lists_disagreements_both_ways(db):
    archive.save(db, response(), seed_kpi(audit_score=50.0))
    other = "https://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2100"
    archive.save(
        db,
        response(other),
        seed_kpi(url=other, pid="0411-2100", title="อื่น", result_value=20.0, audit_score=100.0),
    )
    archive.refresh_derived(db)
    assert db.execute(
        "SELECT gap, pid, result, target, audit_score FROM audit_gap ORDER BY pid"
    ).fetchall() == [
        ("self-report on target, audit below 100", "0411-2029", 100.0, 100.0, 50.0),
        ("self-report missed, audit 100", "0411-2100", 20.0, 100.0, 100.0),
    ]


def test_the_indicator_series_views_read_one_row_per_page_and_quarter(db):
    archive.save(db, response(), seed_kpi())
    archive.refresh_derived(db)
    assert db.execute(
        "SELECT indicator, agency_code, fiscal_year, pid, target, result, on_target, audit_score "
        "FROM indicator_series"
    ).fetchall() == [
        (
            "ร้อยละความสำเร็จของการรณรงค์สร้างจิตสำนึกโปร่งใส สะอาด ปลอดภัย และสิ่งแวดล้อม",
            "0411",
            2566,
            "0411-2029",
            100.0,
            100.0,
            1,
            100.0,
        )
    ]
    assert db.execute(
        "SELECT fiscal_year, quarter, result, target FROM indicator_quarters ORDER BY quarter"
    ).fetchall() == [(2566, 1, 10.0, 100.0), (2566, 2, 30.0, 100.0)]
