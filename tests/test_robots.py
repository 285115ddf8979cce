"""robots.txt: fetched once per host, obeyed, and conservative when the site is in trouble."""

from __future__ import annotations

import datetime as dt
import itertools
import time
from pathlib import Path

import httpx
import pytest

from kpi_archive.replay import ReplayServer, parse_fault
from scraper.fetcher import Fetched, Fetcher, FetchOptions
from scraper.robots import RobotsCache

HOST = "dp.bangkok.go.th"


def make_site(root: Path, robots: str | None) -> Path:
    page = root / HOST / "mobile" / "mykpi.php?pid=0411-2029"
    page.parent.mkdir(parents=True)
    page.write_text("<p>kpi</p>")
    if robots is not None:
        (root / HOST / "robots.txt").write_text(robots)
    return root


async def verdicts(server: ReplayServer, urls: list[str], *, ignore: bool = False, **opts):
    fetched: list[Fetched] = []
    settings = {"delay": 0.0, "backoff_base": 0.01, "host_map": server.host_map(), **opts}
    options = FetchOptions(**settings)
    async with httpx.AsyncClient(trust_env=False) as client:
        fetcher = Fetcher(client, options)
        robots = RobotsCache(fetcher, ignore=ignore, on_fetched=fetched.append)
        results = [await robots.check(url) for url in urls]
    return results, fetched, fetcher


URLS = [
    f"http://{HOST}/mobile/mykpi.php?pid=0411-2029",
    f"http://{HOST}/mobile/private/x.php",
    f"http://{HOST}/mobile/mykpi.php?pid=0411-2030",
]


async def test_disallowed_paths_are_refused_and_robots_is_fetched_once(tmp_path: Path) -> None:
    root = make_site(tmp_path, "User-agent: *\nDisallow: /mobile/private/\n")
    with ReplayServer(root) as server:
        results, fetched, _ = await verdicts(server, URLS)
        assert [h.target for h in server.hits()] == ["/robots.txt"]
    assert [v.allowed for v in results] == [True, False, True]
    assert results[1].reason == "disallowed by robots.txt"
    assert [f.url for f in fetched] == [f"http://{HOST}/robots.txt"]


async def test_rules_for_our_own_user_agent_apply(tmp_path: Path) -> None:
    robots = "User-agent: kpi-archive\nDisallow: /\n\nUser-agent: *\nDisallow:\n"
    with ReplayServer(make_site(tmp_path, robots)) as server:
        results, _, _ = await verdicts(server, URLS[:1])
    assert results[0].allowed is False


async def test_a_missing_robots_txt_allows_everything(tmp_path: Path) -> None:
    with ReplayServer(make_site(tmp_path, None)) as server:
        results, fetched, _ = await verdicts(server, URLS)
    assert [v.allowed for v in results] == [True, True, True]
    assert fetched[0].response.status == 404


async def test_a_failing_robots_txt_disallows_the_host_for_the_run(tmp_path: Path) -> None:
    root = make_site(tmp_path, "User-agent: *\nDisallow:\n")
    with ReplayServer(root, faults=[parse_fault("status=503:path=/robots.txt")]) as server:
        results, fetched, _ = await verdicts(server, URLS)
        # One retry, then the answer is cached for the rest of the run.
        assert [h.status for h in server.hits()] == [503, 503]
    assert [v.allowed for v in results] == [False, False, False]
    assert results[0].reason == "robots.txt unavailable (HTTP 503)"
    assert results[0].unavailable
    assert [a.outcome for a in fetched[0].attempts] == ["retry", "failed"]


async def test_ignore_robots_fetches_nothing(tmp_path: Path) -> None:
    root = make_site(tmp_path, "User-agent: *\nDisallow: /\n")
    with ReplayServer(root) as server:
        results, fetched, _ = await verdicts(server, URLS, ignore=True)
        assert server.hits() == []
    assert [v.allowed for v in results] == [True, True, True]
    assert fetched == []


@pytest.mark.parametrize(("crawl_delay", "expected"), [("3", 3.0), ("0.1", 0.5)])
async def test_a_longer_crawl_delay_slows_the_host_down(
    tmp_path: Path, crawl_delay: str, expected: float
) -> None:
    root = make_site(tmp_path, f"User-agent: *\nCrawl-delay: {crawl_delay}\n")
    with ReplayServer(root) as server:
        _, _, fetcher = await verdicts(server, URLS[:1], delay=0.5)
    assert fetcher._gate(HOST).delay == expected


async def test_a_crawl_delay_over_the_cap_is_obeyed_only_up_to_the_cap(tmp_path: Path) -> None:
    root = make_site(tmp_path, "User-agent: *\nCrawl-delay: 3600\n")
    with ReplayServer(root) as server:
        _, _, fetcher = await verdicts(server, URLS[:1], delay=0.5, max_crawl_delay=20.0)
    assert fetcher._gate(HOST).delay == 20.0


async def test_disallow_all_refuses_every_page(tmp_path: Path) -> None:
    root = make_site(tmp_path, "User-agent: *\nDisallow:\n")
    with ReplayServer(root, faults=[parse_fault("disallow-all")]) as server:
        results, _, _ = await verdicts(server, URLS)
    assert [v.allowed for v in results] == [False, False, False]
    assert results[0].reason == "disallowed by robots.txt"


@pytest.mark.slow
async def test_a_crawl_delay_spaces_the_starts_of_real_requests(tmp_path: Path) -> None:
    root = make_site(tmp_path, "User-agent: *\nCrawl-delay: 1\n")
    (root / HOST / "mobile" / "mykpi.php?pid=0411-2030").write_text("<p>kpi</p>")
    epoch = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def now() -> dt.datetime:  # request starts on the fetcher's own monotonic clock
        return epoch + dt.timedelta(seconds=time.monotonic())

    fetched: list[Fetched] = []
    with ReplayServer(root) as server:
        options = FetchOptions(delay=0.05, host_map=server.host_map())
        async with httpx.AsyncClient(trust_env=False) as client:
            fetcher = Fetcher(client, options, now=now)
            robots = RobotsCache(fetcher, on_fetched=fetched.append)
            for url in (URLS[0], URLS[2]):
                assert (await robots.check(url)).allowed
                fetched.append(await fetcher.fetch(url))
        assert [h.target for h in server.hits()] == [
            "/robots.txt",
            "/mobile/mykpi.php?pid=0411-2029",
            "/mobile/mykpi.php?pid=0411-2030",
        ]
        assert server.peak_in_flight(HOST) == 1
    starts = [f.attempts[0].started_at for f in fetched]
    assert [f.response.status for f in fetched] == [200, 200, 200]
    assert [(b - a).total_seconds() >= 1.0 for a, b in itertools.pairwise(starts)] == [True, True]
