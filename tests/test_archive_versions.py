"""archive.versions: a version's whole record stored compressed, read back from Python or SQL."""

from __future__ import annotations

import hashlib
import json
import sqlite3

import pytest
import zstandard
from archive_factories import JUNE, SEED_URL, response, seed_kpi

import archive
from archive.admit import record_data
from archive.versions import (
    CURRENT_DICT_ID,
    DICTIONARIES,
    decode,
    dictionary,
    encode,
    recompress,
    record_json,
    register,
    repack,
    version_record,
)
from kpi_archive.errors import ArchiveError

# What archive.versions wrote before the dictionary: {"pid": "0411-2029", "unit": "ร้อยละ"}
# compressed with zstd level 3 alone.
DICTLESS_BLOB = bytes.fromhex(
    "28b52ffd20329101007b22706964223a2022303431312d32303239222c2022756e6974223a2022e0b8a3e0b989"
    "e0b8ade0b8a2e0b8a5e0b8b0227d"
)


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


def test_a_record_written_today_reads_back_identical_and_names_its_dictionary():
    data = record_data(seed_kpi())
    stored = encode(data)
    assert zstandard.get_frame_parameters(stored).dict_id == CURRENT_DICT_ID == 20261203
    assert decode(stored) == data
    assert record_json(stored) == json.dumps(data, ensure_ascii=False)


def test_the_dictionary_more_than_halves_a_record():
    text = json.dumps(record_data(seed_kpi()), ensure_ascii=False).encode()
    alone = zstandard.ZstdCompressor(level=3).compress(text)
    assert len(encode(record_data(seed_kpi()))) < len(alone) / 2


def test_a_blob_written_before_the_dictionary_still_reads():
    assert zstandard.get_frame_parameters(DICTLESS_BLOB).dict_id == 0
    assert decode(DICTLESS_BLOB) == {"pid": "0411-2029", "unit": "ร้อยละ"}
    conn = sqlite3.connect(":memory:")
    register(conn)
    sql = "SELECT json_extract(kpi_record(?), '$.unit')"
    assert conn.execute(sql, [DICTLESS_BLOB]).fetchone() == ("ร้อยละ",)


def test_a_blob_naming_a_dictionary_this_code_does_not_ship_fails_naming_it():
    stored = encode({"pid": "0411-2029"})
    # the frame header's dictID field (4 bytes, little-endian) rewritten to an unknown id
    unknown = stored[:10].replace((20261203).to_bytes(4, "little"), (99).to_bytes(4, "little"))
    assert unknown != stored[:10]
    with pytest.raises(ArchiveError, match=r"dictionary 99, which this kpi-archive does not ship"):
        decode(unknown + stored[10:])


def test_every_shipped_dictionary_keeps_its_bytes_forever():
    # Blobs written with a dictionary need exactly its bytes: a new one takes a new id and file.
    shipped = {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(DICTIONARIES.glob("*.zdict"))
    }
    assert shipped == {
        "records-20261203.zdict": "e107ddb4903a98182abec7e3c1effb482fe7d17bf77838a42d144429a10eced7"
    }


def test_recompress_rewrites_older_blobs_with_the_dictionary_and_leaves_current_ones():
    stored = recompress(DICTLESS_BLOB)
    assert stored is not None
    assert zstandard.get_frame_parameters(stored).dict_id == 20261203
    assert decode(stored) == {"pid": "0411-2029", "unit": "ร้อยละ"}
    assert recompress(stored) is None
    plain = recompress('{"pid": "0411-2029"}')
    assert plain is not None and decode(plain) == {"pid": "0411-2029"}


def test_repack_shrinks_a_level_3_record_and_leaves_one_written_today():
    text = json.dumps(record_data(seed_kpi()), ensure_ascii=False)
    level3 = zstandard.ZstdCompressor(level=3, dict_data=dictionary(CURRENT_DICT_ID))
    old = level3.compress(text.encode())
    packed = repack(old)
    assert packed is not None and len(packed) < len(old)
    assert record_json(packed) == text
    assert repack(packed) is None
    assert repack(encode(record_data(seed_kpi()))) is None
