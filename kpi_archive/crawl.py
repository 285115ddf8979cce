"""The crawl: seeds → polite fetch → the load loop (parse → archive), with discovery.

``crawl(db_path, options) -> CrawlSummary`` drives the fetcher and hands each response to
``kpi_archive.load.load_one`` (the same path ``import`` and ``reparse`` take); its own bookkeeping
(frontier, lock, runs, fetch log) is ``kpi_archive.crawlstate``.

- Seeds: ``--seed`` / ``--seeds-file`` / ``--pid-range`` / ``--agencies`` / ``--years`` if any are
  given, else the bundled list plus every agency's annual reports. The crawl never leaves the
  seed hosts; links (``parsers.extract_links``) are followed on the page's own host up to
  ``max_depth``.
- Work lives in the archive (``frontier``); each page is fetched (conditional GET), parsed and
  saved with its ``fetch_log`` rows and frontier update in one transaction, so a crawl killed at
  any moment loses at most the pages in flight and the next run resumes the pass.
- One asyncio task per host (``concurrency`` hosts at once); SQLite and parsing run on one
  worker thread that owns the connection, so the event loop only waits on the network.
- ``CrawlSummary.exit_code``: 0 all ok, 1 some pages failed; the CLI maps errors raised here
  (``LockError``, ``ArchiveError``, ``ConfigError``) to its other exit codes.
- Work handed to the DB thread without waiting (fetch-log rows of robots.txt, search refreshes)
  is checked at the end of the crawl: an error there is raised, never lost.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from sqlite_utils import Database

import archive
from kpi_archive import crawlstate, load
from kpi_archive.config import (
    CONCURRENCY,
    GONE_AFTER,
    HOST_DELAY,
    LIST_HOST,
    LOCK_STALE_SECONDS,
    MAX_DEPTH,
    REPORT_FIRST_YEAR,
)
from kpi_archive.errors import ParseError
from parsers.thai import fiscal_year
from scraper import seeds
from scraper.fetcher import Fetched, Fetcher, FetchOptions
from scraper.robots import RobotsCache

log = logging.getLogger(__name__)
T = TypeVar("T")

SEARCH_EVERY = 5  # pages saved between two incremental refreshes of the word-search column
SUMMARY_FIELDS = ("fetched", "unchanged", "new", "changed", "failed", "gone")


@dataclass
class CrawlOptions:
    """Everything a crawl can be told; defaults are ``kpi_archive.config``'s constants."""

    seeds: list[str] = field(default_factory=list)
    seeds_file: Path | None = None
    host_map: dict[str, str] = field(default_factory=dict)
    delay: float = HOST_DELAY
    concurrency: int = CONCURRENCY
    max_pages: int | None = None
    max_depth: int = MAX_DEPTH
    refresh_older_than: float | None = None
    agencies: list[str] | None = None
    years: list[int] | None = None
    pid_ranges: list[tuple[str, int, int, int]] = field(default_factory=list)
    ignore_robots: bool = False
    list_host: str = LIST_HOST
    report_first_year: int = REPORT_FIRST_YEAR
    gone_after: int = GONE_AFTER
    lock_stale_seconds: float = LOCK_STALE_SECONDS
    fetch: dict[str, Any] = field(default_factory=dict)
    on_page: Callable[[PageEvent], None] | None = None

    def initial_urls(self) -> list[str]:
        """The seed URLs this crawl starts from (see the module docstring)."""
        urls = [seeds.check_url(u) for u in self.seeds]
        if self.seeds_file is not None:
            urls += seeds.read_seeds_file(self.seeds_file)
        for prefix, first, last, digits in self.pid_ranges:
            urls += seeds.pid_range_urls(prefix, first, last, self.list_host, digits=digits)
        explicit = bool(urls) or self.agencies is not None or self.years is not None
        if not explicit:
            urls = seeds.bundled_seed_urls()
        if not explicit or self.agencies is not None or self.years is not None:
            years = self.years or list(
                range(self.report_first_year, fiscal_year(dt.date.today()) + 1)
            )
            agencies = self.agencies or seeds.bundled_agencies()
            urls += seeds.agency_report_urls(agencies, years, self.list_host)
        return list(seeds.dedupe(urls))


@dataclass(frozen=True)
class PageEvent:
    """One page done, for progress display: its outcome and how far the crawl has got."""

    url: str
    outcome: str
    done: int
    queued: int
    error: str | None = None


@dataclass
class CrawlSummary:
    """What a crawl did; ``line()`` is the last line the CLI prints."""

    run_id: int
    counts: Counter[str]
    seconds: float
    resumed: bool
    exit_code: int

    def line(self) -> str:
        """``fetched 12, unchanged 3, new 8, changed 1, failed 0, gone 0 in 4.2 s``."""
        parts = ", ".join(f"{name} {self.counts[name]}" for name in SUMMARY_FIELDS)
        extra = [f"{n} {name.replace('_', ' ')}" for name in ("missing", "parse_error", "skipped")
                 if (n := self.counts[name])]  # fmt: skip
        tail = f" ({', '.join(extra)})" if extra else ""
        return f"{parts} in {self.seconds:.1f} s{tail}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``--log-json``."""
        keys = (*SUMMARY_FIELDS, "missing", "parse_error", "skipped")
        return {"run_id": self.run_id, **{k: self.counts[k] for k in keys},
                "seconds": round(self.seconds, 3), "resumed": self.resumed,
                "exit_code": self.exit_code}  # fmt: skip


