"""Tidy observations from every version, and the series views built on them."""

from __future__ import annotations

from archive_factories import FEBRUARY_2023, NOVEMBER_2022, STAMP_FEB, STAMP_NOV, response, seed_kpi
from helpers import SEED_URL, get_fixture

import archive
from kpi_archive import load
from parsers import parse_page
from parsers.models import Quarter


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
    assert db.execute("SELECT quarter, measure FROM observations ORDER BY rowid").fetchall() == [
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


def test_a_reparse_after_a_refresh_drops_and_rebuilds_the_observations(db):
    body = get_fixture("kpi/dp_0411-2029.table.utf8.html")
    archive.save(db, response(SEED_URL, body, at=NOVEMBER_2022), parse_page(body, SEED_URL))
    archive.refresh_derived(db)
    counts = load.reparse(db)
    assert (counts.records, db.table("observations").count) == (1, 0)
    archive.refresh_derived(db)
    assert db.table("observations").count == 18


def test_quarters_and_reports_carry_the_pid_and_as_of_of_their_page(db):
    archive.save(db, response(at=NOVEMBER_2022), seed_kpi())
    archive.save(db, response(body=b"v2", at=FEBRUARY_2023), seed_kpi(target_value=80.0))
    archive.refresh_derived(db)
    assert db.execute("SELECT quarter, pid, as_of FROM quarters ORDER BY quarter").fetchall() == [
        (1, "0411-2029", STAMP_FEB),
        (2, "0411-2029", STAMP_FEB),
    ]
    assert db.execute("SELECT DISTINCT pid, as_of FROM reports").fetchall() == [
        ("0411-2029", STAMP_FEB)
    ]


def test_a_later_load_adds_only_the_new_versions_rows(db):
    archive.save(db, response(at=NOVEMBER_2022), seed_kpi())
    archive.refresh_derived(db)
    first = db.execute("SELECT rowid, version_id FROM observations ORDER BY rowid").fetchall()
    archive.save(db, response(body=b"v2", at=FEBRUARY_2023), seed_kpi(target_value=80.0))
    archive.refresh_derived(db)
    rows = db.execute("SELECT rowid, version_id FROM observations ORDER BY rowid").fetchall()
    assert rows[: len(first)] == first
    assert [version for _, version in rows[len(first) :]] == [2] * 6


def test_revisions_name_the_page_of_each_changed_value(db):
    archive.save(db, response(at=NOVEMBER_2022), seed_kpi())
    archive.save(db, response(body=b"v2", at=FEBRUARY_2023), seed_kpi(target_value=80.0))
    archive.refresh_derived(db)
    assert db.execute(
        "SELECT revision, url, measure, old_value, new_value FROM revisions"
    ).fetchall() == [("target changed after Q1", SEED_URL, "target", 100.0, 80.0)]
    assert "url" not in db["observations"].columns_dict  # the version names the page
