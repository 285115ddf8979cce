"""The Datasette plugin: Thai-aware SQL functions and a KPI row page's quarters.

Registered as the ``kpi_archive`` entry point in the ``datasette`` group, so any Datasette in this
environment gets it; everything it adds is inert on databases that are not a KPI archive. A plugin
*module* (not a package) gets no static or template folder from Datasette 0.65 on Python 3.11, so
``serve`` mounts ``static/`` and ``templates/`` explicitly.

SQL functions (on every connection Datasette opens):

- ``thai_normalize(text)``: Thai digits to Arabic, whitespace collapsed (``๒๕๖๖`` → ``2566``).
- ``thai_segment(text)``: PyThaiNLP ``newmm`` words joined by single spaces.
- ``thai_rank(text, query)``: how well ``text`` answers ``query``; a query word found as a whole
  word counts twice, inside a longer word once; the whole query as a phrase adds one. 0 = no hit.
- ``thai_snippet(text, query[, width])``: a short excerpt around the first hit, ``…`` at cut ends.
"""

from __future__ import annotations

import asyncio
import functools
import math
import re
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

from datasette import hookimpl

_THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")
_SPACES = re.compile(r"\s+")
SNIPPET_WIDTH = 60
RANK_WINDOW = 40
MAX_RANKED_HITS = 20


def thai_normalize(text: str | None) -> str | None:
    """Thai digits to Arabic, runs of whitespace to one space, ends stripped."""
    if text is None:
        return None
    return _SPACES.sub(" ", str(text).translate(_THAI_DIGITS)).strip()


@functools.lru_cache(maxsize=8192)
def _words(text: str) -> tuple[str, ...]:
    from pythainlp.tokenize import word_tokenize

    return tuple(word_tokenize(text, engine="newmm", keep_whitespace=True))


def thai_segment(text: str | None) -> str | None:
    """Segment Thai text into words (newmm) and join them with single spaces."""
    normalized = thai_normalize(text)
    if normalized is None:
        return None
    return " ".join(w for w in _words(normalized) if w.strip())


def _whole_word_at(haystack: str, start: int, word: str) -> bool:
    """Whether the hit of ``word`` at ``start`` is a word of its own, not part of a longer one."""
    # Segmenting only a window around the hit keeps ranking cheap on long reports (newmm is
    # about 10 ms per page); the words far from the hit do not move its boundaries.
    lo = max(0, start - RANK_WINDOW)
    offset = lo
    for token in _words(haystack[lo : start + len(word) + RANK_WINDOW]):
        if offset == start:
            return token == word
        if offset > start:
            return False
        offset += len(token)
    return False


def thai_rank(text: str | None, query: str | None) -> float:
    """Score ``text`` against ``query``: whole-word hits ×2, substring hits ×1, phrase +1."""
    haystack = (thai_normalize(text) or "").casefold()
    needle = (thai_normalize(query) or "").casefold()
    if not haystack or not needle:
        return 0.0
    score = 0.0
    query_words = {w for w in _words(needle) if w.strip()}
    for word in query_words:
        start = haystack.find(word)
        hits = 0
        while start >= 0 and hits < MAX_RANKED_HITS:
            hits += 1
            score += 2 if _whole_word_at(haystack, start, word) else 1
            start = haystack.find(word, start + len(word))
    if len(query_words) > 1 and needle in haystack:
        score += 1
    # Long texts mention everything once; damp length so a focused KPI title beats a long report.
    return round(score / (1 + math.log10(1 + len(haystack) / 200)), 4) if score else 0.0


def thai_snippet(text: str | None, query: str | None, width: int = SNIPPET_WIDTH) -> str | None:
    """Return about ``2 * width`` characters of ``text`` around the first hit of ``query``."""
    if text is None:
        return None
    haystack = thai_normalize(text) or ""
    needle = (thai_normalize(query) or "").casefold()
    at = haystack.casefold().find(needle) if needle else -1
    if at < 0:
        words = [w for w in _words(needle) if w.strip()] if needle else []
        hits = [haystack.casefold().find(w) for w in words]
        at = min((h for h in hits if h >= 0), default=0)
    start = max(0, at - width)
    end = min(len(haystack), at + len(needle) + width)
    return ("…" if start else "") + haystack[start:end] + ("…" if end < len(haystack) else "")


@hookimpl
def prepare_connection(conn: sqlite3.Connection) -> None:
    """Register the Thai SQL functions on each connection."""
    conn.create_function("thai_normalize", 1, thai_normalize, deterministic=True)
    conn.create_function("thai_segment", 1, thai_segment, deterministic=True)
    conn.create_function("thai_rank", 2, thai_rank, deterministic=True)
    conn.create_function("thai_snippet", 2, thai_snippet, deterministic=True)
    conn.create_function("thai_snippet", 3, thai_snippet, deterministic=True)


@hookimpl
def extra_template_vars(
    view_name: str, table: str | None, database: str | None, request: Any, datasette: Any
) -> Callable[[], Awaitable[dict[str, Any]]] | None:
    """On a ``kpis`` row page, hand the row template its quarters and target."""
    if view_name != "row" or table != "kpis" or database is None or request is None:
        return None

    async def quarters() -> dict[str, Any]:
        from datasette.utils import tilde_decode

        db = datasette.get_database(database)
        if not await db.table_exists("quarters"):
            return {}
        url = tilde_decode(request.url_vars.get("pks", ""))
        rows = await db.execute(
            "select q.quarter, q.result, q.result_text, q.assessment, q.score_2_1, q.score_2_2,"
            " k.target_value, k.target_text, k.unit"
            " from quarters q join kpis k on k.url = q.url where q.url = ? order by q.quarter",
            [url],
        )
        return {"kpi_quarters": [dict(r) for r in rows.rows]}

    return quarters


@hookimpl
def startup(datasette: Any) -> Callable[[], Awaitable[None]]:
    """Load PyThaiNLP's dictionary before the first search instead of during it (about 0.5 s)."""

    async def warm_up() -> None:
        await asyncio.get_running_loop().run_in_executor(None, _words, "ค้นหา")

    return warm_up
