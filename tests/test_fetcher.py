"""The polite fetcher against a real loopback server (``kpi_archive.replay``): no HTTP mocks."""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import itertools
import json
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from kpi_archive import config
from kpi_archive.replay import RECORDED_SITE, ReplayServer, parse_fault
from scraper.fetcher import Fetched, Fetcher, FetchOptions, parse_retry_after

HOST = "monitor.bangkok.go.th"
OTHER = "dp.bangkok.go.th"
PAGE = f"http://{HOST}/mobile/mykpi.php?pid=0411-2029"


def write_site(root: Path, pages: dict[str, bytes | str], headers: dict[str, dict] | None = None):
    """Write ``{"host/path?query": body}`` under ``root``, with optional sidecars."""
    for name, body in pages.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body.encode() if isinstance(body, str) else body)
    for name, sidecar in (headers or {}).items():
        (root / (name + ".headers")).write_text(json.dumps(sidecar))
    return root


@pytest.fixture
def site(tmp_path: Path) -> Path:
    pages = {
        f"{h}/mobile/mykpi.php?pid=0411-{n:04d}": f"<p>{h} {n}</p>"
        for h in (HOST, OTHER)
        for n in range(2029, 2033)
    }
    return write_site(tmp_path / "site", pages)


def options(server: ReplayServer, **overrides) -> FetchOptions:
    values = {
        "delay": 0.2,
        "timeout": 2.0,
        "max_retries": 2,
        "backoff_base": 0.05,
        "host_map": server.host_map(),
    }
    values.update(overrides)
    return FetchOptions(**values)


def monotonic_now() -> dt.datetime:
    """The fetcher's ``now`` on its own monotonic clock, so request starts compare exactly."""
    return dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=time.monotonic())


async def fetch_all(server: ReplayServer, urls: list[str], **overrides):
    async with httpx.AsyncClient(trust_env=False) as client:
        fetcher = Fetcher(client, options(server, **overrides), now=monotonic_now)
        return await asyncio.gather(*(fetcher.fetch(u) for u in urls))


def start_gaps(results: list[Fetched], host: str) -> list[float]:
    """Seconds from each request's start to the next one's start to ``host``."""
    starts = sorted(
        a.started_at for r in results for a in r.attempts if urlsplit(a.url).hostname == host
    )
    return [(b - a).total_seconds() for a, b in itertools.pairwise(starts)]


