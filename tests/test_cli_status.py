"""``kpi-archive status`` as cron, systemd or a monitor runs it: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

import archive
from kpi_archive.cli import cli


def add_run(path: Path, exit_code: int, hours_ago: float, **values: object) -> None:
    with archive.open_db(path) as db:
        db.execute(
            "INSERT INTO runs (started, finished, exit_code, outcome, reason) VALUES "
            "(strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?), strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?), "
            "?, ?, ?)",
            [f"-{hours_ago + 1} hours", f"-{hours_ago} hours", exit_code,
             values.get("outcome"), values.get("reason")],
        )  # fmt: skip


def status(path: Path, *args: str):
    return CliRunner().invoke(cli, ["status", str(path), *args])


def test_a_healthy_archive_exits_0_and_says_so_first(tmp_path: Path) -> None:
    db = tmp_path / "kpi.db"
    add_run(db, 0, hours_ago=2)
    result = status(db)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].endswith(": healthy")


def test_a_site_problem_exits_4_with_the_reason(tmp_path: Path) -> None:
    db = tmp_path / "kpi.db"
    add_run(db, 0, hours_ago=26)
    reason = "robots.txt disallows every seed (6 of 6)"
    add_run(db, 4, hours_ago=2, outcome="site_problem", reason=reason)
    result = status(db)
    assert result.exit_code == 4
    assert result.stdout.splitlines()[1].startswith("- site problem in run 2 (started ")
    assert result.stdout.splitlines()[1].endswith("): robots.txt disallows every seed (6 of 6)")


def test_max_age_decides_when_the_last_crawl_is_too_old(tmp_path: Path) -> None:
    db = tmp_path / "kpi.db"
    add_run(db, 0, hours_ago=30)
    assert status(db).exit_code == 0
    assert status(db, "--max-age", "1d").exit_code == 6
    assert status(db, "--max-age", "2d").exit_code == 0


def test_json_is_one_object_with_the_verdict_and_the_exit_code(tmp_path: Path) -> None:
    db = tmp_path / "kpi.db"
    add_run(db, 143, hours_ago=1, outcome="interrupted", reason="stopped by SIGTERM")
    result = status(db, "--json")
    assert result.exit_code == 7
    report = json.loads(result.stdout)
    assert (report["healthy"], report["exit_code"], report["last_run"]["reason"]) == (
        False,
        7,
        "stopped by SIGTERM",
    )
    assert [p["kind"] for p in report["problems"]] == ["interrupted", "stale"]


def test_a_missing_archive_is_a_usage_error(tmp_path: Path) -> None:
    result = status(tmp_path / "nothing.db")
    assert result.exit_code == 2
    assert "no such archive file" in result.stderr


def test_a_file_that_is_not_an_archive_exits_2_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("not sqlite")
    result = status(path)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ")
    assert len(result.stderr.splitlines()) == 1
