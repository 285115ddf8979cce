"""kpi_archive.status: the health report over a real archive file, as of a given time."""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from archive_factories import PROJECT_URL, SEED_URL, response, seed_kpi
from sqlite_utils import Database

import archive
from kpi_archive.errors import ArchiveError, ParseError
from kpi_archive.status import open_readonly, status
from parsers import PARSER_VERSION

NOW = dt.datetime(2026, 11, 24, 6, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
OTHER_URL = "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=2400-1060"


def iso(value: dt.datetime) -> str:
    return value.isoformat(timespec="microseconds").replace("+00:00", "Z")


def add_run(
    db: Database,
    started: dt.datetime,
    finished: dt.datetime | None,
    exit_code: int | None,
    **values: Any,
) -> int:
    row = {
        "started": iso(started),
        "finished": iso(finished) if finished else None,
        "exit_code": exit_code,
        "hostname": "crawler",
        "pid": 4242,
        **values,
    }
    return int(db["runs"].insert(row, alter=True).last_pk)


def problems(report: Any) -> list[tuple[str, str, int]]:
    return [(p.kind, p.message, p.exit_code) for p in report.problems]


def test_an_archive_that_never_ran_a_crawl_is_stale(db: Database) -> None:
    report = status(db, now=NOW)
    assert (report.healthy, report.exit_code) == (False, 6)
    assert problems(report) == [("stale", "no crawl has completed yet", 6)]
    assert report.last_run is None


def test_a_crawl_that_finished_within_max_age_is_healthy(db: Database) -> None:
    add_run(db, NOW - 3 * HOUR, NOW - 2 * HOUR, 0, fetched=12, new=8, unchanged=4, seconds=3600.5)
    report = status(db, now=NOW)
    assert (report.healthy, report.exit_code, report.problems, report.notes) == (True, 0, [], [])
    assert report.as_dict()["last_run"] == {
        "id": 1,
        "started": "2026-11-24T03:00:00.000000Z",
        "finished": "2026-11-24T04:00:00.000000Z",
        "outcome": "ok",
        "exit_code": 0,
        "reason": None,
        "counts": {
            "fetched": 12,
            "unchanged": 4,
            "new": 8,
            "changed": 0,
            "failed": 0,
            "gone": 0,
            "missing": 0,
            "parse_error": 0,
            "held": 0,
            "skipped": 0,
        },
        "seconds": 3600.5,
    }


def test_a_last_completed_crawl_older_than_max_age_is_stale(db: Database) -> None:
    add_run(db, NOW - 41 * HOUR, NOW - 40 * HOUR, 0)
    report = status(db, dt.timedelta(hours=36), NOW)
    assert problems(report) == [
        (
            "stale",
            "stale: the last completed crawl (run 1) finished 2026-11-22T14:00:00.000000Z, "
            "40.0 h ago (max age 36 h)",
            6,
        )
    ]
    assert status(db, dt.timedelta(hours=48), NOW).healthy is True


def test_a_site_problem_run_is_unhealthy_with_its_own_exit_code(db: Database) -> None:
    add_run(db, NOW - 30 * HOUR, NOW - 29 * HOUR, 0)
    add_run(db, NOW - 5 * HOUR, NOW - 4 * HOUR, 4, fetched=40, parse_error=40)
    report = status(db, now=NOW)
    assert (report.healthy, report.exit_code) == (False, 4)
    assert problems(report) == [
        ("site_problem", "site problem in run 2 (started 2026-11-24T01:00:00.000000Z)", 4)
    ]
    assert report.last_completed is not None and report.last_completed.id == 1


def test_the_recorded_outcome_and_reason_are_reported_when_the_archive_has_them(
    db: Database,
) -> None:
    add_run(
        db,
        NOW - 5 * HOUR,
        NOW - 4 * HOUR,
        4,
        outcome="site_problem",
        reason="robots.txt disallows every seed (6 of 6)",
    )
    report = status(db, now=NOW)
    assert problems(report) == [
        (
            "site_problem",
            "site problem in run 1 (started 2026-11-24T01:00:00.000000Z): "
            "robots.txt disallows every seed (6 of 6)",
            4,
        ),
        ("stale", "no crawl has completed yet", 6),
    ]
    assert report.exit_code == 4


def test_a_run_that_never_recorded_its_end_and_holds_no_live_lock_failed(db: Database) -> None:
    add_run(db, NOW - 30 * HOUR, NOW - 29 * HOUR, 0)
    add_run(db, NOW - 5 * HOUR, None, None)
    report = status(db, now=NOW)
    assert report.running is None
    assert report.last_run is not None and report.last_run.outcome == "abandoned"
    assert problems(report) == [
        (
            "failed",
            "run 2 (started 2026-11-24T01:00:00.000000Z) ended without recording its end "
            "(killed or crashed)",
            1,
        )
    ]


def test_a_running_crawl_is_reported_and_the_run_before_it_is_judged(db: Database) -> None:
    add_run(db, NOW - 30 * HOUR, NOW - 29 * HOUR, 1, failed=2)
    running = add_run(db, NOW - 2 * HOUR, None, None)
    if "heartbeat" not in db["crawl_lock"].columns_dict:
        db["crawl_lock"].add_column("heartbeat", str)
    db["crawl_lock"].insert(
        {
            "id": 1,
            "pid": 4242,
            "hostname": "crawler",
            "started_at": iso(NOW - 2 * HOUR),
            "run_id": running,
            "heartbeat": iso(NOW - dt.timedelta(seconds=20)),
        }
    )
    report = status(db, now=NOW)
    assert report.running is not None and report.running.id == 2
    assert report.last_run is not None and report.last_run.id == 1
    assert (report.healthy, report.exit_code) == (True, 0)
    assert report.notes == [
        "a crawl is running: run 2, started 2026-11-24T04:00:00.000000Z",
        "run 1 (started 2026-11-23T00:00:00.000000Z): 2 pages failed",
    ]


def test_a_lock_whose_heartbeat_stopped_is_not_a_running_crawl(db: Database) -> None:
    add_run(db, NOW - 30 * HOUR, NOW - 29 * HOUR, 0)
    run = add_run(db, NOW - 2 * HOUR, None, None)
    if "heartbeat" not in db["crawl_lock"].columns_dict:
        db["crawl_lock"].add_column("heartbeat", str)
    db["crawl_lock"].insert(
        {
            "id": 1,
            "pid": 4242,
            "hostname": "crawler",
            "started_at": iso(NOW - 2 * HOUR),
            "run_id": run,
            "heartbeat": iso(NOW - 15 * dt.timedelta(minutes=1)),
        }
    )
    report = status(db, now=NOW)
    assert report.running is None
    assert [p.kind for p in report.problems] == ["failed"]


@pytest.mark.parametrize(
    ("exit_code", "outcome"), [(130, "interrupted"), (143, "interrupted"), (70, "failed")]
)
def test_an_interrupted_or_failed_last_run_is_unhealthy(
    db: Database, exit_code: int, outcome: str
) -> None:
    add_run(db, NOW - 30 * HOUR, NOW - 29 * HOUR, 0)
    add_run(db, NOW - 5 * HOUR, NOW - 4 * HOUR, exit_code)
    report = status(db, now=NOW)
    assert report.last_run is not None and report.last_run.outcome == outcome
    assert report.exit_code == {"interrupted": 7, "failed": 1}[outcome]
    assert report.healthy is False


def test_some_failed_pages_or_a_deadline_are_notes_not_alarms(db: Database) -> None:
    add_run(db, NOW - 5 * HOUR, NOW - 4 * HOUR, 5, fetched=300)
    report = status(db, now=NOW)
    assert (report.healthy, report.exit_code) == (True, 0)
    assert report.notes == [
        "run 1 (started 2026-11-24T01:00:00.000000Z) reached its deadline; the rest stays queued"
    ]


def test_failing_pages_come_from_the_pages_and_the_frontier(db: Database) -> None:
    at = NOW - 3 * HOUR
    archive.save(db, response(url=SEED_URL, at=at - 48 * HOUR), None)
    archive.save(db, response(url=SEED_URL, status=503, at=at), None)
    archive.save(
        db,
        response(url=PROJECT_URL, body=b"<html>error</html>", at=at),
        ParseError("no KPI label", url=PROJECT_URL),
    )
    db["frontier"].insert(
        {
            "url": OTHER_URL,
            "host": "monitor.bangkok.go.th",
            "depth": 0,
            "state": "failed",
            "last_error": "ConnectTimeout",
            "updated_at": iso(at + HOUR),
        }
    )
    report = status(db, now=NOW)
    assert report.as_dict()["failing"] == {
        "count": 3,
        "pages": [
            {
                "url": OTHER_URL,
                "state": "failed",
                "reason": "ConnectTimeout",
                "since": "2026-11-24T04:00:00.000000Z",
            },
            {
                "url": PROJECT_URL,
                "state": "parse_error",
                "reason": f"{PROJECT_URL}: no KPI label",
                "since": "2026-11-24T03:00:00.000000Z",
            },
            {
                "url": SEED_URL,
                "state": "failed",
                "reason": "HTTP 503",
                "since": "2026-11-24T03:00:00.000000Z",
            },
        ],
    }


def test_a_page_that_answers_again_is_no_longer_failing(db: Database) -> None:
    archive.save(db, response(url=SEED_URL, at=NOW - 50 * HOUR), None)
    archive.save(db, response(url=SEED_URL, status=503, at=NOW - 26 * HOUR), None)
    archive.save(db, response(url=SEED_URL, status=304, at=NOW - 2 * HOUR), None)
    assert status(db, now=NOW).failing.count == 0


def test_pages_not_fetched_for_a_week_are_listed_oldest_first(db: Database) -> None:
    archive.save(db, response(url=SEED_URL, at=NOW - dt.timedelta(days=9)), None)
    archive.save(db, response(url=PROJECT_URL, at=NOW - dt.timedelta(days=8)), None)
    archive.save(db, response(url=OTHER_URL, at=NOW - dt.timedelta(days=2)), None)
    report = status(db, now=NOW)
    assert report.not_refreshed_days == 7
    assert [(p.url, p.state, p.since) for p in report.not_refreshed.pages] == [
        (SEED_URL, "ok", "2026-11-15T06:00:00.000000Z"),
        (PROJECT_URL, "ok", "2026-11-16T06:00:00.000000Z"),
    ]
    later = status(db, now=NOW, page_max_age=dt.timedelta(days=1))
    assert later.not_refreshed.count == 3


def test_parse_error_share_covers_the_recent_finished_runs(db: Database) -> None:
    add_run(db, NOW - 99 * HOUR, NOW - 98 * HOUR, 0, fetched=1000, parse_error=1000)
    for day in (3, 2, 1):
        add_run(
            db, NOW - day * 24 * HOUR, NOW - day * 24 * HOUR + HOUR, 0, fetched=100, parse_error=day
        )
    report = status(db, now=NOW, recent_runs=3)
    assert report.parse_errors == {
        "runs": 3,
        "fetched": 300,
        "parse_errors": 6,
        "held": 0,
        "share": 0.02,
    }


def test_held_pages_are_the_ones_whose_latest_capture_is_not_complete(db: Database) -> None:
    archive.save(db, response(url=SEED_URL, body=b"<html>v1</html>", at=NOW - 30 * HOUR), None)
    archive.save(db, response(url=SEED_URL, body=b"<html>v</html>", at=NOW - 6 * HOUR), None)
    archive.save(db, response(url=PROJECT_URL, at=NOW - 6 * HOUR), None)
    for column in ("capture_class", "capture_reason"):
        if column not in db["captures"].columns_dict:
            db["captures"].add_column(column, str)
    db.execute(
        "UPDATE captures SET capture_class = 'partial', capture_reason = 'no </html>' "
        "WHERE url = ? AND fetched_at = ?",
        [SEED_URL, iso(NOW - 6 * HOUR)],
    )
    db.execute("UPDATE captures SET capture_class = 'complete' WHERE capture_class IS NULL")
    report = status(db, now=NOW)
    assert report.as_dict()["held"] == {
        "count": 1,
        "pages": [
            {
                "url": SEED_URL,
                "state": "partial",
                "reason": "no </html>",
                "since": "2026-11-24T00:00:00.000000Z",
            }
        ],
    }


def test_the_report_counts_the_archive_and_is_json_ready(db: Database) -> None:
    add_run(db, NOW - 3 * HOUR, NOW - 2 * HOUR, 0)
    archive.save(db, response(url=SEED_URL, at=NOW - 2 * HOUR), None)
    report = status(db, now=NOW)
    data = json.loads(json.dumps(report.as_dict()))
    assert {k: v for k, v in data["archive"].items() if k != "bytes"} == {
        "pages": 1,
        "snapshots": 1,
        "captures": 1,
    }
    assert data["archive"]["bytes"] > 100_000
    assert (data["checked_at"], data["max_age_hours"], data["exit_code"]) == (
        "2026-11-24T06:00:00.000000Z",
        36,
        0,
    )


def test_pages_an_older_parser_read_are_a_note_that_asks_for_a_reparse(db: Database) -> None:
    add_run(db, NOW - 3 * HOUR, NOW - 2 * HOUR, 0)
    archive.save(db, response(url=SEED_URL, at=NOW - 2 * HOUR), seed_kpi())
    assert status(db, now=NOW).notes == []
    db.execute("UPDATE kpis SET parser_version = '1'")
    report = status(db, now=NOW)
    assert (report.healthy, report.exit_code, report.older_parser_pages) == (True, 0, 1)
    assert report.notes == [
        "1 page(s) read by an older parser: `kpi-archive reparse` reads every stored page "
        f"again with this one (parser {PARSER_VERSION})"
    ]
    assert "note: 1 page(s) read by an older parser" in report.text()


def test_the_text_form_says_unhealthy_first_then_why(db: Database) -> None:
    add_run(db, NOW - 5 * HOUR, NOW - 4 * HOUR, 4, fetched=3, parse_error=3)
    lines = status(db, now=NOW).text().splitlines()
    assert lines[:5] == [
        "archive status at 2026-11-24T06:00:00.000000Z: UNHEALTHY (exit 4)",
        "- site problem in run 1 (started 2026-11-24T01:00:00.000000Z)",
        "- no crawl has completed yet",
        "last run: run 1, 2026-11-24T01:00:00.000000Z → 2026-11-24T02:00:00.000000Z, "
        "site_problem, exit 4 (fetched 3, parse_error 3)",
        "held pages: 0",
    ]
    assert lines[-2] == "parse errors over the last 1 runs: 3 of 3 pages fetched (100.0%), held 0"
    assert re.fullmatch(r"archive: \d+\.\d MB, 0 pages, 0 snapshots, 0 captures", lines[-1])


def test_the_archive_is_read_without_writing_a_byte(tmp_path: Path) -> None:
    path = tmp_path / "kpi.db"
    archive.open_db(path).close()
    before = path.read_bytes()
    with closing(open_readonly(path)) as db:
        assert status(db, now=NOW).exit_code == 6
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            db.execute("DELETE FROM runs")
    assert path.read_bytes() == before


def test_a_file_that_is_not_an_archive_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("not sqlite")
    with pytest.raises(ArchiveError, match=r"notes\.db"):
        open_readonly(path)