class Sleeps:
    """An injected sleep that records each wait and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(round(seconds, 3))


async def test_one_request_per_host_per_delay_and_never_two_in_flight(site: Path) -> None:
    urls = [
        f"http://{h}/mobile/mykpi.php?pid=0411-{n:04d}"
        for h in (HOST, OTHER)
        for n in range(2029, 2033)
    ]
    with ReplayServer(site, latency=0.02) as server:
        results = await fetch_all(server, urls)
        assert [r.response.status for r in results] == [200] * 8
        for host in (HOST, OTHER):
            assert server.peak_in_flight(host) == 1
            assert min(server.gaps(host)) >= 0  # each request began after the last one ended
            gaps = start_gaps(results, host)
            assert len(gaps) == 3
            assert min(gaps) >= 0.2
        # The two hosts ran side by side: each host's requests overlap the other's span.
        first, other = server.hits(HOST), server.hits(OTHER)
        assert other[0].start < first[-1].end
        assert first[0].start < other[-1].end


@pytest.mark.slow
async def test_default_delay_of_one_second_holds_over_three_requests(site: Path) -> None:
    urls = [f"http://{HOST}/mobile/mykpi.php?pid=0411-{n:04d}" for n in (2029, 2030, 2031)]
    with ReplayServer(site) as server:
        async with httpx.AsyncClient(trust_env=False) as client:
            fetcher = Fetcher(client, FetchOptions(host_map=server.host_map()), now=monotonic_now)
            assert fetcher.options.delay == config.HOST_DELAY == 1.0
            results = [await fetcher.fetch(url) for url in urls]
        assert all(r.ok for r in results)
        gaps = start_gaps(results, HOST)
        assert len(gaps) == 2
        assert min(gaps) >= 1.0


async def test_a_slow_answer_holds_the_next_request_until_it_ends(site: Path) -> None:
    urls = [f"http://{HOST}/mobile/mykpi.php?pid=0411-{n:04d}" for n in (2029, 2030, 2031)]
    with ReplayServer(site, latency=0.15) as server:
        results = await fetch_all(server, urls, delay=0.05)
        assert [r.response.status for r in results] == [200] * 3
        assert server.peak_in_flight(HOST) == 1
        assert min(server.gaps(HOST)) >= 0
        assert min(start_gaps(results, HOST)) >= 0.15


async def test_user_agent_is_honest_and_names_the_project(site: Path) -> None:
    with ReplayServer(site) as server:
        await fetch_all(server, [PAGE])
        assert server.hits()[0].headers["user-agent"] == config.USER_AGENT
        assert config.PROJECT_URL in config.USER_AGENT


async def test_map_host_keeps_the_real_url(site: Path) -> None:
    with ReplayServer(site) as server:
        [result] = await fetch_all(server, [PAGE])
        assert result.response.url == PAGE
        assert result.response.final_url == PAGE
        assert result.response.body == b"<p>monitor.bangkok.go.th 2029</p>"
        expected = f"{server.url}/{HOST}/mobile/mykpi.php?pid=0411-2029"
        assert result.attempts[0].request_url == expected
        assert server.hits()[0].target == "/mobile/mykpi.php?pid=0411-2029"


async def test_retry_after_in_seconds_is_honoured(site: Path) -> None:
    fault = parse_fault("status=503:retry-after=1:times=1")
    with ReplayServer(site, faults=[fault]) as server:
        [result] = await fetch_all(server, [PAGE], delay=0.05)
        assert result.ok
        assert [(a.status, a.outcome) for a in result.attempts] == [(503, "retry"), (200, "ok")]
        assert server.gaps(HOST)[0] >= 1.0


def test_retry_after_as_an_http_date_counts_from_now() -> None:
    now = dt.datetime(2026, 11, 23, 20, 0, 0, tzinfo=dt.UTC)
    assert parse_retry_after("Mon, 23 Nov 2026 20:00:30 GMT", now) == 30.0
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after("Mon, 23 Nov 2026 19:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None


async def test_retry_after_is_capped_by_backoff_max(site: Path) -> None:
    fault = parse_fault("status=429:retry-after=100:times=1")
    sleeps = Sleeps()
    with ReplayServer(site, faults=[fault]) as server:
        async with httpx.AsyncClient(trust_env=False) as client:
            fetcher = Fetcher(client, options(server, backoff_max=7.0), sleep=sleeps)
            result = await fetcher.fetch(PAGE)
    assert result.ok
    assert max(sleeps.waits) == pytest.approx(7.0, abs=0.05)


def test_backoff_doubles_with_jitter_and_stops_at_the_cap() -> None:
    client = httpx.AsyncClient(trust_env=False)
    opts = FetchOptions(backoff_base=2.0, backoff_max=10.0)
    low = Fetcher(client, opts, rng=lambda: 0.0)
    high = Fetcher(client, opts, rng=lambda: 1.0)
    assert [low.backoff(n, None) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]
    assert [high.backoff(n, None) for n in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 10.0]
    asyncio.run(client.aclose())


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
async def test_retryable_statuses_are_retried_then_reported_failed(site: Path, status: int) -> None:
    sleeps = Sleeps()
    with ReplayServer(site, faults=[parse_fault(f"status={status}")]) as server:
        async with httpx.AsyncClient(trust_env=False) as client:
            fetcher = Fetcher(client, options(server, max_retries=2), sleep=sleeps)
            result = await fetcher.fetch(PAGE)
        assert len(server.hits(HOST)) == 3
    assert [a.outcome for a in result.attempts] == ["retry", "retry", "failed"]
    assert result.error is not None and result.error.status == status
    assert result.response is not None and result.response.status == status


@pytest.mark.parametrize(("status", "failed"), [(404, False), (410, False), (403, True)])
async def test_other_4xx_are_not_retried(site: Path, status: int, failed: bool) -> None:
    with ReplayServer(site, faults=[parse_fault(f"status={status}")]) as server:
        [result] = await fetch_all(server, [PAGE])
        assert len(server.hits(HOST)) == 1
    assert result.response.status == status
    assert (result.error is not None) is failed


async def test_conditional_get_gets_304_for_etag_and_for_last_modified(site: Path) -> None:
    with ReplayServer(site) as server:
        [first] = await fetch_all(server, [PAGE])
        etag = first.response.header("ETag")
        modified = first.response.header("Last-Modified")
        async with httpx.AsyncClient(trust_env=False) as client:
            fetcher = Fetcher(client, options(server, delay=0.0))
            by_tag = await fetcher.fetch(PAGE, etag=etag)
            by_date = await fetcher.fetch(PAGE, last_modified=modified)
            stale = await fetcher.fetch(PAGE, etag='"something-else"')
    assert (by_tag.response.status, by_tag.attempts[0].outcome) == (304, "not_modified")
    assert by_date.response.status == 304
    assert stale.response.status == 200
    assert server.hits()[1].headers["if-none-match"] == etag


async def test_redirects_are_followed_and_final_url_is_real(tmp_path: Path) -> None:
    root = write_site(
        tmp_path,
        {f"{HOST}/old.php": "", f"{HOST}/new.php": "moved here"},
        {f"{HOST}/old.php": {"status": 301, "headers": {"Location": "/new.php"}}},
    )
    with ReplayServer(root) as server:
        [result] = await fetch_all(server, [f"http://{HOST}/old.php"], delay=0.0)
    assert result.ok
    assert result.response.url == f"http://{HOST}/old.php"
    assert result.response.final_url == f"http://{HOST}/new.php"
    assert [a.outcome for a in result.attempts] == ["redirect", "ok"]


async def test_redirect_limit_stops_a_loop(tmp_path: Path) -> None:
    root = write_site(
        tmp_path,
        {f"{HOST}/a.php": "", f"{HOST}/b.php": ""},
        {
            f"{HOST}/a.php": {"status": 302, "headers": {"Location": f"http://{HOST}/b.php"}},
            f"{HOST}/b.php": {"status": 302, "headers": {"Location": f"http://{HOST}/a.php"}},
        },
    )
    with ReplayServer(root) as server:
        [result] = await fetch_all(server, [f"http://{HOST}/a.php"], delay=0.0, max_redirects=3)
        assert len(server.hits()) == 4
    assert str(result.error) == f"http://{HOST}/a.php: more than 3 redirects"


async def test_redirect_to_another_host_is_refused(tmp_path: Path) -> None:
    root = write_site(
        tmp_path,
        {f"{HOST}/away.php": ""},
        {f"{HOST}/away.php": {"status": 302, "headers": {"Location": "https://example.com/"}}},
    )
    with ReplayServer(root) as server:
        [result] = await fetch_all(server, [f"http://{HOST}/away.php"])
        assert len(server.hits()) == 1
    assert "redirect to another host refused: https://example.com/" in str(result.error)


async def test_a_slow_server_times_out_and_is_retried(site: Path) -> None:
    with ReplayServer(site, faults=[parse_fault("latency=800:times=1")]) as server:
        [result] = await fetch_all(server, [PAGE], timeout=0.3, delay=0.0)
    assert result.ok
    assert result.attempts[0].outcome == "retry"
    assert "0.3s" in result.attempts[0].error


async def test_a_slow_drip_is_cut_off_by_the_whole_response_deadline(tmp_path: Path) -> None:
    root = write_site(tmp_path, {f"{HOST}/big.php": b"x" * 400})
    with ReplayServer(root, faults=[parse_fault("drip=50/100")]) as server:
        [result] = await fetch_all(server, [f"http://{HOST}/big.php"], timeout=0.3, max_retries=0)
    assert result.response is None
    assert "no complete response within 0.3s" in str(result.error)


@pytest.mark.parametrize("spec", ["truncate=10:times=1", "reset:times=1"])
async def test_broken_connections_are_retried(site: Path, spec: str) -> None:
    with ReplayServer(site, faults=[parse_fault(spec)]) as server:
        [result] = await fetch_all(server, [PAGE], delay=0.0)
    assert result.ok
    assert result.response.body == b"<p>monitor.bangkok.go.th 2029</p>"
    assert [a.outcome for a in result.attempts] == ["retry", "ok"]
    assert result.attempts[0].error.startswith(("RemoteProtocolError", "ReadError"))


async def test_truncated_bodies_every_time_end_in_failure(site: Path) -> None:
    with ReplayServer(site, faults=[parse_fault("truncate=5")]) as server:
        [result] = await fetch_all(server, [PAGE], delay=0.0, max_retries=1)
    assert result.response is None
    assert result.error is not None and result.error.status is None


async def test_an_oversize_body_fails_at_once_without_retry(tmp_path: Path) -> None:
    root = write_site(tmp_path, {f"{HOST}/big.php": b"x" * 5000})
    with ReplayServer(root) as server:
        [result] = await fetch_all(server, [f"http://{HOST}/big.php"], max_body_bytes=1000)
        assert len(server.hits()) == 1
    assert result.response is None
    assert "5000 bytes is over the 1000-byte cap" in str(result.error)


async def test_the_cap_counts_decoded_bytes_while_streaming(tmp_path: Path) -> None:
    bomb = gzip.compress(b"\0" * 2_000_000)
    root = write_site(
        tmp_path,
        {f"{HOST}/bomb.php": bomb},
        {f"{HOST}/bomb.php": {"headers": {"Content-Encoding": "gzip"}}},
    )
    with ReplayServer(root) as server:
        [result] = await fetch_all(server, [f"http://{HOST}/bomb.php"], max_body_bytes=100_000)
    assert len(bomb) < 100_000
    assert "body over the 100000-byte cap" in str(result.error)


async def test_a_retry_after_over_the_cap_fails_the_page_and_rests_the_host(site: Path) -> None:
    fault = parse_fault("status=503:retry-after=3600:times=1")
    sleeps = Sleeps()
    other = f"http://{HOST}/mobile/mykpi.php?pid=0411-2030"
    with ReplayServer(site, faults=[fault]) as server:
        async with httpx.AsyncClient(trust_env=False) as client:
            opts = options(server, delay=0.0, max_retry_after=30.0)
            fetcher = Fetcher(client, opts, sleep=sleeps)
            refused = await fetcher.fetch(PAGE)
            later = await fetcher.fetch(other)
        assert [h.status for h in server.hits(HOST)] == [503, 200]
    assert str(refused.error) == (
        f"{PAGE}: Retry-After 3600s is over max_retry_after (30s); tried again next run"
    )
    assert [a.outcome for a in refused.attempts] == ["failed"]
    assert later.ok
    assert sleeps.waits[0] == pytest.approx(30.0, abs=0.5)


async def test_a_dripping_page_gives_up_when_its_page_deadline_is_spent(tmp_path: Path) -> None:
    root = write_site(tmp_path, {f"{HOST}/big.php": b"x" * 400})
    with ReplayServer(root, faults=[parse_fault("drip=50/100")]) as server:
        [result] = await fetch_all(
            server, [f"http://{HOST}/big.php"], timeout=0.5, page_deadline=0.8, max_retries=10
        )
    assert [a.outcome for a in result.attempts] == ["retry", "failed"]
    assert result.attempts[0].error == "no complete response within 0.5s"
    assert str(result.error) == (
        f"http://{HOST}/big.php: page deadline of 0.8s spent, no complete response"
    )
    assert result.response is None


async def test_a_failing_page_stops_retrying_at_its_page_deadline(site: Path) -> None:
    with ReplayServer(site, faults=[parse_fault("status=503")]) as server:
        [result] = await fetch_all(
            server, [PAGE], delay=0.0, backoff_base=0.4, page_deadline=1.0, max_retries=10
        )
        hits = [h.status for h in server.hits(HOST)]
    assert hits in ([503, 503], [503, 503, 503])
    # Which message ends it depends on the wall clock: the deadline is spent either while
    # deciding to wait once more ("HTTP 503; page deadline …") or during that wait, in which
    # case the next attempt is never sent ("page deadline …, no complete response").
    assert "page deadline of 1s spent" in str(result.error)
    assert result.attempts[-1].outcome == "failed"


async def test_credential_headers_are_never_kept_and_cookies_never_sent(tmp_path: Path) -> None:
    sent = {
        "Content-Type": "text/html; charset=utf-8",
        "Set-Cookie": "PHPSESSID=5ecre7; path=/",
        "Authorization": "Basic c2VjcmV0",
        "X-Powered-By": "PHP/5.6.40",
    }
    root = write_site(
        tmp_path,
        {f"{HOST}/a.php": "a", f"{HOST}/b.php": "b"},
        {f"{HOST}/a.php": {"headers": sent}},
    )
    with ReplayServer(root) as server:
        first, second = await fetch_all(
            server, [f"http://{HOST}/a.php", f"http://{HOST}/b.php"], delay=0.0
        )
        asked = [h.headers for h in server.hits(HOST)]
    names = {name.lower() for name in first.response.headers}
    assert names >= {"content-type", "x-powered-by", "etag"}
    assert names.isdisjoint({"set-cookie", "authorization", "cookie"})
    assert "5ecre7" not in repr(first.response.headers)
    assert [("cookie" in headers) for headers in asked] == [False, False]
    assert second.ok


async def test_a_same_host_redirect_fault_keeps_the_final_url(site: Path) -> None:
    fault = parse_fault(
        "redirect=/mobile/mykpi.php?pid=0411-2031:path=/mobile/mykpi.php?pid=0411-2029"
    )
    with ReplayServer(site, faults=[fault]) as server:
        [result] = await fetch_all(server, [PAGE], delay=0.0)
    assert result.ok
    assert result.response.url == PAGE
    assert result.response.final_url == f"http://{HOST}/mobile/mykpi.php?pid=0411-2031"
    assert result.response.body == b"<p>monitor.bangkok.go.th 2031</p>"


def test_no_session_cookie_reaches_the_archive(tmp_path: Path) -> None:
    page = "dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2029"
    sidecar = json.loads((RECORDED_SITE / (page + ".headers")).read_text())
    sidecar["headers"]["Set-Cookie"] = "PHPSESSID=5ecre7; path=/; HttpOnly"
    overlay = write_site(
        tmp_path / "later", {page: (RECORDED_SITE / page).read_bytes()}, {page: sidecar}
    )
    db = tmp_path / "kpi.db"
    with ReplayServer(RECORDED_SITE, overlays=[overlay]) as server:
        done = subprocess.run(
            [str(Path(sys.executable).parent / "kpi-archive"), "crawl", str(db), "--quiet",
             "--seed", f"https://{page}", "--max-depth", "0", "--delay", "0",
             "--map-host", f"dp.bangkok.go.th={server.base('dp.bangkok.go.th')}"],
            capture_output=True, text=True,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with closing(sqlite3.connect(db)) as conn:
        [(headers,)] = conn.execute("SELECT headers FROM snapshots").fetchall()
    assert "content-type" in json.loads(headers)
    assert "5ecre7" not in headers
    assert "cookie" not in headers.lower()
