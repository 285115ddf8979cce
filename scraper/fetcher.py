"""The polite fetcher: URLs in, ``FetchResult`` out, one request at a time per host.

Contract:
- ``Fetcher(client, options).fetch(url, etag=…, last_modified=…)`` returns a ``Fetched``: the final
  response (if any HTTP response came back), a ``FetchError`` if the fetch counts as failed, and
  every attempt made (for ``fetch_log``). It never raises for a network or HTTP problem.
- Politeness is one request per host per ``delay``: a request starts no sooner than ``delay``
  seconds after the previous request to that host started, and never while another request to
  that host is in flight, so a host sees at most one request in any ``delay``-long window and a
  slow answer holds the next request back until it ends. This is how Scrapy's ``DOWNLOAD_DELAY``
  counts, and how a robots.txt ``Crawl-delay`` reads (seconds between requests). Different hosts
  run in parallel; how many at once is the caller's choice (the crawl runs ``concurrency`` hosts).
- Retries: connect errors, timeouts, broken bodies, 429, 500, 502, 503, 504, with exponential
  backoff and jitter; ``Retry-After`` (seconds or an HTTP date) is honoured and holds the whole
  host. A ``Retry-After`` longer than ``max_retry_after`` is not waited for (nor retried early,
  which would be rude): the page fails for this run and the host rests ``max_retry_after``.
  Other 4xx are final; 404/410 are not failures.
- Bounded: one page (every attempt, redirect and retry wait) gets ``page_deadline`` seconds from
  its first request; a stalled or dripping server costs at most that, then the page fails.
  Robots ``Crawl-delay`` is obeyed up to ``max_crawl_delay`` (``set_host_delay``).
- Redirects are followed by hand up to ``max_redirects`` and only to allowed hosts.
- Bodies are capped while streaming: a larger body is a failure, not a memory blow-up.
- ``host_map`` sends requests for a host to another base URL (like curl ``--resolve``) while
  ``FetchResult.url`` / ``final_url`` stay the real site URLs.
- Stateless and credential-free: the client's cookie jar refuses every cookie (each request is
  what any first-time reader gets), and ``Set-Cookie``, ``Cookie``, ``Authorization`` and the
  like never reach ``FetchResult.headers``, so they are never archived or published.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import http.cookiejar
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx

from kpi_archive import config
from kpi_archive.errors import FetchError
from scraper.models import FetchResult

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MISSING_STATUSES = frozenset({404, 410})
# Headers that carry a session or a credential: dropped before a response is handed on.
CREDENTIAL_HEADERS = frozenset(
    {"set-cookie", "set-cookie2", "cookie", "authorization", "proxy-authorization"}
)


@dataclass(frozen=True)
class FetchOptions:
    """Every knob of the fetcher; the defaults come from ``kpi_archive.config``."""

    delay: float = config.HOST_DELAY
    timeout: float = config.REQUEST_TIMEOUT
    max_retries: int = config.MAX_RETRIES
    backoff_base: float = config.BACKOFF_BASE
    backoff_max: float = config.BACKOFF_MAX
    max_body_bytes: int = config.MAX_BODY_BYTES
    max_redirects: int = config.MAX_REDIRECTS
    max_retry_after: float = config.MAX_RETRY_AFTER
    max_crawl_delay: float = config.MAX_CRAWL_DELAY
    page_deadline: float = config.PAGE_DEADLINE
    user_agent: str = config.USER_AGENT
    host_map: Mapping[str, str] = field(default_factory=dict)
    allowed_hosts: frozenset[str] | None = None


@dataclass(frozen=True)
class Attempt:
    """One HTTP request as made: what ``fetch_log`` records."""

    url: str
    request_url: str
    attempt: int
    started_at: dt.datetime
    elapsed_ms: float
    status: int | None
    error: str | None
    bytes: int
    outcome: str  # ok | not_modified | missing | redirect | retry | failed


@dataclass
class Fetched:
    """The result of ``Fetcher.fetch``: final response (if any), failure (if any), attempts."""

    url: str
    response: FetchResult | None
    error: FetchError | None
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None and self.response is not None


class _TooLarge(Exception):
    pass


class _Host:
    """Per-host gate: one request at a time, ``delay`` from the last request's start."""

    def __init__(self, delay: float) -> None:
        self.lock = asyncio.Lock()
        self.delay = delay
        self.last_start: float | None = None
        self.not_before = 0.0


def parse_retry_after(value: str | None, now: dt.datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())


