"""Rebuild the typed tables and ``kpi_versions`` from the stored snapshots; no network.

The archive's half of ``kpi_archive.load.reparse``, which runs it in one transaction:
``begin_reparse`` sets the publishing indexes aside (``archive.schema.set_aside_indexes``; the
load's finish makes them again) and empties every derived table, ``iter_captures`` streams every
capture in order (``fetched_at``, then ``sha256``, then capture id), ``replay_capture`` applies each
one's parse with the same code ``save`` uses, and ``end_reparse`` restores miss states and
empties the search index for the finish to fill.
Raw data (``pages`` identity and fetch history, ``snapshots``, ``captures``) is never deleted; a
page's miss state (``missing`` / ``gone``) survives the replay. Two reparses with the same parser
give identical databases.

Memory stays flat whatever the archive's size: the records before the replay wait in a temp
table (SQLite's temp store, not Python objects), captures are read one body at a time, the
change count compares old and new records page by page.

The trigram index is left alone during the replay (a contentless table forgets a row only by the
values it was indexed with, which the replay replaces): at the end it is emptied and every page
marked, and the load's finish fills it once in rowid order (in a worker beside the derived
tables' refresh, ``archive.search.start_rebuild``). A search between the two misses the rows.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from archive import fastpath
from archive.admit import admit, mark_gone, page_row, seen_ok, update_page
from archive.changes import field_changes
from archive.save import AnyRecord, Packed, decompress
from archive.schema import set_aside_indexes
from archive.search import empty_index
from archive.versions import decode
from kpi_archive.errors import ParseError
from scraper.models import FetchResult

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


@dataclass
class ReparseState:
    """What a reparse carries from its start to its end."""

    kept: dict[str, dict[str, Any]]
    captures: int = 0


@dataclass(frozen=True)
class Capture:
    """One stored capture: the page, when, where it ended up, the snapshot's bytes and headers."""

    url: str
    snapshot_id: int
    fetched_at: str
    sha256: str
    body: bytes
    headers: dict[str, str]
    id: int = 0
    final_url: str | None = None
    status: int = 200
    revisit: bool = False

    def response(self) -> FetchResult:
        """The capture as the fetcher handed it on, for judging it again."""
        return FetchResult(
            url=self.url,
            final_url=self.final_url or self.url,
            status=self.status,
            headers=self.headers,
            body=self.body,
            fetched_at=dt.datetime.fromisoformat(self.fetched_at),
        )


def begin_reparse(db: Database) -> ReparseState:
    """Empty every derived table, remembering the current records and the pages' miss states."""
    conn = db.conn
    set_aside_indexes(conn)  # every typed row is rewritten: the load's finish builds them once
    conn.execute("DROP TABLE IF EXISTS temp.reparse_before")
    conn.execute("CREATE TEMP TABLE reparse_before (url TEXT PRIMARY KEY, record TEXT)")
    conn.execute(
        "INSERT INTO reparse_before SELECT url, record FROM kpi_versions WHERE id IN "
        "(SELECT max(id) FROM kpi_versions GROUP BY url)"
    )
    kept = {
        row[0]: dict(zip(_KEPT_MISS_STATE, row[1:], strict=True))
        for row in conn.execute(
            "SELECT url, " + ", ".join(_KEPT_MISS_STATE) + " FROM pages "
            "WHERE status IN ('missing', 'gone', 'failed')"
        )
    }
    conn.execute(
        "UPDATE pages SET snapshot_id = NULL, sha256 = NULL, last_changed = NULL, status = NULL, "
        "last_error = NULL, last_error_at = NULL"
    )
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'observations'").fetchone():
        # Its rows cascade from kpi_versions; emptied first, each version's delete need not
        # look for them (a third of that delete's time).
        conn.execute("DELETE FROM observations")
    for table in DERIVED_TABLES:
        conn.execute(f"DELETE FROM [{table}]")
    return ReparseState(kept)


def iter_captures(db: Database) -> Iterator[Capture]:
    """Every capture in replay order, one at a time (bodies decompressed as they are read)."""
    # Bodies stay out of the sort, which would otherwise hold (or spill) every one of them.
    rows = db.conn.execute(
        "SELECT c.url, c.snapshot_id, c.fetched_at, s.sha256, s.headers, c.id, "
        "coalesce(c.final_url, s.final_url), s.status, c.revisit "
        "FROM captures c JOIN snapshots s ON s.id = c.snapshot_id "
        "ORDER BY c.fetched_at, s.sha256, c.id"
    )
    bodies = db.conn.cursor()
    body_sql = "SELECT body FROM snapshots WHERE id = ?"
    for url, snapshot_id, fetched_at, sha, headers, cid, final, status, revisit in rows:
        (blob,) = bodies.execute(body_sql, [snapshot_id]).fetchone()
        yield Capture(url, snapshot_id, fetched_at, sha, decompress(blob),
                      json.loads(headers or "{}"), cid, final, status or 200,
                      bool(revisit))  # fmt: skip


def replay_capture(
    db: Database,
    state: ReparseState,
    capture: Capture,
    parsed: AnyRecord | ParseError | None,
    packed: Packed | None = None,
) -> None:
    """Judge and apply one capture's parse as ``save`` did when it was fetched (``packed``: its
    record's data and encoding, made by a parse worker)."""
    page = page_row(db.conn, capture.url)
    assert page is not None
    if capture.revisit and page["snapshot_id"] == capture.snapshot_id:
        # As when it was saved: the page looked as its current snapshot does; only seen again.
        update_page(db.conn, page, seen_ok(page, capture.fetched_at))
    else:
        admit(db.conn, capture.id, capture.snapshot_id, capture.response(), capture.fetched_at,
              parsed, page=page, data=packed.data if packed else None,
              packed=packed.encoded if packed else None)  # fmt: skip
    state.captures += 1


def end_reparse(db: Database, state: ReparseState) -> ReparseCounts:
    """Restore miss states, leave the search index to the finish and count what changed."""
    conn = db.conn
    for url, kept in state.kept.items():
        fastpath.update(conn, "pages", ("url", url), kept)
        if kept["status"] == "gone" and kept["gone_since"]:
            # 404s are not captures: only the page's last disappearance can be told again.
            mark_gone(conn, url, kept["gone_since"])
    # A contentless index forgets a row only by its old values, which the replay has replaced:
    # emptied, every row is indexed once by the load's finish, beside the derived tables' refresh
    # (``archive.search.start_rebuild``), not here on one core.
    empty_index(conn)
    records, changed = _count_changes(conn)
    errors = conn.execute("SELECT count(*) FROM pages WHERE status = 'parse_error'").fetchone()[0]
    counts = ReparseCounts(state.captures, records, changed, errors)
    log.info("reparse: %s", counts)
    return counts


def _count_changes(conn: sqlite3.Connection) -> tuple[int, int]:
    """Pages with a record now, and pages whose latest record differs from before the reparse."""
    rows = conn.execute(
        "WITH after AS (SELECT url, record FROM kpi_versions WHERE id IN "
        "(SELECT max(id) FROM kpi_versions GROUP BY url)) "
        "SELECT a.record, b.record FROM after a LEFT JOIN temp.reparse_before b ON b.url = a.url "
        "UNION ALL SELECT NULL, b.record FROM temp.reparse_before b "
        "WHERE b.url NOT IN (SELECT url FROM after)"
    )
    records = changed = 0
    for now, before in rows:
        records += now is not None
        if now == before:  # the same bytes: no field can differ
            continue
        if now is None or before is None or field_changes(decode(before), decode(now)):
            changed += 1
    conn.execute("DROP TABLE temp.reparse_before")
    return records, changed
