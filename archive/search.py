"""Thai full-text search over the archive: trigram FTS5 on the text as printed and as folded.

None of the search helpers is a column of ``kpis`` or ``reports``: readers see the text as
printed, and the index lives in side tables keyed by the row's rowid (``archive.schema``).

``kpis_fts`` / ``reports_fts`` are contentless trigram FTS5 tables (the text is stored once, in
the table), the tables Datasette's search box uses (``fts_table`` in the plugin's metadata), the
``search`` and ``reports_mentioning`` queries and the public ``/search`` page. Trigram needs no
word breaks, so any Thai substring of 3+ characters matches. A term of 1–2 characters matches
nothing in the index (an FTS5 trigram limit), so ``search`` scans the text for those instead, as
the ``/search`` page does. The last column, ``folded``, holds ``parsers.thai.fold`` of the spots
folding changes (``ดำารง`` → ``ดำรง``, legacy PUA tone marks, zero-width characters, Thai digits,
``PM 2.5`` → ``pm2.5``) with two words either side (``archive.schema.folded_variant``), so
``2566`` finds ``๒๕๖๖`` and a folded query finds what a reader sees, while ``๒๕๖๖`` still finds
the text as printed.

The indexes keep no positions (``detail=none``), so they answer no phrase and give no bm25: a
search is two halves, built here alone. ``trigram_match`` turns a term into the AND of its
trigrams, as typed OR as folded (the candidates: rows holding every trigram, perhaps scattered),
and ``holds`` keeps the candidates whose text holds the term as printed (case aside) or folded
(the recheck: no false positives). SQL reaches them as ``trigram_match(q)`` and
``thai_holds(q, text, …)`` (``register``; ``*_words`` for Datasette's every-word box), and
``candidates_sql`` writes the WHERE clause that joins them.

No triggers keep the index in sync, and a save does not index: ``unindex(conn, url)`` takes a
page's entries out before its rows change (a contentless table forgets a row only when told the
values it was indexed with, which are gone once the rows are replaced) and marks the page in
``search_pending``; ``sync_index(conn)``, run by ``archive.refresh_derived`` at every load's finish,
indexes the marked pages' rows, or past ``FULL_SHARE`` of the pages (a first load, an import)
empties the index and fills it in one streamed pass, as the write floor does. A load stopped
between its saves and its finish leaves its pages marked, and the next finish indexes them.
Between a save and its finish a search may miss the newest rows (no published search runs
mid-load: crawl, import and reparse end with the finish). Indexing in every ``save_many`` batch
cost a first load more than all its other writes (4–5 of 6–7 s CPU at 2,166 pages); one pass at
the end costs 2.

A load's finish with more than one job (``KPI_ARCHIVE_JOBS``, default 2) runs that whole
rebuild beside the derived tables' refresh instead (``start_rebuild``, ``IndexBuild``): a worker
process (``archive.trigram_build``) indexes the reports into a scratch file beside the archive,
the main process the KPIs after the refresh, and another connection swaps both in with the pages
unmarked in one transaction. A first load starts its worker with its first batch instead
(``follow_load``): it indexes both tables' rows as the batches are committed, and the finish only
waits for the last of them. The index holds the same entries (trigram, rowid) either way.

There is no word-segmented index (schema version 12 dropped it): it doubled the text's bytes
and a load's finish time, and every published search reads the trigram one.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from archive.pending import past_full_share
from archive.schema import (
    FOLLOW_FINISH,
    TRIGRAM_FTS,
    build_trigram_file,
    folded_variant,
    index_trigram,
    install_trigram,
    rebuild_trigram,
    unindex_trigram,
)
from kpi_archive.config import cores
from kpi_archive.errors import ArchiveError
from parsers import thai

log = logging.getLogger(__name__)

THAI_DIGITS = thai.THAI_DIGITS
# FTS5's trigram tokenizer indexes three characters at a time: a shorter term matches no row.
TRIGRAM_MIN = 3

normalise_digits = thai.arabic_digits


__all__ = [
    "empty_index",
    "folded_variant",
    "holds",
    "rebuild_index",
    "search",
    "sync_index",
    "trigram_match",
    "unindex",
]

# Pages whose rows are not in the trigram index yet (private; m017 creates it).
PENDING = "search_pending"


def unindex(conn: sqlite3.Connection, url: str, *, first: bool = False) -> None:
    """Drop ``url``'s trigram entries before its rows change and mark it for ``sync_index``.

    ``first``: the page has no rows yet, so it only needs marking.
    """
    if not first:
        if _FOLLOWING:
            _stop_following(conn)
        if conn.execute(f"SELECT 1 FROM {PENDING} WHERE url = ?", [url]).fetchone():
            return  # its current rows were never indexed
        for table in TRIGRAM_FTS:
            unindex_trigram(conn, table, "WHERE url = ?", [url])
    conn.execute(f"INSERT INTO {PENDING} (url) VALUES (?) ON CONFLICT (url) DO NOTHING", [url])


def _rebuild_due(conn: sqlite3.Connection) -> bool | None:
    """Whether ``sync_index`` would rebuild the whole index; None when no page is marked."""
    (marked,) = conn.execute(f"SELECT count(*) FROM {PENDING}").fetchone()
    if not marked:
        return None
    return past_full_share(conn, marked)


def sync_index(conn: sqlite3.Connection, *, rebuild: bool = True) -> bool:
    """Index the rows of every page marked by ``unindex``; rebuild the whole index in one pass
    instead past ``FULL_SHARE`` of the pages (``rebuild_index``), unless not ``rebuild`` (a crawl
    indexing as it goes). Return whether it rebuilt."""
    due = _rebuild_due(conn)
    if due is None:
        return False
    if rebuild and due:
        rebuild_index(conn)
        return True
    for table in TRIGRAM_FTS:
        # In rowid order: FTS5 writes its pending terms out as a segment whenever a rowid comes
        # lower than the last one (in url order, at nearly every page).
        where = f"WHERE url IN (SELECT url FROM {PENDING}) ORDER BY rowid"
        index_trigram(conn, table, where)
    conn.execute(f"DELETE FROM {PENDING}")
    return False


def rebuild_index(conn: sqlite3.Connection) -> None:
    """Index every row again in one streamed pass, as one segment; no page is left marked."""
    rebuild_trigram(conn)
    # A rebuild leaves its segments on FTS5's lowest level, where the next night's small ones
    # are merged with them: 12 of the 24 MB index rewritten at 2,000 pages, 0.3 s of a 1 s night.
    # Merged into one, it sits above them until they grow as large.
    for table in TRIGRAM_FTS:
        conn.execute(f"INSERT INTO [{table}_fts] ([{table}_fts]) VALUES ('optimize')")
    conn.execute(f"DELETE FROM {PENDING}")


def empty_index(conn: sqlite3.Connection) -> None:
    """Empty the index and mark every page, for the next ``sync_index`` (a load's finish) to
    rebuild it whole: after a reparse, whose replay replaced every row the index was made from."""
    for table in TRIGRAM_FTS:
        conn.execute(f"INSERT INTO [{table}_fts] ([{table}_fts]) VALUES ('delete-all')")
    conn.execute(
        f"INSERT INTO {PENDING} (url) SELECT url FROM pages WHERE true ON CONFLICT DO NOTHING"
    )


# Below this many pages a rebuild in process is done about when a worker would have started (its
# interpreter and imports take 0.25-0.4 s CPU).
WORKER_MIN_PAGES = 500
# The module the worker runs (``python -m``), and the indexes it builds. CPU seconds, main process
# (derived tables, then the KPIs' index) against the worker (the reports'): 1.3-1.4 against
# 1.4-1.5 at 2,000 pages, 12.8-14.1 against 19.2-21.2 at 32,500. The worker's share cannot be
# split further: two builds of one FTS5 index cannot be merged.
WORKER = "archive.trigram_build"
IN_WORKER = ("reports",)


class IndexBuild:
    """A rebuild of the whole trigram index, partly in a worker process (``start_rebuild``).

    The worker (``archive.trigram_build``) reads the archive's committed rows through its own
    connection and writes the ``in_worker`` indexes into a scratch file beside it, so folding the
    texts and FTS5's inserts run on the second core while the caller's connection refreshes the
    derived tables. ``join`` builds the other indexes the same way in this process, waits for the
    worker and, unless told otherwise, swaps every index in and unmarks every page in one
    transaction of another connection (so a failure leaves the old index and the pages marked);
    the scratch files are always removed.

    ``follow``: the worker starts while a first load is still saving (``follow_load``) and indexes
    its rows as they are committed, on the core the saves leave idle, until ``saves_over``.
    """

    def __init__(
        self, path: str, in_worker: tuple[str, ...] = IN_WORKER, *, follow: bool = False
    ) -> None:
        self.path = path
        self.rest = [table for table in TRIGRAM_FTS if table not in in_worker]
        self.scratch: list[str] = []
        self.told = False
        try:
            self.scratch = [self._scratch_file() for _ in range(1 + bool(self.rest))]
            flags = ["--follow"] if follow else []
            command = [sys.executable, "-m", WORKER, *flags, path, self.scratch[0], *in_worker]
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE if follow else subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        except OSError:
            self._remove_scratch()
            raise

    def saves_over(self) -> None:
        """Tell a following worker that the load has saved its last page: it indexes the rest."""
        if self.process.stdin is not None and not self.told:
            self.told = True
            try:  # (communicate, in join, closes the pipe after it)
                self.process.stdin.write(FOLLOW_FINISH + b"\n")
                self.process.stdin.flush()
            except OSError:  # it is gone: join reports how it ended
                pass

    def _scratch_file(self) -> str:
        handle, name = tempfile.mkstemp(
            prefix=f".{Path(self.path).name}-", suffix=".search", dir=Path(self.path).parent
        )
        os.close(handle)
        return name

    def join(self, *, install: bool = True) -> None:
        """Build the rest and wait for the worker; put the index in place unless not ``install``
        (the worker is stopped, and the pages stay marked for the next ``sync_index``). A failed
        build raises ``ArchiveError`` (the worker's: with the last line it wrote)."""
        try:
            if install and self.rest:
                try:
                    build_trigram_file(self.path, self.scratch[1], self.rest)
                except BaseException:
                    self.process.kill()
                    raise
            elif not install:
                self.process.kill()
            if install:
                self.saves_over()
            _, stderr = self.process.communicate()
            if not install:
                return
            if self.process.returncode != 0:
                lines = stderr.decode(errors="replace").strip().splitlines() or ["no message"]
                raise ArchiveError(
                    f"search index rebuild failed (exit {self.process.returncode}): {lines[-1]}",
                    path=self.path,
                )
            self._install()
        finally:
            self._remove_scratch()

    def _remove_scratch(self) -> None:
        for name in self.scratch:
            Path(name).unlink(missing_ok=True)

    def _install(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=10.0)
        try:
            conn.execute("PRAGMA synchronous = NORMAL")  # as archive.open_db: WAL, no sync a commit
            for number, name in enumerate(self.scratch):
                conn.execute(f"ATTACH DATABASE ? AS scratch{number}", [name])
            conn.execute("BEGIN IMMEDIATE")
            try:
                for number in range(len(self.scratch)):
                    install_trigram(conn, f"scratch{number}")
                # Nothing saves while the load's finish runs: every marked page was indexed.
                conn.execute(f"DELETE FROM {PENDING}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        finally:
            conn.close()


def archive_path(conn: sqlite3.Connection) -> str | None:
    """The file of ``conn``'s main database; None for one in memory."""
    for _, name, path in conn.execute("PRAGMA database_list"):
        if name == "main":
            return str(path) or None
    return None


def _worker_path(conn: sqlite3.Connection) -> str | None:
    """The archive's file if a worker can read every row of it beside ``conn``: a file in WAL
    mode, nothing uncommitted, and two cores or more (on one a worker only adds its start to the
    same work)."""
    if conn.in_transaction or cores() < 2:
        return None
    path = archive_path(conn)
    (mode,) = conn.execute("PRAGMA journal_mode").fetchone()
    return path if path is not None and mode == "wal" else None


def _start(path: str, in_worker: tuple[str, ...], *, follow: bool = False) -> IndexBuild | None:
    try:
        return IndexBuild(path, in_worker, follow=follow)
    except OSError as exc:  # no scratch file beside the archive, or no process: in this one
        log.warning("search index rebuilt without a worker: %s", exc)
        return None


# The page cache (KiB, negative as SQLite's PRAGMA) of the archive's connection while the search
# index is built in a worker beside it: two processes then hold pages, and a 32,500-page import's
# processes peaked at 316 MB (main 246 + worker 58 + multiprocessing's tracker 12) with the usual
# 64 MiB, 279 MB with this; while a worker follows a first import, 330 MB and 282 MB.
BESIDE_WORKER_CACHE = -16384
# The rebuilds following a first load (``follow_load``), by the id of the saving connection, kept
# beside it (a sqlite3 connection takes no weak reference: held here, its id is not reused) with
# the page cache it had, given back when the worker is done.
_FOLLOWING: dict[int, tuple[sqlite3.Connection, IndexBuild, int]] = {}


def lower_cache(conn: sqlite3.Connection) -> int:
    """Lower ``conn``'s page cache to ``BESIDE_WORKER_CACHE`` while a worker builds the index
    beside it; return the cache size to put back after."""
    (cache,) = conn.execute("PRAGMA cache_size").fetchone()
    conn.execute(f"PRAGMA cache_size = {BESIDE_WORKER_CACHE}")
    return int(cache)


def follow_load(conn: sqlite3.Connection, pages: int) -> None:
    """Start rebuilding the whole index beside a first load (into an archive holding no page yet,
    which the caller, ``save_many``, has checked) from its first batch of ``pages``, when a
    worker can read the archive (``_worker_path``).

    Every page of a first load is new, so its rows are only ever added: a worker
    (``IndexBuild(follow=True)``) indexes them as the batches are committed, on the core the
    saves leave idle, and the load's finish (``start_rebuild``) only waits for the last of them.
    A save that changes rows already written (a page saved twice) drops the worker
    (``unindex``): the finish then rebuilds as any other load's.
    """
    if id(conn) in _FOLLOWING or pages < WORKER_MIN_PAGES:
        return
    path = _worker_path(conn)
    if path is None:
        return
    build = _start(path, tuple(TRIGRAM_FTS), follow=True)
    if build is not None:
        if not _FOLLOWING:
            atexit.register(_stop_all)
        _FOLLOWING[id(conn)] = (conn, build, lower_cache(conn))


def _followed(conn: sqlite3.Connection) -> IndexBuild | None:
    """The worker following ``conn``'s load, no longer registered; ``conn``'s page cache back."""
    _, build, cache = _FOLLOWING.pop(id(conn), (None, None, 0))
    if build is not None:
        conn.execute(f"PRAGMA cache_size = {cache}")
    return build


def _stop_all() -> None:
    """At exit, the workers of loads that never reached their finish: stopped, scratch removed."""
    while _FOLLOWING:
        _, (_, build, _) = _FOLLOWING.popitem()
        build.join(install=False)


def _stop_following(conn: sqlite3.Connection) -> None:
    """Drop the worker following ``conn``'s load, if any: its index could not be trusted."""
    build = _followed(conn)
    if build is not None:
        build.join(install=False)


def start_rebuild(conn: sqlite3.Connection, *, jobs: int = 2) -> IndexBuild | None:
    """The rebuild of the whole index following this load (``follow_load``), told that the saves
    are over; else, with ``jobs`` > 1, a rebuild started now in a worker process when
    ``sync_index`` would rebuild, the archive has ``WORKER_MIN_PAGES`` pages or more and a worker
    can read it (``_worker_path``). None otherwise: the caller runs ``sync_index``."""
    following = _followed(conn)
    if following is not None:
        following.saves_over()
        return following
    if jobs < 2 or not _rebuild_due(conn):
        return None
    path = _worker_path(conn)
    (pages,) = conn.execute("SELECT count(*) FROM pages").fetchone()
    if path is None or pages < WORKER_MIN_PAGES:
        return None
    return _start(path, IN_WORKER)


# A term's trigrams past this many add little to the candidates' selectivity and cost a doclist
# each: a long term keeps an even spread of them (the recheck still reads the whole term).
MAX_TRIGRAMS = 24


def needles(query: str | None, *, words: bool = False) -> list[str]:
    """What a hit must hold: the query with its whitespace collapsed, or each of its words."""
    collapsed = thai.collapse_space(query or "")
    return collapsed.split() if words else [collapsed] if collapsed else []


def _trigrams(term: str) -> list[str]:
    grams = list(dict.fromkeys(term[i : i + TRIGRAM_MIN] for i in range(len(term) - 2)))
    if len(grams) > MAX_TRIGRAMS:
        step = len(grams) / MAX_TRIGRAMS
        grams = [grams[int(i * step)] for i in range(MAX_TRIGRAMS - 1)] + [grams[-1]]
    return grams


def _all_of(term: str) -> str:
    return " AND ".join('"' + gram.replace('"', '""') + '"' for gram in _trigrams(term))


def trigram_match(query: str | None, *, words: bool = False) -> str | None:
    """The FTS5 MATCH giving the candidates for ``query`` from a ``detail=none`` trigram index.

    Each needle (``needles``) gives every one of its trigrams ANDed, as typed OR as folded; the
    needles are ANDed. A needle with a form under three characters cannot narrow the index (the
    row may hold only that form) and is left to the recheck, ``holds``. None when no needle narrows
    it: the caller scans the table instead.
    """
    parts = []
    for needle in needles(query, words=words):
        forms = dict.fromkeys((needle.casefold(), thai.fold(needle)))
        if min(len(form) for form in forms) < TRIGRAM_MIN:
            continue
        parts.append(" OR ".join(f"({_all_of(form)})" for form in forms))
    if not parts:
        return None
    return " AND ".join(f"({part})" for part in parts) if len(parts) > 1 else parts[0]


@functools.lru_cache(maxsize=256)
def _forms(query: str, words: bool) -> tuple[tuple[str, str, re.Pattern[str] | None], ...]:
    """Each needle of ``query``, folded, and the regex finding it in a text as printed whatever
    folding would hide (``thai.fold_pattern``). Cached: the recheck runs once a candidate row."""
    return tuple(
        (needle, thai.fold(needle), thai.fold_pattern(needle))
        for needle in needles(query, words=words)
    )


def _holds_one(needle: str, folded: str, pattern: re.Pattern[str] | None, texts: list[str]) -> bool:
    if any(needle in t or folded in t for t in texts):
        return True  # the common case, a plain substring
    # The pattern costs a hundredth of folding the text (2 against 165 us a report) and finds
    # the same rows, case aside; folding the text itself is left for text not in NFC form.
    if pattern is not None and any(pattern.search(t) for t in texts):
        return True
    return any(folded in thai.fold(t) for t in texts if not unicodedata.is_normalized("NFC", t))


def holds(query: str | None, *texts: str | None, words: bool = False) -> bool:
    """Whether one of ``texts`` holds ``query`` (with ``words``: each word of it, in any text),
    as printed (case aside) or folded: the recheck of ``trigram_match``'s candidates."""
    forms = _forms(query or "", words)
    present = [t for t in texts if t]
    return bool(forms) and all(_holds_one(*form, present) for form in forms)


def register(conn: sqlite3.Connection) -> None:
    """Register the search's SQL functions on ``conn`` (the archive's or Datasette's).

    ``trigram_match(q)`` / ``trigram_match_words(q)``: the MATCH of ``q`` (NULL: scan instead);
    ``thai_holds(q, text, ...)`` / ``thai_holds_words(q, text, ...)``: the recheck, 1 or 0.
    """
    conn.create_function("trigram_match", 1, trigram_match, deterministic=True)
    conn.create_function(
        "trigram_match_words", 1, lambda q: trigram_match(q, words=True), deterministic=True
    )
    conn.create_function("thai_holds", -1, holds, deterministic=True)
    conn.create_function(
        "thai_holds_words", -1, lambda q, *t: holds(q, *t, words=True), deterministic=True
    )


def text_columns(table: str) -> list[str]:
    """The columns of ``table`` its trigram index reads (the texts a hit is rechecked in)."""
    return [c for c in TRIGRAM_FTS[table] if c != "folded"]


def fast_holds(query: str, texts: list[str]) -> str:
    """SQL for ``thai_holds(query, *texts)`` that first asks ``instr()`` for the query as typed in
    each text: most candidates hold it so, and Python is then not called for them."""
    plain = " or ".join(f"instr({text}, {query})" for text in texts)
    return f"({plain} or thai_holds({query}, {', '.join(texts)}))"


def candidates_sql(
    table: str, alias: str, *, match: str | None, query: str, newest: int | None = None
) -> str:
    """The WHERE condition keeping the rows of ``table`` (as ``alias``) that hold the query:
    the index's candidates for the MATCH named ``match`` (a ``trigram_match``), rechecked against
    the query named ``query``. ``match`` None: the recheck alone, a scan the caller bounds with a
    LIMIT. ``newest``: only that many candidates, highest rowid first (the latest written), so a
    common term's recheck reads a bounded number of rows."""
    texts = [f"{alias}.[{c}]" for c in text_columns(table)]
    recheck = fast_holds(query, texts)
    if match is None:
        return recheck
    fts = f"[{table}_fts]"
    picked = f"select rowid from {fts} where {fts} match {match}"
    if newest is not None:
        picked = f"select rowid from ({picked} order by rowid desc limit {newest})"
    return f"{alias}.rowid in ({picked}) and {recheck}"


# The order ``search`` returns: a KPI whose title holds the term first, then newest fiscal year;
# a report from the newest date.
_ORDER = {
    "kpis": (
        f"{fast_holds(':q', ['t.title'])} desc, t.fiscal_year is null, t.fiscal_year desc, t.rowid"
    ),
    "reports": "t.date is null, t.date desc, t.rowid",
}


def search(db: Database, table: str, query: str, limit: int = 20) -> list[dict[str, Any]]:
    """Rows of ``kpis`` or ``reports`` holding ``query`` as printed or folded (``holds``); a KPI
    whose title holds it first, then the newest. ``db`` has the SQL functions ``register`` adds
    (``archive.open_db`` and the Datasette plugin add them to every connection they open)."""
    if not needles(query):
        return []
    match = trigram_match(query)
    where = candidates_sql(table, "t", match=None if match is None else ":match", query=":q")
    sql = f"SELECT t.* FROM [{table}] t WHERE {where} ORDER BY {_ORDER[table]} LIMIT :limit"
    return [dict(row) for row in db.query(sql, {"match": match, "q": query, "limit": limit})]
