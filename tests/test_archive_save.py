"""archive.save: one page per transaction, idempotent, every version kept."""

from __future__ import annotations

import importlib
import threading

import pytest
from archive_factories import (
    DEPARTMENT_URL,
    FIXTURES,
    JUNE,
    LATER_FIXTURES,
    MARCH,
    PROJECT_URL,
    SEED_URL,
    SEPTEMBER,
    department,
    fixture_responses,
    load_fixtures,
    project,
    response,
    revised_seed_kpi,
    seed_kpi,
)

import archive
from archive.bodies import compress as zstd_compress
from archive.save import decompress
from archive.search import trigram_match
from kpi_archive import config, load
from kpi_archive.errors import ParseError
from parsers.models import Quarter


def counts(db):
    return {t: db.table(t).count for t in ("pages", "snapshots", "captures", "kpi_versions")}


def test_first_save_writes_page_snapshot_kpi_and_children(db):
    outcome = archive.save(db, response(), seed_kpi())
    assert (outcome.status, outcome.new_snapshot, outcome.snapshot_id) == ("new", True, 1)
    page = db.table("pages").get(SEED_URL)
    assert {k: page[k] for k in ("host", "page_kind", "pid", "agency_code", "status")} == {
        "host": "dp.bangkok.go.th",
        "page_kind": "kpi",
        "pid": "0411-2029",
        "agency_code": "0411",
        "status": "ok",
    }
    assert page["first_seen"] == page["last_fetched"] == page["last_changed"]
    assert page["first_seen"] == "2023-03-31T10:00:00.000000Z"
    snapshot = db.table("snapshots").get(1)
    assert decompress(snapshot["body"]) == b"<html>seed v1</html>"
    assert (snapshot["encoding"], snapshot["etag"], snapshot["size"]) == ("utf-8", '"v1"', 20)
    kpi = db.table("kpis").get(SEED_URL)
    assert kpi["fiscal_year"] == 2566
    assert kpi["agency_code"] == "0411"
    assert kpi["on_target"] == 1
    assert kpi["as_of"] == "2023-03-31T10:00:00.000000Z"
    # Searchable from the load's finish on: the save only marks the page for it.
    assert db.execute("SELECT url FROM search_pending").fetchall() == [(SEED_URL,)]
    load.finish(db)
    folded = db.execute(
        "SELECT k.url FROM kpis_fts f JOIN kpis k ON k.rowid = f.rowid WHERE kpis_fts MATCH ?",
        [trigram_match("ปีงบประมาณ พ.ศ. 2566")],  # the year is printed ๒๕๖๖: the folded column
    ).fetchall()
    assert folded == [(SEED_URL,)]
    # The quarterly table lives in its own table only, not as a JSON copy in kpis (issue #12).
    assert {"quarters", "reports", "strategies", "projects"} & set(kpi) == set()
    assert list(db.query("SELECT quarter, result FROM quarters ORDER BY quarter")) == [
        {"quarter": 1, "result": 10.0},
        {"quarter": 2, "result": 30.0},
    ]
    rows = db.query("SELECT quarter, seq, date, date_fiscal_year, date_fiscal_quarter FROM reports")
    assert list(rows) == [
        {
            "quarter": 1,
            "seq": 1,
            "date": None,
            "date_fiscal_year": None,
            "date_fiscal_quarter": None,
        },
        {
            "quarter": 3,
            "seq": 1,
            "date": "2023-04-30",
            "date_fiscal_year": 2566,
            "date_fiscal_quarter": 3,
        },
    ]
    # A strategy line's id is a number read from its code and title: "5 ด้านที่ ๕", "5.4 ๕.๔".
    assert list(
        db.query(
            "SELECT ks.strategy_id, s.code, s.title FROM kpi_strategies ks "
            "JOIN strategies s ON s.id = ks.strategy_id ORDER BY ks.position"
        )
    ) == [
        {"strategy_id": 1643397095080736, "code": "5", "title": "ด้านที่ ๕"},
        {"strategy_id": 1527639248834631, "code": "5.4", "title": "๕.๔"},
    ]
    assert [r["project_pid"] for r in db.table("project_kpis").rows] == ["04110000-1234"]
    version = db.table("kpi_versions").get(1)
    assert (version["change_kind"], version["changed"], version["previous_id"]) == (
        "new",
        "[]",
        None,
    )


