"""Thai full-text search over the archive: trigram FTS5, folded text, PyThaiNLP word search.

None of the search helpers is a column of ``kpis`` or ``reports``: readers see the text as
printed, and the indexes live in side tables keyed by the row's rowid (``archive.schema``).

- ``kpis_fts`` / ``reports_fts``: contentless trigram FTS5 tables (the text is stored once, in
  the table), the tables Datasette's search box uses (``fts_table`` in the plugin's metadata), the
  ``search`` and ``reports_mentioning`` queries and the public ``/search`` page. Trigram needs no
  word breaks, so any Thai substring of 3+ characters matches; a term of 1–2 characters matches
  nothing (an FTS5 trigram limit): use ``LIKE`` for those. Their last column, ``folded``, holds
  ``parsers.thai.fold`` of the texts folding changes (``ดำารง`` → ``ดำรง``, legacy PUA tone marks,
  zero-width characters, Thai digits, ``PM 2.5`` → ``pm2.5``), so ``2566`` finds ``๒๕๖๖`` and a
  folded query finds what a reader sees, while ``๒๕๖๖`` still finds the text as printed.
  No triggers keep them in sync: ``unindex(conn, url)`` takes a page's entries out before its rows
  change (a contentless table is told the values the row was indexed with) and queues the page,
  and ``sync_index(conn)`` indexes every queued page. ``save`` and each ``save_many`` batch call
  it before they commit, so the index is never out of step with a committed row. (Per-row
  triggers made FTS5 flush a tiny segment at every page's savepoint.)
- ``kpis_words_fts`` / ``reports_words_fts``: the text segmented by PyThaiNLP's ``newmm`` engine
  (words joined by spaces) under a unicode61 FTS5 table, for ranked whole-word search.
  Segmenting costs time, so ``save`` leaves a changed row out and ``refresh_search(db)``
  segments every row the table lacks (call it after a crawl or import).

``refresh_search`` is also where derived look-ups are refreshed: it fills agency names
(``archive.agencies``).
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from sqlite_utils import Database

from archive import agencies
from archive.schema import (
    TRIGRAM_FTS,
    WORDS_FTS,
    folded_variant,
    index_trigram,
    unindex_trigram,
)
from parsers import thai

log = logging.getLogger(__name__)

THAI_DIGITS = thai.THAI_DIGITS
KPI_TEXT_COLUMNS = ("title", "definition", "calculation", "data_sources")

normalise_digits = thai.arabic_digits


__all__ = ["folded_variant", "refresh_search", "search", "search_words", "sync_index", "unindex"]


# Pages whose rows changed in the open transaction and are not yet in the trigram index. A temp
# table rolls back with a page's savepoint, so a failed page is never indexed twice or missed.
_PENDING = "CREATE TEMP TABLE IF NOT EXISTS fts_pending (url TEXT PRIMARY KEY)"


def unindex(conn: sqlite3.Connection, url: str, *, first: bool = False) -> None:
    """Drop ``url``'s trigram entries before its rows change; ``sync_index`` adds them back.

    ``first``: the page has no rows yet, so it only needs queueing.
    """
    try:
        pending = conn.execute("SELECT 1 FROM temp.fts_pending WHERE url = ?", [url]).fetchone()
    except sqlite3.OperationalError:
        conn.execute(_PENDING)
        pending = None
    if pending:
        return  # its current rows were never indexed
    if not first:
        for table in TRIGRAM_FTS:
            unindex_trigram(conn, table, "WHERE url = ?", [url])
        for table in WORDS_FTS:
            rows = f"SELECT rowid FROM [{table}] WHERE url = ?"
            conn.execute(f"DELETE FROM [{table}_words_fts] WHERE rowid IN ({rows})", [url])
    conn.execute("INSERT INTO temp.fts_pending (url) VALUES (?)", [url])


def sync_index(conn: sqlite3.Connection) -> None:
    """Add the current rows of every page queued by ``unindex`` to the trigram index."""
    conn.execute(_PENDING)
    if conn.execute("SELECT 1 FROM temp.fts_pending LIMIT 1").fetchone() is None:
        return
    for table in TRIGRAM_FTS:
        index_trigram(conn, table, "WHERE url IN (SELECT url FROM temp.fts_pending)")
    conn.execute("DELETE FROM temp.fts_pending")


def forget_pending(conn: sqlite3.Connection) -> None:
    """Empty the queue after a full ``rebuild`` of the trigram index (as ``reparse`` does)."""
    conn.execute(_PENDING)
    conn.execute("DELETE FROM temp.fts_pending")


def segment(text: str | None) -> str:
    """Thai text with Arabic digits, as newmm words joined by single spaces."""
    return thai.segment(normalise_digits(text)) if text else ""


def refresh_search(db: Database, batch: int = 200) -> int:
    """Segment every ``kpis`` and ``reports`` row its words table lacks; return the row count."""
    done = 0
    for table, columns in (("kpis", KPI_TEXT_COLUMNS), ("reports", ("text",))):
        select = ", ".join(f"t.[{c}]" for c in columns)
        # One pass in rowid order: each batch starts after the last, and a row's words are found
        # by rowid. (``rowid NOT IN (SELECT rowid FROM words)`` rebuilt that whole set and
        # rescanned the table for every batch: 175 s of a 30,000-page load's finish.)
        last = 0
        while True:
            rows = db.execute(
                f"SELECT t.rowid, {select} FROM [{table}] t WHERE t.rowid > ? AND NOT EXISTS "
                f"(SELECT 1 FROM [{table}_words_fts] w WHERE w.rowid = t.rowid) "
                "ORDER BY t.rowid LIMIT ?",
                [last, batch],
            ).fetchall()
            if not rows:
                break
            last = rows[-1][0]
            with db.atomic():
                db.conn.executemany(
                    f"INSERT INTO [{table}_words_fts] (rowid, words) VALUES (?, ?)",
                    [(row[0], " ".join(segment(t) for t in row[1:] if t)) for row in rows],
                )
            done += len(rows)
    log.info("segmented %d rows", done)
    agencies.fill_names(db)
    return done


def fts_phrase(query: str) -> str:
    """Quote each whitespace-separated term as an FTS5 phrase (what Datasette's search box does)."""
    terms = [t.replace('"', '""') for t in query.split()]
    return " ".join(f'"{t}"' for t in terms)


def search(db: Database, table: str, query: str, limit: int = 20) -> list[dict[str, Any]]:
    """Trigram search of ``kpis`` or ``reports``, of the query as typed and as folded."""
    variants = {query, normalise_digits(query), thai.fold(query)}
    match = " OR ".join(f"({fts_phrase(v)})" for v in sorted(variants) if v.strip())
    if not match:
        return []
    sql = (
        f"SELECT t.* FROM [{table}_fts] f JOIN [{table}] t ON t.rowid = f.rowid "
        f"WHERE [{table}_fts] MATCH ? ORDER BY f.rank LIMIT ?"
    )
    return [dict(row) for row in db.query(sql, [match, limit])]


def search_words(db: Database, table: str, query: str, limit: int = 20) -> list[dict[str, Any]]:
    """Ranked whole-word search of ``kpis`` or ``reports``: the query is segmented like the text."""
    words = segment(query).split()
    if not words:
        return []
    sql = (
        f"SELECT t.* FROM [{table}_words_fts] f JOIN [{table}] t ON t.rowid = f.rowid "
        f"WHERE [{table}_words_fts] MATCH ? ORDER BY f.rank LIMIT ?"
    )
    return [dict(row) for row in db.query(sql, [fts_phrase(" ".join(words)), limit])]
