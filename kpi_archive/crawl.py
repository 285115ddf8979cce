"""The crawl: seeds → polite fetch → the load loop (parse → archive), with discovery.

``crawl(db_path, options) -> CrawlSummary`` drives the fetcher and hands each response to
``kpi_archive.load.load_one`` (the same path ``import`` and ``reparse`` take); its own bookkeeping
(frontier, lock, runs, fetch log) is ``kpi_archive.crawlstate``.

- Seeds: ``--seed`` / ``--seeds-file`` / ``--pid-range`` / ``--agencies`` / ``--years`` if any are
  given, else the bundled list plus every agency's annual reports. The crawl never leaves the
  seed hosts: the links ``parsers.parse`` reads with each record (the one link rule: the page's
  own host, page kinds we parse) are followed up to ``max_depth``; a page answered 304, or still
  fresh, gives the links saved with its snapshot, so no page is read twice.
- Work lives in the archive (``frontier``); each page is fetched (conditional GET), parsed and
  saved with its ``fetch_log`` rows and frontier update in one transaction, so a crawl killed at
  any moment loses at most the pages in flight and the next run resumes the pass.
- One asyncio task per host (``concurrency`` hosts at once) does nothing but fetch, at the pace
  the fetcher allows (one request per host per delay): each response is handed on to be parsed
  (on a parse worker) and saved (on the one thread that owns the SQLite connection) while the
  host's next request is already waiting its turn, so parsing and saving never stretch the gaps
  between requests. At most ``IN_HAND`` fetched pages wait to be saved; a host whose queue is
  empty waits for its pages in hand, whose links may refill it.
  The validators for a conditional GET are read with the queue, not before each request.
- One page never stops the crawl: whatever any stage raises for it (fetch, links, save) rolls
  back that page's transaction, is written to ``fetch_log`` (outcome ``error``) and the frontier,
  and the page is failed and retried next run; a parser crash is the page's parse error.
- ``--deadline``, SIGINT and SIGTERM (``kpi_archive.runcontrol``) stop the crawl from taking new
  pages; the pages in hand are finished and committed, the rest stays queued for the next run.
  While it runs, the crawl refreshes its lock's heartbeat every ``heartbeat_seconds``.
- ``CrawlSummary.exit_code`` and the run's ``outcome`` / ``reason`` come from
  ``kpi_archive.alarms``: 0 ok, 1 some pages failed, 4 site problem, 5 deadline reached,
  130 / 143 SIGINT / SIGTERM; the CLI maps errors raised here (``LockError``, ``ArchiveError``,
  ``ConfigError``) to its other exit codes (2, 3).
- Work handed to the DB thread without waiting (fetch-log rows of robots.txt, search refreshes)
  is checked at the end of the crawl: an error there is raised, never lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import sys
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from sqlite_utils import Database
from sqlite_utils.db import NotFoundError

import archive
from kpi_archive import alarms, crawlstate, load
from kpi_archive.config import (
    CONCURRENCY,
    GONE_AFTER,
    HEARTBEAT_SECONDS,
    HOST_DELAY,
    JOBS,
    LIST_HOST,
    LOCK_STALE_SECONDS,
    MAX_DEPTH,
    REPORT_FIRST_YEAR,
)
from kpi_archive.errors import ParseError
from kpi_archive.runcontrol import StopControl, heartbeat
from parsers.thai import fiscal_year
from scraper import seeds
from scraper.fetcher import Fetched, Fetcher, FetchOptions
from scraper.robots import RobotsCache

log = logging.getLogger(__name__)
T = TypeVar("T")

# Each page is handed from the event loop to the parse worker to the DB thread. At CPython's
# default 5 ms GIL switch interval every hand-over waits behind whichever thread is busy
# (benchmarks/bench_crawl.py: 72.5 s → 100 s); at 0.5 ms the crawl is as fast as with no parse
# worker (73.5 s). Set for the crawl only, then restored.
SWITCH_INTERVAL = 0.0005
# Pages fetched but not yet saved, over all hosts (1.6 s of a 4-host crawl at 0.1 s): enough to
# ride out a slow save on the DB thread; past it a slow disk slows fetching down instead of
# filling memory with bodies.
IN_HAND = 64
# Saved pages the DB thread indexes for search at a time (load.index_saved), between fetches,
# instead of all at the finish: the writer waits on the politeness delay most of a crawl.
INDEX_EVERY = 200
SUMMARY_FIELDS = ("fetched", "unchanged", "new", "changed", "held", "failed", "gone")


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
    heartbeat_seconds: float = HEARTBEAT_SECONDS
    jobs: int = JOBS
    deadline: float | None = None  # seconds after which no new page is taken
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
    outcome: str = "ok"
    reason: str | None = None

    def line(self) -> str:
        """``fetched 12, unchanged 3, new 8, changed 1, held 0, failed 0, gone 0 in 4.2 s``."""
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
                "exit_code": self.exit_code, "outcome": self.outcome,
                "reason": self.reason}  # fmt: skip


def crawl(db_path: str | Path, options: CrawlOptions) -> CrawlSummary:
    """Run one crawl into the archive at ``db_path``; raises ``LockError`` if one is running."""
    urls = options.initial_urls()
    previous = sys.getswitchinterval()
    sys.setswitchinterval(min(previous, SWITCH_INTERVAL))
    try:
        return asyncio.run(_Crawl(Path(db_path), options, urls).run())
    finally:
        sys.setswitchinterval(previous)


class _Crawl:
    def __init__(self, path: Path, options: CrawlOptions, urls: list[str]) -> None:
        self.path = path
        self.options = options
        self.urls = urls
        self.counts: Counter[str] = Counter()
        self.unindexed = 0
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kpi-archive-db")
        self.parser = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kpi-archive-parse")
        self.stop = StopControl(options.deadline)
        self.tally = alarms.Tally(urls)
        self.db: Database | None = None
        self.run_id = 0
        self.done = 0
        self.queues: dict[str, deque[crawlstate.FrontierItem]] = {}
        self.pending: list[Future[object]] = []
        self.started = time.monotonic()
        self.in_hand = asyncio.Semaphore(IN_HAND)

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(db, *args)`` on the thread that owns the SQLite connection."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, lambda: fn(self.db, *args))

    async def parse(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` (reading a page) on the parse worker, off the DB thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.parser, partial(fn, *args, **kwargs))

    async def run(self) -> CrawlSummary:
        loop = asyncio.get_running_loop()
        try:
            with self.stop.installed(loop):
                self.db = await loop.run_in_executor(self.executor, archive.open_db, self.path)
                acquire = partial(
                    crawlstate.acquire_lock, stale_after=self.options.lock_stale_seconds
                )
                lock = await self.call(acquire)
                beats = asyncio.create_task(
                    heartbeat(partial(self._beat, lock), self.options.heartbeat_seconds)
                )
                try:
                    return await self._run_locked(lock)
                finally:
                    beats.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await beats
                    await self.call(crawlstate.release_lock, lock)
        finally:
            if self.db is not None:
                await loop.run_in_executor(self.executor, self.db.close)
            self.executor.shutdown(wait=True)
            self.parser.shutdown(wait=True)

    async def _beat(self, lock: crawlstate.LockInfo) -> None:
        if not await self.call(crawlstate.beat, lock):
            self.stop.lock_lost()

    async def _run_locked(self, lock: crawlstate.LockInfo) -> CrawlSummary:
        args = {k: v for k, v in asdict(self.options).items() if k != "on_page"}
        self.run_id = await self.call(crawlstate.start_run, args)
        await self.call(crawlstate.claim_lock, lock, self.run_id)
        # Until the crawl ends as it should, the run is recorded as a failure of the crawl itself.
        outcome, exit_code = "failed", alarms.PAGES_FAILED
        reason: str | None = "the crawl itself crashed"
        try:
            resumed = await self.call(crawlstate.begin_pass)
            push = partial(crawlstate.push, run_id=self.run_id)
            await self.call(push, [(u, 0, None) for u in self.urls])
            items = await self.call(_queued)
            for item in items:
                self.queues.setdefault(urlsplit(item.url).hostname or "", deque()).append(item)
            if resumed:
                log.info("resuming an unfinished pass: %d URLs still queued", len(items))
            await self._fetch_all()
            self._check_background()
            if self.stop.signal_number is None:
                # The derived tables catch up on the next run: a stopping service has seconds
                # to spare.
                await self.call(partial(load.finish, jobs=self.options.jobs))
            left = any(self.queues.values())
            outcome, exit_code, reason = alarms.crawl_outcome(
                verdict=alarms.site_problem(self.tally.evidence()),
                failed=self.counts["failed"],
                deadline_reached=left and self.stop.deadline_reached,
                signal_number=self.stop.signal_number,
                lock_lost=self.stop.lost_lock,
            )
        except BaseException as exc:
            if self.stop.signal_number is not None:  # a second signal: stopped at once
                outcome, exit_code = "interrupted", 128 + self.stop.signal_number
            reason = f"the crawl itself crashed: {exc!r}"
            raise
        finally:
            seconds = time.monotonic() - self.started
            finish = partial(crawlstate.finish_run, seconds=seconds, exit_code=exit_code,
                             outcome=outcome, reason=reason)  # fmt: skip
            await self.call(finish, self.run_id, self.counts)
        return CrawlSummary(self.run_id, self.counts, seconds, resumed, exit_code, outcome, reason)

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
        self.pending = [f for f in self.pending if not f.done() or f.exception() is not None]
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
        in_hand: set[asyncio.Task[None]] = set()
        async with gate:
            try:
                while self._budget_left() and not self.stop.stopping:
                    if not queue:
                        if not in_hand:
                            break
                        # A page in hand may still queue links for this host.
                        await asyncio.wait(in_hand, return_when=asyncio.FIRST_COMPLETED)
                        continue
                    item = queue.popleft()
                    await self.in_hand.acquire()
                    try:
                        fetched = await self._fetch(item, fetcher, robots, queue)
                    except Exception as exc:
                        self.in_hand.release()
                        self._done(item, *await self._page_crashed(item, exc))
                        continue
                    if isinstance(fetched, Fetched):
                        task = asyncio.create_task(self._settle(item, fetched, queue))
                        in_hand.add(task)
                        task.add_done_callback(in_hand.discard)
                    else:
                        self.in_hand.release()
                        self._done(item, *fetched)
            finally:
                # Pages in hand are saved whatever stops the host: a deadline, a signal, a crash.
                if in_hand:
                    await asyncio.wait(in_hand)

    def _done(self, item: crawlstate.FrontierItem, outcome: str, error: str | None) -> None:
        self.done += 1
        if self.options.on_page is not None:
            pending = sum(len(q) for q in self.queues.values())
            self.options.on_page(PageEvent(item.url, outcome, self.done, pending, error))

    async def _page_crashed(
        self, item: crawlstate.FrontierItem, exc: Exception
    ) -> tuple[str, str | None]:
        """Whatever went wrong with one page fails that page alone: logged, recorded, retried."""
        log.error("%s: %r", item.url, exc, exc_info=exc)
        error = f"{type(exc).__name__}: {exc}"
        self.counts["failed"] += 1
        self.tally.record(item.url, "error")
        await self.call(_record_crash, item.url, error, self.run_id)
        return "error", error

    async def _fetch(
        self,
        item: crawlstate.FrontierItem,
        fetcher: Fetcher,
        robots: RobotsCache,
        queue: deque[crawlstate.FrontierItem],
    ) -> Fetched | tuple[str, str | None]:
        """Fetch ``item``, or settle it without a request (blocked, still fresh, over budget)."""
        verdict = await robots.check(item.url)
        if not verdict.allowed:
            state = "failed" if verdict.unavailable else "blocked"
            self.counts["failed" if verdict.unavailable else "skipped"] += 1
            self.tally.record(item.url, state)
            await self.call(_mark, item.url, state, verdict.reason, self.run_id)
            return state, verdict.reason
        if self.options.refresh_older_than is not None:
            fresh = await self.call(_fresh_links, item.url, self.options.refresh_older_than)
            if fresh is not None:
                self.counts["skipped"] += 1
                depth = self._link_depth(item)
                queue.extend(await self.call(_skip_fresh, item, fresh, depth, self.run_id))
                return "fresh", None
        if not self._budget_left():
            return "deferred", None  # stays queued in the frontier for the next run
        self.counts["fetched"] += 1
        return await fetcher.fetch(item.url, etag=item.etag, last_modified=item.last_modified)

    async def _settle(
        self, item: crawlstate.FrontierItem, fetched: Fetched, queue: deque[crawlstate.FrontierItem]
    ) -> None:
        """Read and save a fetched page, then release its place in hand."""
        try:
            try:
                outcome, error = await self._save(item, fetched, queue)
            except Exception as exc:
                outcome, error = await self._page_crashed(item, exc)
        finally:
            self.in_hand.release()
        self._done(item, outcome, error)

    async def _save(
        self, item: crawlstate.FrontierItem, fetched: Fetched, queue: deque[crawlstate.FrontierItem]
    ) -> tuple[str, str | None]:
        depth = self._link_depth(item)
        parsed = await self._read(fetched)
        store = partial(_store, gone_after=self.options.gone_after)
        outcome, error, links, unusable = await self.call(
            store, item, fetched, parsed, depth, self.run_id
        )
        self.counts[outcome] += 1
        self.unindexed += 1
        if self.unindexed >= INDEX_EVERY:
            self.unindexed = 0
            await self.call(load.index_saved)
        # A site that keeps sending the same error page answers "unchanged" from the second night.
        self.tally.record(item.url, "parse_error" if unusable else outcome)
        queue.extend(links)
        return outcome, error

    async def _read(self, fetched: Fetched) -> load.PageRead | None:
        """Read a 2xx page (record and links) on the parse worker; None when nothing came."""
        response = fetched.response
        if response is None or fetched.error is not None:
            return None
        if not 200 <= response.status < 300:
            return load.PageRead(None)  # a 304's links are the stored ones (``_store``)
        return await self.parse(load.read_page, response)

    def _link_depth(self, item: crawlstate.FrontierItem) -> int | None:
        """Depth for links found on ``item``, or None when they are not to be followed."""
        depth = item.depth + 1
        return depth if depth <= self.options.max_depth else None


def _queued(db: Database) -> list[crawlstate.FrontierItem]:
    """The queued frontier, each URL with its archived page's validators."""
    return [_validated(db, item) for item in crawlstate.queued(db)]