def test_quarters_and_reports_carry_their_pages_pid_and_as_of_from_the_save_on(db):
    archive.save(db, response(), seed_kpi())
    stamped = "SELECT DISTINCT pid, as_of FROM {} WHERE url = ?"
    for table in ("quarters", "reports"):
        assert db.execute(stamped.format(table), [SEED_URL]).fetchall() == [
            ("0411-2029", "2023-03-31T10:00:00.000000Z")
        ]


def test_reload_is_a_noop(db):
    archive.save(db, response(), seed_kpi())
    before, changes = counts(db), db.conn.total_changes
    outcome = archive.save(db, response(), seed_kpi())
    assert outcome.status == "unchanged"
    assert counts(db) == before
    assert db.conn.total_changes == changes


def test_identical_body_later_only_moves_last_fetched(db):
    archive.save(db, response(), seed_kpi())
    outcome = archive.save(db, response(at=JUNE), seed_kpi())
    assert outcome.status == "unchanged"
    assert counts(db) == {"pages": 1, "snapshots": 1, "captures": 1, "kpi_versions": 1}
    page = db.table("pages").get(SEED_URL)
    assert (page["last_fetched"], page["last_changed"]) == (
        "2023-06-30T10:00:00.000000Z",
        "2023-03-31T10:00:00.000000Z",
    )


def test_not_modified_response_only_moves_last_fetched(db):
    archive.save(db, response(), seed_kpi())
    outcome = archive.save(db, response(status=304, body=b"", at=JUNE), None)
    assert (outcome.status, outcome.snapshot_id) == ("unchanged", 1)
    assert counts(db) == {"pages": 1, "snapshots": 1, "captures": 1, "kpi_versions": 1}
    assert db.table("pages").get(SEED_URL)["last_fetched"] == "2023-06-30T10:00:00.000000Z"


def test_changed_page_adds_one_version_naming_exactly_the_changed_fields(db):
    archive.save(db, response(), seed_kpi())
    outcome = archive.save(
        db,
        response(body=b"<html>seed v2</html>", at=JUNE),
        seed_kpi(result_value=90.0, result_text="90", warnings=["a new oddity"]),
    )
    assert (outcome.status, outcome.changed) == ("changed", ("result_text", "result_value"))
    assert counts(db) == {"pages": 1, "snapshots": 2, "captures": 2, "kpi_versions": 2}
    assert list(db.query("SELECT fetched_at, field, old, new FROM changes")) == [
        {
            "fetched_at": "2023-06-30T10:00:00.000000Z",
            "field": "result_text",
            "old": "100",
            "new": "90",
        },
        {
            "fetched_at": "2023-06-30T10:00:00.000000Z",
            "field": "result_value",
            "old": 100.0,
            "new": 90.0,
        },
    ]
    kpi = db.table("kpis").get(SEED_URL)
    assert (kpi["result_value"], kpi["on_target"], kpi["warnings"]) == (90.0, 0, '["a new oddity"]')


def test_warnings_only_difference_is_not_a_version(db):
    archive.save(db, response(), seed_kpi())
    outcome = archive.save(
        db, response(body=b"<html>seed v1 </html>", at=JUNE), seed_kpi(warnings=["x"])
    )
    assert (outcome.status, outcome.new_snapshot) == ("unchanged", True)
    assert db.table("kpi_versions").count == 1
    assert db.table("kpis").get(SEED_URL)["warnings"] == '["x"]'


