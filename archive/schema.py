"""The archive's shape: tables, indexes, foreign keys, views, full-text search, migrations.

``ensure_db_shape(db)`` is idempotent and cheap on an up-to-date file; run it after every load.
Schema changes are ``sqlite_utils.migrations`` (recorded in ``_sqlite_migrations``; their count is
mirrored in ``PRAGMA user_version`` for tools that look there, and an archive made before the
migrations table existed is adopted from it). Typed tables take
their columns from the parser's pydantic models, so a field added to ``parsers.models`` becomes a
column the next time the archive is opened (lists and nested records become JSON text columns,
except the lists that have a table of their own). ``kpi_versions.record`` is compressed
(``archive.versions``); ``ensure_db_shape`` registers ``kpi_record()``, the SQL that reads it.

Raw captures (``pages``, ``snapshots``, ``captures``) are never deleted. The typed tables
(``kpis``, ``quarters``, ``reports``, ``projects``, ``agency_reports``, …) and ``kpi_versions``
are derived from them and can be rebuilt at any time by ``archive.reparse``.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import functools
import hashlib
import json
import logging
import re
import sqlite3
import types
import typing
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from archive.changes import FIELD_LABELS, stored_sources
from archive.pending import ensure_pending
from archive.series_views import VIEWS as SERIES_VIEWS
from archive.versions import compress_json, decode, recompress, register, repack
from kpi_archive.errors import ArchiveError
from parsers import thai
from parsers.models import DepartmentEntry, DepartmentPage, KpiPage, ProjectPage, Quarter, Report

log = logging.getLogger(__name__)


# Search helpers live only in these side tables, never as columns of the tables readers see. The
# trigram tables are contentless (``content=''``): the text is stored once, in ``kpis``/``reports``,
# and the index alone here. Their last column holds ``parsers.thai.fold`` of the texts fold changes
# (Thai digits, ``ำา``, PUA tone marks, ``PM 2.5``), so one index answers the query as typed and
# as folded.
TRIGRAM_FTS: dict[str, list[str]] = {
    "kpis": ["title", "definition", "calculation", "data_sources", "summary", "folded"],
    "reports": ["text", "folded"],
}
SEARCH_HELPERS = {"kpis": ("search_digits", "words"), "reports": ("text_digits", "words")}
# The PyThaiNLP word-search tables schema versions 1-10 kept beside the trigram ones (m012).
WORDS_FTS = ("kpis_words_fts", "reports_words_fts")
PAGE_COLUMNS: dict[str, type] = {
    "url": str,
    "host": str,
    "page_kind": str,
    "pid": str,
    "agency_code": str,
    "first_seen": str,
    "last_fetched": str,
    "last_changed": str,
    "snapshot_id": int,
    "sha256": str,
    "status": str,
    "gone_since": str,
    "miss_count": int,
    "last_error": str,
    "last_error_at": str,
}
# One row per request attempt (besides id and run_id), as the fetcher's ``Attempt`` has them.
FETCH_LOG_COLUMNS: dict[str, type] = {
    "url": str,
    "request_url": str,
    "attempt": int,
    "status": int,
    "error": str,
    "bytes": int,
    "elapsed_ms": float,
    "started_at": str,
    "outcome": str,
}
# One counter column per crawl outcome in ``runs``.
RUN_COUNTS = (
    "fetched", "unchanged", "new", "changed", "held", "failed", "gone", "missing", "parse_error",
    "skipped",
)  # fmt: skip

_PAGE_EXTRA: dict[str, type] = {
    "agency_code": str,
    "parser_version": str,
    "as_of": str,
    "snapshot_id": int,
}

# Typed tables built from a model: table -> (model, pk, extra columns, model fields left out).
TableSpec = tuple[type[BaseModel], str | tuple[str, ...], dict[str, type], set[str]]
# A child list with a table of its own is not copied into its page's row as JSON (issue #12):
# kpis' quarters, reports, strategies and projects; projects' quarters and reports.
KPI_LISTS_IN_TABLES = {"quarters", "reports", "strategies", "projects"}
PROJECT_LISTS_IN_TABLES = {"quarters", "reports"}
# A KPI's or project's quarters and reports carry their page's pid and as_of (what the facets and
# queries by indicator read), written with the rows (``archive.tables.write_record``).
_CHILD_STAMP: dict[str, type] = {"pid": str, "as_of": str}
MODEL_TABLES: dict[str, TableSpec] = {
    "kpis": (
        KpiPage,
        "url",
        {**_PAGE_EXTRA, "on_target": int},
        KPI_LISTS_IN_TABLES,
    ),
    "projects": (ProjectPage, "url", dict(_PAGE_EXTRA), PROJECT_LISTS_IN_TABLES),
    "department_pages": (DepartmentPage, "url", {**_PAGE_EXTRA, "entry_count": int}, {"entries"}),
    "agency_reports": (
        DepartmentEntry,
        ("url", "seq"),
        {"agency_code": str, "fiscal_year": int, "kpi_url": str, "on_target": int},
        set(),
    ),
    "quarters": (Quarter, ("url", "quarter"), dict(_CHILD_STAMP), set()),
    "agency_report_quarters": (Quarter, ("url", "seq", "quarter"), {}, set()),
    "reports": (
        Report,
        ("url", "position"),
        {
            "position": int,
            "date_fiscal_year": int,
            "date_fiscal_quarter": int,
            **_CHILD_STAMP,
        },
        set(),
    ),
}

# The tables with one row a page holding its current record (the parser that wrote it in
# ``parser_version``): kpis, projects, department_pages.
PAGE_TABLES = tuple(table for table, spec in MODEL_TABLES.items() if "parser_version" in spec[2])


def sqlite_type(annotation: Any) -> type:
    """Map a pydantic field annotation to the Python type sqlite-utils turns into a column type."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return sqlite_type(args[0]) if len(args) == 1 else str
    if origin is typing.Literal:
        return str
    if origin is typing.Annotated:
        return sqlite_type(typing.get_args(annotation)[0])
    if annotation is bool or annotation is int:
        return int
    if annotation is float:
        return float
    return str  # str, dates, lists and nested records (JSON)


def model_columns(table: str) -> dict[str, type]:
    """Every column of a typed table: the model's fields (url first) plus the table's extras."""
    model, pk, extra, skip = MODEL_TABLES[table]
    columns: dict[str, type] = {"url": str}
    for name in (pk,) if isinstance(pk, str) else pk:
        columns.setdefault(name, int)
    for name, field in model.model_fields.items():
        if name not in skip:
            columns.setdefault(name, sqlite_type(field.annotation))
    columns.update({k: v for k, v in extra.items() if k not in columns})
    return columns


