"""archive.schema and open_db: idempotent shape, migrations, refusal to touch non-SQLite files."""

from __future__ import annotations

import json
import sqlite3

import pytest
import zstandard
from archive_factories import FEBRUARY_2023, JUNE, NOVEMBER_2022, response, seed_kpi
from helpers import fts_in_step

import archive
from archive import schema
from archive.schema import SCHEMA_VERSION, ensure_db_shape, folded_variant, trigram_insert
from archive.search import sync_index
from archive.series_views import VIEWS as SERIES_VIEWS
from archive.versions import CURRENT_DICT_ID, dictionary
from kpi_archive.errors import ArchiveError
from parsers import thai

# archive.pending's triggers: the only ones an archive has (search is indexed at the finish).
PENDING_TRIGGERS = [
    "kpi_versions_pending_ai",
    "kpis_pending_ai",
    "kpis_pending_au",
    "projects_pending_ai",
    "projects_pending_au",
]
TABLES = {
    "pages",
    "snapshots",
    "captures",
    "kpis",
    "quarters",
    "reports",
    "strategies",
    "kpi_strategies",
    "projects",
    "project_kpis",
    "agencies",
    "department_pages",
    "agency_reports",
    "agency_report_quarters",
    "kpi_versions",
    "kpis_fts",
    "reports_fts",
}


def test_open_db_creates_the_file_and_its_folder(tmp_path):
    db = archive.open_db(tmp_path / "data" / "kpi.db")
    assert set(db.table_names()) >= TABLES
    assert db.view_names() == ["changes"]
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 19
    assert db.journal_mode == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_new_archive_has_16_kib_pages_and_an_older_one_keeps_its_own(tmp_path):
    new = archive.open_db(tmp_path / "new.db")
    assert new.execute("PRAGMA page_size").fetchone()[0] == 16384
    old = sqlite3.connect(tmp_path / "old.db")
    old.execute("PRAGMA journal_mode = WAL")
    old.execute("CREATE TABLE notes (text TEXT)")
    old.close()
    reopened = archive.open_db(tmp_path / "old.db")
    assert reopened.execute("PRAGMA page_size").fetchone()[0] == 4096
    assert "pages" in reopened.table_names() and "notes" in reopened.table_names()


def test_ensure_db_shape_is_idempotent(tmp_path):
    db = archive.open_db(tmp_path / "kpi.db")
    schema = db.schema
    changes = db.conn.total_changes
    ensure_db_shape(db)
    ensure_db_shape(db)
    assert db.schema == schema
    assert db.conn.total_changes == changes


def test_crawler_tables_are_created_too(tmp_path):
    db = archive.open_db(tmp_path / "kpi.db")
    assert {"runs", "fetch_log"} <= set(db.table_names())


def test_columns_have_explicit_types_and_keys(tmp_path):
    db = archive.open_db(tmp_path / "kpi.db")
    kpis = db.table("kpis").columns_dict
    assert (kpis["fiscal_year"], kpis["target_value"], kpis["title"], kpis["truncated"]) == (
        int,
        float,
        str,
        int,
    )
    assert db.table("snapshots").columns_dict["body"] is bytes
    assert db.table("reports").pks == ["url", "position"]
    assert {(fk.column, fk.other_table) for fk in db.table("kpi_versions").foreign_keys} == {
        ("url", "pages"),
        ("snapshot_id", "snapshots"),
        ("previous_id", "kpi_versions"),
    }


def test_a_field_added_to_the_models_becomes_a_column(tmp_path):
    path = tmp_path / "kpi.db"
    archive.open_db(path).execute("ALTER TABLE kpis DROP COLUMN summary")
    assert "summary" in archive.open_db(path).table("kpis").columns_dict


