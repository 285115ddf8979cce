"""How a version's whole record is stored: zstd-compressed JSON in ``kpi_versions.record``.

Contract:

- ``encode(data)``: the record (``archive.changes`` form: JSON-ready dict) as stored: the JSON
  text ``json.dumps(data, ensure_ascii=False)`` gave before issue #12, zstd-compressed (level 3,
  as the snapshots' bodies). A KPI page's record is ~11 KB of JSON (Thai takes 3 bytes a
  character), the archive's largest table; compressed it is ~2.7 KB and still the exact text.
  Diffs against the previous version were measured and left out: most pages only ever have a
  first version, and a later one's changed fields, compressed, still take ~1.5 KB (what
  changes is mostly the reports list) while every read would have to walk the chain.
- ``decode(stored)`` / ``record_json(stored)``: the record back, as a dict or as the JSON text.
  Both also accept the plain JSON text an archive held before the m008 migration.
- ``register(conn)``: the SQL function ``kpi_record(record)`` (the JSON text), so SQL keeps
  ``json_extract(kpi_record(v.record), '$.title')``. Datasette's plugin and ``open_db`` register
  it on every connection they open.
- ``version_record(conn, version_id)``: any version's whole record from Python.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from typing import Any

import zstandard

from archive.bodies import ZSTD_LEVEL

SQL_FUNCTION = "kpi_record"
_local = threading.local()


def encode(data: dict[str, Any]) -> bytes:
    """The record as ``kpi_versions.record`` stores it."""
    return compress_json(json.dumps(data, ensure_ascii=False))


def compress_json(text: str) -> bytes:
    """A record's JSON text as stored (the m008 migration compresses old rows' text as it is)."""
    compressor = getattr(_local, "compressor", None)
    if compressor is None:
        compressor = _local.compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    stored: bytes = compressor.compress(text.encode())
    return stored


def record_json(stored: bytes | str | None) -> str | None:
    """The JSON text of a stored record (None stays None)."""
    if stored is None or isinstance(stored, str):
        return stored
    # A decompressor keeps no state between frames, but it is not safe across threads.
    decompressor = getattr(_local, "decompressor", None)
    if decompressor is None:
        decompressor = _local.decompressor = zstandard.ZstdDecompressor()
    text: str = decompressor.decompress(stored).decode()
    return text


def decode(stored: bytes | str) -> dict[str, Any]:
    """The record a ``kpi_versions.record`` cell holds."""
    data: dict[str, Any] = json.loads(record_json(stored) or "null")
    return data


def register(conn: sqlite3.Connection) -> None:
    """Register ``kpi_record(record)`` (the stored record as JSON text) on ``conn``."""
    conn.create_function(SQL_FUNCTION, 1, record_json, deterministic=True)


def version_record(conn: sqlite3.Connection, version_id: int) -> dict[str, Any] | None:
    """The whole record of version ``version_id`` (``kpi_versions.id``), or None if none."""
    row = conn.execute("SELECT record FROM kpi_versions WHERE id = ?", [version_id]).fetchone()
    return None if row is None else decode(row[0])
