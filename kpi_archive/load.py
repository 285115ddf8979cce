"""The one load loop: a source of responses → one reading of each page → archive save → shape.

Crawl, ``import`` and ``reparse`` differ only in where the bytes come from (the fetcher, WARC or
saved HTML files, the archive's own snapshots); each goes through ``read_page`` and the archive's
save functions here, and its caller ends it with ``finish`` (``ensure_db_shape`` plus the tables
derived across pages and the search index's new rows, left to the caller so that a bulk load
does that work once; a search between a save and its finish may miss the newest rows).

- ``read_page(response, parse)`` → ``PageRead``: the record (or the ``ParseError``, or None when no
  parser applies), the page's links and its visible lines (for telling a revisit), from one
  reading (``parsers.read``); the links are kept beside a new snapshot, so a 304 or a fresh page
  gives its links without reading it again (``stored_links``).
- ``load_one`` (crawl: one page, one transaction) and ``load_many`` (import: batched commits).
- ``import_paths`` and ``reparse`` are the two other sources. With ``jobs`` > 1 they read pages in
  ``jobs - 1`` worker processes ahead of the saves (``kpi_archive.readahead``); the saves, their
  order and so every id are the same as with ``jobs=1``, where this process does both.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database

import archive
import parsers
from archive import Packed, SaveOutcome
from archive.reparse import Capture, ReparseCounts
from archive.search import sync_index
from kpi_archive.config import GONE_AFTER
from kpi_archive.errors import ArchiveError, ConfigError, ParseError
from kpi_archive.readahead import read_ahead, read_source_ahead
from parsers.models import DepartmentPage, KpiPage, ProjectPage, validator
from scraper.models import FetchResult

log = logging.getLogger(__name__)

AnyRecord = KpiPage | ProjectPage | DepartmentPage
Parse = Callable[[bytes, str, Mapping[str, str]], AnyRecord]
ImportCounts = Counter[str]
# Pages a bulk load reads before it saves and commits them: about 100 KB of Python objects each.
LOAD_BATCH = 500


@dataclass(frozen=True)
class PageRead:
    """What one reading of a page gives: its record (or why not), its links, its visible lines;
    from a parse worker, its record's data, encoding and the page's fingerprint for the save
    (``archive.pack``) in place of the lines."""

    record: AnyRecord | ParseError | None
    links: tuple[str, ...] = ()
    visible: tuple[str, ...] | None = None
    packed: Packed | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        # Read in a parse worker, a record crosses to the writer as its data, which the save
        # needs anyway, and is validated again there: exactly the same record (the data is
        # JSON-ready, with dates as ISO text), for a third of the writer's time that unpickling
        # pydantic models would take (32,500 pages: 6.0 -> 2.1 s), and the writer no longer dumps
        # and encodes the records (~3 s). The visible lines stay in the worker: only the page's
        # fingerprint, made there from them, crosses (45 lines, 10 KB pickled, a page).
        record = self.record
        if not isinstance(record, KpiPage | ProjectPage | DepartmentPage):
            return (PageRead, (record, self.links, self.visible))
        packed = self.packed or archive.pack(record, self.visible)
        fields = (packed.data, packed.record, packed.fingerprint)
        return (_received, (type(record), *fields, self.links))


def _received(
    model: type[AnyRecord],
    data: dict[str, Any],
    encoded: bytes,
    fingerprint: str | None,
    links: tuple[str, ...],
) -> PageRead:
    return PageRead(validator(model)(data), links, None, Packed(data, encoded, fingerprint))


def parse_or_error(
    parse: Parse, body: bytes, url: str, headers: Mapping[str, str]
) -> AnyRecord | ParseError:
    """``parse`` the body; a ``ParseError``, or any crash of the parser, comes back as the error."""
    try:
        return parse(body, url, headers)
    except ParseError as exc:
        return exc
    except Exception as exc:
        return _crashed(exc, url)


def _crashed(exc: Exception, url: str) -> ParseError:
    # A parser bug on one odd page must not stop a crawl, an import or a reparse: the body is
    # kept as a parse error and a later `kpi-archive reparse` recovers it once it is fixed.
    log.exception("parser crashed on %s", url)
    return ParseError(f"parser crashed: {exc!r}", url=url)


def read_body(body: bytes, url: str, headers: Mapping[str, str], *, links: bool = True) -> PageRead:
    """One reading of a page with the project's parsers: its record (or error), its links (unless
    not wanted) and the lines a reader sees (for telling a revisit from a new snapshot)."""
    try:
        reading = parsers.read(body, url, headers)
    except ParseError as exc:  # empty or binary: nothing a reader sees
        return PageRead(exc)
    except Exception as exc:
        return PageRead(_crashed(exc, url))
    record = parse_or_error(lambda *_: reading.record(), body, url, headers)
    return PageRead(record, tuple(reading.follow()) if links else (), tuple(reading.visible))


def read_page(response: FetchResult, parse: Parse | None = None, *, links: bool = True) -> PageRead:
    """Read a 2xx response once: its record and links; other statuses: nothing.

    A ``parse`` other than the project's own (tests, benchmarks) gives no links."""
    return _read(parse, response.status, response.body, response.url, response.headers, links)


