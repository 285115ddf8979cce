"""The derived tables refreshed for the pages saved since the last refresh, as a rebuild would."""

from __future__ import annotations

import sqlite3

import pytest
from archive_factories import JUNE, MARCH, PROJECT_URL, SEED_URL, project, response, seed_kpi
from helpers import get_fixture

import archive
from archive import series
from archive.schema import group_key
from archive.series import load_overrides, match_pages
from parsers import parse_page

GREEN_5038 = "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=5038-0742"
GREEN_5011 = "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=5011-0950"
GREEN_5046 = "https://dp.bangkok.go.th/mobile/mykpi.php?pid=5046-0712"
SATISFACTION_5046 = "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=5046-0920"
TAX_2565 = "http://dp1.bangkok.go.th/mobile/mykpi.php?pid=5035-0790"
CHILD_DP1 = "http://dp1.bangkok.go.th/mobile/mykpi.php?pid=5040-876"
CHILD_MONITOR = "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=5040-876"
NEW_5038 = "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=5038-0999"

FIXTURES = {
    GREEN_5038: "series/monitor_5038-0742.br.utf8.html",
    GREEN_5011: "series/monitor_5011-0950.br.utf8.html",
    GREEN_5046: "series/dp_5046-0712.br.utf8.html",
    SATISFACTION_5046: "series/monitor_5046-0920.br.utf8.html",
    TAX_2565: "series/dp1_5035-0790.next-year.br.utf8.html",
    CHILD_DP1: "series/dp1_5040-876.br.utf8.html",
    CHILD_MONITOR: "series/monitor_5040-876.compact.utf8.html",
}
# Every derived table and column, rowids included: new rows must get the ids a rebuild gives.
DERIVED = (
    "SELECT id, * FROM indicators ORDER BY id",
    "SELECT id, * FROM measures ORDER BY id",
    "SELECT rowid, * FROM observations ORDER BY rowid",
    "SELECT url, indicator_id, indicator_match FROM kpis ORDER BY url",
    "SELECT rowid, url, pid, as_of FROM quarters ORDER BY rowid",
    "SELECT rowid, url, pid, as_of FROM reports ORDER BY rowid",
)


def parsed(url):
    return parse_page(get_fixture(FIXTURES[url]), url)


def changed(url):
    """The page's body as night two serves it: longer, so it is not judged a truncated capture."""
    return get_fixture(FIXTURES[url]) + b"<!-- night two -->"


def night_one(db):
    for url in FIXTURES:
        archive.save(db, response(url, get_fixture(FIXTURES[url]), at=MARCH), parsed(url))
    archive.save(db, response(at=MARCH), seed_kpi())
    archive.save(db, response(PROJECT_URL, b"<html>project v1</html>", at=MARCH), project())
    assert archive.refresh_derived(db) is True  # the first refresh rebuilds everything


def night_two(db):
    """A title that moves a page to another indicator, a title an untitled mirror follows, a new
    result, a new page in an existing indicator, a gone page, a deleted row, a project's new
    progress."""
    moved = parsed(GREEN_5011).model_copy(
        update={"title": "1. ร้อยละของถนนที่ได้รับการซ่อมแซม", "name": "ร้อยละของถนนที่ได้รับการซ่อมแซม"}
    )
    renamed = parsed(CHILD_DP1).model_copy(
        update={"title": "2. จำนวนเด็กที่ได้รับวัคซีนครบ", "name": "จำนวนเด็กที่ได้รับวัคซีนครบ"}
    )
    better = parsed(TAX_2565).model_copy(update={"result_value": 99.5, "result_text": "99.5"})
    newcomer = parsed(GREEN_5038).model_copy(update={"url": NEW_5038, "pid": "5038-0999"})
    saves = [
        (response(GREEN_5011, changed(GREEN_5011), at=JUNE), moved),
        (response(CHILD_DP1, changed(CHILD_DP1), at=JUNE), renamed),
        (response(TAX_2565, changed(TAX_2565), at=JUNE), better),
        (response(NEW_5038, changed(GREEN_5038), at=JUNE), newcomer),
        (response(PROJECT_URL, b"<html>project v2</html>", at=JUNE), project(progress=90.0)),
    ]
    for fetched, record in saves:
        archive.save(db, fetched, record)
    archive.save(db, response(SEED_URL, b"", at=JUNE, status=404), None, gone_after=1)
    db.execute("DELETE FROM quarters WHERE url = ?", [SATISFACTION_5046])
    db.execute("DELETE FROM reports WHERE url = ?", [SATISFACTION_5046])
    db.execute("DELETE FROM kpis WHERE url = ?", [SATISFACTION_5046])


def derived(db):
    return [db.execute(sql).fetchall() for sql in DERIVED]


@pytest.fixture
def nights(tmp_path):
    """The archive after night two's saves, and a copy of it, neither refreshed since night one."""
    db = archive.open_db(tmp_path / "a.db")
    night_one(db)
    night_two(db)
    copy = sqlite3.connect(tmp_path / "b.db")
    db.conn.backup(copy)
    copy.close()
    other = archive.open_db(tmp_path / "b.db")
    yield db, other
    db.close()
    other.close()


def test_a_refresh_of_the_pending_pages_leaves_what_a_full_rebuild_leaves(nights):
    db, other = nights
    assert archive.refresh_derived(db, full=False) is False
    assert archive.refresh_derived(other, full=True) is True
    assert derived(db) == derived(other)