def ensure_db_shape(db: Database) -> None:
    """Bring ``db`` to the current schema: migrations, model columns, views, FTS, crawl tables."""
    register(db.conn)  # kpi_record(), which the changes view reads versions with
    if db.journal_mode != "wal":
        db.enable_wal()
    db.execute("PRAGMA foreign_keys = ON")
    _migrate(db)
    _sync_model_columns(db)
    _ensure_fts(db)
    _ensure_views(db)
    _ensure_crawl_tables(db)


def m001_create_archive(db: Database) -> None:
    db.table("pages").create(
        PAGE_COLUMNS,
        pk="url",
        not_null={"host"},
        defaults={"miss_count": 0},
    )
    db.table("snapshots").create(
        {
            "id": int,
            "url": str,
            "sha256": str,
            "fetched_at": str,
            "status": int,
            "final_url": str,
            "content_type": str,
            "encoding": str,
            "etag": str,
            "last_modified": str,
            "headers": str,
            "size": int,
            "compression": str,
            "body": bytes,
        },
        pk="id",
        not_null={"url", "sha256", "fetched_at"},
        foreign_keys=[("url", "pages", "url")],
    )
    db.table("snapshots").create_index(["url", "sha256"], unique=True)
    db.table("snapshots").create_index(["fetched_at"])
    db.add_foreign_keys([("pages", "snapshot_id", "snapshots", "id")])
    db.table("captures").create(
        {"id": int, "url": str, "snapshot_id": int, "fetched_at": str},
        pk="id",
        not_null={"url", "snapshot_id", "fetched_at"},
        foreign_keys=[("url", "pages", "url"), ("snapshot_id", "snapshots", "id")],
    )
    db.table("captures").create_index(["url", "fetched_at"])
    db.table("captures").create_index(["snapshot_id"])
    for table, (_, pk, _, _) in MODEL_TABLES.items():
        db.table(table).create(
            model_columns(table), pk=pk, foreign_keys=[("url", "pages", "url")], not_null={"url"}
        )
    db.table("strategies").create(
        {"id": str, "code": str, "title": str, "level": str, "text": str}, pk="id"
    )
    db.table("kpi_strategies").create(
        {"url": str, "position": int, "strategy_id": str},
        pk=("url", "position"),
        foreign_keys=[("url", "pages", "url"), ("strategy_id", "strategies", "id")],
    )
    db.table("project_kpis").create(
        {
            "kpi_url": str,
            "position": int,
            "project_pid": str,
            "project_name": str,
            "project_url": str,
        },
        pk=("kpi_url", "position"),
        foreign_keys=[("kpi_url", "pages", "url")],
    )
    db.table("agencies").create(
        {"code": str, "dep_code": str, "name": str, "source_url": str}, pk="code"
    )
    db.table("kpi_versions").create(
        {
            "id": int,
            "url": str,
            "pid": str,
            "page_kind": str,
            "snapshot_id": int,
            "sha256": str,
            "fetched_at": str,
            "parser_version": str,
            "previous_id": int,
            "change_kind": str,
            "changed": str,
            "record": str,
        },
        pk="id",
        not_null={"url", "snapshot_id", "fetched_at", "record"},
        foreign_keys=[
            ("url", "pages", "url"),
            ("snapshot_id", "snapshots", "id"),
            ("previous_id", "kpi_versions", "id"),
        ],
    )
    db.table("kpi_versions").create_index(["url", "id"])
    db.table("kpi_versions").create_index(["fetched_at"])
    for table, columns in {
        "pages": ["status"],
        "kpis": ["fiscal_year", "agency_code", "kpi_type", "kpi_level", "unit", "page_kind", "pid"],
        "projects": ["agency_code", "fiscal_year", "pid"],
        "agency_reports": ["agency_code", "fiscal_year", "kpi_url", "pid"],
        "reports": ["date", "date_fiscal_year"],
        "kpi_strategies": ["strategy_id"],
    }.items():
        for column in columns:
            db.table(table).create_index([column], if_not_exists=True)


def m002_drop_per_row_fts_triggers(db: Database) -> None:
    # The trigram indexes are kept in sync by archive.search.sync_index (per batch, then from
    # m017 at each load's finish), not per row.
    for table in TRIGRAM_FTS:
        for suffix in ("ai", "ad", "au"):
            db.execute(f"DROP TRIGGER IF EXISTS [{table}_{suffix}]")


def m003_snapshot_links(db: Database) -> None:
    # The links a body holds, read with it: a 304 or a fresh page re-queues them without a reparse.
    if "links" not in db.table("snapshots").columns_dict:
        db.table("snapshots").add_column("links", str)


def m004_judged_captures(db: Database) -> None:
    # Issue 8: a capture is judged before it becomes the record; held ones say why. A revisit
    # (same visible text and record, other bytes) points at the earlier snapshot and keeps only
    # the digest of the bytes it received.
    added: dict[str, dict[str, type]] = {
        "captures": {
            "final_url": str,
            "capture_class": str,
            "capture_reason": str,
            "body_sha256": str,
            "revisit": int,
        },
        "snapshots": {"fingerprint": str},
        "kpi_versions": {"sources": str},
    }
    for name, columns in added.items():
        table = db.table(name)
        for column, kind in columns.items():
            if column not in table.columns_dict:
                table.add_column(column, kind)
    db.table("captures").create_index(["capture_class"], if_not_exists=True)
    if db.table("runs").exists() and "held" not in db.table("runs").columns_dict:
        db.table("runs").add_column("held", int)


def m005_search_helpers_out_of_tables(db: Database) -> None:
    # kpis/reports lose their search helper columns (issue 10 §3) and kpis.agency_code becomes a
    # foreign key to agencies (issue 11 §4). transform renumbers rowids, so the search tables
    # are rebuilt. (The words segmented into them went in m012 with the word-search tables.)
    for table, helpers in SEARCH_HELPERS.items():
        for suffix in ("_words_ai", "_words_au", "_words_ad"):
            db.execute(f"DROP TRIGGER IF EXISTS [{table}{suffix}]")
        for fts in (f"{table}_fts", f"{table}_words_fts"):
            db.execute(f"DROP TABLE IF EXISTS [{fts}]")
        present = [c for c in helpers if c in db.table(table).columns_dict]
        if present:
            db.table(table).transform(drop=present)
    db.execute(
        "INSERT INTO agencies (code, dep_code) SELECT DISTINCT agency_code, agency_code || '0000' "
        "FROM kpis WHERE agency_code IS NOT NULL ON CONFLICT (code) DO NOTHING"
    )
    if not any(fk.column == "agency_code" for fk in db.table("kpis").foreign_keys):
        db.table("kpis").transform(add_foreign_keys=[("agency_code", "agencies", "code")])
    _ensure_fts(db)


