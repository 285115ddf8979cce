"""The archive's one fast path for row writes: cached INSERT / UPSERT / UPDATE statements.

Everything else uses sqlite-utils. Saving a page writes five to ten rows; sqlite-utils' ``insert``
and ``update`` introspect the table on every call, which measured 53 µs an insert against 5.6 µs
here, and 223 µs against 9 µs for an insert plus an update (3,000 rows, one transaction). At the
archive's ~1,000 pages a second that would be a third of ingest time, so the typed-table and page
writes come through these helpers instead. Column names come from the caller's dict (the
columns already exist: ``ensure_db_shape`` adds every model field); statements are cached per
column list.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any


def insert(conn: sqlite3.Connection, table: str, row: Mapping[str, Any]) -> int:
    """Insert one row; return its rowid."""
    cursor = conn.execute(_insert_sql(table, tuple(row)), list(row.values()))
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def upsert(
    conn: sqlite3.Connection, table: str, row: Mapping[str, Any], pk: tuple[str, ...]
) -> None:
    """Insert ``row`` or update the existing row with the same primary key, keeping its rowid."""
    conn.execute(_upsert_sql(table, tuple(row), pk), list(row.values()))


def insert_many(
    conn: sqlite3.Connection,
    table: str,
    rows: Iterable[Mapping[str, Any]],
    *,
    distinct: bool = False,
) -> None:
    """Insert rows sharing one column list (later duplicates of a key replace earlier ones).

    ``distinct``: the caller knows no two rows, nor a row already stored, share a key, so a plain
    INSERT does: with foreign keys on, SQLite's REPLACE path costs about a third more a row.
    """
    rows = list(rows)
    if rows:
        sql = _insert_sql(table, tuple(rows[0]))
        if not distinct:
            sql = sql.replace("INSERT", "INSERT OR REPLACE", 1)
        conn.executemany(sql, [list(r.values()) for r in rows])


def update(
    conn: sqlite3.Connection, table: str, key: tuple[str, Any], changes: Mapping[str, Any]
) -> None:
    """Set ``changes`` on the row whose column ``key[0]`` equals ``key[1]``."""
    if changes:
        conn.execute(_update_sql(table, tuple(changes), key[0]), [*changes.values(), key[1]])


@lru_cache(maxsize=64)
def _upsert_sql(table: str, columns: tuple[str, ...], pk: tuple[str, ...]) -> str:
    updates = ", ".join(f"[{c}] = excluded.[{c}]" for c in columns if c not in pk)
    conflict = ", ".join(f"[{c}]" for c in pk)
    return f"{_insert_sql(table, columns)} ON CONFLICT ({conflict}) DO UPDATE SET {updates}"


@lru_cache(maxsize=64)
def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    names = ", ".join(f"[{c}]" for c in columns)
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO [{table}] ({names}) VALUES ({marks})"


@lru_cache(maxsize=256)
def _update_sql(table: str, columns: tuple[str, ...], key: str) -> str:
    assignments = ", ".join(f"[{c}] = ?" for c in columns)
    return f"UPDATE [{table}] SET {assignments} WHERE [{key}] = ?"
