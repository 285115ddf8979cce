"""The crawler's tables in the archive: runs, fetch_log, frontier and the lock (real SQLite)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import pytest
from helpers import frontier_counts
from sqlite_utils import Database

from archive import ensure_db_shape
from kpi_archive import crawlstate
from kpi_archive.errors import LockError

NOW = dt.datetime(2026, 11, 23, 20, 0, tzinfo=dt.UTC)
URL = "https://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2029"


def dead_pid() -> int:
    process = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(process.stdout)


def test_tables_are_created_once_and_again_harmlessly(db: Database) -> None:
    ensure_db_shape(db)
    assert {"runs", "fetch_log", "frontier", "crawl_lock"} <= set(db.table_names())
    assert db["fetch_log"].foreign_keys[0].other_table == "runs"


def test_a_second_crawl_is_refused_while_the_first_holds_the_lock(db: Database) -> None:
    mine = crawlstate.acquire_lock(db, now=NOW)
    assert mine.pid == os.getpid()
    with pytest.raises(LockError, match=f"another crawl holds the lock \\(pid {os.getpid()} on"):
        crawlstate.acquire_lock(db, now=NOW)
    crawlstate.release_lock(db, mine)
    assert crawlstate.lock_holder(db) is None
    crawlstate.acquire_lock(db, now=NOW)


def test_a_lock_whose_heartbeat_stopped_is_taken_over_whatever_its_host(db: Database) -> None:
    db.table("crawl_lock").insert(
        {"id": 1, "pid": 4242, "hostname": "another-machine",
         "started_at": "2026-11-23T12:00:00.000000Z", "heartbeat": "2026-11-23T19:49:00.000000Z"}
    )  # fmt: skip
    taken = crawlstate.acquire_lock(db, now=NOW)
    assert crawlstate.lock_holder(db) == taken
    assert (taken.started_at, taken.heartbeat) == ("2026-11-23T20:00:00.000000Z",) * 2


def test_a_fresh_heartbeat_holds_the_lock_even_when_the_pid_looks_dead(db: Database) -> None:
    # A pid means nothing in another container or on another machine: only the heartbeat counts.
    crawlstate.acquire_lock(db, pid=dead_pid(), now=NOW - dt.timedelta(minutes=2))
    with pytest.raises(LockError, match="another crawl holds the lock"):
        crawlstate.acquire_lock(db, now=NOW)


def test_a_long_crawl_that_keeps_beating_keeps_its_lock(db: Database) -> None:
    mine = crawlstate.acquire_lock(db, now=NOW - dt.timedelta(hours=7))
    assert crawlstate.beat(db, mine, now=NOW - dt.timedelta(minutes=1)) is True
    with pytest.raises(LockError, match=r"last heartbeat 2026-11-23T19:59:00\.000000Z"):
        crawlstate.acquire_lock(db, now=NOW)


def test_a_crawl_whose_lock_was_taken_over_learns_it_at_its_next_beat(db: Database) -> None:
    old = crawlstate.acquire_lock(db, now=NOW - dt.timedelta(hours=1))
    new = crawlstate.acquire_lock(db, now=NOW)
    assert crawlstate.beat(db, old, now=NOW) is False
    assert crawlstate.beat(db, new, now=NOW) is True


def test_a_run_records_args_counts_and_exit_code(db: Database) -> None:
    run_id = crawlstate.start_run(db, {"delay": 1.0, "seeds": [URL]}, now=NOW)
    counts = {"fetched": 3, "new": 2, "unchanged": 1}
    crawlstate.finish_run(db, run_id, counts, seconds=4.25, exit_code=0, now=NOW)
    row = db["runs"].get(run_id)
    assert json.loads(row["args"]) == {"delay": 1.0, "seeds": [URL]}
    assert {
        k: row[k]
        for k in (
            "started",
            "finished",
            "fetched",
            "new",
            "unchanged",
            "failed",
            "seconds",
            "exit_code",
        )
    } == {
        "started": "2026-11-23T20:00:00.000000Z",
        "finished": "2026-11-23T20:00:00.000000Z",
        "fetched": 3,
        "new": 2,
        "unchanged": 1,
        "failed": 0,
        "seconds": 4.25,
        "exit_code": 0,
    }


def test_every_attempt_is_a_fetch_log_row(db: Database) -> None:
    run_id = crawlstate.start_run(db, {}, now=NOW)
    attempt = {
        "url": URL,
        "request_url": "http://127.0.0.1:8765/dp.bangkok.go.th/mobile/x",
        "attempt": 1,
        "status": 503,
        "error": None,
        "bytes": 12,
        "elapsed_ms": 3.5,
        "started_at": NOW,
        "outcome": "retry",
    }
    crawlstate.log_attempts(db, run_id, [attempt, {**attempt, "attempt": 2, "status": 200}])
    rows = list(db.query("SELECT run_id, attempt, status, started_at, outcome FROM fetch_log"))
    assert rows == [
        {
            "run_id": run_id,
            "attempt": 1,
            "status": 503,
            "started_at": "2026-11-23T20:00:00.000000Z",
            "outcome": "retry",
        },
        {
            "run_id": run_id,
            "attempt": 2,
            "status": 200,
            "started_at": "2026-11-23T20:00:00.000000Z",
            "outcome": "retry",
        },
    ]


def test_the_frontier_queues_each_url_once_shallowest_first(db: Database) -> None:
    assert crawlstate.push(db, [(URL, 1, None), (URL + "0", 0, None)], now=NOW) == 2
    assert crawlstate.push(db, [(URL, 0, None), (URL + "1", 2, URL)], now=NOW) == 1
    assert [(i.url[-5:], i.depth) for i in crawlstate.queued(db)] == [
        ("20290", 0),
        ("-2029", 1),
        ("20291", 2),
    ]
    assert [i.url for i in crawlstate.queued(db, host="example.com")] == []


def test_an_unfinished_pass_resumes_and_a_finished_one_starts_over(db: Database) -> None:
    crawlstate.push(db, [(URL, 0, None), (URL + "0", 0, None), (URL + "1", 0, None)], now=NOW)
    crawlstate.mark(db, URL, "done", now=NOW)
    assert crawlstate.begin_pass(db) is True
    assert frontier_counts(db) == {"done": 1, "queued": 2}
    crawlstate.mark(db, URL + "0", "failed", error="HTTP 503", now=NOW)
    crawlstate.mark(db, URL + "1", "blocked", error="disallowed by robots.txt", now=NOW)
    assert crawlstate.begin_pass(db) is False
    assert frontier_counts(db) == {"queued": 1}
    [item] = crawlstate.queued(db)
    assert (item.url, item.attempts) == (URL + "0", 1)


def test_unknown_frontier_states_are_refused(db: Database) -> None:
    with pytest.raises(ValueError, match="unknown frontier state 'lost'"):
        crawlstate.mark(db, URL, "lost")