# Added to the crawl's tables by m006 (and created with them on a new archive).
RUN_VERDICT: dict[str, type] = {"outcome": str, "reason": str}
LOCK_BEAT: dict[str, type] = {"heartbeat": str}


def m006_run_outcome_and_lock_heartbeat(db: Database) -> None:
    # A run records why it exited as it did; the lock carries a heartbeat (issue #9).
    for table, columns in (("runs", RUN_VERDICT), ("crawl_lock", LOCK_BEAT)):
        if db.table(table).exists():
            existing = db.table(table).columns_dict
            for name, kind in columns.items():
                if name not in existing:
                    db.table(table).add_column(name, kind)


def m007_index_versions_previous_id(db: Database) -> None:
    # Issue 12: every DELETE FROM kpi_versions checks the previous_id foreign key; without an
    # index each check scans the table, so reparse's delete was quadratic in the versions.
    db.table("kpi_versions").create_index(["previous_id"], if_not_exists=True)


def m008_compact_versions_and_tables(db: Database) -> None:
    # Issue 12: kpi_versions.record holds the record zstd-compressed (archive.versions), the
    # JSON copies of child tables leave kpis and projects, strategies get numbers for ids.
    # DROP COLUMN keeps the rowids the full-text indexes are keyed by (transform would renumber
    # them). Later writes reuse the freed pages; `sqlite-utils vacuum` returns them to the disk.
    last = 0
    while True:
        rows = db.execute(
            "SELECT id, record FROM kpi_versions WHERE id > ? AND typeof(record) = 'text' "
            "ORDER BY id LIMIT 1000",
            [last],
        ).fetchall()
        if not rows:
            break
        db.conn.executemany(
            "UPDATE kpi_versions SET record = ? WHERE id = ?",
            [(compress_json(text), version_id) for version_id, text in rows],
        )
        last = rows[-1][0]
    for table, lists in (("kpis", KPI_LISTS_IN_TABLES), ("projects", PROJECT_LISTS_IN_TABLES)):
        for column in sorted(lists & set(db.table(table).columns_dict)):
            db.execute(f"ALTER TABLE [{table}] DROP COLUMN [{column}]")
    # A strategy's id was its whole code and title, repeated in every kpi_strategies row and in
    # an index; it becomes a number derived from that text (strategy_number), so the same line
    # keeps the same id whatever order pages are saved or reparsed in.
    if db.table("kpi_strategies").columns_dict["strategy_id"] is int:
        return
    db.conn.create_function("strategy_number", 1, strategy_number, deterministic=True)
    db.execute("CREATE TEMP TABLE m008_strategies AS SELECT * FROM strategies")
    db.execute("CREATE TEMP TABLE m008_links AS SELECT * FROM kpi_strategies")
    db.execute("DROP TABLE kpi_strategies")
    db.execute("DROP TABLE strategies")
    _create_strategy_tables(db)
    db.execute(
        "INSERT INTO strategies (id, code, title, level, text) "
        "SELECT strategy_number(id), code, title, level, text FROM temp.m008_strategies"
    )
    db.execute(
        "INSERT INTO kpi_strategies (url, position, strategy_id) "
        "SELECT url, position, strategy_number(strategy_id) FROM temp.m008_links"
    )
    db.execute("DROP TABLE temp.m008_strategies")
    db.execute("DROP TABLE temp.m008_links")


def strategy_number(text: str) -> int:
    """The id of the strategy line whose code and title read ``text`` (stable, < 2**53)."""
    # 52 bits: unique among any realistic number of lines, and exact in JavaScript (Datasette's
    # JSON readers), which a 64-bit id would not be.
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8]) >> 12


def _create_strategy_tables(db: Database) -> None:
    db.table("strategies").create(
        {"id": int, "code": str, "title": str, "level": str, "text": str}, pk="id"
    )
    db.table("kpi_strategies").create(
        {"url": str, "position": int, "strategy_id": int},
        pk=("url", "position"),
        foreign_keys=[("url", "pages", "url"), ("strategy_id", "strategies", "id")],
    )
    db.table("kpi_strategies").create_index(["strategy_id"])


# What the published pages sort, facet and filter on that m001 left unindexed (metadata.yml's
# ``sort``/``sort_desc`` and ``facets``, the canned queries): each was a scan of the whole table
# per page view. The on_target indexes cover the scorecard and below-target queries, so they read
# a small index instead of every wide kpis row; kpi_versions.pid finds a page_as_of pid without
# reading every version; the as_of ones answer the revisions view's "indicator disappeared"
# subqueries (earliest capture of an agency's later year, latest of an indicator) from the index.
SERVING_INDEXES: dict[str, tuple[tuple[str, ...], ...]] = {
    "pages": (("last_fetched",), ("page_kind",), ("host",)),
    "quarters": (("quarter",),),
    "reports": (("quarter",),),
    "kpis": (("on_target", "fiscal_year", "agency_code"), ("agency_code", "fiscal_year", "as_of")),
    "agency_reports": (("unit",), ("on_target", "agency_code", "fiscal_year", "kpi_url")),
    "kpi_versions": (("pid",),),
}
# The same for tables and columns archive.series adds after the first load (it creates these
# indexes itself on an archive made after m008).
SERIES_INDEXES: dict[str, tuple[str, ...]] = {
    "kpis": ("indicator_id", "as_of"),
    "indicators": ("agency_code", "last_fiscal_year"),
}


def m009_serving_indexes(db: Database) -> None:
    # Issue 12: a 30k-page archive is served with every page under 150 ms.
    for table, indexes in SERVING_INDEXES.items():
        for columns in indexes:
            db.table(table).create_index(list(columns), if_not_exists=True)
    for table, columns in SERIES_INDEXES.items():
        if set(columns) <= set(db.table(table).columns_dict):
            db.table(table).create_index(list(columns), if_not_exists=True)


# Rows ANALYZE samples per index: enough for the planner to tell a selective index from a scan,
# and 1.7 s at 30,000 pages instead of a full pass over 2 GB.
ANALYSIS_LIMIT = 1000


def analyze(db: Database) -> None:
    """Refresh the query planner's statistics (``sqlite_stat1``), sampled; run after a load.

    Without them SQLite guesses: the revisions view scanned every observation instead of the
    few versions that have a previous one.
    """
    db.execute(f"PRAGMA analysis_limit = {ANALYSIS_LIMIT}")
    db.execute("ANALYZE")