def test_parse_error_keeps_the_previous_record(db):
    archive.save(db, response(), seed_kpi())
    error = ParseError("title line not found", url=SEED_URL, missing="title")
    outcome = archive.save(db, response(body=b"<html>broken</html>", at=JUNE), error)
    assert outcome.status == "parse_error"
    page = db.table("pages").get(SEED_URL)
    assert page["status"] == "parse_error"
    assert page["last_error"] == f"{SEED_URL}: title line not found"
    assert page["snapshot_id"] == 2
    kpi = db.table("kpis").get(SEED_URL)
    assert (kpi["snapshot_id"], kpi["result_value"]) == (1, 100.0)
    assert db.table("kpi_versions").count == 1


def test_missing_page_becomes_gone_and_keeps_history(db):
    archive.save(db, response(), seed_kpi())
    statuses = []
    for day in range(1, config.GONE_AFTER + 1):
        miss = response(status=404, body=b"not found", at=JUNE.replace(day=day))
        statuses.append(archive.save(db, miss, None).status)
        archive.save(db, miss, None)  # the same response twice counts once
    assert statuses == ["missing"] * (config.GONE_AFTER - 1) + ["gone"]
    page = db.table("pages").get(SEED_URL)
    assert (page["status"], page["miss_count"], page["last_error"]) == ("gone", 3, "HTTP 404")
    assert page["gone_since"] == "2023-06-03T10:00:00.000000Z"
    # the disappearance is a version of its own, repeating the last record (issue 8)
    assert counts(db) == {"pages": 1, "snapshots": 1, "captures": 1, "kpi_versions": 2}
    assert db.table("kpis").count == 1


def test_gone_page_that_returns_is_ok_again(db):
    archive.save(db, response(), seed_kpi())
    for day in range(1, 4):
        archive.save(db, response(status=410, at=JUNE.replace(day=day)), None)
    outcome = archive.save(db, response(body=b"<html>back</html>", at=SEPTEMBER), seed_kpi())
    page = db.table("pages").get(SEED_URL)
    assert (outcome.status, page["status"], page["gone_since"], page["miss_count"]) == (
        "changed",
        "ok",
        None,
        0,
    )
    assert [r["change_kind"] for r in db.table("kpi_versions").rows] == ["new", "gone", "returned"]


def test_server_error_is_recorded_and_nothing_deleted(db):
    archive.save(db, response(), seed_kpi())
    outcome = archive.save(db, response(status=503, body=b"busy", at=JUNE), None)
    assert outcome.status == "failed"
    page = db.table("pages").get(SEED_URL)
    assert (page["status"], page["last_error"], page["snapshot_id"]) == ("ok", "HTTP 503", 1)


def test_failure_on_a_never_seen_page_is_status_failed(db):
    outcome = archive.save(db, response(status=500, body=b""), None)
    assert outcome.status == "failed"
    assert db.table("pages").get(SEED_URL)["status"] == "failed"
    assert db.table("snapshots").count == 0


def test_body_seen_before_reuses_its_snapshot(db):
    archive.save(db, response(), seed_kpi())
    archive.save(db, response(body=b"<html>B</html>", at=JUNE), seed_kpi(result_value=50.0))
    outcome = archive.save(db, response(at=SEPTEMBER), seed_kpi())
    assert (outcome.status, outcome.snapshot_id, outcome.new_snapshot) == ("changed", 1, False)
    assert counts(db) == {"pages": 1, "snapshots": 2, "captures": 3, "kpi_versions": 3}
    assert db.table("pages").get(SEED_URL)["snapshot_id"] == 1


def test_older_capture_is_history_not_current(db):
    archive.save(db, response(at=JUNE), seed_kpi())
    outcome = archive.save(db, response(body=b"<html>old</html>", at=MARCH), seed_kpi(unit="x"))
    assert (outcome.status, outcome.new_snapshot) == ("unchanged", True)
    assert db.table("pages").get(SEED_URL)["snapshot_id"] == 1
    assert db.table("kpis").get(SEED_URL)["unit"] == "ร้อยละ"


