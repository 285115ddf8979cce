"""The archive: every version of every BMA KPI page in one SQLite file, written with sqlite-utils.

Public API (the load loop in ``kpi_archive.load``, the crawl, the CLI and the publishing side use
only these; nobody else writes SQL into the archive's tables):

- ``open_db(path)``: open or create the archive (parent folder, WAL, foreign keys, schema).
- ``save(db, response, record_or_error) -> SaveOutcome``: one page, one transaction;
  ``save_many(db, pairs)`` commits in batches (each page still atomic) for bulk loads.
- ``last_validators(db, url)`` / ``current_body(db, url)`` / ``current_links(db, url)``: the
  current snapshot's validators, bytes and links (``save_links`` keeps them beside it).
- ``begin_reparse`` / ``iter_captures`` / ``replay_capture`` / ``end_reparse``: the archive's half
  of a reparse (typed tables and versions rebuilt from the snapshots).
- ``refresh_agencies(db)``: a row and a name for every agency code seen (after every load).
- ``search(db, table, query)``: trigram search of ``kpis`` or ``reports`` (the same index as
  Datasette's search box).
- ``refresh_derived(db)``: indicators, measures and observations (after every load; for the
  pages saved since the last one, ``archive.pending``).
- ``read_responses`` / ``export_warc``: saved HTML and WARC files in and out.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from sqlite_utils import Database

from archive import pending
from archive.agencies import fill_names as refresh_agencies
from archive.observations import refresh_observations
from archive.reparse import (
    Capture,
    ReparseCounts,
    ReparseState,
    begin_reparse,
    end_reparse,
    iter_captures,
    replay_capture,
)
from archive.save import (
    Packed,
    SaveOutcome,
    current_body,
    current_links,
    last_validators,
    pack,
    save,
    save_links,
    save_many,
)
from archive.schema import SCHEMA_VERSION, ensure_db_shape, utc_iso
from archive.search import BESIDE_WORKER_CACHE, lower_cache, search, start_rebuild, sync_index
from archive.search import register as search_functions
from archive.series import ensure_series_tables, refresh_series
from archive.series_views import ensure_series_views
from archive.warc import export_warc, is_warc, read_responses
from kpi_archive.errors import ArchiveError

log = logging.getLogger(__name__)

SQLITE_MAGIC = b"SQLite format 3\x00"


def check_archive_file(path: str | Path) -> None:
    """Raise ``ArchiveError`` if ``path`` exists but is not an SQLite file (nothing is written)."""
    path = Path(path)
    if not path.exists():
        return
    if path.is_dir():
        raise ArchiveError("is a directory, not an archive", path=str(path))
    with path.open("rb") as handle:
        head = handle.read(len(SQLITE_MAGIC))
    if head and head != SQLITE_MAGIC:
        raise ArchiveError("not an SQLite database; refusing to touch it", path=str(path))


PAGE_SIZE = 16384


def open_db(path: str | Path) -> Database:
    """Open (or create) the archive at ``path`` and bring it to the current schema."""
    path = Path(path)
    check_archive_file(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        db = Database(path)
        # A new archive's pages: 16 KiB, not SQLite's 4 KiB. A 4 KiB page holds one compressed
        # snapshot (2.8 KB on average) and wastes the rest; a 16 KiB one holds five, and a
        # batch's index updates write fewer, fuller pages (8,000 pages saved: 10.2 -> 8.6 s CPU,
        # 201 -> 185 MB). An existing archive keeps its size: SQLite changes it only on a VACUUM.
        db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        db.execute("PRAGMA busy_timeout = 10000")
        # Safe under WAL: a killed process loses no committed page (only power loss could).
        db.execute("PRAGMA synchronous = NORMAL")
        # 64 MiB of page cache, so a 500-page save_many batch (~9 MB) does not spill mid-batch.
        db.execute("PRAGMA cache_size = -65536")
        ensure_db_shape(db)
        search_functions(db.conn)  # trigram_match(), thai_holds(): the search's two halves
    except sqlite3.DatabaseError as exc:
        raise ArchiveError(f"cannot open the archive: {exc}", path=str(path)) from exc
    return db


def refresh_derived(db: Database, *, full: bool | None = None, jobs: int = 1) -> bool:
    """Bring the tables derived across pages up to date: indicators, measures, observations,
    and the search index (``archive.search.sync_index``).

    Only for the pages saved since the last refresh (``archive.pending``), unless ``full`` or
    ``pending.needs_full`` says to rebuild them from every page; return whether it did. A whole
    rebuild of the search index uses a worker process when ``jobs`` > 1."""
    # Committed on its own: FTS5 holds a blob handle open until the commit, and SQLite refuses
    # create_function (the refresh's SQL functions) while one is open. With ``jobs`` > 1 a
    # whole rebuild runs in a worker process beside the refresh instead, through connections of
    # its own (``archive.search.start_rebuild``), and is swapped in after it.
    build = start_rebuild(db.conn, jobs=jobs)
    if build is None:
        with db.atomic():
            sync_index(db.conn)
    cache = None
    if build is not None:
        cache = lower_cache(db.conn)
        db.execute("PRAGMA shrink_memory")
    try:
        with db.atomic():
            conn = db.conn
            ensure_series_tables(db)  # kpis.indicator_id, which a trigger reads
            pending.ensure_pending(db)
            if full is None:
                full = pending.needs_full(conn)
            if not full:
                pending.open_scope(conn)
            refresh_series(db, scoped=not full)
            refresh_observations(db, scoped=not full)
            pending.caught_up(conn)
    except BaseException:
        if build is not None:
            build.join(install=False)
        raise
    finally:
        if cache is not None:
            db.execute(f"PRAGMA cache_size = {cache}")
    if build is not None:
        build.join()
    ensure_series_views(db)
    return full


__all__ = [
    "BESIDE_WORKER_CACHE",
    "SCHEMA_VERSION",
    "Capture",
    "Packed",
    "ReparseCounts",
    "ReparseState",
    "SaveOutcome",
    "begin_reparse",
    "check_archive_file",
    "current_body",
    "current_links",
    "end_reparse",
    "ensure_db_shape",
    "export_warc",
    "is_warc",
    "iter_captures",
    "last_validators",
    "open_db",
    "pack",
    "read_responses",
    "refresh_agencies",
    "refresh_derived",
    "refresh_observations",
    "refresh_series",
    "replay_capture",
    "save",
    "save_links",
    "save_many",
    "search",
    "utc_iso",
]