# Issue 12: a first load's keys reach the archive's ~30 secondary indexes in random order, and
# keeping them up to date was a fifth of save_many at 32,500 pages; built once at the finish they
# take 1.5 s. A load into an empty archive and a reparse set aside every non-unique ``idx_*``
# index of a freshly migrated archive except these, which their own writes read. (A UNIQUE index
# is a constraint and is never set aside; the derived tables' own indexes, which archive.series
# makes, are not a fresh archive's and are left alone.)
KEPT_WHILE_LOADING = frozenset(
    {
        # save's "capture already stored" check; admit's baseline, own capture and prior count.
        "idx_captures_url_fetched_at",
        # Cheap to keep: a load's new captures point at new snapshots, whose ids only grow, so
        # its entries are appended in order, not scattered (the cost the set-aside avoids).
        "idx_captures_snapshot_id",
        # A page's latest version: admit, mark_gone, reparse's change count.
        "idx_kpi_versions_url_id",
        # The foreign-key check of every kpi_versions delete (reparse's begin, a deleted row's
        # successor): without it each delete scans the whole table.
        "idx_kpi_versions_previous_id",
        # Crawl bookkeeping: written by the crawl, never by a load, and read by its queue.
        "idx_fetch_log_url",
        "idx_fetch_log_run_id",
        "idx_frontier_state_depth",
    }
)


@functools.cache
def deferred_indexes() -> dict[str, str]:
    """The indexes a load may set aside, name -> the SQL a freshly migrated archive made them
    with (read once a process from an in-memory archive, so nothing needs remembering)."""
    fresh = Database(memory=True)
    try:
        ensure_db_shape(fresh)
        rows = fresh.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name LIKE 'idx\\_%' "
            "ESCAPE '\\' ORDER BY name"
        ).fetchall()
    finally:
        fresh.close()
    return {
        name: sql
        for name, sql in rows
        if name not in KEPT_WHILE_LOADING and not sql.upper().startswith("CREATE UNIQUE")
    }


def _index_names(conn: sqlite3.Connection) -> set[str]:
    return {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}


def set_aside_indexes(conn: sqlite3.Connection) -> list[str]:
    """Drop ``deferred_indexes`` in the caller's transaction; ``restore_indexes`` makes them again
    (every load's finish calls it, so a load stopped midway gets them back at the next one)."""
    present = _index_names(conn)
    dropped = [name for name in deferred_indexes() if name in present]
    for name in dropped:
        conn.execute(f"DROP INDEX [{name}]")
    if dropped:
        log.info("%d indexes set aside until the load's finish", len(dropped))
    return dropped


def restore_indexes(db: Database) -> list[str]:
    """Create every one of ``deferred_indexes`` the archive lacks, as a fresh archive has it;
    return their names (none: one read of ``sqlite_master``). An archive at another schema
    version is left to its migration (no load of this version has set anything aside there)."""
    if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
        return []
    present = _index_names(db.conn)
    missing = {name: sql for name, sql in deferred_indexes().items() if name not in present}
    if missing:
        with db.atomic():
            for sql in missing.values():
                db.execute(sql)
        log.info("%d indexes set aside by a load made again", len(missing))
    return list(missing)


def restore_indexes_in(path: str | Path) -> list[str]:
    """``restore_indexes`` of the archive file at ``path``, for a reader that never opens it for
    writing (``kpi-archive serve``): a load stopped before its finish left them out."""
    db = Database(path)
    try:
        db.execute("PRAGMA busy_timeout = 10000")  # a load may be committing a batch
        return restore_indexes(db)
    except sqlite3.DatabaseError as exc:
        raise ArchiveError(f"cannot restore its indexes: {exc}", path=str(path)) from exc
    finally:
        db.close()


def m010_contentless_trigram_index(db: Database) -> None:
    # Issue 12: the trigram tables kept a second copy of every text and search_index a third
    # (folded, plus the text again for snippets). One contentless index per table now answers
    # both the text as typed and as folded; the text lives only in kpis and reports.
    db.execute("DROP TABLE IF EXISTS search_index")
    for table in TRIGRAM_FTS:
        current = db.execute(
            "SELECT sql FROM sqlite_master WHERE name = ?", [f"{table}_fts"]
        ).fetchone()
        if current is None or current[0] != _trigram_ddl(table):
            db.execute(f"DROP TABLE IF EXISTS [{table}_fts]")
            _create_trigram(db, table)


RECOMPRESS_BATCH = 1000


def _rewrite_records(db: Database, rewrite: Callable[[bytes | str], bytes | None]) -> None:
    """Write every version's record again as ``rewrite`` gives it (None: leave it), a batch of
    ``RECOMPRESS_BATCH`` at a time, in the migration's one transaction."""
    last = 0
    while True:
        rows = db.execute(
            "SELECT id, record FROM kpi_versions WHERE id > ? ORDER BY id LIMIT ?",
            [last, RECOMPRESS_BATCH],
        ).fetchall()
        if not rows:
            break
        updates = [(new, vid) for vid, old in rows if (new := rewrite(old)) is not None]
        db.conn.executemany("UPDATE kpi_versions SET record = ? WHERE id = ?", updates)
        last = rows[-1][0]


def m011_records_dictionary(db: Database) -> None:
    # Issue 12: records are compressed with a shipped zstd dictionary (archive.versions), which
    # more than halves them; older rows are written again with it. One transaction, so an
    # interrupted run leaves the rows as they were; rows that already use it are skipped.
    _rewrite_records(db, recompress)


def m012_slimmer_search(db: Database) -> None:
    # Issue 12: the PyThaiNLP word-search tables held a segmented copy of every text (356 MB of
    # 1,750 at 32,500 pages) that no published surface read; Datasette's search box, the canned
    # queries and /search use the trigram index. Only derived text goes: nothing captured.
    # Later writes reuse the freed pages; `sqlite-utils vacuum` returns them to the disk.
    for table in ("kpis", "reports"):
        db.execute(f"DROP TRIGGER IF EXISTS [{table}_words_ad]")
    for fts in WORDS_FTS:
        db.execute(f"DROP TABLE IF EXISTS [{fts}]")
    # The trigram index's folded column now holds the folded spots of a text, not all of it
    # (folded_variant); a contentless index forgets a row only by the values it was given.
    rebuild_trigram(db.conn)


def m013_derived_pending(db: Database) -> None:
    # Issue 12: the nightly finish refreshes the derived tables for the pages saved since the
    # last one; with no rules recorded yet, the first refresh after this rebuilds everything.
    ensure_pending(db)
    # Prefixes of (indicator_id, as_of) and (agency_code, last_fiscal_year): they answered nothing
    # those do not.
    db.execute("DROP INDEX IF EXISTS idx_kpis_indicator_id")
    db.execute("DROP INDEX IF EXISTS idx_indicators_agency_code")


