"""Thai full-text search over the archive: trigram FTS5, Thai digits, PyThaiNLP word segmentation.

Three layers, each a column or table the archive keeps in sync:

None of them is a column of ``kpis`` or ``reports``: readers see the text as printed, and the
helpers live in side tables keyed by the row's rowid (``archive.schema``).

- ``kpis_fts`` / ``reports_fts``: trigram FTS5 tables holding their own copy of the text, the
  tables Datasette's search box uses (``fts_table`` in the plugin's metadata). Trigram needs no
  word breaks, so any Thai substring of 3+ characters matches. A term of 1–2 characters matches
  nothing (an FTS5 trigram limit); use ``LIKE`` for those. Their last column (``search_digits`` /
  ``text_digits``) is the same text with Thai digits made Arabic, filled only where the text has
  Thai digits, so ``2566`` finds ``๒๕๖๖``, and ``๒๕๖๖`` still finds the text as printed.
  No triggers keep them in sync: ``unindex(conn, url)`` drops a page's entries before its rows
  change and queues the page, and ``sync_index(conn)`` indexes every queued page. ``save`` and
  each ``save_many`` batch call it before they commit, so the index is never out of step with a
  committed row. (Per-row triggers made FTS5 flush a tiny segment at every page's savepoint;
  that cost more than the rest of a save.)
- ``kpis_words_fts`` / ``reports_words_fts``: the text segmented by PyThaiNLP's ``newmm`` engine
  (words joined by spaces) under a unicode61 FTS5 table, for ranked whole-word search.
  Segmenting costs about 10 ms per page, so ``save`` leaves a changed row out and
  ``refresh_search(db)`` segments every row the table lacks (call it after a crawl or import).
- ``search_index``: a trigram FTS5 table of each KPI's texts and each report *folded* by
  ``parsers.thai.fold`` (``ดำารง`` → ``ดำรง``, legacy PUA tone marks, zero-width characters, Thai
  digits, ``PM 2.5`` → ``pm2.5``), so a search finds what a reader sees; the tables keep the text
  as printed, and so does the index's unindexed ``text`` (for snippets). ``refresh_search``
  re-indexes the pages whose snapshot changed. The public search page (``/search``) reads it.

``refresh_search`` is also where derived look-ups are refreshed: it fills agency names
(``archive.agencies``).
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from sqlite_utils import Database

from archive import agencies
from archive.schema import TRIGRAM_FTS, WORDS_FTS, digits_variant, index_trigram
from parsers import thai

log = logging.getLogger(__name__)

THAI_DIGITS = thai.THAI_DIGITS
KPI_TEXT_COLUMNS = ("title", "definition", "calculation", "data_sources")
SEARCH_INDEX = "search_index"

normalise_digits = thai.arabic_digits


__all__ = ["digits_variant", "refresh_search", "search", "search_words", "sync_index", "unindex"]


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
            for fts in (f"{table}_fts", *([f"{table}_words_fts"] if table in WORDS_FTS else [])):
                rows = f"SELECT rowid FROM [{table}] WHERE url = ?"
                conn.execute(f"DELETE FROM [{fts}] WHERE rowid IN ({rows})", [url])
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
        select = ", ".join(f"[{c}]" for c in columns)
        while True:
            rows = db.execute(
                f"SELECT rowid, {select} FROM [{table}] "
                f"WHERE rowid NOT IN (SELECT rowid FROM [{table}_words_fts]) LIMIT ?",
                [batch],
            ).fetchall()
            if not rows:
                break
            with db.atomic():
                db.conn.executemany(
                    f"INSERT INTO [{table}_words_fts] (rowid, words) VALUES (?, ?)",
                    [(row[0], " ".join(segment(t) for t in row[1:] if t)) for row in rows],
                )
            done += len(rows)
    log.info("segmented %d rows", done)
    refresh_folded_index(db)
    agencies.fill_names(db)
    return done


def refresh_folded_index(db: Database) -> int:
    """Re-index in ``search_index`` every KPI page whose snapshot changed; return the page count."""
    db.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS [{SEARCH_INDEX}] USING fts5(folded, text UNINDEXED,"
        " kind UNINDEXED, url UNINDEXED, position UNINDEXED, snapshot_id UNINDEXED,"
        " tokenize='trigram')"
    )
    stale = db.execute(
        "SELECT url, snapshot_id FROM kpis EXCEPT "
        f"SELECT url, snapshot_id FROM [{SEARCH_INDEX}] WHERE kind = 'kpi'"
    ).fetchall()
    columns = ", ".join(f"[{c}]" for c in (*KPI_TEXT_COLUMNS, "summary"))
    with db.atomic():
        db.execute(f"DELETE FROM [{SEARCH_INDEX}] WHERE url NOT IN (SELECT url FROM kpis)")
        for url, snapshot_id in stale:
            db.execute(f"DELETE FROM [{SEARCH_INDEX}] WHERE url = ?", [url])
            texts = list(db.execute(f"SELECT {columns} FROM kpis WHERE url = ?", [url]).fetchone())
            # A KPI page prints the strategy lines it supports: a reader searches those words too.
            texts += [
                row[0]
                for row in db.execute(
                    "SELECT coalesce(s.text, s.title) FROM kpi_strategies ks JOIN strategies s "
                    "ON s.id = ks.strategy_id WHERE ks.url = ? ORDER BY ks.position",
                    [url],
                )
            ]
            entries = [("kpi", None, "\n".join(t for t in texts if t))]
            entries += [
                ("report", position, text)
                for position, text in db.execute(
                    "SELECT position, text FROM reports WHERE url = ? AND text IS NOT NULL", [url]
                ).fetchall()
            ]
            db.conn.executemany(
                f"INSERT INTO [{SEARCH_INDEX}] (folded, text, kind, url, position, snapshot_id)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (thai.fold(text), text, kind, url, pos, snapshot_id)
                    for kind, pos, text in entries
                ],
            )
    log.info("folded search index: %d pages re-indexed", len(stale))
    return len(stale)


def fts_phrase(query: str) -> str:
    """Quote each whitespace-separated term as an FTS5 phrase (what Datasette's search box does)."""
    terms = [t.replace('"', '""') for t in query.split()]
    return " ".join(f'"{t}"' for t in terms)


def search(db: Database, table: str, query: str, limit: int = 20) -> list[dict[str, Any]]:
    """Trigram search of ``kpis`` or ``reports``; a query's Thai digits are also tried as Arabic."""
    variants = {query, normalise_digits(query)}
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
