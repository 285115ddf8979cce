"""When a crawl stops taking new pages: its deadline passed, or SIGINT / SIGTERM arrived.

``StopControl`` is asked before each page (``stopping``); it never cancels work in hand, so the
page being fetched is finished, saved and committed, the run is recorded and the lock released.
While installed, the first SIGINT or SIGTERM only sets the flag and puts the default handlers
back, so a second signal ends the process at once (a user pressing Ctrl-C twice means it).

``heartbeat(beat, every)`` calls ``beat()`` every ``every`` seconds until cancelled: the crawl
uses it to keep its lock row's heartbeat fresh, which is how other processes tell a live crawl
from a dead one whatever host it runs on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Iterator

log = logging.getLogger(__name__)

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopControl:
    """A deadline (seconds from now, or None) and the signal that asked the crawl to stop."""

    def __init__(
        self, deadline: float | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.clock = clock
        self.ends_at = None if deadline is None else clock() + deadline
        self.signal_number: int | None = None
        self.lost_lock = False
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def deadline_reached(self) -> bool:
        """Whether the deadline has passed."""
        return self.ends_at is not None and self.clock() >= self.ends_at

    @property
    def stopping(self) -> bool:
        """Whether to take no new page."""
        return self.signal_number is not None or self.lost_lock or self.deadline_reached

    def lock_lost(self) -> None:
        """Stop taking pages: another crawl took the lock over (this one stopped beating)."""
        log.error("another crawl took the lock over: finishing the pages in hand, then stopping")
        self.lost_lock = True

    def request(self, signal_number: int) -> None:
        """Stop taking pages because of ``signal_number``; a second signal acts as usual."""
        if self.signal_number is None:
            log.warning(
                "%s received: finishing the pages in hand, then stopping",
                signal.Signals(signal_number).name,
            )
            self.signal_number = signal_number
        self._restore()

    @contextlib.contextmanager
    def installed(self, loop: asyncio.AbstractEventLoop) -> Iterator[StopControl]:
        """Catch SIGINT and SIGTERM on ``loop`` while the block runs (main thread only)."""
        if threading.current_thread() is threading.main_thread():
            # Elsewhere (a crawl run from a worker thread) signals stay with the main thread.
            self._loop = loop
            for number in SIGNALS:
                loop.add_signal_handler(number, self.request, number)
        try:
            yield self
        finally:
            self._restore()

    def _restore(self) -> None:
        if self._loop is not None:
            for number in SIGNALS:
                self._loop.remove_signal_handler(number)
            self._loop = None


async def heartbeat(beat: Callable[[], Awaitable[object]], every: float) -> None:
    """Call ``beat()`` every ``every`` seconds until cancelled; a failed beat is only logged."""
    while True:
        await asyncio.sleep(every)
        try:
            await beat()
        except Exception:
            # A locked or busy database for one beat is not a reason to stop a night's crawl;
            # the next beat tries again, and the lock only goes stale after many misses.
            log.exception("could not update the crawl lock's heartbeat")