def m014_sources_exceptions(db: Database) -> None:
    # Issue 12: kpi_versions.sources named every field's capture, nearly always the version's own
    # (archive.admit: the first capture with its url, snapshot_id and fetched_at), ~600 bytes a
    # row; it keeps only the fields from another capture (archive.changes.stored_sources), so
    # full_sources gives every field the answer it had. One transaction: an interrupted run
    # leaves every row as it was.
    last = 0
    while True:
        rows = db.execute(
            "SELECT v.id, v.record, v.sources, (SELECT min(c.id) FROM captures c WHERE "
            "c.url = v.url AND c.fetched_at = v.fetched_at AND c.snapshot_id = v.snapshot_id) "
            "FROM kpi_versions v WHERE v.id > ? ORDER BY v.id LIMIT ?",
            [last, RECOMPRESS_BATCH],
        ).fetchall()
        if not rows:
            break
        updates = []
        for version_id, record, text, own in rows:
            sources = json.loads(text) if text else {}
            updates.append((stored_sources(decode(record), sources, own), version_id))
        db.conn.executemany("UPDATE kpi_versions SET sources = ? WHERE id = ?", updates)
        last = rows[-1][0]


def observations_ddl(name: str = "observations") -> str:
    """The ``observations`` table (``archive.observations``) created as ``name``: since m015 no
    url (its version's ``kpi_versions.url``). Hand-written for one clause sqlite-utils cannot
    express: reparse empties kpi_versions, and the rows derived from a version must go with it
    (they are rebuilt after the load)."""
    return f"""
CREATE TABLE [{name}] (
  version_id INTEGER NOT NULL REFERENCES kpi_versions(id) ON DELETE CASCADE,
  pid TEXT,
  indicator_id INTEGER REFERENCES indicators(id),
  agency_code TEXT,
  fiscal_year INTEGER,
  quarter INTEGER,
  measure TEXT NOT NULL,
  value FLOAT,
  value_text TEXT,
  as_of TEXT NOT NULL
)
"""


# (version_id, measure, quarter) finds the rows of a version (the cascade from kpi_versions) and,
# in the revisions view, a value's counterpart in the previous version: with version_id alone
# that join read every row of both versions (158 -> 50 ms at 32,500 pages after one changed
# night, for 6 MB). (indicator_id, fiscal_year): an indicator's series.
OBSERVATIONS_INDEXES = (("version_id", "measure", "quarter"), ("indicator_id", "fiscal_year"))


def create_observations_indexes(db: Database) -> None:
    """``OBSERVATIONS_INDEXES`` on ``observations``."""
    for columns in OBSERVATIONS_INDEXES:
        db.table("observations").create_index(list(columns))


_M015_COLUMNS = (
    "version_id, pid, indicator_id, agency_code, fiscal_year, quarter, measure, value, "
    "value_text, as_of"
)


def m015_compact_observations_and_records(db: Database) -> None:
    # Issue 12: every observations row repeated its page's url, which its version_id already
    # gives, and indexed it (url 34 MB + index 48 MB of 1,236 at 32,500 pages). Rows are copied
    # with their rowids; the revisions view, which read o.url, is replaced by the one reading
    # v.url. Nothing captured is touched: observations are derived from kpi_versions.
    if "url" in db.table("observations").columns_dict:
        db.execute("DROP VIEW IF EXISTS revisions")
        db.execute("DROP TABLE IF EXISTS observations_m015")
        db.execute(observations_ddl("observations_m015"))
        db.execute(
            f"INSERT INTO observations_m015 (rowid, {_M015_COLUMNS}) "
            f"SELECT rowid, {_M015_COLUMNS} FROM observations"
        )
        db.execute("DROP TABLE observations")
        db.execute("ALTER TABLE observations_m015 RENAME TO observations")
        create_observations_indexes(db)
        db.create_view("revisions", SERIES_VIEWS["revisions"])
        if db.table("sqlite_stat1").exists():  # the dropped table's statistics went with it
            db.execute(f"PRAGMA analysis_limit = {ANALYSIS_LIMIT}")
            db.execute("ANALYZE observations")
    # Records are compressed at versions.RECORD_LEVEL (9, was 3): a third smaller. Older rows are
    # written again; a blob the new level would not shrink is left as it is.
    _rewrite_records(db, repack)


def m016_trigram_without_positions(db: Database) -> None:
    # Issue 12: the trigram indexes keep no positions (TRIGRAM_OPTIONS); search takes the rows
    # holding every trigram of a term and keeps those whose text holds the term. Only the index
    # is rebuilt, from the rows: nothing captured changes.
    for table in TRIGRAM_FTS:
        db.execute(f"DROP TABLE IF EXISTS [{table}_fts]")
        _create_trigram(db, table)
    # Every row is indexed now, so no page still waits for a finish (m017's queue, if a later
    # archive comes back through this step).
    if db.table("search_pending").exists():
        db.execute("DELETE FROM search_pending")


def m017_search_pending(db: Database) -> None:
    # Issue 12: saves no longer index for search; the pages whose rows are not in the trigram
    # index wait here for the load's finish (archive.search.sync_index). Until now every commit
    # left the index in step, so none waits.
    db.execute("CREATE TABLE IF NOT EXISTS search_pending (url TEXT PRIMARY KEY) WITHOUT ROWID")


# Issue 12: the matching keys an archive made before m018 stored (see archive.series), and the
# text each table's digested ``key`` was made from.
_M018_KEY_TEXT = {
    "indicators": "coalesce(agency_code, '') || '|' || name_key || '|' || unit_key",
    "measures": "name_key || '|' || unit_key",
}


def group_key(text: str) -> str:
    """The stored key of a group: a digest of its matching key (``agency|name key|unit key`` for
    an indicator, ``name key|unit key`` for a measure), 20 characters instead of ~320 bytes of
    Thai held twice (row and unique index). Here, not in archive.series, which imports this
    module: m018 digests the keys old archives wrote as text."""
    return hashlib.blake2b(text.encode(), digest_size=10).hexdigest()


M016_DROPPED = ("name_key", "unit_key")


