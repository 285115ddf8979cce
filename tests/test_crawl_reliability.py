"""The nightly crawl unattended: one bad page never stops it, trouble always shows in its exit.

Real loopback replay server, real archive files, and a real ``kpi-archive`` process where signals
and locks are concerned.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import archive
import parsers
from kpi_archive import crawl as crawl_module
from kpi_archive.cli import cli
from kpi_archive.crawl import CrawlOptions, CrawlSummary, crawl
from kpi_archive.replay import RECORDED_SEEDS, RECORDED_SITE, ReplayServer, parse_fault
from kpi_archive.status import open_readonly, status
from scraper.fetcher import Fetcher

KPI_ARCHIVE = str(Path(sys.executable).parent / "kpi-archive")
SEED = "https://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2029"
OTHER = "http://monitor.bangkok.go.th/mobile62/mykpi.php?pid=0900-0981"
THIRD = "http://bmavisions.com/mobile/mykpi.php?pid=5018-0816"
SEEDS = [SEED, OTHER, THIRD]


def all_seeds() -> list[str]:
    lines = RECORDED_SEEDS.read_text().splitlines()
    return [line for line in lines if line and not line.startswith("#")]


def run(db: Path, server: ReplayServer, **options: Any) -> CrawlSummary:
    values: dict[str, Any] = {
        "seeds": SEEDS,
        "host_map": server.host_map(),
        "delay": 0.02,
        "max_depth": 0,
        "fetch": {"backoff_base": 0.01, "max_retries": 1, "timeout": 5.0},
    }
    values.update(options)
    return crawl(db, CrawlOptions(**values))


def rows(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql, params).fetchall()


def last_run(db: Path) -> tuple[Any, ...]:
    return rows(db, "SELECT outcome, exit_code, reason FROM runs ORDER BY id DESC LIMIT 1")[0]


# --- isolation --------------------------------------------------------------------------------


def _raise_for(url: str, original: Any, exc: Exception) -> Any:
    def stage(*args: Any, **kwargs: Any) -> Any:
        if url in (str(a) for a in args) or any(getattr(a, "url", None) == url for a in args):
            raise exc
        return original(*args, **kwargs)

    return stage


@pytest.mark.parametrize(
    ("stage", "target", "attribute"),
    [
        ("fetch", Fetcher, "fetch"),
        ("links", crawl_module, "_follow"),
        ("save", archive, "save"),
    ],
)
def test_a_stage_crashing_on_one_page_fails_that_page_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stage: str, target: Any, attribute: str
) -> None:
    db = tmp_path / "kpi.db"
    original = getattr(target, attribute)
    if stage == "fetch":

        async def fetch(self: Fetcher, url: str, **kwargs: Any) -> Any:
            if url == OTHER:
                raise RuntimeError("boom in fetch")
            return await original(self, url, **kwargs)

        monkeypatch.setattr(Fetcher, "fetch", fetch)
    else:
        crash = _raise_for(OTHER, original, RuntimeError(f"boom in {stage}"))
        monkeypatch.setattr(target, attribute, crash)
    with ReplayServer(RECORDED_SITE) as server:
        summary = run(db, server, max_depth=1 if stage == "links" else 0)
    assert (summary.exit_code, summary.outcome, summary.counts["failed"]) == (1, "pages_failed", 1)
    error = f"RuntimeError: boom in {stage}"
    assert rows(db, "SELECT state, last_error FROM frontier WHERE url = ?", (OTHER,)) == [
        ("failed", error)
    ]
    assert rows(db, "SELECT outcome, error FROM fetch_log WHERE url = ? AND outcome = 'error'",
                (OTHER,)) == [("error", error)]  # fmt: skip
    assert rows(db, "SELECT url, status FROM pages WHERE url != ? AND url IN (?, ?) ORDER BY url",
                (OTHER, SEED, THIRD)) == [(THIRD, "ok"), (SEED, "ok")]  # fmt: skip
    assert rows(db, "SELECT count(*) FROM pages WHERE url = ?", (OTHER,)) == [(0,)]
    assert last_run(db) == ("pages_failed", 1, "1 page failed")


def test_a_parser_crash_keeps_the_page_as_a_parse_error_and_the_crawl_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "kpi.db"
    monkeypatch.setattr(parsers, "read", _raise_for(OTHER, parsers.read, RuntimeError("boom")))
    with ReplayServer(RECORDED_SITE) as server:
        summary = run(db, server)
    assert (summary.exit_code, summary.counts["parse_error"], summary.counts["new"]) == (0, 1, 2)
    assert rows(db, "SELECT status, last_error FROM pages WHERE url = ?", (OTHER,)) == [
        ("parse_error", f"{OTHER}: parser crashed: RuntimeError('boom')")
    ]


def test_a_poisoned_link_never_stops_the_nightly_crawls(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(RECORDED_SITE, site)
    page = site / "dp.bangkok.go.th" / "mobile" / "mykpi.php?pid=0411-2029"
    poisoned = b'<a href="http://[object Object]">x</a></body>'
    page.write_bytes(page.read_bytes().replace(b"</body>", poisoned))
    db = tmp_path / "kpi.db"
    fetched_at = []
    for night in range(3):
        with ReplayServer(site) as server:
            summary = run(db, server, max_depth=1)
        assert summary.exit_code in (0, 1), night
        fetched_at.append(dict(rows(db, "SELECT url, last_fetched FROM pages WHERE status = 'ok'")))
    assert set(fetched_at[0]) >= {OTHER, THIRD}
    for before, after in itertools.pairwise(fetched_at):
        assert all(after[url] > at for url, at in before.items())
    assert rows(db, "SELECT count(*) FROM runs WHERE finished IS NULL") == [(0,)]


# --- site problems ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("empty", "most pages unusable"),
        ("nodata", "most pages unusable"),
        ("status=503", "every host refused"),
        ("disallow-all", "robots.txt disallows every seed"),
    ],
)
def test_a_site_wide_problem_exits_4_and_the_run_says_why(
    tmp_path: Path, fault: str, reason: str
) -> None:
    db = tmp_path / "kpi.db"
    with ReplayServer(RECORDED_SITE, faults=[parse_fault(fault)]) as server:
        summary = run(db, server, seeds=all_seeds())
    assert (summary.exit_code, summary.outcome) == (4, "site_problem")
    assert summary.reason is not None and summary.reason.startswith(reason)
    assert last_run(db) == ("site_problem", 4, summary.reason)


def test_the_same_error_page_again_the_next_night_is_still_a_site_problem(tmp_path: Path) -> None:
    db = tmp_path / "kpi.db"
    for _night in range(2):
        with ReplayServer(RECORDED_SITE, faults=[parse_fault("nodata")]) as server:
            summary = run(db, server, seeds=all_seeds())
        assert summary.exit_code == 4


def test_one_bad_page_among_many_is_not_a_site_problem(tmp_path: Path) -> None:
    db = tmp_path / "kpi.db"
    fault = parse_fault("empty:path=/mobile/mykpi.php?pid=0411-2029")
    with ReplayServer(RECORDED_SITE, faults=[fault]) as server:
        summary = run(db, server, seeds=all_seeds())
    assert summary.exit_code in (0, 1)
    assert summary.outcome != "site_problem"


# --- deadline ----------------------------------------------------------------------------------


def test_after_the_deadline_no_page_is_taken_and_the_next_run_resumes(tmp_path: Path) -> None:
    db = tmp_path / "kpi.db"
    with ReplayServer(RECORDED_SITE, latency=0.15) as server:
        stopped = run(db, server, seeds=all_seeds(), deadline=0.5)
        queued = rows(db, "SELECT count(*) FROM frontier WHERE state = 'queued'")[0][0]
        assert (stopped.exit_code, stopped.outcome) == (5, "deadline")
        assert stopped.counts["fetched"] > 0 and queued > 0
        # Every page that was taken was finished: fetched, saved and marked done.
        assert rows(db, "SELECT count(*) FROM fetch_log f JOIN frontier r ON r.url = f.url "
                        "WHERE r.state = 'queued'") == [(0,)]  # fmt: skip
        assert rows(db, "SELECT count(*) FROM crawl_lock") == [(0,)]
        resumed = run(db, server, seeds=all_seeds())
    assert (resumed.resumed, resumed.exit_code) == (True, 0)
    assert rows(db, "SELECT count(*) FROM frontier WHERE state = 'queued'") == [(0,)]


# --- signals and the lock ----------------------------------------------------------------------


def crawl_command(db: Path, server: ReplayServer, tmp_path: Path) -> list[str]:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(all_seeds()) + "\n")
    maps = [f"--map-host={h}={b}" for h, b in server.host_map().items()]
    return [KPI_ARCHIVE, "crawl", str(db), "--seeds-file", str(seeds), "--delay", "0.05",
            "--max-depth", "0", "--quiet", *maps]  # fmt: skip


def start_crawl(
    db: Path, server: ReplayServer, tmp_path: Path, **env: str
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        crawl_command(db, server, tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **env},
    )


def wait_for(predicate: Any, what: str) -> None:
    for _ in range(600):
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


def done_pages(db: Path) -> int:
    try:
        return rows(db, "SELECT count(*) FROM frontier WHERE state = 'done'")[0][0]
    except sqlite3.OperationalError:
        return 0


@pytest.mark.slow
@pytest.mark.parametrize(("number", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_finishes_the_page_in_hand_records_the_run_and_releases_the_lock(
    tmp_path: Path, number: signal.Signals, code: int
) -> None:
    db = tmp_path / "kpi.db"
    with ReplayServer(RECORDED_SITE, latency=0.3) as server:
        process = start_crawl(db, server, tmp_path)
        wait_for(lambda: done_pages(db) >= 2, "two pages done")
        process.send_signal(number)
        assert process.wait(timeout=60) == code
    name = signal.Signals(number).name
    assert last_run(db) == ("interrupted", code, f"stopped by {name}")
    assert rows(db, "SELECT count(*) FROM crawl_lock") == [(0,)]
    assert rows(db, "SELECT count(*) FROM runs WHERE finished IS NULL") == [(0,)]
    # The page in hand was finished: every page requested is saved and done, none left half-way.
    assert rows(db, "SELECT count(*) FROM fetch_log f JOIN frontier r ON r.url = f.url "
                    "WHERE r.state = 'queued'") == [(0,)]  # fmt: skip
    assert rows(db, "SELECT count(*) FROM frontier WHERE state = 'done'")[0][0] >= 2
    assert rows(db, "SELECT count(*) FROM frontier WHERE state = 'queued'")[0][0] > 0


@pytest.mark.slow
def test_a_live_crawl_keeps_its_lock_beating_and_a_second_crawl_exits_3(tmp_path: Path) -> None:
    db = tmp_path / "kpi.db"
    with ReplayServer(RECORDED_SITE, latency=0.2) as server:
        first = start_crawl(db, server, tmp_path, KPI_ARCHIVE_HEARTBEAT_SECONDS="0.1")
        try:
            wait_for(lambda: done_pages(db) >= 1, "one page done")
            beat = rows(db, "SELECT heartbeat FROM crawl_lock")[0][0]
            wait_for(lambda: rows(db, "SELECT heartbeat FROM crawl_lock")[0][0] > beat, "a beat")
            second = subprocess.run(
                crawl_command(db, server, tmp_path), capture_output=True, text=True, timeout=60
            )
            assert second.returncode == 3
            assert "another crawl holds the lock (pid " in second.stderr
        finally:
            first.send_signal(signal.SIGTERM)
            first.wait(timeout=60)
    assert rows(db, "SELECT count(*) FROM runs") == [(1,)]


def test_status_reports_the_runs_the_crawl_recorded(tmp_path: Path) -> None:
    db = tmp_path / "kpi.db"
    with ReplayServer(RECORDED_SITE, faults=[parse_fault("nodata")]) as server:
        run(db, server, seeds=all_seeds())
    command = [KPI_ARCHIVE, "status", str(db), "--json"]
    result = subprocess.run(command, capture_output=True, check=False)
    assert result.returncode == 4
    report = json.loads(result.stdout)
    assert (report["healthy"], report["last_run"]["outcome"]) == (False, "site_problem")


def test_every_test_the_readme_names_as_proof_exists() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Reliability", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`(?:test_\w+\.py::)?(test_\w+)`", section))
    tests = Path(__file__).resolve().parent
    defined = {
        m for p in tests.glob("test_*.py") for m in re.findall(r"def (test_\w+)", p.read_text())
    }
    assert len(named) >= 10
    assert named - {p.stem for p in tests.glob("test_*.py")} <= defined


def test_the_cli_says_why_a_crawl_stopped_at_its_deadline(tmp_path: Path) -> None:
    with ReplayServer(RECORDED_SITE) as server:
        maps = [f"--map-host={h}={b}" for h, b in server.host_map().items()]
        command = ["crawl", str(tmp_path / "kpi.db"), "--seed", SEED, "--deadline", "0", *maps]
        result = CliRunner().invoke(cli, [*command, "--quiet"])
    assert result.exit_code == 5
    assert result.stdout.startswith(
        "fetched 0, unchanged 0, new 0, changed 0, held 0, failed 0, gone 0"
    )
    assert result.stderr == "deadline reached: the rest stays queued for the next run\n"


def test_status_lists_a_capture_the_crawl_held(tmp_path: Path) -> None:
    db = tmp_path / "kpi.db"
    with ReplayServer(RECORDED_SITE) as server:
        run(db, server)
    fault = parse_fault("cut=55:path=/mobile/mykpi.php?pid=0411-2029")
    with ReplayServer(RECORDED_SITE, faults=[fault]) as server:
        summary = run(db, server)
    assert (summary.counts["held"], summary.exit_code) == (1, 0)
    with closing(open_readonly(db)) as database:
        held = status(database).held
    assert [(p.url, p.state) for p in held.pages] == [(SEED, "partial")]
