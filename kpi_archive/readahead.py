"""Pages read in worker processes ahead of the one process that writes the archive.

Contract: ``read_ahead(items, args, read, jobs)`` yields ``(item, read(*args(item)))`` for every
item, in the items' order, whatever ``jobs`` is. With ``jobs`` > 1, ``jobs - 1`` worker processes
(``spawn``: a fresh interpreter, so no SQLite connection or lock crosses a fork) run ``read`` on
chunks of ``CHUNK`` items while the caller saves the ones before (this process reads the first
chunk itself while they start); at most ``ahead`` items are out at a time, so memory stays flat.
``read`` and what it returns must pickle (a module-level function or a ``functools.partial`` of
one). A source of one chunk or less is read in this process: starting a worker (~0.4 s) would
cost more than it saves. No more processes run than there are cores: the writer is the slower
side, so a worker sharing its core would only add the cost of handing pages over.

Failure stays loud and isolated: what ``read`` logs in a worker is logged here, with its page's
results; an exception ``read`` raises is raised here; a worker that dies (killed, out of memory,
a crash in C) is a ``KpiArchiveError`` naming the first item of the chunk it was reading.
Workers are deaf to Ctrl-C from birth, which is the writer's: however the caller stops (an error,
Ctrl-C, closing the generator), the pending chunks are cancelled and the workers are joined
before it returns, so no process outlives the load and no work runs past it.
"""

from __future__ import annotations

import gc
import itertools
import logging
import multiprocessing
import os
import pickle
import signal
from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from kpi_archive.config import cores
from kpi_archive.errors import KpiArchiveError

T = TypeVar("T")
R = TypeVar("R")

# Items a worker reads per task: large enough that handing a chunk over costs little next to
# reading it (100 KPI pages: ~60 ms of parsing, ~1.7 MB pickled back), small enough that the
# writer's first wait is short.
CHUNK = 100
START_METHOD = "spawn"
# The writer (this process) is the load's critical path: a parse worker takes the time the writer
# leaves, before the search index's worker (``archive.trigram_build``, niceness 10) does.
NICENESS = 5


def read_ahead(
    items: Iterable[T],
    args: Callable[[T], tuple[Any, ...]],
    read: Callable[..., R],
    jobs: int,
    *,
    ahead: int = 500,
    label: Callable[[T], str] = str,
) -> Generator[tuple[T, R], None, None]:
    """Each item with ``read(*args(item))``, in order, read by ``jobs - 1`` worker processes
    (at most one fewer than the cores)."""
    pending = iter(items)
    chunks = iter(lambda: list(itertools.islice(pending, CHUNK)), [])
    first, second = next(chunks, []), next(chunks, [])
    workers = min(jobs, cores()) - 1
    if workers < 1 or not second:
        for item in itertools.chain(first, second, pending):
            yield item, read(*args(item))
        return
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context(START_METHOD),
        initializer=_start_worker,
        initargs=(logging.getLogger().getEffectiveLevel(),),
    )
    out: deque[tuple[list[T], Future[bytes]]] = deque()
    rest = itertools.chain([second], chunks)

    def send(count: int) -> None:
        for chunk in itertools.islice(rest, count):
            try:
                out.append((chunk, pool.submit(_read_chunk, read, [args(i) for i in chunk])))
            except BrokenProcessPool as exc:
                raise _stopped(chunk, label) from exc

    try:
        _start_workers(pool, workers)
        send(max(ahead // CHUNK, 2 * workers))
        # The workers start (a fresh interpreter: ~0.4 s) while this process reads the first
        # chunk itself.
        for item in first:
            yield item, read(*args(item))
        while out:
            done, future = out.popleft()
            send(1)
            yield from zip(done, _results(future, done, label), strict=True)
    finally:
        for _, future in out:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def _start_workers(pool: ProcessPoolExecutor, workers: int) -> None:
    """Start the workers now, born with Ctrl-C blocked."""
    # A blocked signal stays blocked across fork and exec, so a Ctrl-C while a worker imports
    # cannot kill it half-way (which would break the pool instead of stopping the load); here
    # it only waits the few milliseconds each submit takes to fork and exec a worker.
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGINT])
    try:
        for _ in range(workers):
            pool.submit(int)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def _stopped(chunk: list[T], label: Callable[[T], str]) -> KpiArchiveError:
    return KpiArchiveError(
        f"a parse worker process stopped while reading the {len(chunk)} pages "
        f"from {label(chunk[0])}"
    )


def _results(future: Future[bytes], chunk: list[T], label: Callable[[T], str]) -> list[Any]:
    """A chunk's results, after the log records its reading left (re-logged here, in order)."""
    try:
        data = future.result()
    except BrokenProcessPool as exc:
        raise _stopped(chunk, label) from exc
    # Unpickling a chunk makes tens of thousands of small objects, none of them cyclic: the
    # collector's passes over them would cost as much as the unpickling (2,166 pages: 0.34 ->
    # 0.16 s of the writer's time).
    collecting = gc.isenabled()
    gc.disable()
    try:
        results, records = pickle.loads(data)
    finally:
        if collecting:
            gc.enable()
    for record in records:
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)
    return list(results)


class _Kept(logging.Handler):
    """A worker's log records, flattened to pickle (message and traceback as text)."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        record.msg = record.getMessage()
        record.args = None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        self.records.append(record)


_KEPT = _Kept()


def _start_worker(level: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the writer stops us, after its own cleanup
    os.nice(NICENESS)
    root = logging.getLogger()
    root.handlers = [_KEPT]
    root.setLevel(level)


def _read_chunk(read: Callable[..., Any], chunk: list[tuple[Any, ...]]) -> bytes:
    results = [read(*args) for args in chunk]
    records, _KEPT.records = _KEPT.records, []
    return pickle.dumps((results, records), protocol=pickle.HIGHEST_PROTOCOL)