def m018_series_keys_not_stored(db: Database) -> None:
    # indicators and measures held each Thai name twice: as printed and as its matching key
    # (name_key, unit_key: 40 MB of 1,194 at 32,500 pages). A refresh computes the keys from the
    # pages, so they are dropped; ids and the digested keys researchers cite stay as they are.
    # A key stored before keys were digests (text with '|') is digested first, while its parts
    # are still here (archive.series did that at every refresh until now).
    db.conn.create_function("group_key", 1, group_key, deterministic=True)
    for table, text in _M018_KEY_TEXT.items():
        if not db.table(table).exists() or "name_key" not in db.table(table).columns_dict:
            continue
        db.execute(f"UPDATE {table} SET key = group_key({text}) WHERE key LIKE '%|%'")
        # The rows are written again, in id order, into the emptied table: dropped in place, the
        # columns left every page half empty (indicators 22 -> 22 MB instead of 11). The rows
        # pointing at them (kpis, observations, indicators.measure_id) are checked at commit.
        kept = ", ".join(c for c in db.table(table).columns_dict if c not in M016_DROPPED)
        db.execute("PRAGMA defer_foreign_keys = ON")
        db.execute("DROP TABLE IF EXISTS temp.m018_rows")
        db.execute(f"CREATE TEMP TABLE m018_rows AS SELECT {kept} FROM {table}")
        db.execute(f"DELETE FROM {table}")
        for column in M016_DROPPED:
            db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        db.execute(f"INSERT INTO {table} ({kept}) SELECT {kept} FROM temp.m018_rows ORDER BY id")
        db.execute("DROP TABLE temp.m018_rows")
    # The revisions view reads an agency's later years from grouped tables now (0.6-1.9 s -> 50 ms
    # at 32,500 pages): replaced here, not at the next load.
    if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'revisions'").fetchone():
        db.create_view("revisions", SERIES_VIEWS["revisions"], replace=True)


def m019_child_rows_stamped_at_save(db: Database) -> None:
    # A KPI's or project's quarters and reports are written with their page's pid and as_of
    # (archive.tables); each refresh stamped them afterwards, rewriting most of the 200 MB reports
    # table after a first load at 32,500 pages. Rows an older archive wrote are stamped once here.
    pages = "SELECT url, pid, as_of FROM kpis UNION ALL SELECT url, pid, as_of FROM projects"
    if not (db.table("kpis").exists() and db.table("projects").exists()):
        return
    for table in ("quarters", "reports"):
        if not db.table(table).exists():
            continue
        columns = db.table(table).columns_dict
        for column in _CHILD_STAMP:
            if column not in columns:
                db.table(table).add_column(column, str)
        db.execute(
            f"""UPDATE [{table}] SET pid = s.pid, as_of = s.as_of FROM ({pages}) s
            WHERE s.url = [{table}].url
              AND ([{table}].pid IS NOT s.pid OR [{table}].as_of IS NOT s.as_of)"""
        )


STEPS = (
    m001_create_archive,
    m002_drop_per_row_fts_triggers,
    m003_snapshot_links,
    m004_judged_captures,
    m005_search_helpers_out_of_tables,
    m006_run_outcome_and_lock_heartbeat,
    m007_index_versions_previous_id,
    m008_compact_versions_and_tables,
    m009_serving_indexes,
    m010_contentless_trigram_index,
    m011_records_dictionary,
    m012_slimmer_search,
    m013_derived_pending,
    m014_sources_exceptions,
    m015_compact_observations_and_records,
    m016_trigram_without_positions,
    m017_search_pending,
    m018_series_keys_not_stored,
    m019_child_rows_stamped_at_save,
)
MIGRATIONS = Migrations("kpi_archive")
for _step in STEPS:
    MIGRATIONS()(_step)
# Crawl bookkeeping and the migration log: kept in the file, never published or exported.
PRIVATE_TABLES = frozenset({"runs", "fetch_log", "frontier", "crawl_lock", "_sqlite_migrations"})
PRIVATE_TABLES |= {"derived_pending", "derived_state", "search_pending"}
SCHEMA_VERSION = len(STEPS)


def _migrate(db: Database) -> None:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version and not db.table(MIGRATIONS.migrations_table).exists():
        # Made before sqlite_utils.migrations: user_version counted the migrations applied.
        MIGRATIONS.ensure_migrations_table(db)
        done = [step.__name__ for step in STEPS[:version]]
        at = utc_iso(dt.datetime.now(dt.UTC))
        db.table(MIGRATIONS.migrations_table).insert_all(
            {"migration_set": MIGRATIONS.name, "name": name, "applied_at": at} for name in done
        )
    if MIGRATIONS.pending(db):
        log.info("migrating %s to schema version %d", db.conn, SCHEMA_VERSION)
        MIGRATIONS.apply(db)
    if version != SCHEMA_VERSION:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _sync_model_columns(db: Database) -> None:
    """Add a column for every model field the parsers grew since the table was created."""
    for table in MODEL_TABLES:
        existing = set(db.table(table).columns_dict)
        for name, col_type in model_columns(table).items():
            if name not in existing:
                log.info("adding column %s.%s", table, name)
                db.table(table).add_column(name, col_type)


# Where ``thai.fold`` changes a text beyond case: Thai digits, legacy PUA marks and zero-width
# characters, sara am typed twice, a repeated mark, an acronym before its number, whitespace other
# than one space. The same matches as the plain alternation
#   [<_ALONE>]|[\u0e33\u0e4d]\u0e32|([<_MARKS>])\1|\b[A-Za-z]{2,5}[\s\-]+[0-9<digits>]|\s{2,}|[^\S ]
# written as one class of every spot's first character, then each branch's rest behind a
# lookbehind naming its first: a pattern that opens with a class lets ``re`` skip in C to the next
# character that can open a spot, where the alternation tried six branches at every character
# (0.42 -> 0.21 s CPU over the 15,000 texts of a 2,000-page rebuild). ``\s`` is spelled out as
# the characters it stands for (``str.isspace``), which keeps the class one bitmap lookup.
_ALONE = "\u0e50-\u0e59\uf700-\uf71a\u200b-\u200d\u2060\ufeff\u00ad"
_MARKS = "\u0e31\u0e34-\u0e3a\u0e47-\u0e4e"
_SPACES = re.escape("".join(chr(code) for code in range(0x3001) if chr(code).isspace()))
_FOLDS = re.compile(
    f"[{_ALONE}\u0e33{_MARKS}A-Za-z{_SPACES}]"
    f"(?:(?<=[{_ALONE}])|(?<=[\u0e33\u0e4d])\u0e32|(?<=([{_MARKS}]))\\1"
    "|(?<=\\b[A-Za-z])[A-Za-z]{1,4}[\\s\\-]+[0-9\u0e50-\u0e59]"
    f"|(?<=[{_SPACES}])[{_SPACES}]+|(?<=[^\\S ]))"
)
_WORD = re.compile(r"\S+")
# A folded fragment reaches this many space-separated words either side of what folding changed:
# a phrase query spanning a folded spot and up to two words around it is found. (Each changed
# text folded whole put 70 % of the report text in the index twice at 2,000 synthetic pages,
# mostly for one Thai-digit date; the spots alone, 30 %.)
FOLD_REACH = 2


