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

There is no word-segmented index (schema version 12 dropped it): it doubled the text's bytes
and a load's finish time, and every published search reads the trigram one.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlite_utils import Database

from archive.pending import FULL_SHARE
from archive.schema import (
    TRIGRAM_FTS,
    folded_variant,
    index_trigram,
    rebuild_trigram,
    unindex_trigram,
)
from parsers import thai

THAI_DIGITS = thai.THAI_DIGITS
# FTS5's trigram tokenizer indexes three characters at a time: a shorter term matches no row.
TRIGRAM_MIN = 3
_TO_THAI_DIGITS = str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙")

normalise_digits = thai.arabic_digits


__all__ = ["folded_variant", "rebuild_index", "search", "sync_index", "unindex"]

# Pages whose rows are not in the trigram index yet (private; m015 creates it).
PENDING = "search_pending"


def unindex(conn: sqlite3.Connection, url: str, *, first: bool = False) -> None:
    """Drop ``url``'s trigram entries before its rows change and mark it for ``sync_index``.

    ``first``: the page has no rows yet, so it only needs marking.
    """
    if not first:
        if conn.execute(f"SELECT 1 FROM {PENDING} WHERE url = ?", [url]).fetchone():
            return  # its current rows were never indexed
        for table in TRIGRAM_FTS:
            unindex_trigram(conn, table, "WHERE url = ?", [url])
    conn.execute(f"INSERT INTO {PENDING} (url) VALUES (?) ON CONFLICT (url) DO NOTHING", [url])


def sync_index(conn: sqlite3.Connection) -> bool:
    """Index the rows of every page marked by ``unindex``; rebuild the whole index in one pass
    instead past ``FULL_SHARE`` of the pages (``rebuild_index``). Return whether it rebuilt."""
    (marked,) = conn.execute(f"SELECT count(*) FROM {PENDING}").fetchone()
    if not marked:
        return False
    (pages,) = conn.execute(
        "SELECT (SELECT count(*) FROM kpis) + (SELECT count(*) FROM projects)"
    ).fetchone()
    if marked > FULL_SHARE * pages:
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


def fts_phrase(query: str) -> str:
    """Quote each whitespace-separated term as an FTS5 phrase (what Datasette's search box does)."""
    terms = [t.replace('"', '""') for t in query.split()]
    return " ".join(f'"{t}"' for t in terms)


def search(db: Database, table: str, query: str, limit: int = 20) -> list[dict[str, Any]]:
    """Trigram search of ``kpis`` or ``reports``, of the query as typed and as folded; a query
    under three characters is looked for in the text as printed, by a scan."""
    variants = sorted(v for v in {query, normalise_digits(query), thai.fold(query)} if v.strip())
    if not variants:
        return []
    if min(len(v.strip()) for v in variants) < TRIGRAM_MIN:
        # The text as printed may spell the query's digits in Thai (``๒๕`` for ``25``).
        printed = {*variants, *(v.translate(_TO_THAI_DIGITS) for v in variants)}
        return _scan(db, table, sorted(printed), limit)
    match = " OR ".join(f"({fts_phrase(v)})" for v in variants)
    sql = (
        f"SELECT t.* FROM [{table}_fts] f JOIN [{table}] t ON t.rowid = f.rowid "
        f"WHERE [{table}_fts] MATCH ? ORDER BY f.rank LIMIT ?"
    )
    return [dict(row) for row in db.query(sql, [match, limit])]


def _scan(db: Database, table: str, variants: list[str], limit: int) -> list[dict[str, Any]]:
    """Rows of ``table`` whose text (case-folded) holds any variant, in rowid order."""
    columns = [c for c in TRIGRAM_FTS[table] if c != "folded"]
    text = " || char(10) || ".join(f"coalesce(lower([{c}]), '')" for c in columns)
    hits = " OR ".join(f"instr({text}, ?)" for _ in variants)
    sql = f"SELECT * FROM [{table}] WHERE {hits} ORDER BY rowid LIMIT ?"
    return [dict(row) for row in db.query(sql, [*(v.strip().lower() for v in variants), limit])]
