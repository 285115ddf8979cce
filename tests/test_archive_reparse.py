"""archive.reparse: rebuild typed tables and versions from stored snapshots, deterministically."""

from __future__ import annotations

import datetime as dt

import pytest
from archive_factories import (
    FIXTURES,
    JUNE,
    LATER_FIXTURES,
    MARCH,
    SEED_URL,
    SEPTEMBER,
    load_fixtures,
    response,
    seed_kpi,
)
from helpers import fts_in_step

import archive
from archive.search import sync_index
from kpi_archive import load
from kpi_archive.errors import ParseError

V1, V2, V3 = b"<html>v1</html>", b"<html>v2</html>", b"<html>v3</html>"


def parser(records):
    """A parse function over known bodies: a record, or a ParseError for anything else."""

    def parse(body, url, headers):
        if body not in records:
            raise ParseError("broken", url=url)
        return records[body]

    return parse


def dump(db, fts_index=True):
    """Every statement that recreates the database; optionally without FTS index internals."""
    shadow = ('_fts_data" VALUES', '_fts_idx" VALUES', '_fts_docsize" VALUES')
    lines = [line for line in db.conn.iterdump() if fts_index or not any(s in line for s in shadow)]
    # A reparse sets indexes aside and its finish makes them again, listed after the others.
    indexes = sorted(line for line in lines if line.startswith("CREATE INDEX"))
    return indexes + [line for line in lines if not line.startswith("CREATE INDEX")]


@pytest.fixture
def db(db):
    archive.save(db, response(body=V1, at=MARCH), seed_kpi())
    archive.save(db, response(body=V2, at=JUNE), seed_kpi(result_value=50.0))
    archive.save(db, response(body=V3, at=SEPTEMBER), ParseError("broken", url=SEED_URL))
    with db.atomic():
        sync_index(db.conn)  # the saved pages indexed, as the load's finish does
    return db


def test_reparse_with_the_same_parser_changes_nothing(db):
    parse = parser({V1: seed_kpi(), V2: seed_kpi(result_value=50.0)})
    before = dump(db, fts_index=False)
    counts = load.reparse(db, parse)
    assert counts == archive.ReparseCounts(captures=3, records=1, changed=0, errors=1)
    archive.schema.restore_indexes(db)  # as its finish does, with the search index
    with db.atomic():
        sync_index(db.conn)
    assert dump(db, fts_index=False) == before


def test_two_reparses_give_identical_databases(db):
    parse = parser({V1: seed_kpi(), V2: seed_kpi(result_value=60.0), V3: seed_kpi(unit="x")})
    load.reparse(db, parse)
    first = dump(db)
    load.reparse(db, parse)
    assert dump(db) == first


def test_a_fixed_parser_recovers_a_parse_error_and_rebuilds_versions(db):
    fixed = seed_kpi(result_value=50.0, unit="แห่ง")
    parse = parser({V1: seed_kpi(), V2: seed_kpi(result_value=50.0), V3: fixed})
    counts = load.reparse(db, parse)
    assert counts == archive.ReparseCounts(captures=3, records=1, changed=1, errors=0)
    page = db.table("pages").get(SEED_URL)
    assert (page["status"], page["last_error"], page["snapshot_id"]) == ("ok", None, 3)
    assert list(db.query("SELECT version_id, field, old, new FROM changes")) == [
        {"version_id": 2, "field": "result_value", "old": 100.0, "new": 50.0},
        {"version_id": 3, "field": "unit", "old": "ร้อยละ", "new": "แห่ง"},
    ]
    assert db.table("kpis").get(SEED_URL)["unit"] == "แห่ง"


def test_a_parser_that_crashes_on_one_page_stores_a_parse_error_and_keeps_the_record(db):
    known = parser({V1: seed_kpi(), V2: seed_kpi(result_value=50.0)})

    def crashing(body, url, headers):
        if body == V3:
            raise RuntimeError("bug in the parser")
        return known(body, url, headers)

    counts = load.reparse(db, crashing)
    assert counts == archive.ReparseCounts(captures=3, records=1, changed=0, errors=1)
    page = db.table("pages").get(SEED_URL)
    assert (page["status"], page["last_error"]) == (
        "parse_error",
        f"{SEED_URL}: parser crashed: RuntimeError('bug in the parser')",
    )
    assert db.table("kpis").get(SEED_URL)["result_value"] == 50.0


