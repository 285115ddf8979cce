"""Agency names: what pages printed first, the bundled table for the rest."""

from __future__ import annotations

from pathlib import Path

import pytest
from archive_factories import response, seed_kpi
from sqlite_utils import Database

import archive
from archive import agencies
from kpi_archive.publish import demo

DISTRICT_URL = "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=5027-0001"
UNKNOWN_URL = "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=9876-0001"


def test_bundled_table_names_codes_from_the_real_pages() -> None:
    names = agencies.bundled_names()
    assert names["0900"][0] == "สำนักการศึกษา"
    assert names["5014"][0] == "สำนักงานเขตลาดกระบัง"
    assert names["1500"] == (
        "สำนักเทศกิจ",
        "http://monitor.bangkok.go.th/mobile/myproject.php?pid=15000000-2577",
    )
    assert names["0406"][0] == "สำนักงานปกครองและทะเบียน"
    assert names["5038"][0] == "สำนักงานเขตสวนหลวง"
    assert len(names) == 30


def test_district_codes_are_named_only_where_a_page_says_so() -> None:
    names = agencies.bundled_names()
    # 5046's only district is a meeting venue (ณ โรงแรมรอยัล ซิตี้. เขตบางพลัด), not its owner;
    # the official numbering (46 = คลองสามวา) is not the BMA's, so it names nothing either.
    assert "5046" not in names
    assert "5003" not in names
    assert names["5009"][0] == "สำนักงานเขตห้วยขวาง"  # official district number 17, not 09


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    demo.build_demo(path)
    return path


def test_demo_archive_names_the_agencies_its_pages_give_evidence_for(demo_db: Path) -> None:
    db = Database(demo_db)
    rows = db.execute(
        "SELECT k.code, a.name IS NOT NULL FROM (SELECT DISTINCT agency_code AS code FROM kpis "
        "WHERE agency_code IS NOT NULL) k LEFT JOIN agencies a ON a.code = k.code ORDER BY 1"
    ).fetchall()
    assert [code for code, named in rows if not named] == [
        "1100", "1900", "2000", "2200", "2400", "5003", "5006", "5032", "5035", "5042",
    ]  # fmt: skip
    assert (sum(named for _, named in rows), len(rows)) == (14, 24)  # 58 %, was 7 of 24


def test_every_code_seen_gets_a_row_and_a_bundled_name_where_none_was_printed(tmp_path) -> None:
    db = archive.open_db(tmp_path / "kpi.db")
    archive.save(db, response(), seed_kpi())
    for url, pid in ((DISTRICT_URL, "5027-0001"), (UNKNOWN_URL, "9876-0001")):
        archive.save(db, response(url=url, body=pid.encode()), seed_kpi(url=url, pid=pid))
    db.execute("UPDATE agencies SET name = 'ชื่อที่หน้าเว็บพิมพ์' WHERE code = '0411'")
    archive.refresh_agencies(db)
    assert [tuple(r) for r in db.execute("SELECT code, name FROM agencies ORDER BY code")] == [
        ("0411", "ชื่อที่หน้าเว็บพิมพ์"),
        ("5027", "สำนักงานเขตลาดพร้าว"),
        ("9876", None),
    ]
    assert agencies.fill_names(db) == 0  # idempotent


def test_a_district_office_naming_itself_on_its_own_pages_is_named_from_them(tmp_path) -> None:
    db = archive.open_db(tmp_path / "kpi.db")
    own = "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=5099-0001"
    two = "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=5098-0001"
    venue = "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=5097-0001"
    for url, pid, definition in (
        (own, "5099-0001", "ชุมชนในพื้นที่เขตบางบอนดำเนินการ (สํานักงานเขตบางบอน)"),
        (two, "5098-0001", "สำนักงานเขตบางแคและสำนักงานเขตหนองแขมร่วมกัน"),
        (venue, "5097-0001", "ประชุม ณ โรงแรมรอยัล ซิตี้. เขตบางพลัด"),
    ):
        archive.save(db, response(url=url, body=pid.encode()), seed_kpi(url=url, pid=pid,
                     definition=definition))  # fmt: skip
    archive.refresh_agencies(db)
    rows = db.execute(
        "SELECT code, name, source_url FROM agencies WHERE code LIKE '509%' ORDER BY code"
    ).fetchall()
    assert rows == [("5097", None, None), ("5098", None, None), ("5099", "สำนักงานเขตบางบอน", own)]