def folded_variant(*texts: str | None) -> str | None:
    """The fragments of each text that folding changes beyond case, folded, one a line; None if
    there are none.

    A text fold leaves alike (but for case: trigram matching ignores it) is found folded through
    its own column, so only the changed spots, with ``FOLD_REACH`` words either side, cost index
    space twice.
    """
    changed = [f for t in texts if t and (f := _folded_fragments(t))]
    return "\n".join(changed) if changed else None


def _folded_fragments(text: str) -> str | None:
    spots = [m.span() for m in _FOLDS.finditer(text)]
    if not spots or not unicodedata.is_normalized("NFC", text):
        # Nothing to place (or a change this function cannot place): the whole text, if folding
        # changes it beyond case. With no spot, an NFC text that does not start or end with a
        # space folds to its casefold (most texts: a third of a rebuild's folding time).
        plain = not spots and text[:1] != " " and text[-1:] != " "
        plain = plain and unicodedata.is_normalized("NFC", text)
        full = text.casefold() if plain else thai.fold(text)
        return None if full == text or full == text.lower() else full
    words = [m.span() for m in _WORD.finditer(text)]
    if not words:
        return None  # only whitespace, which folds to nothing
    starts = [start for start, _ in words]
    last = len(words) - 1
    runs: list[list[int]] = []
    for start, end in spots:
        first = max(bisect.bisect_right(starts, start) - 1 - FOLD_REACH, 0)
        final = min(max(bisect.bisect_right(starts, end - 1) - 1, 0) + FOLD_REACH, last)
        if runs and first <= runs[-1][1] + 1:
            runs[-1][1] = max(runs[-1][1], final)
        else:
            runs.append([first, final])
    return "\n".join(thai.fold(text[words[i][0] : words[j][1]]) for i, j in runs)


def trigram_entries(
    conn: sqlite3.Connection, table: str, where: str = "", params: Any = ()
) -> Iterator[tuple[Any, ...]]:
    """``(rowid, *texts, folded)`` of the rows matching ``where``: what the index holds for them.

    Streamed: a rebuild of a 30,000-page archive's index held every text at once (658 MB peak).
    """
    names = ", ".join(f"[{c}]" for c in TRIGRAM_FTS[table][:-1])
    rows = conn.execute(f"SELECT rowid, {names} FROM [{table}] {where}", params)
    return ((*row, folded_variant(*row[1:])) for row in rows)


def trigram_insert(table: str, command: str | None = None) -> str:
    """The INSERT that adds ``trigram_entries`` to ``table``'s index (or runs an FTS5 command)."""
    columns = TRIGRAM_FTS[table]
    names = ", ".join(f"[{c}]" for c in columns)
    marks = ", ".join("?" * (len(columns) + 1))
    if command is None:
        return f"INSERT INTO [{table}_fts] (rowid, {names}) VALUES ({marks})"
    return (
        f"INSERT INTO [{table}_fts] ([{table}_fts], rowid, {names}) VALUES ('{command}', {marks})"
    )


def index_trigram(conn: sqlite3.Connection, table: str, where: str = "", params: Any = ()) -> None:
    """Add the rows of ``table`` matching ``where`` to its trigram index, with their folded text."""
    conn.executemany(trigram_insert(table), trigram_entries(conn, table, where, params))


def unindex_trigram(
    conn: sqlite3.Connection, table: str, where: str = "", params: Any = ()
) -> None:
    """Take the rows matching ``where`` out of ``table``'s trigram index, before they change.

    A contentless FTS5 table forgets a row only when told the values it was indexed with; the
    row still holds them, and ``fold`` gives the same folded text again. (A change to ``fold``
    comes with a parser version, so ``reparse`` rebuilds the index: ``rebuild_trigram``.)
    """
    conn.executemany(trigram_insert(table, "delete"), trigram_entries(conn, table, where, params))


def rebuild_trigram(conn: sqlite3.Connection) -> None:
    """Empty both trigram indexes and index every row again (after a bulk load or a reparse)."""
    for table in TRIGRAM_FTS:
        conn.execute(f"INSERT INTO [{table}_fts] ([{table}_fts]) VALUES ('delete-all')")
        index_trigram(conn, table)


# A worker following a load indexes at most this many rows of a table per read of the archive,
# so its reads stay short (a reader holds back the WAL's checkpoint), and polls for the end of the
# load this often when it has caught up.
FOLLOW_STEP = 2000
FOLLOW_WAIT = 0.2
# A following worker runs while the load's own processes hold their memory: FTS5's default pending
# terms per table, not the 8 MB a finish's rebuild takes (TRIGRAM_HASHSIZE).
FOLLOW_HASHSIZE = 1024 * 1024
# The line that tells a following worker the load's saves are over (``archive.trigram_build``).
FOLLOW_FINISH = b"finish"


def build_trigram_file(
    archive: str,
    scratch: str,
    tables: Iterable[str] = TRIGRAM_FTS,
    *,
    until: Callable[[float], bool] | None = None,
) -> None:
    """Index every committed row of ``tables`` of the archive file ``archive`` into fresh trigram
    tables in the empty file ``scratch``, through connections of its own (``install_trigram``
    puts them in place).

    ``until``: follow a load that is still saving: index the rows committed so far in rowid order,
    ``FOLLOW_STEP`` at a time, and when caught up ask ``until(seconds)`` (which may wait that long)
    whether the saves are over; then index the rest. The caller makes sure no row it indexed is
    changed or deleted meanwhile (``archive.search.follow_load``: only a first load's new rows).

    The archive is only read (WAL: its writer is not held up); the scratch file is thrown away
    after, so it keeps no journal.
    """
    # URI connections, so the archive can be opened read-only (``mode=ro``).
    with (
        contextlib.closing(
            sqlite3.connect(Path(archive).resolve().as_uri() + "?mode=ro", uri=True)
        ) as source,
        contextlib.closing(
            sqlite3.connect(Path(scratch).resolve().as_uri(), uri=True, isolation_level=None)
        ) as conn,
    ):
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("BEGIN")
        tables = list(tables)
        hashsize = TRIGRAM_HASHSIZE if until is None else FOLLOW_HASHSIZE
        for table in tables:
            _create_trigram(Database(conn), table, index=False, hashsize=hashsize)
            # No incremental merging: it merged the segments as they piled up, only for
            # 'optimize' to merge them all again (reports at 32,500 pages: 25.2 -> 21.6 s CPU).
            # The scratch file's settings are not copied (install_trigram).
            conn.execute(f"INSERT INTO [{table}_fts] ([{table}_fts], rank) VALUES ('automerge', 0)")
        last = dict.fromkeys(tables, 0)
        while until is not None:
            grew = [_index_after(conn, source, table, last, FOLLOW_STEP) for table in tables]
            if not any(grew) and until(FOLLOW_WAIT):
                break
        for table in tables:
            _index_after(conn, source, table, last)
            conn.execute(f"INSERT INTO [{table}_fts] ([{table}_fts]) VALUES ('optimize')")
        conn.execute("COMMIT")