def crawl(db_path: str | Path, options: CrawlOptions) -> CrawlSummary:
    """Run one crawl into the archive at ``db_path``; raises ``LockError`` if one is running."""
    urls = options.initial_urls()
    return asyncio.run(_Crawl(Path(db_path), options, urls).run())


class _Crawl:
    def __init__(self, path: Path, options: CrawlOptions, urls: list[str]) -> None:
        self.path = path
        self.options = options
        self.urls = urls
        self.counts: Counter[str] = Counter()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kpi-archive-db")
        self.db: Database | None = None
        self.run_id = 0
        self.done = 0
        self.unindexed = 0
        self.queues: dict[str, deque[crawlstate.FrontierItem]] = {}
        self.pending: list[Future[object]] = []
        self.started = time.monotonic()

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(db, *args)`` on the thread that owns the SQLite connection."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, lambda: fn(self.db, *args))

    async def run(self) -> CrawlSummary:
        loop = asyncio.get_running_loop()
        try:
            self.db = await loop.run_in_executor(self.executor, archive.open_db, self.path)
            acquire = partial(crawlstate.acquire_lock, stale_after=self.options.lock_stale_seconds)
            lock = await self.call(acquire)
            try:
                return await self._run_locked()
            finally:
                await self.call(crawlstate.release_lock, lock)
        finally:
            if self.db is not None:
                await loop.run_in_executor(self.executor, self.db.close)
            self.executor.shutdown(wait=True)

    async def _run_locked(self) -> CrawlSummary:
        args = {k: v for k, v in asdict(self.options).items() if k != "on_page"}
        self.run_id = await self.call(crawlstate.start_run, args)
        exit_code = 130
        try:
            resumed = await self.call(crawlstate.begin_pass)
            push = partial(crawlstate.push, run_id=self.run_id)
            await self.call(push, [(u, 0, None) for u in self.urls])
            items = await self.call(crawlstate.queued)
            for item in items:
                self.queues.setdefault(urlsplit(item.url).hostname or "", deque()).append(item)
            if resumed:
                log.info("resuming an unfinished pass: %d URLs still queued", len(items))
            await self._fetch_all()
            self._check_background()
            await self.call(load.finish)
            exit_code = 1 if self.counts["failed"] else 0
        finally:
            seconds = time.monotonic() - self.started
            finish = partial(crawlstate.finish_run, seconds=seconds, exit_code=exit_code)
            await self.call(finish, self.run_id, self.counts)
        return CrawlSummary(self.run_id, self.counts, seconds, resumed, exit_code)

    async def _fetch_all(self) -> None:
        hosts = set(self.queues) | seeds.seed_hosts(self.urls)
        fetch_options = FetchOptions(
            delay=self.options.delay,
            host_map=self.options.host_map,
            allowed_hosts=frozenset(hosts),
            **self.options.fetch,
        )
        async with httpx.AsyncClient(
            headers={"User-Agent": fetch_options.user_agent},
            follow_redirects=False,
            trust_env=not self.options.host_map,
            limits=httpx.Limits(max_keepalive_connections=max(self.options.concurrency, 1)),
        ) as client:
            fetcher = Fetcher(client, fetch_options)
            robots = RobotsCache(
                fetcher, ignore=self.options.ignore_robots, on_fetched=self._log_robots
            )
            gate = asyncio.Semaphore(max(self.options.concurrency, 1))
            await asyncio.gather(
                *(self._host(host, fetcher, robots, gate) for host in sorted(self.queues))
            )

    def _background(self, fn: Callable[[Database], object]) -> None:
        """Queue ``fn(db)`` on the DB thread without waiting; ``_check_background`` reraises."""
        self.pending.append(self.executor.submit(lambda: fn(self._db())))

    def _check_background(self) -> None:
        for future in self.pending:
            future.result()  # an error on the DB thread surfaces here instead of vanishing
        self.pending.clear()

    def _log_robots(self, fetched: Fetched) -> None:
        rows = [asdict(a) for a in fetched.attempts]
        self._background(lambda db: crawlstate.log_attempts(db, self.run_id, rows))

    def _db(self) -> Database:
        assert self.db is not None
        return self.db

    def _budget_left(self) -> bool:
        limit = self.options.max_pages
        return limit is None or self.counts["fetched"] < limit

    async def _host(
        self, host: str, fetcher: Fetcher, robots: RobotsCache, gate: asyncio.Semaphore
    ) -> None:
        queue = self.queues[host]
        async with gate:
            while queue and self._budget_left():
                item = queue.popleft()
                outcome, error = await self._page(item, fetcher, robots, queue)
                self.done += 1
                if self.options.on_page is not None:
                    pending = sum(len(q) for q in self.queues.values())
                    self.options.on_page(PageEvent(item.url, outcome, self.done, pending, error))

    async def _page(
        self,
        item: crawlstate.FrontierItem,
        fetcher: Fetcher,
        robots: RobotsCache,
        queue: deque[crawlstate.FrontierItem],
    ) -> tuple[str, str | None]:
        verdict = await robots.check(item.url)
        if not verdict.allowed:
            state = "failed" if verdict.unavailable else "blocked"
            self.counts["failed" if verdict.unavailable else "skipped"] += 1
            await self.call(_mark, item.url, state, verdict.reason, self.run_id)
            return state, verdict.reason
        fresh = await self.call(_fresh_body, item.url, self.options.refresh_older_than)
        if fresh is not None:
            self.counts["skipped"] += 1
            links = await self.call(_skip_fresh, item, fresh, self._link_depth(item), self.run_id)
            queue.extend(links)
            return "fresh", None
        if not self._budget_left():
            return "deferred", None  # stays queued in the frontier for the next run
        self.counts["fetched"] += 1
        etag, modified = await self.call(archive.last_validators, item.url)
        fetched = await fetcher.fetch(item.url, etag=etag, last_modified=modified)
        store = partial(_store, gone_after=self.options.gone_after)
        outcome, error, links = await self.call(
            store, item, fetched, self._link_depth(item), self.run_id
        )
        self.counts[outcome] += 1
        queue.extend(links)
        if outcome in ("new", "changed"):
            self.unindexed += 1
            if self.unindexed >= SEARCH_EVERY:
                # Word segmentation is slow; done a few pages at a time on the DB thread, it
                # fits in the politeness waits instead of adding minutes at the end of a crawl.
                self.unindexed = 0
                self._background(archive.refresh_search)
        return outcome, error

    def _link_depth(self, item: crawlstate.FrontierItem) -> int | None:
        """Depth for links found on ``item``, or None when they are not to be followed."""
        depth = item.depth + 1
        return depth if depth <= self.options.max_depth else None