def test_reparse_keeps_snapshots_and_the_gone_state(db):
    for day in (1, 2, 3):
        archive.save(db, response(status=404, at=SEPTEMBER.replace(day=day + 10)), None)
    load.reparse(db, parser({V1: seed_kpi()}))
    page = db.table("pages").get(SEED_URL)
    assert (page["status"], page["gone_since"]) == ("gone", "2023-09-13T10:00:00.000000Z")
    assert (db.table("snapshots").count, db.table("captures").count) == (3, 3)
    assert db.table("kpis").get(SEED_URL)["snapshot_id"] == 1


def test_reparse_uses_the_real_parser_by_default(db):
    counts = load.reparse(db)
    assert counts == archive.ReparseCounts(captures=3, records=0, changed=1, errors=1)


def test_reparse_of_real_fixtures_is_deterministic_and_matches_save(tmp_path):
    db = archive.open_db(tmp_path / "fixtures.db")
    load_fixtures(db)
    load_fixtures(db, LATER_FIXTURES, JUNE)
    kpis = "SELECT * FROM kpis ORDER BY url"
    saved = list(db.query(kpis))
    counts = load.reparse(db)
    assert counts == archive.ReparseCounts(captures=8, records=5, changed=0, errors=1)
    assert list(db.query(kpis)) == saved
    first = dump(db)
    load.reparse(db)
    assert dump(db) == first
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_reparse_leaves_the_trigram_index_in_step_and_searchable(tmp_path):
    db = archive.open_db(tmp_path / "fixtures.db")
    load_fixtures(db)
    load.reparse(db)
    # The replay empties the index and marks every page; the finish, as after every load, fills it.
    assert db.execute("SELECT count(*) FROM reports_fts").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM search_pending").fetchone()[0] == len(FIXTURES)
    load.finish(db, jobs=1)
    assert fts_in_step(db)
    # both titles hold the term: the one with a fiscal year (2566) first
    assert [r["url"] for r in archive.search(db, "kpis", "ร้อยละ")] == [
        SEED_URL,
        "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=2400-1060",
    ]
    assert {r["url"] for r in archive.search(db, "reports", "จราจร")} == {SEED_URL}
    assert db.execute("SELECT count(*) FROM kpis_fts").fetchone()[0] == 3
    assert db.execute("SELECT count(*) FROM reports_fts").fetchone()[0] == 9


def test_reparse_keeps_the_settings_of_the_full_text_tables(db):
    db.execute("INSERT INTO reports_fts (reports_fts, rank) VALUES ('automerge', 2)")
    load.reparse(db, parser({V1: seed_kpi(), V2: seed_kpi(result_value=50.0)}))
    settings = db.execute("SELECT k, v FROM reports_fts_config WHERE k != 'version'").fetchall()
    assert settings == [("automerge", 2), ("hashsize", 8388608)]


def test_reparse_re_indexes_a_row_whose_text_changed(tmp_path):
    import parsers

    db = archive.open_db(tmp_path / "fixtures.db")
    for day, (name, url) in enumerate(FIXTURES.items()):  # fetched in turn, as a crawl does
        load_fixtures(db, {name: url}, MARCH + dt.timedelta(days=day))
    other = "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=2400-1060"

    def retitling(body, url, headers):
        record = parsers.parse_page(body, url, headers)
        return record.model_copy(update={"title": "ถนนสายใหม่"}) if url == SEED_URL else record

    load.reparse(db, retitling)
    load.finish(db, jobs=1)
    assert fts_in_step(db)
    assert [r["url"] for r in archive.search(db, "kpis", "ถนนสายใหม่")] == [SEED_URL]
    assert [r["url"] for r in archive.search(db, "kpis", "ร้อยละ")] == [other]


def test_an_interrupted_reparse_leaves_the_archive_as_it_was(db):
    before = dump(db)

    def interrupted(body, url, headers):
        if body == V2:
            raise KeyboardInterrupt
        return seed_kpi()

    with pytest.raises(KeyboardInterrupt):
        load.reparse(db, interrupted)
    assert dump(db) == before
    assert [r["url"] for r in archive.search(db, "kpis", "สะอาด")] == [SEED_URL]
