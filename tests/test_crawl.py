"""The crawl end to end: the recorded site over real loopback HTTP into a real SQLite archive."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from helpers import frontier_counts, fts_in_step

import parsers
from archive import open_db, versions
from kpi_archive import crawl as crawl_module
from kpi_archive import crawlstate, load
from kpi_archive.crawl import CrawlOptions, CrawlSummary, crawl
from kpi_archive.errors import LockError
from kpi_archive.replay import RECORDED_LATER, RECORDED_SITE, ReplayServer, parse_fault
from scraper import seeds

SITE = RECORDED_SITE
LATER = RECORDED_LATER
HTTPS = {"dp.bangkok.go.th", "policy.bangkok.go.th"}
KPI_ARCHIVE = str(Path(sys.executable).parent / "kpi-archive")
IT_REPORT = "http://dp2.bangkok.go.th/mobile/reportprojectit662.php?selDEP=13"


def site_urls(root: Path = SITE) -> list[str]:
    """Every page recorded under ``root``, as its real URL."""
    urls = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix != ".headers" and path.name != "robots.txt":
            host, *rest = path.relative_to(root).parts
            scheme = "https" if host in HTTPS else "http"
            urls.append(f"{scheme}://{host}/" + "/".join(rest))
    return urls


def run(db: Path, server: ReplayServer, **options) -> CrawlSummary:
    values = {
        "seeds": site_urls(),
        "host_map": server.host_map(),
        "delay": 0.02,
        "fetch": {"backoff_base": 0.02, "timeout": 5.0},
    }
    values.update(options)
    return crawl(db, CrawlOptions(**values))


def rows(db: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(db)) as conn:
        versions.register(conn)  # kpi_record(), which the changes view reads versions with
        return conn.execute(sql).fetchall()


def done_pages(db: Path) -> int:
    """Frontier rows done so far, 0 while the crawl has not created its tables yet."""
    try:
        return rows(db, "SELECT count(*) FROM frontier WHERE state = 'done'")[0][0]
    except sqlite3.OperationalError:
        return 0


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CrawlSummary, ReplayServer]:
    db = tmp_path_factory.mktemp("first") / "kpi.db"
    with ReplayServer(SITE) as server:
        summary = run(db, server, delay=0.05)
    return db, summary, server


def test_the_first_crawl_archives_every_recorded_page(first) -> None:
    db, summary, _ = first
    assert len(site_urls()) == 45
    counts = summary.counts
    assert (counts["fetched"], counts["failed"], counts["skipped"], summary.exit_code) == (
        51,
        0,
        1,
        0,
    )
    # 44 recorded pages answer 200; the bs2568 page is not a kind we parse.
    assert counts["new"] + counts["parse_error"] == 44
    assert counts["parse_error"] == 1
    # Links to pages the site does not have (index.php, one KPI) are cheap, recorded misses.
    assert (counts["missing"], counts["gone"]) == (7, 0)
    assert rows(db, "SELECT count(*) FROM snapshots") == [(44,)]
    assert rows(db, "PRAGMA integrity_check") == [("ok",)]


def test_the_crawl_indexes_its_pages_for_search_before_its_finish(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(crawl_module, "INDEX_EVERY", 1)
    finishes: list[object] = []
    # The finish indexes nothing here.
    monkeypatch.setattr(load, "finish", lambda db, **_: finishes.append(db))
    with ReplayServer(SITE) as server:
        summary = run(tmp_path / "kpi.db", server)
    assert len(finishes) == 1
    db = open_db(tmp_path / "kpi.db")
    assert summary.counts["new"] > 10
    assert db.execute("SELECT count(*) FROM search_pending").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM kpis_fts").fetchone() == (
        db.execute("SELECT count(*) FROM kpis").fetchone()
    )
    assert fts_in_step(db)


def test_the_summary_line_names_every_figure(first) -> None:
    _, summary, _ = first
    line = summary.line()
    assert line.startswith(
        "fetched 51, unchanged 0, new 43, changed 0, held 0, failed 0, gone 0 in "
    )
    assert line.endswith(" s (7 missing, 1 parse error, 1 skipped)")


def test_each_host_saw_one_request_at_a_time_and_one_per_delay(first) -> None:
    db, _, server = first
    hosts = {h.host for h in server.hits()}
    assert hosts == {p.name for p in SITE.iterdir()}
    for host in hosts:
        assert server.peak_in_flight(host) == 1
        assert min(server.gaps(host)) >= 0  # each request began after the last one ended
        starts = [
            dt.datetime.fromisoformat(started)
            for request_url, started in rows(
                db, "SELECT request_url, started_at FROM fetch_log ORDER BY started_at"
            )
            if urlsplit(request_url).path.split("/")[1] == host  # mapped: base/<host>/<path>
        ]
        assert len(starts) == len(server.hits(host))
        assert min((b - a).total_seconds() for a, b in itertools.pairwise(starts)) >= 0.05


def test_map_host_keeps_the_real_urls_in_the_archive(first) -> None:
    db, _, server = first
    assert rows(db, "SELECT count(*) FROM pages WHERE url LIKE 'http://127.0.0.1%'") == [(0,)]
    assert ("https://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2029",) in rows(
        db, "SELECT url FROM pages"
    )
    request_urls = rows(db, "SELECT DISTINCT substr(request_url, 1, 22) FROM fetch_log")
    assert request_urls == [(server.url[:22],)]


def test_robots_disallowed_pages_are_never_requested(first) -> None:
    db, _, server = first
    assert not [h for h in server.hits() if "reportprojectit" in h.target]
    assert rows(db, f"SELECT state, last_error FROM frontier WHERE url = '{IT_REPORT}'") == [
        ("blocked", "disallowed by robots.txt")
    ]
    assert len([h for h in server.hits() if h.target == "/robots.txt"]) == 6


def test_pages_with_the_wrong_charset_are_still_read(first) -> None:
    db, _, _ = first
    assert rows(db, "SELECT encoding, substr(title, 1, 8) FROM kpis WHERE pid = '0406-0752'") == [
        ("cp874", "สปท.9/ร้")
    ]
    assert rows(db, "SELECT encoding FROM kpis WHERE pid = '0200-921'") == [("utf-8",)]


def test_every_run_and_attempt_is_recorded(first) -> None:
    db, summary, _ = first
    assert rows(db, "SELECT id, fetched, new, exit_code FROM runs") == [(summary.run_id, 51, 43, 0)]
    # 51 pages plus one robots.txt per host.
    assert rows(db, "SELECT count(*) FROM fetch_log") == [(57,)]
    assert rows(db, "SELECT count(*) FROM crawl_lock") == [(0,)]


@pytest.fixture
def crawled(tmp_path: Path) -> Path:
    db = tmp_path / "kpi.db"
    with ReplayServer(SITE) as server:
        run(db, server)
    return db


def test_a_second_crawl_of_an_unchanged_site_writes_no_snapshot_or_version(crawled: Path) -> None:
    before = rows(crawled, "SELECT count(*) FROM snapshots") + rows(
        crawled, "SELECT count(*) FROM kpi_versions"
    )
    with ReplayServer(SITE) as server:
        summary = run(crawled, server)
        conditional = [h for h in server.hits() if "if-none-match" in h.headers]
    assert summary.counts["unchanged"] == 44
    assert summary.counts["new"] + summary.counts["changed"] == 0
    assert len(conditional) == 44 and {h.status for h in conditional} == {304}
    after = rows(crawled, "SELECT count(*) FROM snapshots") + rows(
        crawled, "SELECT count(*) FROM kpi_versions"
    )
    assert after == before


def test_a_page_answered_304_gives_its_saved_links_without_being_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "kpi.db"
    listing = "http://monitor.bangkok.go.th/mobile/index11.php?selDEP=23000000&selYear=2564"
    with ReplayServer(SITE) as server:
        first = run(db, server, seeds=[listing], max_depth=1)
        read: list[str] = []
        real_read = parsers.read

        def counting_read(body: bytes, url: str | None = None, headers=None):  # type: ignore[no-untyped-def]
            read.append(url)
            return real_read(body, url, headers)

        monkeypatch.setattr(parsers, "read", counting_read)
        second = run(db, server, seeds=[listing], max_depth=1)
    # the listing, then the two pages it links to on its own host (index.php and KPI 2300-0813,
    # neither recorded): the second time the listing answers 304 and its saved links are followed
    assert dict(first.counts) == {"fetched": 3, "new": 1, "missing": 2}
    assert dict(second.counts) == {"fetched": 3, "unchanged": 1, "missing": 2}
    assert read == []


def test_a_crawl_of_the_later_site_finds_the_real_changes(crawled: Path) -> None:
    with ReplayServer(SITE, overlays=[LATER]) as server:
        summary = run(crawled, server)
    assert (summary.counts["changed"], summary.counts["new"], summary.exit_code) == (3, 0, 0)
    changed = rows(crawled, "SELECT DISTINCT pid FROM changes WHERE new IS NOT old ORDER BY pid")
    # 2400-1060's compact rendering shows no title, quarters or score: not a change (issue 8).
    assert changed == [("01000000-2435",), ("0900-0976",), ("1100-2001",)]
    assert rows(crawled, "SELECT field, old, new FROM changes WHERE pid = '1100-2001'") == [
        ("target_text", "50", "60"),
        ("target_value", 50.0, 60.0),
    ]
    # Re-encoded in cp874: the same text and record, so a revisit of the first snapshot.
    assert rows(crawled, "SELECT count(*) FROM snapshots WHERE url LIKE '%pid=0411-2029'") == [(1,)]
    assert rows(crawled, "SELECT count(*) FROM kpi_versions WHERE pid = '0411-2029'") == [(1,)]
    assert rows(crawled, "SELECT status FROM pages WHERE pid = '1900-6516'") == [("missing",)]


def test_links_to_other_hosts_are_not_followed(tmp_path: Path) -> None:
    # The agency report on dp. links to a KPI page on monitor.: a host not among the seeds.
    seed = "https://dp.bangkok.go.th/mobile/index102.php?selDEP=50350000"
    with ReplayServer(SITE) as server:
        run(tmp_path / "kpi.db", server, seeds=[seed])
        assert {h.host for h in server.hits()} == {"dp.bangkok.go.th"}
    assert rows(tmp_path / "kpi.db", "SELECT DISTINCT host FROM frontier") == [
        ("dp.bangkok.go.th",)
    ]


def test_max_depth_zero_fetches_the_seeds_only(tmp_path: Path) -> None:
    seed = "http://monitor.bangkok.go.th/mobile/index11.php?selDEP=23000000&selYear=2564"
    with ReplayServer(SITE) as server:
        summary = run(tmp_path / "kpi.db", server, seeds=[seed], max_depth=0)
    assert summary.counts["fetched"] == 1


def test_max_pages_leaves_the_rest_queued_and_the_next_run_resumes(tmp_path: Path) -> None:
    db = tmp_path / "kpi.db"
    with ReplayServer(SITE) as server:
        first_run = run(db, server, max_pages=10, max_depth=0)
        assert first_run.counts["fetched"] == 10
        with closing(open_db(db)) as database:
            left = frontier_counts(database)
        assert left["queued"] + left.get("blocked", 0) == 35
        second = run(db, server, max_depth=0)
    assert second.resumed is True
    assert second.counts["fetched"] == 34
    assert rows(db, "SELECT count(*) FROM pages") == [(44,)]


def test_failed_pages_exit_1_and_are_tried_again_next_run(tmp_path: Path) -> None:
    db = tmp_path / "kpi.db"
    seed = "http://dp1.bangkok.go.th/mobile/mykpi.php?pid=5035-905"
    fault = parse_fault("status=500:path=/mobile/mykpi.php")
    with ReplayServer(SITE, faults=[fault]) as server:
        failed = run(db, server, seeds=[seed], fetch={"backoff_base": 0.01, "max_retries": 2})
        assert len(server.hits("dp1.bangkok.go.th")) == 1 + 3
    assert (failed.counts["failed"], failed.exit_code) == (1, 1)
    assert rows(db, "SELECT state, last_error FROM frontier") == [("failed", f"{seed}: HTTP 500")]
    with ReplayServer(SITE) as server:
        again = run(db, server, seeds=[seed], max_depth=0)
    assert (again.counts["new"], again.exit_code) == (1, 0)


def test_refresh_older_than_skips_recently_fetched_pages(crawled: Path) -> None:
    with ReplayServer(SITE) as server:
        summary = run(crawled, server, refresh_older_than=3600.0)
        fetched_pages = [h for h in server.hits() if h.target != "/robots.txt"]
    # Only pages without a stored body (the 404s) are fetched again.
    assert summary.counts["skipped"] == 44 + 1
    assert all(h.status == 404 for h in fetched_pages)


def test_a_held_lock_refuses_a_second_crawl(tmp_path: Path) -> None:
    db = tmp_path / "kpi.db"
    with closing(open_db(db)) as database:
        crawlstate.acquire_lock(database)
    with ReplayServer(SITE) as server, pytest.raises(LockError, match="another crawl holds"):
        run(db, server)


@pytest.mark.slow
def test_a_crawl_killed_with_sigkill_resumes_and_the_archive_is_intact(tmp_path: Path) -> None:
    db = tmp_path / "kpi.db"
    with ReplayServer(SITE, latency=0.01) as server:
        maps = [f"--map-host={h}={b}" for h, b in server.host_map().items()]
        seeds = tmp_path / "seeds.txt"
        seeds.write_text("\n".join(site_urls()) + "\n")
        command = [
            KPI_ARCHIVE,
            "crawl",
            str(db),
            "--seeds-file",
            str(seeds),
            "--delay",
            "0.1",
            "--quiet",
            *maps,
        ]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and done_pages(db) < 15:
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert rows(db, "SELECT count(*) FROM crawl_lock") == [(1,)]
        # The killed crawl's heartbeat stopped; a stale limit of 0 s stands for minutes passing.
        summary = run(db, server, lock_stale_seconds=0)
    assert summary.resumed is True
    assert summary.exit_code == 0
    assert summary.counts["fetched"] < 51
    assert rows(db, "PRAGMA integrity_check") == [("ok",)]
    assert rows(db, "SELECT count(*) FROM pages WHERE status = 'ok'") == [(43,)]
    assert rows(db, "SELECT count(*) FROM frontier WHERE state = 'queued'") == [(0,)]
    assert rows(db, "SELECT count(*) FROM runs WHERE finished IS NULL") == [(1,)]


def test_without_seeds_the_crawl_starts_from_the_bundled_list_and_agency_reports() -> None:
    urls = CrawlOptions(years=None).initial_urls()
    assert urls[0] == "http://bmavisions.com/mobile/mykpi.php?pid=0900-0991"
    assert "http://monitor.bangkok.go.th/mobile/index11.php?selDEP=50350000&selYear=2562" in urls
    assert "http://monitor.bangkok.go.th/mobile/index103.php?selDEP=01000000" in urls
    years = len({u.rsplit("=", 1)[1] for u in urls if "selYear=" in u})
    # Four agency reports (index11 23000000/2564, index101 09000000, index102 50230000 and
    # 50370000) are bundled seeds already.
    assert len(urls) == 413 + 73 * (years + 3) - 4


def test_agencies_and_years_replace_the_bundled_list() -> None:
    urls = CrawlOptions(agencies=["50350000"], years=[2565]).initial_urls()
    assert urls == [
        "http://monitor.bangkok.go.th/mobile/index11.php?selDEP=50350000&selYear=2565",
        "http://monitor.bangkok.go.th/mobile/index101.php?selDEP=50350000",
        "http://monitor.bangkok.go.th/mobile/index102.php?selDEP=50350000",
        "http://monitor.bangkok.go.th/mobile/index103.php?selDEP=50350000",
    ]
    ranged = CrawlOptions(pid_ranges=[seeds.parse_pid_range("5001:0700-0701")]).initial_urls()
    assert ranged == [
        "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=5001-0700",
        "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=5001-0701",
    ]


def test_an_error_in_background_db_work_is_raised_not_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_attempts = crawlstate.log_attempts

    def broken(db: object, run_id: int, attempts: list[dict[str, object]]) -> None:
        if any(str(a["url"]).endswith("/robots.txt") for a in attempts):
            raise RuntimeError("the robots log failed")
        log_attempts(db, run_id, attempts)  # type: ignore[arg-type]

    # robots.txt's fetches are logged on the DB thread without being awaited; an error there
    # must reach the caller, not vanish with its future.
    monkeypatch.setattr("kpi_archive.crawl.crawlstate.log_attempts", broken)
    monkeypatch.setattr("kpi_archive.crawl.load.finish", lambda db: None)
    with ReplayServer(SITE) as server, pytest.raises(RuntimeError, match="robots log failed"):
        run(tmp_path / "kpi.db", server, max_depth=0)


def wait_for(condition, seconds: float = 20.0) -> None:
    """Poll ``condition`` until it holds; fail (never hang) if it does not within ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_a_host_keeps_fetching_while_its_pages_wait_to_be_saved_up_to_the_pages_in_hand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = "monitor.bangkok.go.th"
    for n in range(12):
        page = tmp_path / "site" / host / "mobile" / f"mykpi.php?pid=0411-{n:04d}"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(f"<p>{n}</p>")
    urls = [f"http://{host}/mobile/mykpi.php?pid=0411-{n:04d}" for n in range(12)]
    # Saving waits until the test lets it: the DB thread is as busy as it can be.
    saving = threading.Event()
    store = crawl_module._store

    def slow_store(*args, **kwargs):
        saving.wait(timeout=20)
        return store(*args, **kwargs)

    monkeypatch.setattr(crawl_module, "_store", slow_store)
    monkeypatch.setattr(crawl_module, "IN_HAND", 3)
    db = tmp_path / "kpi.db"
    with ReplayServer(tmp_path / "site") as server:
        pages = lambda: [h for h in server.log if h.target != "/robots.txt"]  # noqa: E731
        result: list[CrawlSummary] = []
        options = {"seeds": urls, "max_depth": 0, "delay": 0.01}
        thread = threading.Thread(target=lambda: result.append(run(db, server, **options)))
        thread.start()
        wait_for(lambda: len(pages()) >= 3)  # the host went on fetching with nothing saved
        time.sleep(0.5)  # dozens of delays: time enough to overrun the bound if it could
        fetched_unsaved = len(pages())
        saving.set()
        thread.join()
    assert fetched_unsaved == 3
    assert result[0].counts["fetched"] == 12
    assert rows(db, "SELECT count(*) FROM frontier WHERE state = 'done'") == [(12,)]
