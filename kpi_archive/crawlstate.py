"""The crawler's own state inside the archive file: runs, fetch_log, frontier and the crawl lock.

- ``runs``: one row per crawl (started, finished, args JSON, counts, seconds, exit code).
- ``fetch_log``: one row per request attempt (url, request_url, attempt, status, error, bytes,
  elapsed_ms, started_at, outcome).
- ``frontier``: the work list, one row per URL (depth, discovered_from, state
  ``queued`` | ``done`` | ``failed`` | ``blocked``, attempts, last_error). A pass ends
  when nothing is queued; while anything is queued the next run resumes it instead of
  starting over, which is how a killed or ``--max-pages``-limited crawl picks up where it stopped.
- ``crawl_lock``: at most one row (id 1), with a ``heartbeat`` the running crawl refreshes every
  ``HEARTBEAT_SECONDS``. It is stale only when its heartbeat is older than ``LOCK_STALE_SECONDS``
  (minutes), whatever host or pid it names: a pid says nothing across machines or containers, and
  a crawl that runs for hours is still alive as long as it beats. A stale lock is taken over, a
  live one raises ``LockError``.

The tables are created by ``archive.ensure_db_shape`` (the archive is one SQLite file); their
reads and writes live here, beside the crawl loop (``kpi_archive.crawl``) that is their only user.
Every function takes a ``sqlite_utils.Database`` and commits its own small transaction unless
the caller wraps it in ``db.atomic()`` (the crawl does, one transaction per page).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlite_utils import Database
from sqlite_utils.db import NotFoundError

from archive.schema import FETCH_LOG_COLUMNS, RUN_COUNTS, utc_iso
from kpi_archive.config import LOCK_STALE_SECONDS
from kpi_archive.errors import LockError

STATES = ("queued", "done", "failed", "blocked")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class LockInfo:
    """Who holds the crawl lock."""

    pid: int
    hostname: str
    started_at: str
    heartbeat: str | None = None
    run_id: int | None = None

    def describe(self) -> str:
        """A sentence for the user."""
        beat = f", last heartbeat {self.heartbeat}" if self.heartbeat else ""
        return f"pid {self.pid} on {self.hostname}, since {self.started_at}{beat}"


def lock_holder(db: Database) -> LockInfo | None:
    """The current lock row, if any."""
    try:
        row = db.table("crawl_lock").get(1)
    except NotFoundError:
        return None
    return LockInfo(
        int(row["pid"]),
        str(row["hostname"]),
        str(row["started_at"]),
        row.get("heartbeat"),
        row.get("run_id"),
    )


def is_stale(
    lock: LockInfo, *, now: dt.datetime | None = None, stale_after: float = LOCK_STALE_SECONDS
) -> bool:
    """A lock is stale when its heartbeat (else its start) is older than ``stale_after`` seconds."""
    now = now or _now()
    beat = dt.datetime.fromisoformat(lock.heartbeat or lock.started_at)
    return (now - beat).total_seconds() > stale_after


def acquire_lock(
    db: Database,
    *,
    pid: int | None = None,
    now: dt.datetime | None = None,
    stale_after: float = LOCK_STALE_SECONDS,
) -> LockInfo:
    """Take the crawl lock (taking over a stale one) or raise ``LockError``."""
    at = utc_iso(now or _now())
    mine = LockInfo(pid or os.getpid(), socket.gethostname(), at, at)
    held = lock_holder(db)
    if held is not None:
        if not is_stale(held, now=now, stale_after=stale_after):
            raise LockError(f"another crawl holds the lock ({held.describe()})", path=_path(db))
        release_lock(db, held)
    try:
        with db.atomic():
            db.table("crawl_lock").insert({"id": 1, **asdict(mine)})
    except sqlite3.IntegrityError as exc:
        other = lock_holder(db)
        who = other.describe() if other else "another process"
        raise LockError(f"another crawl holds the lock ({who})", path=_path(db)) from exc
    return mine


def release_lock(db: Database, lock: LockInfo) -> None:
    """Drop the lock if it is still ours."""
    with db.atomic():
        db.table("crawl_lock").delete_where(
            "id = 1 AND pid = ? AND started_at = ?", [lock.pid, lock.started_at]
        )


def beat(db: Database, lock: LockInfo, *, now: dt.datetime | None = None) -> bool:
    """Refresh the heartbeat of ``lock``; False if it is no longer ours."""
    with db.atomic():
        cursor = db.execute(
            "UPDATE crawl_lock SET heartbeat = ? WHERE id = 1 AND pid = ? AND started_at = ?",
            [utc_iso(now or _now()), lock.pid, lock.started_at],
        )
    return cursor.rowcount == 1


def claim_lock(db: Database, lock: LockInfo, run_id: int) -> LockInfo:
    """Name the run holding ``lock`` (``kpi-archive status`` tells a running crawl by it)."""
    with db.atomic():
        db.table("crawl_lock").update(1, {"run_id": run_id})
    return LockInfo(lock.pid, lock.hostname, lock.started_at, lock.heartbeat, run_id)


def _path(db: Database) -> str | None:
    row = db.execute("PRAGMA database_list").fetchone()
    return str(row[2]) if row and row[2] else None


def start_run(db: Database, args: Mapping[str, Any], *, now: dt.datetime | None = None) -> int:
    """Insert a ``runs`` row for a crawl starting now; return its id."""
    row = {
        "started": utc_iso(now or _now()),
        "args": json.dumps(dict(args), ensure_ascii=False, default=str, sort_keys=True),
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
    }
    with db.atomic():
        table = db.table("runs").insert(row)
    assert table.last_rowid is not None
    return table.last_rowid


def finish_run(
    db: Database,
    run_id: int,
    counts: Mapping[str, int],
    *,
    seconds: float,
    exit_code: int,
    outcome: str | None = None,
    reason: str | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Record a run's end, counts, exit code, outcome (``kpi_archive.alarms``) and why."""
    values: dict[str, Any] = {name: int(counts.get(name, 0)) for name in RUN_COUNTS}
    values.update(finished=utc_iso(now or _now()), seconds=round(seconds, 3), exit_code=exit_code,
                  outcome=outcome, reason=reason)  # fmt: skip
    with db.atomic():
        db.table("runs").update(run_id, values)