def test_unparsed_page_keeps_its_snapshot(db):
    url = "http://monitor.bangkok.go.th/reportprojectit662.php?selDEP=13"
    assert archive.save(db, response(url=url), None).status == "new"
    assert archive.save(db, response(url=url, body=b"v2", at=JUNE), None).status == "changed"
    assert db.table("pages").get(url)["page_kind"] is None
    assert db.table("snapshots").count == 2


def test_last_validators_come_from_the_current_snapshot(db):
    assert archive.last_validators(db, SEED_URL) == (None, None)
    headers = {"ETag": '"abc"', "Last-Modified": "Fri, 31 Mar 2023 10:00:00 GMT"}
    archive.save(db, response(headers=headers), seed_kpi())
    assert archive.last_validators(db, SEED_URL) == ('"abc"', "Fri, 31 Mar 2023 10:00:00 GMT")


def test_project_page_names_its_agency(db):
    archive.save(db, response(url=PROJECT_URL), project())
    row = db.table("projects").get(PROJECT_URL)
    assert (row["agency_code"], row["owner_unit"], row["progress"]) == (
        "5024",
        "สำนักงานเขตสาทร",
        75.0,
    )
    assert list(db.table("agencies").rows) == [
        {
            "code": "5024",
            "dep_code": "50240000",
            "name": "สำนักงานเขตสาทร",
            "source_url": PROJECT_URL,
        }
    ]


def test_department_page_writes_one_agency_report_per_entry(db):
    archive.save(db, response(url=DEPARTMENT_URL), department())
    rows = db.query(
        "SELECT seq, agency_code, fiscal_year, pid, on_target, kpi_url FROM agency_reports"
    )
    assert list(rows) == [
        {
            "seq": 1,
            "agency_code": "5035",
            "fiscal_year": 2564,
            "pid": "5035-0001",
            "on_target": 1,
            "kpi_url": "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=5035-0001",
        },
        {
            "seq": 2,
            "agency_code": "5035",
            "fiscal_year": 2564,
            "pid": None,
            "on_target": None,
            "kpi_url": None,
        },
    ]
    assert list(db.query("SELECT seq, quarter, result FROM agency_report_quarters")) == [
        {"seq": 1, "quarter": 1, "result": 10.0},
        {"seq": 1, "quarter": 2, "result": 34.0},
    ]
    assert db.table("department_pages").get(DEPARTMENT_URL)["entry_count"] == 2
    assert db.table("agencies").get("5035")["dep_code"] == "50350000"
    assert db.table("pages").get(DEPARTMENT_URL)["agency_code"] == "5035"


def test_a_quarter_printed_twice_keeps_its_later_row(db):
    quarters = [
        Quarter(quarter=1, result=10.0, result_text="10.00"),
        Quarter(quarter=1, result=12.0, result_text="12.00"),
        Quarter(quarter=2, result=30.0, result_text="30.00"),
    ]
    assert archive.save(db, response(), seed_kpi(quarters=quarters)).status == "new"
    assert list(db.query("SELECT quarter, result FROM quarters ORDER BY quarter")) == [
        {"quarter": 1, "result": 12.0},
        {"quarter": 2, "result": 30.0},
    ]


@pytest.mark.parametrize(
    ("unit", "target", "result", "expected"),
    [
        ("ร้อยละ", 100.0, 100.0, 1),
        ("ร้อยละ", 100.0, 96.62, 0),
        ("ลดลงร้อยละ", 5.0, 34.0, 1),
        ("ไม่เกิน 5 ครั้ง", 5.0, 7.0, 0),
        ("ระดับ", None, 5.0, None),
    ],
)
def test_on_target_rule(unit, target, result, expected):
    from archive.tables import on_target

    assert on_target(unit, target, result) == expected