def _read(
    parse: Parse | None,
    status: int,
    body: bytes,
    url: str,
    headers: Mapping[str, str],
    links: bool = False,
) -> PageRead:
    if not 200 <= status < 300:
        return PageRead(None)
    if parse is None:
        return read_body(body, url, headers, links=links)
    return PageRead(parse_or_error(parse, body, url, headers))


def _parsed(parse: Parse, body: bytes, url: str, headers: Mapping[str, str]) -> PageRead:
    return PageRead(parse_or_error(parse, body, url, headers))


def stored_links(
    db: Database, url: str, *, fetched_since: str | None = None
) -> tuple[str, ...] | None:
    """The links of ``url``'s current snapshot (None if there is none, or not fetched since):
    as saved with it, else read once from its body and saved, for snapshots older than that."""
    current = archive.current_links(db, url, fetched_since=fetched_since)
    if current is None:
        return None
    snapshot_id, links = current
    if links is None:
        links = read_body(archive.current_body(db, url) or b"", url, {}).links
        archive.save_links(db, snapshot_id, links)
    return links


def load_one(
    db: Database,
    response: FetchResult,
    parse: Parse | None = None,
    *,
    gone_after: int = GONE_AFTER,
    parsed: PageRead | None = None,
) -> tuple[SaveOutcome, PageRead]:
    """Read (unless ``parsed`` is that reading) and save one response, with its links beside a
    new snapshot, in one transaction."""
    if parsed is None:
        parsed = read_page(response, parse)
    outcome = archive.save(
        db,
        response,
        parsed.record,
        gone_after=gone_after,
        visible=parsed.visible,
        packed=parsed.packed,
    )
    if outcome.new_snapshot and outcome.snapshot_id is not None and parse is None:
        archive.save_links(db, outcome.snapshot_id, parsed.links)
    return outcome, parsed


def load_many(
    db: Database,
    responses: Iterable[FetchResult],
    parse: Parse | None = None,
    *,
    gone_after: int = GONE_AFTER,
    jobs: int = 1,
) -> ImportCounts:
    """Read and save many responses, committing every ``LOAD_BATCH``; count each save status.

    Only the counts outlive a batch, so memory does not grow with the number of responses. Links
    are not read: ``stored_links`` reads them from the body the first time a crawl needs them.
    ``jobs`` > 1 reads them in ``jobs - 1`` worker processes while this one saves."""
    read = functools.partial(_read, parse)
    return _save_reads(
        db,
        read_ahead(responses, _response_args, read, jobs, ahead=LOAD_BATCH, label=_url),
        gone_after,
        jobs,
    )


def _save_reads(
    db: Database,
    reads: Generator[tuple[FetchResult, PageRead], None, None],
    gone_after: int,
    jobs: int,
) -> ImportCounts:
    counts: ImportCounts = Counter()
    with contextlib.closing(reads):
        while True:
            batch: list[tuple[FetchResult, PageRead]] = []
            try:
                batch.extend(itertools.islice(reads, LOAD_BATCH))
            except ArchiveError:  # a damaged file: the pages read before the damage are saved
                _save_batch(db, batch, counts, gone_after, jobs)
                raise
            if not batch:
                return counts
            _save_batch(db, batch, counts, gone_after, jobs)