def _index_after(
    conn: sqlite3.Connection,
    source: sqlite3.Connection,
    table: str,
    last: dict[str, int],
    step: int | None = None,
) -> bool:
    """Index ``table``'s rows of ``source`` past rowid ``last[table]`` (``step`` of them at most)
    into ``conn``'s index; move ``last[table]`` on and return whether there were any."""
    start = last[table]
    where = "WHERE rowid > ? ORDER BY rowid" + ("" if step is None else f" LIMIT {step}")

    def entries() -> Iterator[tuple[Any, ...]]:
        for entry in trigram_entries(source, table, where, [start]):
            last[table] = entry[0]
            yield entry

    conn.executemany(trigram_insert(table), entries())
    return last[table] != start


def install_trigram(conn: sqlite3.Connection, scratch: str) -> None:
    """Replace the archive's trigram indexes with those ``build_trigram_file`` wrote to the file
    attached to ``conn`` as the schema named ``scratch`` (those it holds), in the caller's
    transaction.

    ``conn`` must be another connection than the one searches and saves go through: FTS5 keeps an
    index's structure cached per connection and drops it only when another connection commits.
    """
    tables = [t for t in TRIGRAM_FTS if _has_table(conn, scratch, f"{t}_fts")]
    for table in tables:
        # Every FTS5 shadow table but the settings (_config: the same version and hashsize).
        for suffix in ("data", "idx", "docsize"):
            name = f"{table}_fts_{suffix}"
            if _has_table(conn, scratch, name):
                conn.execute(f"DELETE FROM main.[{name}]")
                conn.execute(f"INSERT INTO main.[{name}] SELECT * FROM [{scratch}].[{name}]")


def _has_table(conn: sqlite3.Connection, schema: str, name: str) -> bool:
    sql = f"SELECT 1 FROM [{schema}].sqlite_master WHERE type = 'table' AND name = ?"
    return conn.execute(sql, [name]).fetchone() is not None


# FTS5 writes its pending terms out as a new segment whenever they pass ``hashsize`` (1 MB by
# default) and merges segments as they pile up; 8 MB makes a save_many batch's trigram insert
# about a fifth cheaper (1.60 -> 1.24 s CPU for 2,000 pages) for at most 8 MB more memory a table.
TRIGRAM_HASHSIZE = 8 * 1024 * 1024


def _create_trigram(
    db: Database, table: str, *, index: bool = True, hashsize: int = TRIGRAM_HASHSIZE
) -> None:
    db.execute(_trigram_ddl(table))
    db.execute(f"INSERT INTO [{table}_fts] ([{table}_fts], rank) VALUES ('hashsize', {hashsize})")
    if index:
        index_trigram(db.conn, table)


# No positions and no columns (``detail=none``): the index answers only "which rows hold every one
# of these trigrams", and ``archive.search`` rechecks those candidates against the text. Positions
# made up four fifths of the index (reports_fts_data 236 -> 47 MB at 32,500 pages) and served only
# phrase queries and bm25.
TRIGRAM_OPTIONS = "content='', tokenize='trigram', detail=none"


def _trigram_ddl(table: str) -> str:
    columns = ", ".join(f"[{c}]" for c in TRIGRAM_FTS[table])
    return f"CREATE VIRTUAL TABLE [{table}_fts] USING fts5({columns}, {TRIGRAM_OPTIONS})"


def _ensure_fts(db: Database) -> None:
    names = set(db.table_names())
    for table in TRIGRAM_FTS:
        if f"{table}_fts" not in names:
            _create_trigram(db, table)


def _label_sql() -> str:
    """A SQL CASE giving the Thai label of the field named by ``j.value``."""
    whens = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in FIELD_LABELS.items())
    return f"CASE j.value {whens} END"


VIEWS = {
    # One row per substantive change of a field (archive.changes.field_changes), with the Thai
    # label the page prints beside the field name and the values before and after.
    "changes": f"""
        SELECT v.id AS version_id, v.url, v.pid, v.page_kind, v.fetched_at, v.change_kind,
               j.value AS field, {_label_sql()} AS label,
               json_extract(kpi_record(p.record), '$.' || j.value) AS old,
               json_extract(kpi_record(v.record), '$.' || j.value) AS new
        FROM kpi_versions v
        JOIN json_each(v.changed) j
        LEFT JOIN kpi_versions p ON p.id = v.previous_id
    """,
}


def _ensure_views(db: Database) -> None:
    for name, sql in VIEWS.items():
        current = db.execute("SELECT sql FROM sqlite_master WHERE name = ?", [name]).fetchone()
        if current is None or not current[0].rstrip().endswith(sql.rstrip()):
            db.create_view(name, sql, replace=True)


def _ensure_crawl_tables(db: Database) -> None:
    # The crawl's own tables share the file; kpi_archive.crawlstate reads and writes them.
    counts: dict[str, Any] = {name: int for name in RUN_COUNTS}
    db.table("runs").create(
        {
            "id": int,
            "started": str,
            "finished": str,
            "args": str,
            "hostname": str,
            "pid": int,
            **counts,
            "seconds": float,
            "exit_code": int,
            **RUN_VERDICT,
        },
        pk="id",
        if_not_exists=True,
    )
    db.table("fetch_log").create(
        {"id": int, "run_id": int, **FETCH_LOG_COLUMNS},
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
        if_not_exists=True,
    )
    db.table("frontier").create(
        {
            "url": str,
            "host": str,
            "depth": int,
            "discovered_from": str,
            "state": str,
            "attempts": int,
            "last_error": str,
            "run_id": int,
            "added_at": str,
            "updated_at": str,
        },
        pk="url",
        not_null=["state", "depth"],
        defaults={"state": "queued", "attempts": 0},
        if_not_exists=True,
    )
    db.table("crawl_lock").create(
        {"id": int, "pid": int, "hostname": str, "started_at": str, "run_id": int, **LOCK_BEAT},
        pk="id",
        if_not_exists=True,
    )
    db.table("fetch_log").create_index(["url"], if_not_exists=True)
    db.table("fetch_log").create_index(["run_id"], if_not_exists=True)
    db.table("frontier").create_index(["state", "depth"], if_not_exists=True)


def utc_iso(value: dt.datetime) -> str:
    """An aware or naive datetime as a sortable ISO 8601 UTC string (naive means UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