def test_fixtures_load_into_the_expected_rows(db):
    assert [o.status for o in load_fixtures(db)] == ["new"] * 5 + ["parse_error"]
    assert {
        t: db.table(t).count
        for t in (
            "kpis",
            "projects",
            "agency_reports",
            "quarters",
            "reports",
            "kpi_strategies",
            "agencies",
        )
    } == {
        "kpis": 3,
        "projects": 1,
        "agency_reports": 1,
        "quarters": 8,
        "reports": 9,
        "kpi_strategies": 7,
        "agencies": 3,  # each KPI agency code has a row: kpis.agency_code is a foreign key
    }
    seed = db.table("kpis").get(SEED_URL)
    assert {
        k: seed[k]
        for k in (
            "pid",
            "fiscal_year",
            "unit",
            "target_value",
            "result_value",
            "kpi_type",
            "kpi_level",
            "agency_code",
            "on_target",
        )
    } == {
        "pid": "0411-2029",
        "fiscal_year": 2566,
        "unit": "ร้อยละ",
        "target_value": 100.0,
        "result_value": 100.0,
        "kpi_type": "ตัวชี้วัดเชิงยุทธศาสตร์",
        "kpi_level": "outcome",
        "agency_code": "0411",
        "on_target": 1,
    }
    assert list(
        db.query(
            "SELECT quarter, result, score_2_1, score_2_2 FROM quarters WHERE url = ?", [SEED_URL]
        )
    ) == [
        {"quarter": 1, "result": 10.0, "score_2_1": 100.0, "score_2_2": 100.0},
        {"quarter": 2, "result": 30.0, "score_2_1": 0.0, "score_2_2": 0.0},
        {"quarter": 3, "result": 70.0, "score_2_1": 100.0, "score_2_2": 100.0},
        {"quarter": 4, "result": 100.0, "score_2_1": 100.0, "score_2_2": 100.0},
    ]
    assert list(
        db.query(
            "SELECT quarter, seq, date, date_fiscal_quarter FROM reports WHERE url = ? AND date "
            "IS NOT NULL",
            [SEED_URL],
        )
    ) == [
        {"quarter": 2, "seq": 1, "date": "2023-02-28", "date_fiscal_quarter": 2},
        {"quarter": 2, "seq": 2, "date": "2023-03-31", "date_fiscal_quarter": 2},
        {"quarter": 3, "seq": 1, "date": "2023-04-30", "date_fiscal_quarter": 3},
        {"quarter": 3, "seq": 2, "date": "2023-05-31", "date_fiscal_quarter": 3},
        {"quarter": 3, "seq": 3, "date": "2023-06-30", "date_fiscal_quarter": 3},
    ]
    assert db.table("agencies").get("0411")["name"] == "สำนักงานประชาสัมพันธ์ สํานักปลัดกรุงเทพมหานคร"
    assert list(db.query("SELECT agency_code, fiscal_year, pid, kpi_url FROM agency_reports")) == [
        {
            "agency_code": "2300",
            "fiscal_year": 2564,
            "pid": "2300-0813",
            "kpi_url": "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=2300-0813",
        },
    ]


def test_fixture_reload_is_a_noop(db):
    load_fixtures(db)
    changes = db.conn.total_changes
    assert {o.status for o in load_fixtures(db)} == {"unchanged"}
    assert db.conn.total_changes == changes


def test_later_fixture_captures_version_only_real_changes(db):
    load_fixtures(db)
    seed, alt = load_fixtures(db, LATER_FIXTURES, JUNE)
    # the same page in other markup and encoding: a new snapshot, not a new version
    assert (seed.status, seed.new_snapshot) == ("unchanged", True)
    # the compact rendering shows no title, quarters or score: it keeps them, so nothing changed
    assert (alt.status, alt.changed, alt.capture_class) == ("unchanged", (), "complete")
    assert db.table("kpi_versions").count == 5