def log_attempts(db: Database, run_id: int, attempts: Iterable[Mapping[str, Any]]) -> None:
    """Append request attempts (dicts with fetch_log's columns) to ``fetch_log``."""
    rows = []
    for attempt in attempts:
        row = {"run_id": run_id, **{c: attempt.get(c) for c in FETCH_LOG_COLUMNS}}
        if isinstance(row["started_at"], dt.datetime):
            row["started_at"] = utc_iso(row["started_at"])
        rows.append(row)
    if rows:
        with db.atomic():
            db.table("fetch_log").insert_all(rows)


@dataclass(frozen=True)
class FrontierItem:
    """One queued URL, with the validators of its archived page (for a conditional GET)."""

    url: str
    depth: int
    discovered_from: str | None
    attempts: int
    etag: str | None = None
    last_modified: str | None = None


def begin_pass(db: Database) -> bool:
    """Resume an unfinished pass (True) or start anew: done rows cleared, failed requeued."""
    queued = db.execute("SELECT 1 FROM frontier WHERE state = 'queued' LIMIT 1").fetchone()
    if queued:
        return True
    with db.atomic():
        db.table("frontier").delete_where("state IN ('done', 'blocked')")
        db.execute("UPDATE frontier SET state = 'queued' WHERE state = 'failed'")
    return False


def push(
    db: Database,
    items: Iterable[tuple[str, int, str | None]],
    *,
    run_id: int | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Queue (url, depth, discovered_from) items not already in the frontier; return how many."""
    at = utc_iso(now or _now())
    rows = [
        {"url": url, "host": urlsplit(url).hostname or "", "depth": depth,
         "discovered_from": source, "state": "queued", "attempts": 0, "run_id": run_id,
         "added_at": at, "updated_at": at}
        for url, depth, source in items
    ]  # fmt: skip
    if not rows:
        return 0
    with db.atomic():
        before = db.conn.total_changes
        db.table("frontier").insert_all(rows, ignore=True)
        return db.conn.total_changes - before


def queued(db: Database, *, host: str | None = None) -> list[FrontierItem]:
    """Queued URLs (of ``host``), shallowest first, in the order they were added."""
    sql = "SELECT url, depth, discovered_from, attempts FROM frontier WHERE state = 'queued'"
    params: list[Any] = []
    if host is not None:
        sql += " AND host = ?"
        params.append(host)
    rows = db.execute(sql + " ORDER BY depth, rowid", params).fetchall()
    return [FrontierItem(r[0], int(r[1]), r[2], int(r[3] or 0)) for r in rows]


def mark(
    db: Database,
    url: str,
    state: str,
    *,
    error: str | None = None,
    run_id: int | None = None,
    now: dt.datetime | None = None,
    counts_attempt: bool = True,
) -> None:
    """Set a frontier row's state (``done`` | ``failed`` | ``blocked`` | ``queued``)."""
    if state not in STATES:
        raise ValueError(f"unknown frontier state {state!r}")
    with db.atomic():
        db.execute(
            "UPDATE frontier SET state = ?, last_error = ?, run_id = coalesce(?, run_id), "
            "attempts = attempts + ?, updated_at = ? WHERE url = ?",
            [state, error, run_id, 1 if counts_attempt else 0, utc_iso(now or _now()), url],
        )


def known_urls(db: Database, urls: Sequence[str]) -> set[str]:
    """Which of ``urls`` the frontier already holds."""
    if not urls:
        return set()
    marks = ", ".join("?" * len(urls))
    return {r[0] for r in db.execute(f"SELECT url FROM frontier WHERE url IN ({marks})", urls)}