def _mark(db: Database, url: str, state: str, error: str | None, run_id: int) -> None:
    crawlstate.mark(db, url, state, error=error, run_id=run_id)


def _fresh_body(db: Database, url: str, max_age: float | None) -> bytes | None:
    """The current body of ``url`` if it was fetched less than ``max_age`` seconds ago."""
    if max_age is None:
        return None
    since = archive.utc_iso(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=max_age))
    return archive.current_body(db, url, fetched_since=since)


def _follow(
    db: Database,
    item: crawlstate.FrontierItem,
    links: tuple[str, ...],
    depth: int | None,
    run_id: int,
) -> list[crawlstate.FrontierItem]:
    """Push same-host ``links`` to the frontier; return the newly queued ones."""
    if depth is None:
        return []
    host = urlsplit(item.url).hostname
    found = [u for u in links if urlsplit(u).hostname == host]
    known = crawlstate.known_urls(db, found)
    new = [u for u in found if u not in known]
    crawlstate.push(db, [(u, depth, item.url) for u in new], run_id=run_id)
    return [crawlstate.FrontierItem(u, depth, item.url, 0) for u in new]


def _skip_fresh(
    db: Database, item: crawlstate.FrontierItem, body: bytes, depth: int | None, run_id: int
) -> list[crawlstate.FrontierItem]:
    with db.atomic():
        links = _follow(db, item, _links_of(body, item.url, depth), depth, run_id)
        crawlstate.mark(db, item.url, "done", run_id=run_id, counts_attempt=False)
    return links


def _links_of(body: bytes | None, url: str, depth: int | None) -> tuple[str, ...]:
    # Reading a page only for its links is wasted when they will not be followed.
    return load.page_links(body or b"", url) if depth is not None else ()


def _store(
    db: Database,
    item: crawlstate.FrontierItem,
    fetched: Fetched,
    depth: int | None,
    run_id: int,
    *,
    gone_after: int,
) -> tuple[str, str | None, list[crawlstate.FrontierItem]]:
    """Save one fetched page, its attempts, its links and its frontier state in one transaction."""
    response = fetched.response
    with db.atomic():
        crawlstate.log_attempts(db, run_id, [asdict(a) for a in fetched.attempts])
        if response is None or fetched.error is not None:
            if response is not None:
                archive.save(db, response, None, gone_after=gone_after)
            failure = str(fetched.error)
            crawlstate.mark(db, item.url, "failed", error=failure, run_id=run_id)
            return "failed", failure, []
        outcome, parsed = load.load_one(
            db, response, links=depth is not None, gone_after=gone_after
        )
        links = parsed.links
        if response.status == 304:
            links = _links_of(archive.current_body(db, item.url), item.url, depth)
        queued = _follow(db, item, links, depth, run_id)
        crawlstate.mark(db, item.url, "done", run_id=run_id)
        error = str(parsed.record) if isinstance(parsed.record, ParseError) else None
        return outcome.status, error, queued
