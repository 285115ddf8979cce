"""Rebuild the typed tables and ``kpi_versions`` from the stored snapshots; no network.

``reparse(db, parse)`` runs in one transaction: it empties every derived table, then replays
every capture in order (``fetched_at``, then ``sha256``, then capture id) through ``parse`` and the
same code ``save`` uses. Raw data (``pages`` identity and fetch history, ``snapshots``,
``captures``) is never deleted; a page's miss state (``missing`` / ``gone``) survives the replay.
Two reparses with the same parser give identical databases.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from archive.save import Parse, apply_parse, changed_fields, decompress, parse_or_error
from archive.schema import TRIGRAM_FTS, WORDS_FTS
from archive.search import forget_pending

log = logging.getLogger(__name__)


DERIVED_TABLES = (
    "kpi_versions",
    "kpis",
    "projects",
    "department_pages",
    "agency_report_quarters",
    "agency_reports",
    "quarters",
    "reports",
    "kpi_strategies",
    "project_kpis",
    "strategies",
    "agencies",
)
_KEPT_MISS_STATE = ("status", "miss_count", "gone_since", "last_error", "last_error_at")


@dataclass(frozen=True)
class ReparseCounts:
    """What a reparse found: captures replayed, pages with a record, records changed, errors."""

    captures: int
    records: int
    changed: int
    errors: int


def reparse(db: Database, parse: Parse | None = None) -> ReparseCounts:
    """Re-parse every stored snapshot with ``parse`` (default ``parsers.parse_page``)."""
    if parse is None:
        from parsers import parse_page

        parse = parse_page
    with db.atomic():
        return _reparse(db.conn, parse)


def _reparse(conn: sqlite3.Connection, parse: Parse) -> ReparseCounts:
    before = _current_records(conn)
    kept = {
        row[0]: dict(zip(_KEPT_MISS_STATE, row[1:], strict=True))
        for row in conn.execute(
            "SELECT url, " + ", ".join(_KEPT_MISS_STATE) + " FROM pages "
            "WHERE status IN ('missing', 'gone', 'failed')"
        )
    }
    conn.execute("UPDATE pages SET snapshot_id = NULL, sha256 = NULL, last_changed = NULL")
    for table in DERIVED_TABLES:
        conn.execute(f"DELETE FROM [{table}]")
    captures = conn.execute(
        "SELECT c.url, c.snapshot_id, c.fetched_at, s.sha256, s.body, s.headers "
        "FROM captures c JOIN snapshots s ON s.id = c.snapshot_id "
        "ORDER BY c.fetched_at, s.sha256, c.id"
    ).fetchall()
    seen: set[str] = set()
    for url, snapshot_id, fetched_at, sha, blob, headers in captures:
        parsed = parse_or_error(parse, decompress(blob), url, json.loads(headers or "{}"))
        apply_parse(conn, url, snapshot_id, sha, fetched_at, parsed, first_body=url not in seen)
        seen.add(url)
    for url, state in kept.items():
        assignments = ", ".join(f"[{k}] = ?" for k in state)
        conn.execute(f"UPDATE pages SET {assignments} WHERE url = ?", [*state.values(), url])
    # A full rebuild gives the same index bytes every time, unlike trigger-by-trigger updates.
    for table in TRIGRAM_FTS:
        conn.execute(f"INSERT INTO [{table}_fts] ([{table}_fts]) VALUES ('rebuild')")
    forget_pending(conn)
    for table in WORDS_FTS:
        fts = f"{table}_words_fts"
        conn.execute(f"DELETE FROM [{fts}]")  # empty already: every words column is NULL now
        conn.execute(f"INSERT INTO [{fts}] ([{fts}]) VALUES ('rebuild')")
    after = _current_records(conn)
    changed = sum(
        1
        for url in before.keys() | after.keys()
        if url not in before or url not in after or changed_fields(before[url], after[url])
    )
    errors = conn.execute("SELECT count(*) FROM pages WHERE status = 'parse_error'").fetchone()[0]
    counts = ReparseCounts(len(captures), len(after), changed, errors)
    log.info("reparse: %s", counts)
    return counts


def _current_records(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """The latest version of every page's record, by URL."""
    rows = conn.execute(
        "SELECT url, record FROM kpi_versions WHERE id IN "
        "(SELECT max(id) FROM kpi_versions GROUP BY url)"
    )
    return {url: json.loads(record) for url, record in rows}
