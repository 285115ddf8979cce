"""archive.schema's set-aside indexes: a first load and a reparse drop them, every finish makes
them again exactly as a fresh archive has them."""

from __future__ import annotations

import importlib

import pytest
from archive_factories import PROJECT_URL, project, response, seed_kpi
from test_archive_save import _every_row, _night_of_mixed_pages

import archive
from archive.bodies import compress as zstd_compress
from archive.schema import deferred_indexes
from kpi_archive import load

SAVE = importlib.import_module("archive.save")  # the module: ``archive.save`` is its function


def indexes(db):
    """Every index a name of its own (not a UNIQUE/PK autoindex), name -> SQL."""
    return dict(
        db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
    )


def _keep_all(conn):
    return []


@pytest.fixture
def fresh(tmp_path):
    """The indexes of a freshly migrated archive."""
    db = archive.open_db(tmp_path / "fresh.db")
    yield indexes(db)
    db.close()


def test_set_aside_indexes_are_the_non_unique_ones_the_writes_do_not_read(fresh):
    deferred = deferred_indexes()
    assert len(deferred) == 31
    assert deferred["idx_kpis_fiscal_year"] == fresh["idx_kpis_fiscal_year"]
    assert {"idx_pages_status", "idx_snapshots_fetched_at", "idx_kpi_versions_pid"} <= set(deferred)
    kept = {
        "idx_snapshots_url_sha256",  # UNIQUE: a constraint
        "idx__sqlite_migrations_migration_set_name",  # UNIQUE
        "idx_captures_url_fetched_at",
        "idx_captures_snapshot_id",
        "idx_kpi_versions_url_id",
        "idx_kpi_versions_previous_id",
        "idx_fetch_log_url",
        "idx_fetch_log_run_id",
        "idx_frontier_state_depth",
    }
    assert set(fresh) - set(deferred) == kept


def test_a_first_load_leaves_them_missing_until_its_finish(db, fresh):
    archive.save_many(db, _night_of_mixed_pages(), batch=4)
    assert set(fresh) - set(indexes(db)) == set(deferred_indexes())
    load.finish(db)
    after = indexes(db)
    assert {name: after.get(name) for name in fresh} == fresh


def test_after_the_finish_the_indexes_equal_those_of_a_load_without_the_set_aside(
    tmp_path, monkeypatch
):
    made = {}
    for aside in (True, False):
        if not aside:
            monkeypatch.setattr(SAVE, "set_aside_indexes", _keep_all)
        db = archive.open_db(tmp_path / f"aside-{aside}.db")
        archive.save_many(db, _night_of_mixed_pages(), batch=4)
        load.finish(db)
        made[aside] = indexes(db)
        db.close()
    assert "idx_pages_status" in made[False]
    assert made[True] == made[False]


def test_rows_saved_are_identical_with_and_without_the_set_aside(tmp_path, monkeypatch):
    saved, finished = {}, {}
    for aside in (True, False):
        if not aside:
            monkeypatch.setattr(SAVE, "set_aside_indexes", _keep_all)
        db = archive.open_db(tmp_path / f"aside-{aside}.db")
        outcomes = archive.save_many(db, _night_of_mixed_pages(), batch=4)
        saved[aside] = outcomes, _every_row(db)
        load.finish(db)
        finished[aside] = _every_row(db)
        db.close()
    assert [o.status for o in saved[True][0]][:6] == ["new"] * 6
    assert saved[True][1]["kpi_versions"] and saved[True][1]["kpis"]
    assert saved[True] == saved[False]
    assert finished[True] == finished[False]


def test_a_load_stopped_before_its_finish_gets_them_at_the_next_finish(tmp_path, fresh):
    path = tmp_path / "stopped.db"
    db = archive.open_db(path)
    archive.save_many(db, _night_of_mixed_pages()[:5], batch=4)
    db.close()  # no finish: stopped by a crash or Ctrl-C
    db = archive.open_db(path)
    assert "idx_kpis_fiscal_year" not in indexes(db)
    archive.save_many(db, _night_of_mixed_pages()[5:], batch=4)
    load.finish(db)
    after = indexes(db)
    assert {name: after.get(name) for name in fresh} == fresh
    db.close()


def test_a_load_into_a_non_empty_archive_drops_nothing(db):
    archive.save_many(db, _night_of_mixed_pages()[:3], batch=4)
    load.finish(db)
    before = indexes(db)
    archive.save_many(db, _night_of_mixed_pages()[3:], batch=4)
    assert indexes(db) == before


def test_a_first_batch_that_fails_keeps_every_index(db, fresh, monkeypatch):
    def compress(body):
        if body == b"<html>boom</html>":
            raise RuntimeError("zstd failed on this body")
        return zstd_compress(body)

    monkeypatch.setattr(SAVE, "compress", compress)
    boom = response(url=PROJECT_URL, body=b"<html>boom</html>")
    with pytest.raises(RuntimeError, match="zstd failed on this body"):
        archive.save_many(db, [(response(), seed_kpi()), (boom, project())], batch=2)
    assert db.table("pages").count == 0
    assert indexes(db) == fresh


def test_a_reparse_sets_them_aside_and_its_finish_makes_them_again(db, fresh):
    archive.save_many(db, _night_of_mixed_pages(), batch=4)
    load.finish(db)
    load.reparse(db)
    assert "idx_kpis_fiscal_year" not in indexes(db)
    load.finish(db)
    after = indexes(db)
    assert {name: after.get(name) for name in fresh} == fresh


def test_the_finish_restores_nothing_when_nothing_is_missing(db):
    archive.save_many(db, _night_of_mixed_pages()[:3], batch=4)
    assert archive.schema.restore_indexes(db) == sorted(deferred_indexes())
    assert archive.schema.restore_indexes(db) == []


def test_serving_a_load_stopped_before_its_finish_makes_them_again_first(tmp_path, fresh):
    path = tmp_path / "stopped.db"
    db = archive.open_db(path)
    archive.save_many(db, _night_of_mixed_pages()[:5], batch=4)
    db.close()
    assert archive.schema.restore_indexes_in(path) == sorted(deferred_indexes())
    assert archive.schema.restore_indexes_in(path) == []
    db = archive.open_db(path)
    assert {name: sql for name, sql in indexes(db).items() if name in fresh} == fresh
    db.close()


def test_an_archive_of_another_schema_version_is_left_to_its_migration(tmp_path):
    path = tmp_path / "old.db"
    db = archive.open_db(path)
    archive.save_many(db, _night_of_mixed_pages()[:5], batch=4)
    db.execute(f"PRAGMA user_version = {archive.SCHEMA_VERSION - 1}")
    db.close()
    assert archive.schema.restore_indexes_in(path) == []
