"""Agency names: what pages printed first, the bundled table for the rest."""

from __future__ import annotations

from archive_factories import response, seed_kpi

import archive
from archive import agencies

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
    assert len(names) == 15


def test_every_code_seen_gets_a_row_and_a_bundled_name_where_none_was_printed(tmp_path) -> None:
    db = archive.open_db(tmp_path / "kpi.db")
    archive.save(db, response(), seed_kpi())
    for url, pid in ((DISTRICT_URL, "5027-0001"), (UNKNOWN_URL, "9876-0001")):
        archive.save(db, response(url=url, body=pid.encode()), seed_kpi(url=url, pid=pid))
    db.execute("INSERT INTO agencies (code, name) VALUES ('0411', 'ชื่อที่หน้าเว็บพิมพ์')")
    archive.refresh_search(db)
    assert [tuple(r) for r in db.execute("SELECT code, name FROM agencies ORDER BY code")] == [
        ("0411", "ชื่อที่หน้าเว็บพิมพ์"),
        ("5027", "สำนักงานเขตลาดพร้าว"),
        ("9876", None),
    ]
    assert agencies.fill_names(db) == 0  # idempotent
