"""How a version's whole record is stored: zstd-compressed JSON in ``kpi_versions.record``.

Contract:

- ``encode(data)``: the record (``archive.changes`` form: JSON-ready dict) as stored: the JSON
  text ``json.dumps(data, ensure_ascii=False)`` gave before issue #12, zstd-compressed (at
  ``RECORD_LEVEL``) with the current shipped dictionary (``CURRENT_DICT_ID``). Records are small
  and each is compressed alone, so without a dictionary the keys, the quarter table's shape and
  the site's stock phrases are paid for in every row; the dictionary holds them once. Measured
  at level 3 on real page texts the dictionary was not trained on: 959 -> 364 bytes a record; on
  the bench's synthetic records, 2,755 -> 1,192 bytes, compressing no slower.
- Every blob stays readable: a zstd frame names its dictionary (its dictID), ``decode`` picks
  that one from ``archive/data/records-<dictID>.zdict`` (every dictionary ever shipped stays
  there, never edited), a frame without a dictID (written before the dictionary) reads as it
  always did, and a dictID this copy of the code does not ship raises ``ArchiveError`` naming
  it. A new dictionary (``tools/records_dictionary.py``) takes a new id and becomes current.
- ``decode(stored)`` / ``record_json(stored)``: the record back, as a dict or as the JSON text.
  Both also accept the plain JSON text an archive held before the m008 migration.
- ``register(conn)``: the SQL function ``kpi_record(record)`` (the JSON text), so SQL keeps
  ``json_extract(kpi_record(v.record), '$.title')``. Datasette's plugin and ``open_db`` register
  it on every connection they open.
- ``version_record(conn, version_id)``: any version's whole record from Python.
- ``recompress(stored)``: an older blob written again with the current dictionary (migration
  m011), or None when it already uses it. ``repack(stored)``: any blob written again as ``encode``
  writes it now, or None when that is no smaller (migration m015, for the level).

Diffs against the previous version were measured and left out: a changed version compressed
against its predecessor takes ~300 bytes instead of ~1,260, but most pages only ever have a first
version and reading one version would have to walk the chain.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import zstandard

from kpi_archive.errors import ArchiveError

SQL_FUNCTION = "kpi_record"
CURRENT_DICT_ID = 20261203
DICTIONARIES = Path(__file__).resolve().parent / "data"
# Measured on records the dictionary was not trained on: 64 KB rather than 32 KB makes real ones 2 %
# and synthetic ones 20 % smaller; the ~230 samples given 3 times, synthetic ones 1,914 -> 1,290 B.
DICT_SIZE, TRAIN_REPEATS = 65536, 3
# A record is written once a version (the nightly re-save encodes only changed pages) and read
# often, and decoding costs the same at any level. Measured at 2,000 synthetic pages (2,270
# records, 10.5 KB of JSON each) and on the 227 real ones, bytes a record and encode CPU:
#   level 3: 1,193 B  26 µs | real 301 B   9 µs
#   level 6:   991 B  92 µs | real 253 B  30 µs
#   level 9:   814 B 156 µs | real 217 B  46 µs
#   level 19:  733 B 3.2 ms | real 200 B 1.0 ms
# Level 9: a third smaller for ~0.13 ms a new version: save_many of 2,000 new pages 5.45 -> 5.75 s
# CPU (best of 3, alternating); a night re-encodes only its changed pages.
RECORD_LEVEL = 9
_local = threading.local()


def dictionary_path(dict_id: int) -> Path:
    """Where the dictionary with zstd dictID ``dict_id`` is shipped."""
    return DICTIONARIES / f"records-{dict_id}.zdict"


@cache
def dictionary(dict_id: int) -> zstandard.ZstdCompressionDict:
    """The shipped dictionary ``dict_id``; ``ArchiveError`` if this copy of the code lacks it."""
    path = dictionary_path(dict_id)
    if not path.is_file():
        shipped = sorted(int(p.stem.removeprefix("records-")) for p in DICTIONARIES.glob("*.zdict"))
        raise ArchiveError(
            f"kpi_versions.record was compressed with zstd dictionary {dict_id}, which this "
            f"kpi-archive does not ship (it has {shipped}); read it with a newer kpi-archive"
        )
    full = zstandard.DICT_TYPE_FULLDICT
    loaded = zstandard.ZstdCompressionDict(path.read_bytes(), dict_type=full)
    if loaded.dict_id() != dict_id:
        raise ArchiveError(f"{path.name} holds dictionary {loaded.dict_id()}, not {dict_id}")
    return loaded


def train(records: Sequence[str], dict_id: int) -> bytes:
    """A dictionary for records like ``records`` (their JSON text), tagged ``dict_id``."""
    samples: list[bytes | bytearray | memoryview] = [text.encode() for text in records]
    trained = zstandard.train_dictionary(
        DICT_SIZE, samples * TRAIN_REPEATS, dict_id=dict_id, level=RECORD_LEVEL
    )
    data: bytes = trained.as_bytes()
    return data


def encode(data: dict[str, Any]) -> bytes:
    """The record as ``kpi_versions.record`` stores it."""
    return compress_json(json.dumps(data, ensure_ascii=False))


def compress_json(text: str) -> bytes:
    """A record's JSON text as stored (the m008 migration compresses old rows' text as it is)."""
    compressor = getattr(_local, "compressor", None)
    if compressor is None:
        compressor = _local.compressor = zstandard.ZstdCompressor(
            level=RECORD_LEVEL, dict_data=dictionary(CURRENT_DICT_ID)
        )
    stored: bytes = compressor.compress(text.encode())
    return stored


def _decompressor(dict_id: int) -> zstandard.ZstdDecompressor:
    # A decompressor keeps no state between frames, but it is not safe across threads.
    cache: dict[int, zstandard.ZstdDecompressor] | None = getattr(_local, "decompressors", None)
    if cache is None:
        cache = _local.decompressors = {}
    if dict_id not in cache:
        cache[dict_id] = zstandard.ZstdDecompressor(
            dict_data=dictionary(dict_id) if dict_id else None
        )
    return cache[dict_id]


def record_json(stored: bytes | str | None) -> str | None:
    """The JSON text of a stored record (None stays None)."""
    if stored is None or isinstance(stored, str):
        return stored
    dict_id = zstandard.get_frame_parameters(stored).dict_id
    text: str = _decompressor(dict_id).decompress(stored).decode()
    return text


def decode(stored: bytes | str) -> dict[str, Any]:
    """The record a ``kpi_versions.record`` cell holds."""
    data: dict[str, Any] = json.loads(record_json(stored) or "null")
    return data


def recompress(stored: bytes | str) -> bytes | None:
    """``stored`` compressed with the current dictionary, or None if it already is."""
    if isinstance(stored, bytes) and (
        zstandard.get_frame_parameters(stored).dict_id == CURRENT_DICT_ID
    ):
        return None
    return compress_json(record_json(stored) or "null")


def repack(stored: bytes | str) -> bytes | None:
    """``stored`` as ``encode`` writes it now (dictionary and level), or None if no smaller."""
    packed = compress_json(record_json(stored) or "null")
    return packed if isinstance(stored, str) or len(packed) < len(stored) else None


def register(conn: sqlite3.Connection) -> None:
    """Register ``kpi_record(record)`` (the stored record as JSON text) on ``conn``."""
    conn.create_function(SQL_FUNCTION, 1, record_json, deterministic=True)


def version_record(conn: sqlite3.Connection, version_id: int) -> dict[str, Any] | None:
    """The whole record of version ``version_id`` (``kpi_versions.id``), or None if none."""
    row = conn.execute("SELECT record FROM kpi_versions WHERE id = ?", [version_id]).fetchone()
    return None if row is None else decode(row[0])