def test_trigram_fts_tables_are_contentless_so_the_text_is_stored_once(tmp_path):
    db = archive.open_db(tmp_path / "kpi.db")
    # Datasette is pointed at them by fts_table in the plugin's metadata (test_archive_search).
    for table in ("kpis_fts", "reports_fts"):
        assert "trigram" in db.table(table).schema
        assert "content=''" in db.table(table).schema
        assert not db.table(f"{table}_content").exists()


def test_version_9_archive_drops_its_text_copies_and_stays_searchable(tmp_path):
    path = tmp_path / "v7.db"
    db = archive.open_db(path)
    archive.save(db, response(), seed_kpi())
    # what schema version 9 had: trigram tables with their own copy of the text (plus a
    # Thai-digit copy) and a folded search_index holding the text once more
    for table, columns in (
        ("kpis", "title, definition, calculation, data_sources, search_digits"),
        ("reports", "text, text_digits"),
    ):
        db.execute(f"DROP TABLE {table}_fts")
        db.execute(f"CREATE VIRTUAL TABLE {table}_fts USING fts5({columns}, tokenize='trigram')")
        db.execute(f"INSERT INTO {table}_fts (rowid, {columns.split(',')[0]}) "
                   f"SELECT rowid, {columns.split(',')[0]} FROM {table}")  # fmt: skip
    db.execute("CREATE VIRTUAL TABLE search_index USING fts5(folded, text UNINDEXED, "
               "tokenize='trigram')")  # fmt: skip
    db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm010_contentless_trigram_index'")
    db.execute("PRAGMA user_version = 9")
    db.close()
    db = archive.open_db(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    tables = set(db.table_names())
    assert {"search_index", "kpis_fts_content", "reports_fts_content"} & tables == set()
    assert [r["pid"] for r in archive.search(db, "kpis", "2566")] == ["0411-2029"]
    assert [r["quarter"] for r in archive.search(db, "reports", "ฝุ่น")] == [3]


def test_not_an_sqlite_file_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database\n")
    with pytest.raises(ArchiveError) as caught:
        archive.open_db(path)
    assert str(path) in str(caught.value)
    assert caught.value.path == str(path)
    assert path.read_bytes() == b"these are my notes, not a database\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(ArchiveError, match="directory"):
        archive.open_db(tmp_path)


def test_an_empty_file_becomes_an_archive(tmp_path):
    path = tmp_path / "empty.db"
    path.touch()
    archive.open_db(path)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_version_1_archive_loses_its_per_row_fts_triggers(tmp_path):
    path = tmp_path / "v1.db"
    db = archive.open_db(path)
    # what schema version 1 had: sqlite-utils' triggers keeping kpis_fts in step row by row
    db.table("kpis_fts").drop()
    db.table("kpis").enable_fts(
        ["title", "definition", "calculation", "data_sources", "search_digits"],
        tokenize="trigram",
        create_triggers=True,
        replace=True,
    )
    # ... and no migrations table: version 1 counted its migrations in user_version alone
    db.table("_sqlite_migrations").drop()
    db.execute("PRAGMA user_version = 1")
    assert {"kpis_ai", "kpis_ad", "kpis_au"} <= set(_triggers(db))
    db.close()
    db = archive.open_db(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert _triggers(db) == PENDING_TRIGGERS


def test_version_4_archive_moves_its_search_helpers_out_of_its_tables(tmp_path):
    path = tmp_path / "v4.db"
    db = archive.open_db(path)
    archive.save(db, response(), seed_kpi())
    # what schema version 4 had: helper columns in kpis/reports, no foreign key to agencies
    db.table("kpis").transform(drop_foreign_keys=["agency_code"])
    for table, column in (("kpis", "search_digits"), ("kpis", "words"), ("reports", "words")):
        db.table(table).add_column(column, str)
    db.execute("UPDATE kpis SET words = 'คำ ที่ ตัด ไว้ แล้ว'")
    db.execute("UPDATE reports SET words = 'รายงาน'")
    db.execute("DELETE FROM agencies")
    db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm005_search_helpers_out_of_tables'")
    db.execute("PRAGMA user_version = 4")
    db.close()
    db = archive.open_db(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert {"words", "search_digits"} & set(db.table("kpis").columns_dict) == set()
    assert [(fk.column, fk.other_table, fk.other_column) for fk in db.table("kpis").foreign_keys
            if fk.column == "agency_code"] == [("agency_code", "agencies", "code")]  # fmt: skip
    assert db.execute("SELECT code FROM agencies").fetchall() == [("0411",)]
    assert [r["pid"] for r in archive.search(db, "kpis", "2566")] == ["0411-2029"]


def test_version_10_archive_drops_its_word_search_and_keeps_every_capture(tmp_path):
    path = tmp_path / "v10.db"
    db = archive.open_db(path)
    archive.save(db, response(), seed_kpi())
    long = "แผน หนึ่ง สอง สาม สี่ ห้า หก เจ็ด ปี ๒๕๖๖ แปด"
    archive.save(db, response(body=b"v2", at=JUNE), seed_kpi(title="ชื่อใหม่", definition=long))
    with db.atomic():
        sync_index(db.conn)  # the saved pages indexed, as the load's finish does
    # what schema version 10 had: the trigram index's folded column held each changed text whole
    kpi = db.execute("SELECT rowid, title, definition, calculation, data_sources, summary "
                     "FROM kpis").fetchone()  # fmt: skip
    whole = [f for t in kpi[1:] if t and (f := thai.fold(t)) not in (t, t.lower())]
    db.execute(trigram_insert("kpis", "delete"), [*kpi, folded_variant(*kpi[1:])])
    db.execute(trigram_insert("kpis"), [*kpi, "\n".join(whole)])
    # ... and newmm words of every kpis and reports row in their own FTS5
    # tables, and triggers dropping a row's words with the row
    for table in ("kpis", "reports"):
        db.executescript(
            f"""
            CREATE VIRTUAL TABLE [{table}_words_fts]
              USING fts5(words, tokenize="unicode61 categories 'L* N* Co M*'");
            INSERT INTO [{table}_words_fts] (rowid, words) SELECT rowid, 'คำ ที่ ตัด' FROM [{table}];
            CREATE TRIGGER [{table}_words_ad] AFTER DELETE ON [{table}] BEGIN
              DELETE FROM [{table}_words_fts] WHERE rowid = old.rowid;
            END;
            """
        )
    db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm012_slimmer_search'")
    db.execute("PRAGMA user_version = 11")
    kept = {t: db.execute(f"SELECT * FROM [{t}] ORDER BY rowid").fetchall() for t in CAPTURED}
    db.close()
    db = archive.open_db(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 19
    assert [n for n in db.table_names() if "words" in n] == []
    assert _triggers(db) == PENDING_TRIGGERS
    assert {
        t: db.execute(f"SELECT * FROM [{t}] ORDER BY rowid").fetchall() for t in CAPTURED
    } == kept
    assert len(kept["captures"]) == 2
    assert [r["pid"] for r in archive.search(db, "kpis", "ชื่อใหม่")] == ["0411-2029"]
    assert [r["pid"] for r in archive.search(db, "kpis", "หก เจ็ด ปี 2566")] == ["0411-2029"]
    assert fts_in_step(db)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# What a capture is: raw evidence and what was read off it; a migration never loses any of it.
CAPTURED = ("pages", "snapshots", "captures", "kpis", "reports", "quarters", "kpi_versions")


def _triggers(db):
    return sorted(r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"))


def test_version_6_archive_gains_the_index_its_version_deletes_need(tmp_path):
    path = tmp_path / "v6.db"
    db = archive.open_db(path)
    db.execute("DROP INDEX idx_kpi_versions_previous_id")
    db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm007_index_versions_previous_id'")
    db.execute("PRAGMA user_version = 6")
    db.close()
    db = archive.open_db(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    plan = db.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM kpi_versions WHERE previous_id = 1"
    ).fetchall()
    assert [row[-1] for row in plan] == [
        "SEARCH kpi_versions USING COVERING INDEX idx_kpi_versions_previous_id (previous_id=?)"
    ]


def test_version_7_archive_compresses_its_records_and_drops_the_json_copies(tmp_path):
    path = tmp_path / "v7.db"
    db = archive.open_db(path)
    archive.save(db, response(), seed_kpi())
    archive.refresh_derived(db)
    (record,) = db.execute("SELECT kpi_record(record) FROM kpi_versions").fetchone()
    # what schema version 7 wrote: the record as JSON text, the child lists copied into kpis
    db.execute("UPDATE kpi_versions SET record = kpi_record(record)")
    for column in ("quarters", "reports", "strategies", "projects"):
        db.execute(f"ALTER TABLE kpis ADD COLUMN [{column}] TEXT")
        db.execute(f"UPDATE kpis SET [{column}] = '[]'")
    for column in ("quarters", "reports"):
        db.execute(f"ALTER TABLE projects ADD COLUMN [{column}] TEXT")
    links = db.execute("SELECT url, position, strategy_id FROM kpi_strategies").fetchall()
    db.execute("DROP TABLE kpi_strategies")
    db.execute("DROP TABLE strategies")
    db["strategies"].create(
        {"id": str, "code": str, "title": str, "level": str, "text": str}, pk="id"
    )
    db["strategies"].insert_all(
        {"id": f"{code} {title}", "code": code, "title": title}
        for code, title in (("5", "ด้านที่ ๕"), ("5.4", "๕.๔"))
    )
    db["kpi_strategies"].create(
        {"url": str, "position": int, "strategy_id": str},
        pk=("url", "position"),
        foreign_keys=[("url", "pages", "url"), ("strategy_id", "strategies", "id")],
    )
    db["kpi_strategies"].insert_all(
        {"url": url, "position": position, "strategy_id": text}
        for (url, position, _), text in zip(links, ("5 ด้านที่ ๕", "5.4 ๕.๔"), strict=True)
    )
    db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm008_compact_versions_and_tables'")
    db.execute("PRAGMA user_version = 7")
    observations = db.execute("SELECT count(*) FROM observations").fetchone()[0]
    db.close()
    db = archive.open_db(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("SELECT typeof(record), kpi_record(record) FROM kpi_versions").fetchall() == [
        ("blob", record)
    ]
    assert json.loads(record)["pid"] == "0411-2029"
    assert {"quarters", "reports", "strategies", "projects"} & set(db["kpis"].columns_dict) == set()
    assert {"quarters", "reports"} & set(db["projects"].columns_dict) == set()
    # DROP COLUMN kept the rowids the trigram index is keyed by
    assert [r["pid"] for r in archive.search(db, "kpis", "2566")] == ["0411-2029"]
    assert db.execute("SELECT count(*) FROM observations").fetchone()[0] == observations == 6
    assert db.execute(
        "SELECT ks.position, ks.strategy_id, s.code FROM kpi_strategies ks "
        "JOIN strategies s ON s.id = ks.strategy_id ORDER BY ks.position"
    ).fetchall() == [(0, 1643397095080736, "5"), (1, 1527639248834631, "5.4")]
    assert db["kpi_strategies"].columns_dict["strategy_id"] is int
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []


def test_version_18_archive_gets_its_child_rows_stamped_once(tmp_path):
    path = tmp_path / "v18.db"
    db = archive.open_db(path)
    archive.save(db, response(), seed_kpi())
    for table in ("quarters", "reports"):  # as a refresh of schema 18 left them before its stamp
        db.execute(f"UPDATE {table} SET pid = NULL, as_of = NULL")
    db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm019_child_rows_stamped_at_save'")
    db.execute("PRAGMA user_version = 18")
    db.close()
    db = archive.open_db(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    for table in ("quarters", "reports"):
        assert db.execute(f"SELECT DISTINCT pid, as_of FROM {table}").fetchall() == [
            ("0411-2029", "2023-03-31T10:00:00.000000Z")
        ]


def test_version_8_archive_gains_the_indexes_its_table_pages_sort_and_facet_on(tmp_path):
    path = tmp_path / "v7.db"
    db = archive.open_db(path)
    archive.save(db, response(), seed_kpi())
    for index in ("pages_last_fetched", "pages_page_kind", "pages_host", "quarters_quarter",
                  "reports_quarter", "agency_reports_unit",
                  "kpis_agency_code_fiscal_year_as_of"):  # fmt: skip
        db.execute(f"DROP INDEX idx_{index}")
    db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm009_serving_indexes'")
    db.execute("PRAGMA user_version = 8")
    db.close()
    db = archive.open_db(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("SELECT count(*) FROM quarters").fetchone()[0] == 2  # nothing lost
    plan = db.execute(
        "EXPLAIN QUERY PLAN SELECT url FROM pages ORDER BY last_fetched DESC LIMIT 101"
    ).fetchall()
    assert [row[-1] for row in plan] == ["SCAN pages USING INDEX idx_pages_last_fetched"]
    plan = db.execute(
        "EXPLAIN QUERY PLAN SELECT quarter, count(*) FROM reports GROUP BY quarter"
    ).fetchall()
    assert [row[-1] for row in plan] == ["SCAN reports USING COVERING INDEX idx_reports_quarter"]
    plan = db.execute(
        "EXPLAIN QUERY PLAN SELECT min(as_of) FROM kpis"
        " WHERE agency_code = '0411' AND fiscal_year > 2565"
    ).fetchall()
    assert [row[-1] for row in plan] == [
        "SEARCH kpis USING COVERING INDEX idx_kpis_agency_code_fiscal_year_as_of"
        " (agency_code=? AND fiscal_year>?)"
    ]


def test_analyze_leaves_the_planner_statistics_of_every_index(tmp_path):
    db = archive.open_db(tmp_path / "a.db")
    archive.save(db, response(), seed_kpi())
    schema.analyze(db)
    stats = dict(db.execute("SELECT idx, stat FROM sqlite_stat1 WHERE tbl = 'quarters'").fetchall())
    assert stats["idx_quarters_quarter"] == "2 1"


def _dictless(db):
    db.conn.create_function(
        "dictless", 1, lambda text: zstandard.ZstdCompressor(level=3).compress(text.encode())
    )
    db.execute("UPDATE kpi_versions SET record = dictless(kpi_record(record))")
    db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm011_records_dictionary'")
    db.execute("PRAGMA user_version = 10")


def _dict_ids(db):
    rows = db.execute("SELECT record FROM kpi_versions ORDER BY id").fetchall()
    return [zstandard.get_frame_parameters(record).dict_id for (record,) in rows]


def test_version_10_archive_recompresses_its_records_with_the_dictionary(tmp_path):
    path = tmp_path / "v10.db"
    db = archive.open_db(path)
    archive.save(db, response(), seed_kpi())
    archive.save(db, response(body=b"<html>v2</html>", at="2023-06-01T00:00:00Z"),
                 seed_kpi(result_text="45"))  # fmt: skip
    before = db.execute("SELECT id, kpi_record(record) FROM kpi_versions ORDER BY id").fetchall()
    _dictless(db)
    assert _dict_ids(db) == [0, 0]
    db.close()
    db = archive.open_db(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert _dict_ids(db) == [20261203, 20261203]
    after = db.execute("SELECT id, kpi_record(record) FROM kpi_versions ORDER BY id").fetchall()
    assert after == before


def test_an_interrupted_recompression_leaves_every_record_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "v10.db"
    db = archive.open_db(path)
    archive.save(db, response(), seed_kpi())
    archive.save(db, response(body=b"<html>v2</html>", at="2023-06-01T00:00:00Z"),
                 seed_kpi(result_text="45"))  # fmt: skip
    _dictless(db)
    calls = []

    def interrupted(stored):
        calls.append(stored)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return schema.compress_json(archive.versions.record_json(stored) or "null")

    monkeypatch.setattr(schema, "RECOMPRESS_BATCH", 1)  # the first row is written before the stop
    monkeypatch.setattr(schema, "recompress", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ensure_db_shape(db)
    assert _dict_ids(db) == [0, 0]
    monkeypatch.undo()
    ensure_db_shape(db)
    assert _dict_ids(db) == [20261203, 20261203]
    migrated = "SELECT count(*) FROM _sqlite_migrations WHERE name LIKE 'm011%'"
    assert db.execute(migrated).fetchone() == (1,)


def test_version_14_archive_keeps_every_observation_without_its_url_and_repacks_records(tmp_path):
    path = tmp_path / "v14.db"
    db = archive.open_db(path)
    archive.save(db, response(at=NOVEMBER_2022), seed_kpi())
    archive.save(db, response(body=b"v2", at=FEBRUARY_2023), seed_kpi(target_value=80.0))
    archive.refresh_derived(db)
    records = db.execute("SELECT id, kpi_record(record) FROM kpi_versions ORDER BY id").fetchall()
    # what schema version 14 had: observations repeating the page's url (indexed), the
    # revisions view reading it from there, and records compressed at level 3
    columns = "version_id, pid, indicator_id, agency_code, fiscal_year, quarter, measure, value, " \
              "value_text, as_of"  # fmt: skip
    old_revisions = SERIES_VIEWS["revisions"].replace("SELECT v.url", "SELECT o.url")
    db.executescript(
        f"""
        DROP VIEW revisions;
        CREATE TABLE v14 (version_id INTEGER NOT NULL REFERENCES kpi_versions(id)
          ON DELETE CASCADE, url TEXT NOT NULL REFERENCES pages(url), pid TEXT,
          indicator_id INTEGER REFERENCES indicators(id), agency_code TEXT, fiscal_year INTEGER,
          quarter INTEGER, measure TEXT NOT NULL, value FLOAT, value_text TEXT,
          as_of TEXT NOT NULL);
        INSERT INTO v14 (rowid, url, {columns}) SELECT o.rowid, v.url, o.*
          FROM observations o JOIN kpi_versions v ON v.id = o.version_id;
        DROP TABLE observations;
        ALTER TABLE v14 RENAME TO observations;
        CREATE INDEX idx_observations_url_measure ON observations (url, measure);
        CREATE INDEX idx_observations_version_id ON observations (version_id);
        CREATE VIEW revisions AS {old_revisions};
        """
    )
    level3 = zstandard.ZstdCompressor(level=3, dict_data=dictionary(CURRENT_DICT_ID))
    with db.conn:
        db.conn.executemany(
            "UPDATE kpi_versions SET record = ? WHERE id = ?",
            [(level3.compress(text.encode()), vid) for vid, text in records],
        )
    sizes = db.execute("SELECT sum(length(record)) FROM kpi_versions").fetchone()[0]
    observations = db.execute(
        f"SELECT rowid, {columns} FROM observations ORDER BY rowid"
    ).fetchall()
    revisions = db.execute("SELECT * FROM revisions").fetchall()
    db.execute("DELETE FROM _sqlite_migrations WHERE name LIKE 'm015%'")
    db.execute("PRAGMA user_version = 14")
    db.close()
    db = archive.open_db(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert "url" not in db["observations"].columns_dict
    assert [i.name for i in db["observations"].indexes] == [
        "idx_observations_indicator_id_fiscal_year",
        "idx_observations_version_id_measure_quarter",
    ]
    assert db.execute("SELECT rowid, * FROM observations ORDER BY rowid").fetchall() == observations
    assert len(observations) == 12
    assert db.execute("SELECT * FROM revisions").fetchall() == revisions
    assert [r[:2] for r in revisions] == [
        ("target changed after Q1", "https://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2029")
    ]
    assert (
        db.execute("SELECT id, kpi_record(record) FROM kpi_versions ORDER BY id").fetchall()
        == records
    )
    assert db.execute("SELECT sum(length(record)) FROM kpi_versions").fetchone()[0] < sizes
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # a later load adds the rows of a new version, found from its page's versions
    archive.save(db, response(body=b"v3", at=JUNE), seed_kpi(target_value=90.0))
    archive.refresh_derived(db)
    assert db.execute(
        "SELECT version_id, value FROM observations WHERE measure = 'target' ORDER BY rowid"
    ).fetchall() == [(1, 100.0), (2, 80.0), (3, 90.0)]


def test_version_15_archive_rebuilds_its_trigram_index_without_positions(tmp_path):
    path = tmp_path / "v14.db"
    db = archive.open_db(path)
    archive.save(db, response(), seed_kpi())
    archive.save(db, response(body=b"v2", at=JUNE), seed_kpi(title="ผู้ดำารงตำาแหน่ง"))
    # what schema version 14 had: trigram indexes with positions (FTS5's default detail=full)
    for table in schema.TRIGRAM_FTS:
        db.execute(f"DROP TABLE [{table}_fts]")
        columns = ", ".join(schema.TRIGRAM_FTS[table])
        db.execute(
            f"CREATE VIRTUAL TABLE [{table}_fts] USING fts5({columns}, content='', "
            "tokenize='trigram')"
        )
        schema.index_trigram(db.conn, table)
    db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm016_trigram_without_positions'")
    db.execute("PRAGMA user_version = 15")
    phrase = "SELECT count(*) FROM reports_fts WHERE reports_fts MATCH '\"ฝุ่น\"'"
    assert db.execute(phrase).fetchone()[0] == 1
    kept = {t: db.execute(f"SELECT * FROM [{t}] ORDER BY rowid").fetchall() for t in CAPTURED}
    db.conn.commit()
    db.close()
    db = archive.open_db(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 19
    ddl = db.execute("SELECT sql FROM sqlite_master WHERE name = 'reports_fts'").fetchone()[0]
    assert ddl.endswith("USING fts5([text], [folded], content='', tokenize='trigram', detail=none)")
    with pytest.raises(sqlite3.OperationalError, match="phrase queries are not supported"):
        db.execute(phrase)
    assert {
        t: db.execute(f"SELECT * FROM [{t}] ORDER BY rowid").fetchall() for t in CAPTURED
    } == kept
    assert len(kept["captures"]) == 2
    assert [r["pid"] for r in archive.search(db, "kpis", "ดำรงตำแหน่ง")] == ["0411-2029"]
    assert [r["quarter"] for r in archive.search(db, "reports", "ฝุ่น")] == [3]
    assert fts_in_step(db)


def test_version_16_archive_gains_an_empty_search_queue_and_keeps_its_index(tmp_path):
    path = tmp_path / "v14.db"
    db = archive.open_db(path)
    archive.save(db, response(), seed_kpi())
    with db.atomic():
        sync_index(db.conn)
    # what schema version 14 had: no queue (every save_many batch indexed its own pages)
    db.execute("DROP TABLE search_pending")
    db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm017_search_pending'")
    db.execute("PRAGMA user_version = 16")
    kept = {t: db.execute(f"SELECT * FROM [{t}] ORDER BY rowid").fetchall() for t in CAPTURED}
    db.close()
    db = archive.open_db(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("SELECT count(*) FROM search_pending").fetchone() == (0,)
    assert {
        t: db.execute(f"SELECT * FROM [{t}] ORDER BY rowid").fetchall() for t in CAPTURED
    } == kept
    assert [r["pid"] for r in archive.search(db, "kpis", "2566")] == ["0411-2029"]
    assert fts_in_step(db)