def test_a_moved_page_leaves_its_indicator_and_an_untitled_mirror_follows_its_titled_page(nights):
    db, _ = nights
    archive.refresh_derived(db, full=False)
    rows = db.execute(
        "SELECT k.url, k.indicator_match, i.name, i.pages FROM kpis k "
        "JOIN indicators i ON i.id = k.indicator_id WHERE k.url IN (?, ?, ?, ?) ORDER BY k.url",
        [GREEN_5011, CHILD_DP1, CHILD_MONITOR, NEW_5038],
    ).fetchall()
    assert rows == [
        (CHILD_DP1, "name", "จำนวนเด็กที่ได้รับวัคซีนครบ", 2),
        (GREEN_5011, "name", "ร้อยละของถนนที่ได้รับการซ่อมแซม", 1),
        (NEW_5038, "name", "พื้นที่สีเขียวที่เพิ่มขึ้น", 2),
        (CHILD_MONITOR, "pid", "จำนวนเด็กที่ได้รับวัคซีนครบ", 2),
    ]
    assert db.execute("SELECT count(*) FROM indicators WHERE agency_code = '5046'").fetchone() == (
        1,
    )


def test_a_refresh_empties_the_pending_pages(nights):
    db, _ = nights
    assert db.execute("SELECT count(*) FROM derived_pending").fetchone() == (7,)
    archive.refresh_derived(db)
    assert db.execute("SELECT count(*) FROM derived_pending").fetchone() == (0,)


def test_one_changed_page_of_many_is_refreshed_alone_and_a_changed_rule_rebuilds_all(tmp_path):
    db = archive.open_db(tmp_path / "kpi.db")
    night_one(db)
    better = parsed(TAX_2565).model_copy(update={"result_value": 99.5})
    archive.save(db, response(TAX_2565, changed(TAX_2565), at=JUNE), better)
    assert db.execute("SELECT url FROM derived_pending").fetchall() == [(TAX_2565,)]
    assert archive.refresh_derived(db) is False
    scoped = derived(db)
    db.execute("UPDATE derived_state SET value = 'older rules' WHERE name = 'rules'")
    assert archive.refresh_derived(db) is True
    assert derived(db) == scoped


def test_grouping_the_pages_again_writes_no_page_pending(tmp_path):
    db = archive.open_db(tmp_path / "kpi.db")
    night_one(db)
    db.execute("UPDATE kpis SET indicator_id = NULL, indicator_match = NULL")
    assert db.execute("SELECT count(*) FROM derived_pending").fetchone() == (0,)


def test_a_group_key_is_a_twenty_character_digest_of_the_matching_key():
    assert group_key("0411|ร้อยละความสำเร็จ|ร้อยละ") == "7193fd231764ccdceaa4"


def test_a_version_17_archive_drops_its_stored_keys_and_every_id_and_key_stays(tmp_path):
    path = tmp_path / "kpi.db"
    db = archive.open_db(path)
    night_one(db)
    later = "https://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2100"
    archive.save(
        db,
        response(later, at=JUNE),
        seed_kpi(url=later, pid="0411-2100", title="จำนวนช่องทางการสื่อสาร", fiscal_year=2567),
    )
    archive.refresh_derived(db)
    before = derived(db)
    # What schema version 15 held: each group's name and unit keys, and (in an archive made
    # before keys were digests) keys written as text.
    matches = match_pages(series._pages(db, scoped=False), load_overrides())
    for table in ("indicators", "measures"):
        db.execute(f"ALTER TABLE {table} ADD COLUMN name_key TEXT")
        db.execute(f"ALTER TABLE {table} ADD COLUMN unit_key TEXT")
    for url, m in matches.items():
        db.execute(
            "UPDATE indicators SET name_key = ?, unit_key = ? "
            "WHERE id = (SELECT indicator_id FROM kpis WHERE url = ?)",
            [m.name_key, m.unit_key, url],
        )
        db.execute(
            "UPDATE measures SET name_key = ?, unit_key = ? WHERE id = "
            "(SELECT measure_id FROM indicators i JOIN kpis k ON k.indicator_id = i.id "
            "WHERE k.url = ?)",
            [m.name_key, m.unit_key, url],
        )
    db.execute(
        "UPDATE indicators SET key = coalesce(agency_code, '') || '|' || name_key || '|' || "
        "unit_key WHERE id IN (SELECT min(id) FROM indicators UNION SELECT max(id) FROM indicators)"
    )
    db.execute("UPDATE measures SET key = name_key || '|' || unit_key")
    assert db.execute("SELECT count(*) FROM indicators WHERE key LIKE '%|%'").fetchone() == (2,)
    revisions = db.execute("SELECT * FROM revisions ORDER BY revision, indicator_id").fetchall()
    assert [row[:2] for row in revisions] == [("indicator disappeared", None)]
    db.execute("DROP VIEW revisions")  # a stand-in for version 17's slower SQL
    db.execute("CREATE VIEW revisions AS SELECT 'version 17' AS revision")
    db.execute("DELETE FROM _sqlite_migrations WHERE name LIKE 'm018%'")
    db.execute("PRAGMA user_version = 17")
    db.close()
    db = archive.open_db(path)
    assert {"name_key", "unit_key"} & set(db["indicators"].columns_dict) == set()
    assert {"name_key", "unit_key"} & set(db["measures"].columns_dict) == set()
    assert derived(db) == before
    assert db.execute("SELECT * FROM revisions ORDER BY revision, indicator_id").fetchall() == (
        revisions
    )
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    # a full refresh again (as after new parsers) keeps every id and key too
    db.execute("DELETE FROM derived_state")
    assert archive.refresh_derived(db) is True
    assert derived(db) == before
