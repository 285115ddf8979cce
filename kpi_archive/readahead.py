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

``read_source_ahead(source, read, jobs, name=…)`` does the same for the items of ``source()``
made in the workers themselves (a WARC file's records): each worker opens the source once and
skips to its own chunks, so the writer neither reads the file nor pickles its items out; an error
the source raises half-way comes after every item before it, as it would in one process.

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
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
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
    tasks = (
        _Task(_read_chunk, (read, [args(i) for i in chunk]), chunk, len(chunk), label(chunk[0]))
        for chunk in itertools.chain([second], chunks)
    )
    here = ((item, read(*args(item))) for item in first)
    yield from _in_workers(workers, ahead, here, tasks)


def read_source_ahead(
    source: Callable[[], Iterable[T]],
    read: Callable[[T], R],
    jobs: int,
    *,
    ahead: int = 500,
    name: str,
) -> Generator[tuple[T, R], None, None]:
    """Each item of ``source()`` with ``read(item)``, in order, as ``read_ahead`` gives them, but
    with the items themselves made in the workers: each worker runs ``source()`` (a picklable
    callable: a WARC file's records) and reads its own chunks of it, so this process neither
    makes the items nor hands them over. ``name`` names the source in a dead worker's error.

    An error the source raises half-way (a damaged file) comes after every item before it."""
    items = iter(source())
    first, error = _take(items, CHUNK + 1)
    workers = min(jobs, cores()) - 1
    if error is not None or len(first) <= CHUNK or workers < 1:
        for item in itertools.chain(first, () if error else items):
            yield item, read(item)
        if error is not None:
            raise error
        return
    close = getattr(items, "close", None)
    if close is not None:
        close()  # the workers read the rest: the file is closed now, not when collected
    # Each worker keeps its source open between its chunks under this key (one load's own).
    key = f"{os.getpid()}-{next(_LOADS)}"
    tasks = (
        _Task(
            _read_part,
            (key, source, read, start, CHUNK),
            None,
            CHUNK,
            f"record {start + 1} of {name}",
        )
        for start in itertools.count(CHUNK, CHUNK)
    )
    here = ((item, read(item)) for item in first[:CHUNK])
    yield from _in_workers(workers, ahead, here, tasks)


_LOADS = itertools.count()


@dataclass(frozen=True)
class _Task:
    """One chunk for a worker: ``run(*args)``; ``items`` as sent (None: the worker makes them)."""

    run: Callable[..., bytes]
    args: tuple[Any, ...]
    items: list[Any] | None
    size: int
    first: str

    def stopped(self) -> KpiArchiveError:
        return KpiArchiveError(
            f"a parse worker process stopped while reading the {self.size} pages from {self.first}"
        )


def _in_workers(
    workers: int,
    ahead: int,
    here: Iterable[tuple[Any, Any]],
    tasks: Iterator[_Task],
) -> Generator[tuple[Any, Any], None, None]:
    """What ``here`` yields (read in this process while the workers start), then each task's
    items and results in order; a task that comes back short is the source's last."""
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context(START_METHOD),
        initializer=_start_worker,
        initargs=(logging.getLogger().getEffectiveLevel(),),
    )
    out: deque[tuple[_Task, Future[bytes]]] = deque()

    def send(count: int) -> None:
        for task in itertools.islice(tasks, count):
            try:
                out.append((task, pool.submit(task.run, *task.args)))
            except BrokenProcessPool as exc:
                raise task.stopped() from exc

    try:
        _start_workers(pool, workers)
        send(max(ahead // CHUNK, 2 * workers))
        # The workers start (a fresh interpreter: ~0.4 s) while this process reads the first
        # chunk itself.
        yield from here
        while out:
            task, future = out.popleft()
            items, results, error = _results(future, task)
            last = error is not None or len(items) < task.size
            if not last:
                send(1)
            yield from zip(items, results, strict=True)
            if error is not None:
                raise error
            if last:
                break
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


def _results(future: Future[bytes], task: _Task) -> tuple[list[Any], list[Any], Exception | None]:
    """A task's items, results and the source's error, after the log records its reading left
    (re-logged here, in order)."""
    try:
        data = future.result()
    except BrokenProcessPool as exc:
        raise task.stopped() from exc
    # Unpickling a chunk makes tens of thousands of small objects, none of them cyclic: the
    # collector's passes over them would cost as much as the unpickling (2,166 pages: 0.34 ->
    # 0.16 s of the writer's time).
    collecting = gc.isenabled()
    gc.disable()
    try:
        items, results, error, records = pickle.loads(data)
    finally:
        if collecting:
            gc.enable()
    for record in records:
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)
    return (task.items or [] if items is None else items), list(results), error


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
    return _done(None, [read(*args) for args in chunk], None)


# In a worker: the source it reads, under its load's key: (its iterator, the next item's index).
_OPEN: dict[str, tuple[Iterator[Any], int]] = {}


def _read_part(
    key: str, source: Callable[[], Iterable[Any]], read: Callable[[Any], Any], start: int, size: int
) -> bytes:
    """Items ``start`` to ``start + size`` of ``source()``, read: a worker's chunks come in rising
    order, so it opens the source once and skips the chunks the other workers read."""
    items, at = _OPEN.pop(key, (iter(()), -1))
    if at < 0 or at > start:
        _OPEN.clear()  # another load's source, or a restart: only one is open at a time
        items, at = iter(source()), 0
    _, error = _take(items, start - at, keep=False)
    chunk, error = ([], error) if error is not None else _take(items, size)
    if error is None:  # kept at its end too: a task past the end then finds nothing at once
        _OPEN[key] = (items, start + size)
    return _done(chunk, [read(item) for item in chunk], error)


def _take(
    items: Iterator[Any], count: int, *, keep: bool = True
) -> tuple[list[Any], Exception | None]:
    """The next ``count`` items (fewer at the end; none kept if not ``keep``), and the error that
    stopped them, if any."""
    taken: list[Any] = []
    try:
        if keep:
            taken.extend(itertools.islice(items, count))
        else:
            deque(itertools.islice(items, count), maxlen=0)
    except Exception as exc:  # the source's own error, raised after the items before it
        return taken, exc
    return taken, None


def _done(items: list[Any] | None, results: list[Any], error: Exception | None) -> bytes:
    records, _KEPT.records = _KEPT.records, []
    if error is not None:
        try:
            pickle.loads(pickle.dumps(error))
        except Exception:  # an exception that cannot cross processes crosses as its message
            error = KpiArchiveError(f"{type(error).__name__}: {error}")
    return pickle.dumps((items, results, error, records), protocol=pickle.HIGHEST_PROTOCOL)
