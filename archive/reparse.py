"""Rebuild the typed tables and ``kpi_versions`` from the stored snapshots; no network.

The archive's half of ``kpi_archive.load.reparse``, which runs it in one transaction:
``begin_reparse`` empties every derived table, ``iter_captures`` streams every capture in order
(``fetched_at``, then ``sha256``, then capture id), ``replay_capture`` applies each one's parse with
the same code ``save`` uses, and ``end_reparse`` restores miss states and rebuilds the indexes.
Raw data (``pages`` identity and fetch history, ``snapshots``, ``captures``) is never deleted; a
page's miss state (``missing`` / ``gone``) survives the replay. Two reparses with the same parser
give identical databases.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from archive import fastpath
from archive.admit import admit, mark_gone, page_row, seen_ok, update_page
from archive.changes import field_changes
from archive.save import AnyRecord, decompress
from archive.schema import TRIGRAM_FTS, WORDS_FTS, index_trigram
from archive.search import forget_pending
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

    before: dict[str, dict[str, Any]]
    kept: dict[str, dict[str, Any]]
    captures: int = 0
    seen: set[str] = field(default_factory=set)


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
    before = _current_records(conn)
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
    for table in DERIVED_TABLES:
        conn.execute(f"DELETE FROM [{table}]")
    return ReparseState(before, kept)


def iter_captures(db: Database) -> Iterator[Capture]:
    """Every capture in replay order, one at a time (bodies decompressed as they are read)."""
    rows = db.execute(
        "SELECT c.url, c.snapshot_id, c.fetched_at, s.sha256, s.body, s.headers, c.id, "
        "coalesce(c.final_url, s.final_url), s.status, c.revisit "
        "FROM captures c JOIN snapshots s ON s.id = c.snapshot_id "
        "ORDER BY c.fetched_at, s.sha256, c.id"
    )
    for url, snapshot_id, fetched_at, sha, blob, headers, cid, final, status, revisit in rows:
        yield Capture(url, snapshot_id, fetched_at, sha, decompress(blob),
                      json.loads(headers or "{}"), cid, final, status or 200,
                      bool(revisit))  # fmt: skip


def replay_capture(
    db: Database, state: ReparseState, capture: Capture, parsed: AnyRecord | ParseError | None
) -> None:
    """Judge and apply one capture's parse as ``save`` did when it was fetched."""
    page = page_row(db.conn, capture.url)
    assert page is not None
    if capture.revisit and page["snapshot_id"] == capture.snapshot_id:
        # As when it was saved: the page looked as its current snapshot does; only seen again.
        update_page(db.conn, page, seen_ok(page, capture.fetched_at))
    else:
        admit(db.conn, capture.id, capture.snapshot_id, capture.response(), capture.fetched_at,
              parsed, page=page)  # fmt: skip
    state.seen.add(capture.url)
    state.captures += 1


def end_reparse(db: Database, state: ReparseState) -> ReparseCounts:
    """Restore miss states, rebuild the search indexes and count what changed."""
    conn = db.conn
    for url, kept in state.kept.items():
        fastpath.update(conn, "pages", ("url", url), kept)
        if kept["status"] == "gone" and kept["gone_since"]:
            # 404s are not captures: only the page's last disappearance can be told again.
            mark_gone(conn, url, kept["gone_since"])
    # A full rebuild gives the same index bytes every time, unlike trigger-by-trigger updates.
    for table in TRIGRAM_FTS:
        conn.execute(f"DELETE FROM [{table}_fts]")
        index_trigram(conn, table)
        conn.execute(f"INSERT INTO [{table}_fts] ([{table}_fts]) VALUES ('rebuild')")
    forget_pending(conn)
    for table in WORDS_FTS:
        fts = f"{table}_words_fts"
        conn.execute(f"DELETE FROM [{fts}]")  # refresh_search segments every row again
        conn.execute(f"INSERT INTO [{fts}] ([{fts}]) VALUES ('rebuild')")
    after = _current_records(conn)
    before = state.before
    changed = sum(
        1
        for url in before.keys() | after.keys()
        if url not in before or url not in after or field_changes(before[url], after[url])
    )
    errors = conn.execute("SELECT count(*) FROM pages WHERE status = 'parse_error'").fetchone()[0]
    counts = ReparseCounts(state.captures, len(after), changed, errors)
    log.info("reparse: %s", counts)
    return counts


def _current_records(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """The latest version of every page's record, by URL."""
    rows = conn.execute(
        "SELECT url, record FROM kpi_versions WHERE id IN "
        "(SELECT max(id) FROM kpi_versions GROUP BY url)"
    )
    return {url: json.loads(record) for url, record in rows}