def _validated(db: Database, item: crawlstate.FrontierItem) -> crawlstate.FrontierItem:
    etag, modified = archive.last_validators(db, item.url)
    if etag is None and modified is None:
        return item
    return replace(item, etag=etag, last_modified=modified)


def _mark(db: Database, url: str, state: str, error: str | None, run_id: int) -> None:
    crawlstate.mark(db, url, state, error=error, run_id=run_id)


def _record_crash(db: Database, url: str, error: str, run_id: int) -> None:
    with db.atomic():
        crawlstate.log_attempts(db, run_id, [{"url": url, "error": error, "outcome": "error"}])
        crawlstate.mark(db, url, "failed", error=error, run_id=run_id)


def _fresh_links(db: Database, url: str, max_age: float | None) -> tuple[str, ...] | None:
    """The links of ``url``'s current page if it was fetched less than ``max_age`` seconds ago."""
    if max_age is None:
        return None
    since = archive.utc_iso(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=max_age))
    return load.stored_links(db, url, fetched_since=since)


def _follow(
    db: Database,
    item: crawlstate.FrontierItem,
    links: tuple[str, ...],
    depth: int | None,
    run_id: int,
) -> list[crawlstate.FrontierItem]:
    """Push a page's ``links`` (already the ones to follow) to the frontier; return the new ones."""
    if depth is None:
        return []
    known = crawlstate.known_urls(db, list(links))
    new = [u for u in links if u not in known]
    crawlstate.push(db, [(u, depth, item.url) for u in new], run_id=run_id)
    return [_validated(db, crawlstate.FrontierItem(u, depth, item.url, 0)) for u in new]


