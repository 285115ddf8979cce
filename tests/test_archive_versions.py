"""archive.versions: a version's whole record stored compressed, read back from Python or SQL."""

from __future__ import annotations

import json
import sqlite3

from archive_factories import JUNE, SEED_URL, response, seed_kpi

import archive
from archive.admit import record_data
from archive.versions import decode, encode, record_json, register, version_record


def test_a_version_keeps_its_whole_record_compressed(db):
    archive.save(db, response(), seed_kpi())
    (kind, size) = db.execute("SELECT typeof(record), length(record) FROM kpi_versions").fetchone()
    text = json.dumps(record_data(seed_kpi()), ensure_ascii=False)
    assert kind == "blob"
    assert size < len(text.encode()) / 2
    assert version_record(db.conn, 1) == record_data(seed_kpi())
    assert version_record(db.conn, 2) is None


def test_kpi_record_gives_sql_the_json_text_it_had_before(db):
    archive.save(db, response(), seed_kpi())
    archive.save(db, response(body=b"<html>v2</html>", at=JUNE), seed_kpi(result_text="45"))
    rows = db.execute(
        "SELECT id, json_extract(kpi_record(record), '$.pid'), "
        "json_extract(kpi_record(record), '$.result_text') FROM kpi_versions ORDER BY id"
    ).fetchall()
    assert rows == [(1, "0411-2029", "100"), (2, "0411-2029", "45")]
    (text,) = db.execute("SELECT kpi_record(record) FROM kpi_versions WHERE id = 2").fetchone()
    assert text == json.dumps(record_data(seed_kpi(result_text="45")), ensure_ascii=False)


def test_the_changes_view_shows_old_and_new_values_from_the_compressed_records(db):
    archive.save(db, response(), seed_kpi())
    archive.save(db, response(body=b"<html>v2</html>", at=JUNE), seed_kpi(result_text="45"))
    rows = db.execute("SELECT url, field, old, new FROM changes").fetchall()
    assert rows == [(SEED_URL, "result_text", "100", "45")]


def test_plain_json_text_of_an_older_archive_reads_as_it_is():
    assert record_json('{"pid": "0411-2029"}') == '{"pid": "0411-2029"}'
    assert decode('{"pid": "0411-2029"}') == {"pid": "0411-2029"}
    assert record_json(None) is None
    assert decode(encode({"title": "ร้อยละของถนน", "quarters": []})) == {
        "title": "ร้อยละของถนน",
        "quarters": [],
    }


def test_a_plain_sqlite_connection_reads_records_once_the_function_is_registered():
    conn = sqlite3.connect(":memory:")
    register(conn)
    stored = encode({"pid": "0411-2029", "target_value": 80.0})
    sql = "SELECT json_extract(kpi_record(?), '$.target_value')"
    assert conn.execute(sql, [stored]).fetchone() == (80.0,)