class _Budget:
    """One page's time: ``page_deadline`` seconds from its first request's start."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends_at: float | None = None

    def left(self, now: float) -> float:
        if self.ends_at is None:
            self.ends_at = now + self.seconds
        return self.ends_at - now


class _TooLong(Exception):
    pass


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Fetcher:
    """Polite fetching over a passed-in ``httpx.AsyncClient``; clock and sleep are injectable."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        options: FetchOptions | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        now: Callable[[], dt.datetime] = _utcnow,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.client = client
        # A bare CookieJar: httpx copies an httpx.Cookies into a jar of its own default policy.
        self.client.cookies = http.cookiejar.CookieJar(
            http.cookiejar.DefaultCookiePolicy(allowed_domains=[])
        )
        self.options = options or FetchOptions()
        self._clock = clock
        self._sleep = sleep
        self._now = now
        self._rng = rng
        self._hosts: dict[str, _Host] = {}
        self._map = {h.lower(): base.rstrip("/") for h, base in self.options.host_map.items()}

    def map_url(self, url: str) -> str:
        """The URL actually requested for a real site URL (after ``host_map``)."""
        parts = urlsplit(url)
        base = self._map.get((parts.hostname or "").lower())
        if base is None:
            return url
        return base + (parts.path or "/") + ("?" + parts.query if parts.query else "")

    def unmap_url(self, url: str, scheme: str) -> str:
        """The real site URL for a URL on a mapped base (inverse of ``map_url``)."""
        for host, base in self._map.items():
            if url == base or url.startswith(base + "/") or url.startswith(base + "?"):
                return f"{scheme}://{host}" + (url[len(base) :] or "/")
        return url

    def set_host_delay(self, host: str, delay: float) -> None:
        """Use a longer delay for one host (``Crawl-delay``), at most ``max_crawl_delay``."""
        if delay > self.options.max_crawl_delay:
            log.warning(
                "%s asks for a %gs delay; waiting %gs (max_crawl_delay)",
                host,
                delay,
                self.options.max_crawl_delay,
            )
            delay = self.options.max_crawl_delay
        gate = self._gate(host)
        gate.delay = max(gate.delay, delay)

    def _gate(self, host: str) -> _Host:
        gate = self._hosts.get(host)
        if gate is None:
            gate = self._hosts[host] = _Host(self.options.delay)
        return gate

    def backoff(self, retry: int, retry_after: str | None) -> float:
        """Seconds to wait before retry number ``retry`` (1-based); raises ``_TooLong``."""
        asked = parse_retry_after(retry_after, self._now())
        if asked is not None and asked > self.options.max_retry_after:
            raise _TooLong(
                f"Retry-After {asked:g}s is over max_retry_after "
                f"({self.options.max_retry_after:g}s); tried again next run"
            )
        if asked is not None:
            return min(self.options.backoff_max, asked)
        ceiling = min(self.options.backoff_max, self.options.backoff_base * 2.0 ** (retry - 1))
        return ceiling / 2 + self._rng() * ceiling / 2

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        max_retries: int | None = None,
    ) -> Fetched:
        """Fetch ``url`` politely; conditional on ``etag`` / ``last_modified`` when given."""
        retries_left = self.options.max_retries if max_retries is None else max_retries
        origin = urlsplit(url).hostname or ""
        allowed = self.options.allowed_hosts or frozenset({origin})
        result = Fetched(url=url, response=None, error=None)
        budget = _Budget(self.options.page_deadline)
        current, hops, number, retry = url, 0, 0, 0
        while True:
            number += 1
            conditional = {}
            if current == url:
                if etag:
                    conditional["If-None-Match"] = etag
                if last_modified:
                    conditional["If-Modified-Since"] = last_modified
            response, error, attempt = await self._attempt(
                url, current, number, conditional, budget
            )
            result.attempts.append(attempt)
            status = response.status if response else None
            retryable = error is not None or status in RETRY_STATUSES
            if retryable and not isinstance(error, _TooLarge) and retries_left > 0:
                gate = self._gate(urlsplit(current).hostname or "")
                try:
                    wait = self.backoff(
                        retry + 1, response.header("Retry-After") if response else None
                    )
                except _TooLong as exc:
                    # Retrying sooner than asked would be rude; the host rests as long as we can.
                    resting = self._clock() + self.options.max_retry_after
                    gate.not_before = max(gate.not_before, resting)
                    result.error = FetchError(str(exc), url=url, status=status)
                    result.response = response
                    result.attempts[-1] = _with_outcome(attempt, "failed")
                    return result
                if wait >= budget.left(self._clock()):
                    spent = f"page deadline of {self.options.page_deadline:g}s spent"
                    why = attempt.error or f"HTTP {status}"
                    if spent not in why:
                        why = f"{why}; {spent}"
                    result.error = FetchError(why, url=url, status=status)
                    result.response = None if error is not None else response
                    result.attempts[-1] = _with_outcome(attempt, "failed")
                    return result
                retries_left -= 1
                retry += 1
                result.attempts[-1] = _with_outcome(attempt, "retry")
                reason = attempt.error or status
                log.info("retry %d for %s in %.1fs (%s)", retry, current, wait, reason)
                gate.not_before = max(gate.not_before, self._clock() + wait)
                continue
            if error is not None:
                result.error = FetchError(str(error), url=url, status=status)
                result.attempts[-1] = _with_outcome(attempt, "failed")
                return result
            assert response is not None
            location = response.header("Location")
            if status in REDIRECT_STATUSES and location:
                if location.startswith(("http://", "https://")):
                    target = self.unmap_url(location, urlsplit(current).scheme)
                else:
                    target = urljoin(current, location)
                hops += 1
                result.attempts[-1] = _with_outcome(attempt, "redirect")
                if (urlsplit(target).hostname or "") not in allowed:
                    refused = f"redirect to another host refused: {target}"
                    result.error = FetchError(refused, url=url)
                elif hops > self.options.max_redirects:
                    result.error = FetchError(
                        f"more than {self.options.max_redirects} redirects", url=url, status=status
                    )
                if result.error is not None:
                    result.response = response
                    return result
                current = target
                continue
            result.response = response
            if status is not None and status >= 400 and status not in MISSING_STATUSES:
                result.error = FetchError(f"HTTP {status}", url=url, status=status)
                result.attempts[-1] = _with_outcome(attempt, "failed")
            return result

    async def _attempt(
        self, url: str, current: str, number: int, conditional: dict[str, str], budget: _Budget
    ) -> tuple[FetchResult | None, Exception | None, Attempt]:
        host = urlsplit(current).hostname or ""
        gate = self._gate(host)
        request_url = self.map_url(current)
        async with gate.lock:
            ready = gate.not_before
            if gate.last_start is not None:
                ready = max(ready, gate.last_start + gate.delay)
            wait = ready - self._clock()
            if wait > 0:
                await self._sleep(wait)
            started_at, start = self._now(), self._clock()
            gate.last_start = start
            response: FetchResult | None = None
            error: Exception | None = None
            size = 0
            limit = min(self.options.timeout, budget.left(start))
            try:
                if limit <= 0:
                    raise TimeoutError
                async with asyncio.timeout(limit):
                    status, headers, body = await self._get(request_url, conditional)
                size = len(body)
                elapsed = (self._clock() - start) * 1000
                response = FetchResult(
                    url=url,
                    final_url=current,
                    status=status,
                    headers=headers,
                    body=body,
                    fetched_at=started_at,
                    elapsed_ms=round(elapsed, 1),
                )
            except TimeoutError:
                error = TimeoutError(f"no complete response within {limit:g}s")
                if limit < self.options.timeout:
                    spent = f"page deadline of {self.options.page_deadline:g}s spent"
                    error = TimeoutError(f"{spent}, no complete response")
            except httpx.TimeoutException as exc:
                error = TimeoutError(f"timeout: {type(exc).__name__}")
            except httpx.HTTPError as exc:
                error = ConnectionError(f"{type(exc).__name__}: {exc}")
            except _TooLarge as exc:
                error = exc
            finally:
                end = self._clock()
        elapsed_ms = round((end - start) * 1000, 1)
        status_code = response.status if response else None
        outcome = "ok"
        if status_code == 304:
            outcome = "not_modified"
        elif status_code in MISSING_STATUSES:
            outcome = "missing"
        attempt = Attempt(
            url=url,
            request_url=request_url,
            attempt=number,
            started_at=started_at,
            elapsed_ms=elapsed_ms,
            status=status_code,
            error=str(error) if error else None,
            bytes=size,
            outcome=outcome,
        )
        return response, error, attempt

    async def _get(self, url: str, extra: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        cap = self.options.max_body_bytes
        headers = {"User-Agent": self.options.user_agent, **extra}
        async with self.client.stream(
            "GET", url, headers=headers, follow_redirects=False, timeout=self.options.timeout
        ) as response:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > cap:
                raise _TooLarge(f"body of {declared} bytes is over the {cap}-byte cap")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > cap:
                    raise _TooLarge(f"body over the {cap}-byte cap")
                chunks.append(chunk)
            merged: dict[str, str] = {}
            for name, value in response.headers.multi_items():
                if name.lower() in CREDENTIAL_HEADERS:
                    continue
                merged[name] = f"{merged[name]}, {value}" if name in merged else value
            return response.status_code, merged, b"".join(chunks)


def _with_outcome(attempt: Attempt, outcome: str) -> Attempt:
    return Attempt(**{**attempt.__dict__, "outcome": outcome})
