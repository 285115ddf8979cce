"""archive.admit's kpi_versions.sources: only the fields from another capture, read back whole."""

from __future__ import annotations

import json
from typing import Any

import pytest
from archive_factories import response, seed_kpi

import archive
from archive import schema
from archive.admit import _last_version
from archive.changes import full_sources
from archive.schema import SCHEMA_VERSION, ensure_db_shape
from kpi_archive.publish.plugin.metadata import template

JUNE = "2023-06-01T00:00:00Z"
JULY = "2023-07-01T00:00:00Z"
# What a compact rendering shows of the seed page: no title, quarterly table, score or projects.
COMPACT: dict[str, Any] = {
    "rendering": "compact",
    "title": None,
    "name": None,
    "fiscal_year": None,
    "fiscal_year_source": None,
    "quarters": [],
    "audit_score": None,
    "audit_score_text": None,
    "strategies": [],
    "projects": [],
}
# A field a short rendering shows with the value it had (pid, reports) keeps its capture too.
KEPT = {
    "pid": 1,
    "title": 1,
    "name": 1,
    "fiscal_year": 1,
    "fiscal_year_source": 1,
    "audit_score": 1,
    "audit_score_text": 1,
    "quarters": 1,
    "reports": 1,
    "summary": 1,
    "definition": 1,
    "calculation": 1,
    "data_sources": 1,
    "data_type": 1,
    "strategies": 1,
    "projects": 1,
    "page_kind": 1,
}


def stored(db: Any) -> list[tuple[int, str, Any]]:
    rows = db.execute("SELECT id, change_kind, sources FROM kpi_versions ORDER BY id").fetchall()
    return [(i, kind, json.loads(text) if text else None) for i, kind, text in rows]


def history(db: Any) -> list[dict[str, Any]]:
    """Every field's capture per version, as the version_history canned query gives it."""
    sql = template()["databases"]["archive"]["queries"]["version_history"]["sql"]
    rows = db.execute(f"SELECT sources FROM ({sql}) ORDER BY id", {"pid": "0411-2029"})
    return [json.loads(text) for (text,) in rows.fetchall()]


def with_compact_june(db: Any) -> None:
    archive.save(db, response(), seed_kpi())
    compact = seed_kpi(**COMPACT, result_text="45", result_value=45.0)
    archive.save(db, response(body=b"<html>compact</html>", at=JUNE), compact)


@pytest.fixture
def db(tmp_path: Any) -> Any:
    return archive.open_db(tmp_path / "a.db")


def test_a_version_read_whole_from_its_own_capture_stores_no_sources(db):
    archive.save(db, response(), seed_kpi())
    archive.save(db, response(body=b"<html>v2</html>", at=JUNE), seed_kpi(result_text="45"))
    assert stored(db) == [(1, "new", None), (2, "changed", None)]


def test_a_compact_version_names_only_the_fields_it_kept_from_an_earlier_capture(db):
    with_compact_june(db)
    assert stored(db) == [(1, "new", None), (2, "changed", KEPT)]


def test_every_field_still_says_which_capture_it_comes_from(db):
    with_compact_june(db)
    version = _last_version(db.conn, seed_kpi().url)
    assert version is not None
    assert {k: v for k, v in version["sources"].items() if v == 1} == KEPT
    assert {k for k, v in version["sources"].items() if v == 2} == (
        set(version["record"]) - set(KEPT)
    )


def test_a_second_compact_capture_keeps_the_first_capture_of_the_kept_fields(db):
    with_compact_june(db)
    again = seed_kpi(**COMPACT, result_text="50", result_value=50.0)
    archive.save(db, response(body=b"<html>compact 2</html>", at=JULY), again)
    assert stored(db)[-1] == (3, "changed", KEPT)


def test_a_gone_version_names_every_fields_capture(db):
    with_compact_june(db)
    for day in ("2023-08-01T00:00:00Z", "2023-08-02T00:00:00Z", "2023-08-03T00:00:00Z"):
        archive.save(db, response(status=404, at=day), None, gone_after=3)
    (_, kind, sources) = stored(db)[-1]
    assert kind == "gone"
    assert sources == history(db)[1]
    assert history(db)[2] == history(db)[1]


def test_version_history_gives_every_fields_capture(db):
    with_compact_june(db)
    first, second = history(db)
    assert set(first.values()) == {1}
    assert list(first) == list(json.loads(db.execute(
        "SELECT kpi_record(record) FROM kpi_versions WHERE id = 1").fetchone()[0]))  # fmt: skip
    assert {k: v for k, v in second.items() if v == 1} == KEPT
    assert set(second.values()) == {1, 2}


def as_main_wrote_them(db: Any) -> list[tuple[int, dict[str, Any]]]:
    """Rewrite sources as main's code did (every field's capture); undo the migration."""
    whole = []
    for (version_id,) in db.execute("SELECT id FROM kpi_versions ORDER BY id").fetchall():
        whole.append((version_id, history_of(db, version_id)))
        db.execute(
            "UPDATE kpi_versions SET sources = ? WHERE id = ?",
            [json.dumps(whole[-1][1]), version_id],
        )
    db.execute("DELETE FROM _sqlite_migrations WHERE name LIKE 'm014_%'")
    db.execute("PRAGMA user_version = 13")
    return whole


def history_of(db: Any, version_id: int) -> dict[str, Any]:
    url, snapshot_id, at, record, text = db.execute(
        "SELECT url, snapshot_id, fetched_at, kpi_record(record), sources FROM kpi_versions "
        "WHERE id = ?",
        [version_id],
    ).fetchone()
    own = archive.admit.own_capture(db.conn, url, snapshot_id, at)
    return full_sources(json.loads(record), own, text)


def test_a_version_13_archive_keeps_every_fields_capture(tmp_path):
    path = tmp_path / "v11.db"
    db = archive.open_db(path)
    with_compact_june(db)
    before = as_main_wrote_them(db)
    assert stored(db)[0][2] == dict.fromkeys(before[0][1], 1)
    db.close()
    db = archive.open_db(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert stored(db) == [(1, "new", None), (2, "changed", KEPT)]
    assert [(i, history_of(db, i)) for i, _ in before] == before


def test_a_version_from_before_sources_still_names_no_capture(tmp_path):
    path = tmp_path / "v11.db"
    db = archive.open_db(path)
    archive.save(db, response(), seed_kpi())
    as_main_wrote_them(db)
    db.execute("UPDATE kpi_versions SET sources = NULL")  # written before m004 added the column
    db.close()
    db = archive.open_db(path)
    (version_id, _, sources) = stored(db)[0]
    assert set(sources.values()) == {None}
    assert set(history_of(db, version_id).values()) == {None}


def test_an_interrupted_rewrite_of_sources_leaves_every_row_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "v11.db"
    db = archive.open_db(path)
    with_compact_june(db)
    before = as_main_wrote_them(db)
    calls = []

    def interrupted(*args: Any) -> str | None:
        calls.append(args)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return None

    monkeypatch.setattr(schema, "RECOMPRESS_BATCH", 1)  # the first row is written before the stop
    monkeypatch.setattr(schema, "stored_sources", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ensure_db_shape(db)
    assert [(i, s) for i, _, s in stored(db)] == before
    monkeypatch.undo()
    ensure_db_shape(db)
    assert stored(db) == [(1, "new", None), (2, "changed", KEPT)]