def test_snapshot_encoding_is_the_codec_the_parser_used_not_the_header_label(db):
    tis = {"Content-Type": "text/html; charset=tis-620"}
    archive.save(db, response(headers=tis), seed_kpi(encoding="cp874"))
    archive.save(db, response(url=PROJECT_URL, headers=tis), None)
    assert [r["encoding"] for r in db.query("SELECT encoding FROM snapshots ORDER BY id")] == [
        "cp874",
        None,
    ]


def _night_of_mixed_pages():
    """Every fixture, a garbled page, a 404, then later captures of the same URLs (another
    encoding, a compact rendering, unchanged bodies, a 304, a changed page, a cut one) in the same
    run, with their visible lines as a load reads them."""
    garbled = response(url="http://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-9999", body=b"<p>?")
    gone = response(url="http://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-0404", status=404)
    first = [*fixture_responses(FIXTURES), garbled, gone]
    later = [*fixture_responses(LATER_FIXTURES, JUNE), *fixture_responses(FIXTURES, JUNE)[1:3]]
    later.append(response(status=304, at=SEPTEMBER))
    items = []
    for result in [*first, *later]:
        reading = load.read_page(result, links=False)
        items.append((result, reading.record, reading.visible))
    changed = department(heading="ผลการปฏิบัติราชการประจำปี 2565")
    return [
        *items[:3],
        (response(url=DEPARTMENT_URL), department(), None),
        *items[3:],
        (response(url=DEPARTMENT_URL, body=b"<html>v2</html>", at=JUNE), changed, None),
        (response(url=SEED_URL, body=b"<html>seed v3</html>", at=SEPTEMBER), revised_seed_kpi()),
    ]


def _every_row(db):
    tables = [
        name
        for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE '%VIRTUAL%' "
            "AND name NOT LIKE 'sqlite_%' AND name != '_sqlite_migrations'"
        )
    ]
    return {t: sorted(db.execute(f"SELECT * FROM [{t}]").fetchall(), key=repr) for t in tables}


def test_save_many_packing_on_a_thread_writes_the_same_rows_and_ids_as_inline(tmp_path):
    outcomes, rows = {}, {}
    for threads in (0, 1):
        db = archive.open_db(tmp_path / f"threads-{threads}.db")
        outcomes[threads] = archive.save_many(
            db, _night_of_mixed_pages(), batch=4, pack_threads=threads
        )
        rows[threads] = _every_row(db)
        db.close()
    assert [o.status for o in outcomes[1]] == [
        *["new", "new", "new", "new", "new", "new", "parse_error", "parse_error", "missing"],
        *["unchanged", "unchanged", "unchanged", "unchanged", "unchanged", "changed", "held"],
    ]
    assert outcomes[1] == outcomes[0]
    assert rows[1]["kpi_versions"] and rows[1]["snapshots"]
    assert rows[1] == rows[0]


def test_save_many_leaves_no_packing_thread_behind(db):
    archive.save_many(db, _night_of_mixed_pages(), batch=4)
    assert [t.name for t in threading.enumerate() if t.name.startswith("archive-pack")] == []


def test_a_crash_on_the_packing_thread_fails_its_page_loudly_and_keeps_earlier_batches(
    db, monkeypatch
):
    def compress(body):
        if body == b"<html>boom</html>":
            raise RuntimeError("zstd failed on this body")
        return zstd_compress(body)

    monkeypatch.setattr(importlib.import_module("archive.save"), "compress", compress)
    boom = response(url=PROJECT_URL, body=b"<html>boom</html>")
    with pytest.raises(RuntimeError, match="zstd failed on this body"):
        archive.save_many(db, [(response(), seed_kpi()), (boom, project())], batch=1)
    assert [r[0] for r in db.execute("SELECT url FROM pages")] == [SEED_URL]
    assert [t.name for t in threading.enumerate() if t.name.startswith("archive-pack")] == []