def _save_batch(
    db: Database,
    batch: list[tuple[FetchResult, PageRead]],
    counts: ImportCounts,
    gone_after: int,
    jobs: int,
) -> None:
    items = [(r, p.record, p.visible, p.packed) for r, p in batch]
    saved = archive.save_many(db, items, LOAD_BATCH, gone_after=gone_after, jobs=jobs)
    counts.update(outcome.status for outcome in saved)


def _response_args(response: FetchResult) -> tuple[Any, ...]:
    return (response.status, response.body, response.url, response.headers)


def _read_response(parse: Parse | None, response: FetchResult) -> PageRead:
    return _read(parse, *_response_args(response))


def _url(item: FetchResult | Capture) -> str:
    return item.url


def import_paths(
    db: Database,
    paths: Sequence[str | Path],
    url: str | None = None,
    parse: Parse | None = None,
    *,
    gone_after: int = GONE_AFTER,
    jobs: int = 1,
) -> ImportCounts:
    """Parse and save every response in WARC files or one saved HTML file (which needs ``url``);
    ``jobs`` > 1 reads the files and parses in ``jobs - 1`` worker processes while this one
    saves."""
    html = [Path(p) for p in paths if not archive.is_warc(p)]
    if html and url is None:
        raise ConfigError(f"{html[0]}: an HTML file needs its page URL (--url)")
    if len(html) > 1:
        raise ConfigError("--url names one page: import HTML files one at a time")
    counts: ImportCounts = Counter()
    read = functools.partial(_read_response, parse)
    for path in paths:
        responses = functools.partial(archive.read_responses, path, url)
        reads = read_source_ahead(responses, read, jobs, ahead=LOAD_BATCH, name=str(path))
        counts.update(_save_reads(db, reads, gone_after, jobs))
    return counts


def reparse(db: Database, parse: Parse | None = None, *, jobs: int = 1) -> ReparseCounts:
    """Re-parse every stored capture in time order, in one transaction; no network.

    ``jobs`` > 1 parses in ``jobs - 1`` worker processes ahead of the replay, which stays here."""
    read = functools.partial(_parsed, parse or parsers.parse_page)
    with db.atomic():
        state = archive.begin_reparse(db)
        captures = archive.iter_captures(db)
        with contextlib.closing(
            read_ahead(captures, _capture_args, read, jobs, label=_url)
        ) as reads:
            for capture, parsed in reads:
                archive.replay_capture(db, state, capture, parsed.record, parsed.packed)
        return archive.end_reparse(db, state)


def _capture_args(capture: Capture) -> tuple[Any, ...]:
    return (capture.body, capture.url, capture.headers)


def index_saved(db: Database) -> None:
    """Index the pages saved so far for search, in a transaction of its own, without waiting for
    ``finish``: a polite crawl's writer is idle between pages, so the index is built there and
    not appended to the crawl's end (2,000 pages: ~1 s, 52.1 -> 52.9 s of a 50.1 s floor)."""
    with db.atomic():
        sync_index(db.conn, rebuild=False)


def finish(db: Database, *, jobs: int = 1) -> None:
    """What every load ends with: the archive's shape checked, agency names, the search index and
    the tables derived across pages (indicators, measures, observations) brought up to date,
    planner statistics. ``jobs`` > 1: a whole rebuild of the search index runs in a worker
    process beside the derived tables' refresh."""
    archive.ensure_db_shape(db)
    restored = archive.schema.restore_indexes(db)  # set aside by a first load or a reparse
    archive.refresh_agencies(db)
    rebuilt = archive.refresh_derived(db, jobs=jobs)
    # The planner's statistics describe the archive's shape, which a night's few changed pages
    # do not move; a load big enough to rebuild the derived tables refreshes them.
    if rebuilt or restored or not db["sqlite_stat1"].exists():
        archive.schema.analyze(db)
