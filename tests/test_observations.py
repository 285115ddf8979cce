"""Tidy observations from every version, and the series views built on them."""

from __future__ import annotations

from archive_factories import (
    FEBRUARY_2023,
    JUNE,
    MARCH,
    NOVEMBER_2022,
    SEPTEMBER,
    STAMP_FEB,
    STAMP_NOV,
    response,
    seed_kpi,
)
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


TABLE_2400 = "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=2400-1060"
NIGHTS = (MARCH, JUNE, SEPTEMBER)


def _saved_nights(db):
    """Three nights of real pages, each ending in a load's refresh: new quarter results, a compact
    rendering that keeps the quarters it cannot show, a gone page that comes back, a page whose
    record changes only in its rendering (no new version), an untrusted short capture."""
    pages = {
        "kpi/" + name: None
        for name in (
            "dp_0411-2029.table.utf8.html",
            "dp1_5018-832.table.utf8.html",
            "monitor_0900-0976.table.utf8.html",
            "dp_0411-0751.compact.utf8.html",
            "dp1_0409-0968.table.cp874.html",
        )
    }
    urls = {}
    for name in pages:
        host, pid = name.removeprefix("kpi/").split(".")[0].split("_")
        urls[name] = f"http://{host}.bangkok.go.th/mobile/mykpi.php?pid={pid}"
    urls["kpi/monitor_2400-1060.table.utf8.html"] = TABLE_2400

    def save(name, at, body=None, **update):
        url = urls[name]
        body = get_fixture(name) if body is None else body
        record = parse_page(get_fixture(name), url).model_copy(update=update)
        archive.save(db, response(url, body, at=at), record)

    for name in urls:
        save(name, MARCH)
    archive.refresh_derived(db)
    first, second, third, same, legacy = list(pages)
    more = get_fixture(first) + b"<!-- june -->"
    quarters = parse_page(get_fixture(first), urls[first]).quarters
    quarters[0] = quarters[0].model_copy(update={"result": 12.5, "result_text": " 12.50 "})
    quarters[2] = Quarter(quarter=3, result_text="", score_2_1=1.0, score_2_2=2.0,
                          scores_text="1 / 2")  # fmt: skip
    save(first, JUNE, more, target_value=80.0, target_text="80", quarters=quarters)
    save(second, JUNE, get_fixture(second) + b"<!-- june -->", audit_score=None,
         audit_score_text="รอผล", audit_quarter=2)  # fmt: skip
    archive.save(db, response(urls[third], b"", at=JUNE, status=404), None, gone_after=1)
    alt = get_fixture("kpi/monitor_2400-1060.alt.compact.utf8.html")
    archive.save(db, response(TABLE_2400, alt, at=JUNE), parse_page(alt, TABLE_2400))
    archive.refresh_derived(db)
    save(third, SEPTEMBER, get_fixture(third) + b"<!-- back -->")
    save(same, SEPTEMBER, get_fixture(same) + b"<!-- same record -->")
    save(legacy, SEPTEMBER, get_fixture(legacy) + b"<!-- sep -->", result_value=None,
         result_text=None)  # fmt: skip
    save(first, SEPTEMBER, more + b"<!-- sep -->", quarters=[])  # held: no quarters now
    compact = parse_page(alt, TABLE_2400).model_copy(update={"result_value": 1.5})
    archive.save(db, response(TABLE_2400, alt + b"<!-- sep -->", at=SEPTEMBER), compact)
    archive.refresh_derived(db)


OBSERVATIONS = "SELECT rowid, * FROM observations ORDER BY rowid"


def _typed(rows):
    return [[(type(cell).__name__, cell) for cell in row] for row in rows]


def test_rows_read_from_the_typed_tables_are_the_rows_the_records_give(db):
    _saved_nights(db)
    nightly = _typed(db.execute(OBSERVATIONS).fetchall())
    assert db.execute(
        "SELECT count(*), count(DISTINCT version_id) FROM observations"
    ).fetchone() == (len(nightly), 11)
    db.execute("DELETE FROM observations")
    archive.refresh_observations(db, from_tables=False)
    assert _typed(db.execute(OBSERVATIONS).fetchall()) == nightly
    db.execute("DELETE FROM observations")
    archive.refresh_observations(db)  # the latest versions from the tables, the rest from records
    assert _typed(db.execute(OBSERVATIONS).fetchall()) == nightly
