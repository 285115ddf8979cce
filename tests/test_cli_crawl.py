"""``kpi-archive crawl`` and ``kpi-archive replay`` as a user runs them: exit codes and output."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from helpers import loopback_port

from archive import open_db
from kpi_archive import crawlstate
from kpi_archive.cli import cli, parse_age, parse_host_map
from kpi_archive.replay import RECORDED_SITE, ReplayServer, parse_fault

SITE = RECORDED_SITE
KPI_ARCHIVE = str(Path(sys.executable).parent / "kpi-archive")
SEED = "https://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2029"
SUMMARY = re.compile(
    r"^fetched \d+, unchanged \d+, new \d+, changed \d+, held \d+, failed \d+, gone \d+ "
    r"in \d+\.\d s"
)


@pytest.fixture
def server():
    with ReplayServer(SITE) as replay:
        yield replay


def crawl(db: Path, server: ReplayServer, *args: str):
    maps = [f"--map-host={h}={b}" for h, b in server.host_map().items()]
    command = ["crawl", str(db), "--seed", SEED, "--delay", "0.02", "--max-depth", "0", *maps]
    return CliRunner().invoke(cli, [*command, *args])


def test_a_good_crawl_prints_the_summary_line_and_exits_0(tmp_path: Path, server) -> None:
    result = crawl(tmp_path / "kpi.db", server, "--quiet")
    assert result.exit_code == 0, result.output
    assert SUMMARY.match(result.stdout)
    assert result.stdout.startswith(
        "fetched 1, unchanged 0, new 1, changed 0, held 0, failed 0, gone 0"
    )
    assert result.stderr == ""


def test_without_a_terminal_each_page_is_one_plain_log_line(tmp_path: Path, server) -> None:
    result = crawl(tmp_path / "kpi.db", server)
    assert result.stderr == f"new         {SEED}\n"


def test_log_json_prints_one_json_object_per_page_and_summary(tmp_path: Path, server) -> None:
    result = crawl(tmp_path / "kpi.db", server, "--log-json")
    page, summary = [json.loads(line) for line in result.stdout.splitlines()]
    assert page == {"url": SEED, "outcome": "new", "done": 1, "queued": 0, "error": None}
    assert {k: summary[k] for k in ("fetched", "new", "failed", "exit_code", "resumed")} == {
        "fetched": 1,
        "new": 1,
        "failed": 0,
        "exit_code": 0,
        "resumed": False,
    }


def test_failed_pages_make_the_exit_code_1(tmp_path: Path, server) -> None:
    server.faults.append(parse_fault("status=403:path=/mobile/"))
    result = crawl(tmp_path / "kpi.db", server, "--quiet")
    assert result.exit_code == 1
    assert "failed 1" in result.stdout


def test_a_held_lock_exits_3_with_a_clear_message(tmp_path: Path, server) -> None:
    db = tmp_path / "kpi.db"
    with closing(open_db(db)) as database:
        crawlstate.acquire_lock(database)
    result = crawl(db, server)
    assert result.exit_code == 3
    assert result.stderr.startswith("Error: ")
    assert "another crawl holds the lock (pid " in result.stderr
    assert result.stderr.endswith("try again when it has finished\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--years", "2023"], "Buddhist Era"),
        (["--map-host", "dp.bangkok.go.th"], "--map-host must look like"),
        (["--pid-range", "5001-0700"], "--pid-range must look like"),
        (["--agencies", "50x5"], "is not a 4-digit pid prefix"),
        (["--refresh-older-than", "soon"], "--refresh-older-than must look like"),
        (["--quiet", "--verbose"], "cannot be used together"),
        (["--seed", "/mobile/mykpi.php"], "not an absolute http(s) URL"),
        (["--seed", "http://[::1/mobile/mykpi.php"], "not an absolute http(s) URL: 'http://[::1/"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["crawl", str(tmp_path / "kpi.db"), *args])
    assert result.exit_code == 2
    assert message in result.stderr


def test_replay_rejects_a_bad_fault_spec(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["replay", str(SITE), "--fault", "explode"])
    assert result.exit_code == 2
    assert "unknown key 'explode'" in result.stderr


@pytest.mark.slow
def test_replay_serves_the_recorded_site_until_stopped() -> None:
    process = subprocess.Popen(
        [KPI_ARCHIVE, "replay", str(SITE), "--port", "0", "--latency", "5"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        maps = process.stdout.readline()
        port = loopback_port(banner)
        assert (
            banner
            == f"Serving {SITE} on http://127.0.0.1:{port} (Ctrl-C to stop); crawl it with:\n"
        )
        assert f"--map-host dp.bangkok.go.th=http://127.0.0.1:{port}/dp.bangkok.go.th" in maps
        page = httpx.get(f"http://127.0.0.1:{port}/dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2029")
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_a_file_that_is_not_an_archive_exits_2_and_is_left_untouched(
    tmp_path: Path, server
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n", encoding="utf-8")
    result = crawl(notes, server)
    assert result.exit_code == 2
    assert result.stderr == f"Error: {notes}: not an SQLite database; refusing to touch it\n"
    assert notes.read_text(encoding="utf-8") == "my notes\n"


def test_ages_and_host_maps_parse() -> None:
    assert [parse_age(a) for a in ("90", "30m", "12h", "2d", "1w")] == [
        90.0,
        1800.0,
        43200.0,
        172800.0,
        604800.0,
    ]
    assert parse_host_map(["DP.bangkok.go.th=http://127.0.0.1:8765/dp.bangkok.go.th"]) == {
        "dp.bangkok.go.th": "http://127.0.0.1:8765/dp.bangkok.go.th"
    }


def test_a_setting_of_the_wrong_type_is_one_line_and_exit_2(tmp_path: Path, server) -> None:
    result = CliRunner(env={"KPI_ARCHIVE_CONCURRENCY": "four"}).invoke(
        cli, ["crawl", str(tmp_path / "kpi.db"), "--seed", SEED]
    )
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: KPI_ARCHIVE_CONCURRENCY='four' is not a valid int "
        "(hosts fetched in parallel (one request at a time per host))\n"
    )
    assert not (tmp_path / "kpi.db").exists()