def _skip_fresh(
    db: Database,
    item: crawlstate.FrontierItem,
    links: tuple[str, ...],
    depth: int | None,
    run_id: int,
) -> list[crawlstate.FrontierItem]:
    with db.atomic():
        queued = _follow(db, item, links, depth, run_id)
        crawlstate.mark(db, item.url, "done", run_id=run_id, counts_attempt=False)
    return queued


def _store(
    db: Database,
    item: crawlstate.FrontierItem,
    fetched: Fetched,
    parsed: load.PageRead | None,
    depth: int | None,
    run_id: int,
    *,
    gone_after: int,
) -> tuple[str, str | None, list[crawlstate.FrontierItem], bool]:
    """Save one fetched page, its attempts, its links and its frontier state in one transaction.

    Returns the save status, the page's error, the newly queued links, and whether the page's
    current capture is still unusable (a parse error) after an "unchanged" answer.
    """
    response = fetched.response
    with db.atomic():
        crawlstate.log_attempts(db, run_id, [asdict(a) for a in fetched.attempts])
        if response is None or fetched.error is not None or parsed is None:
            if response is not None:
                archive.save(db, response, None, gone_after=gone_after)
            failure = str(fetched.error)
            crawlstate.mark(db, item.url, "failed", error=failure, run_id=run_id)
            return "failed", failure, [], False
        outcome, parsed = load.load_one(db, response, parsed=parsed, gone_after=gone_after)
        links = parsed.links
        if response.status == 304:
            links = load.stored_links(db, item.url) or ()
        queued = _follow(db, item, links, depth, run_id)
        crawlstate.mark(db, item.url, "done", run_id=run_id)
        error = str(parsed.record) if isinstance(parsed.record, ParseError) else None
        if outcome.status == "held" and outcome.verdict is not None:
            error = f"{outcome.verdict.capture_class}: {outcome.verdict.reason_en}"
        unusable = outcome.status == "unchanged" and _page_status(db, item.url) == "parse_error"
        return outcome.status, error, queued, unusable


def _page_status(db: Database, url: str) -> str | None:
    try:
        return str(db.table("pages").get(url)["status"])
    except NotFoundError:
        return None
