"""robots.txt: fetched once per host per run through the polite fetcher, cached, obeyed.

Rules (RFC 9309):
- 2xx: parsed with ``urllib.robotparser`` for our User-Agent; a ``Crawl-delay`` longer than our
  own delay slows that host down, up to ``max_crawl_delay`` (a longer one is logged and capped).
- 4xx (404, 410, 403 …): no usable robots.txt, so everything is allowed.
- 5xx, timeouts, connection errors: the site may be in trouble and its rules are unknown, so the
  whole host is treated as disallowed for the rest of the run. Its pages are reported as
  ``unavailable`` (the pipeline marks them failed) and are tried again on the next run.
- ``ignore=True`` (``--ignore-robots``) allows everything and fetches nothing.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.robotparser
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from scraper.fetcher import Fetched, Fetcher

log = logging.getLogger(__name__)

# One retry only: a host whose robots.txt keeps failing is skipped for the night anyway.
ROBOTS_RETRIES = 1


@dataclass(frozen=True)
class Verdict:
    """Whether a URL may be fetched, and why not."""

    allowed: bool
    reason: str = ""

    @property
    def unavailable(self) -> bool:
        return self.reason.startswith("robots.txt unavailable")


ALLOW = Verdict(True)


class _Rules:
    def __init__(self, parser: urllib.robotparser.RobotFileParser | None, verdict: Verdict) -> None:
        self.parser = parser
        self.verdict = verdict


class RobotsCache:
    """Fetch each origin's robots.txt once (per instance, i.e. per run) and answer ``check``."""

    def __init__(
        self,
        fetcher: Fetcher,
        *,
        ignore: bool = False,
        on_fetched: Callable[[Fetched], None] | None = None,
    ) -> None:
        self.fetcher = fetcher
        self.ignore = ignore
        self.on_fetched = on_fetched
        self.agent = fetcher.options.user_agent.split("/", 1)[0]
        self._rules: dict[str, _Rules] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def check(self, url: str) -> Verdict:
        """May ``url`` be fetched? Fetches the origin's robots.txt on first use."""
        if self.ignore:
            return ALLOW
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        lock = self._locks.setdefault(origin, asyncio.Lock())
        async with lock:
            rules = self._rules.get(origin)
            if rules is None:
                rules = self._rules[origin] = await self._load(origin)
        if rules.parser is None:
            return rules.verdict
        if rules.parser.can_fetch(self.agent, url):
            return ALLOW
        return Verdict(False, "disallowed by robots.txt")

    async def _load(self, origin: str) -> _Rules:
        fetched = await self.fetcher.fetch(origin + "/robots.txt", max_retries=ROBOTS_RETRIES)
        if self.on_fetched is not None:
            self.on_fetched(fetched)
        response = fetched.response
        status = response.status if response is not None else None
        if status is not None and 200 <= status < 300 and fetched.error is None:
            assert response is not None
            parser = urllib.robotparser.RobotFileParser()
            parser.parse(response.body.decode("utf-8", errors="replace").splitlines())
            delay = parser.crawl_delay(self.agent)
            if delay is not None:
                self.fetcher.set_host_delay(urlsplit(origin).hostname or "", float(delay))
            return _Rules(parser, ALLOW)
        if status is not None and 400 <= status < 500:
            log.info("%s/robots.txt: HTTP %d, everything allowed", origin, status)
            return _Rules(None, ALLOW)
        why = f"HTTP {status}" if status is not None else str(fetched.error)
        log.warning("%s/robots.txt unavailable (%s): host skipped this run", origin, why)
        return _Rules(None, Verdict(False, f"robots.txt unavailable ({why})"))
