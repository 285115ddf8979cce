"""The plugin's SQL functions: Thai-aware, pure, and bounded by input size.

Datasette's SQL time limit interrupts SQLite between steps, not inside a Python function, so each
function reads at most ``MAX_INPUT`` characters of its text (a KPI page's texts are under 20,000
characters; a report entry under 5,000): ``thai_segment`` of a million characters returns in
milliseconds instead of a minute.

- ``thai_normalize(text)``: Thai digits to Arabic, whitespace collapsed (``๒๕๖๖`` → ``2566``).
- ``thai_fold(text)``: the search folding of ``parsers.thai.fold`` (``ดำารง`` → ``ดำรง``).
- ``thai_segment(text)``: newmm words joined by single spaces.
- ``thai_rank(text, query)``: how well ``text`` answers ``query``; a query word found as a whole
  word counts twice, inside a longer word once; the whole query as a phrase adds one. 0 = no hit.
- ``thai_snippet(text, query[, width])``: a short excerpt around the first hit, ``…`` at cut ends.
- ``kpi_date(text)``: a date typed by a reader (``2566-03-31``, ``31/03/2566``, ``31 มี.ค. 2566``,
  ``2023-03-31``) as a CE ISO date, or NULL when it is not one.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import sqlite3
import unicodedata

from parsers import thai

MAX_INPUT = 20_000
SNIPPET_WIDTH = 60
RANK_WINDOW = 40
MAX_RANKED_HITS = 20
_ISO = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")


def _bounded(text: object) -> str:
    return str(text)[:MAX_INPUT]


def thai_normalize(text: str | None) -> str | None:
    """Thai digits to Arabic, runs of whitespace to one space, ends stripped."""
    if text is None:
        return None
    return " ".join(thai.arabic_digits(_bounded(text)).split())


def thai_fold(text: str | None) -> str | None:
    """``parsers.thai.fold`` on at most ``MAX_INPUT`` characters."""
    return None if text is None else thai.fold(_bounded(text))


def thai_segment(text: str | None) -> str | None:
    """Segment Thai text into words (newmm) and join them with single spaces."""
    normalized = thai_normalize(text)
    return None if normalized is None else thai.segment(normalized)


def _whole_word_at(haystack: str, start: int, word: str) -> bool:
    """Whether the hit of ``word`` at ``start`` is a word of its own, not part of a longer one."""
    # Segmenting only a window around the hit keeps ranking cheap on long reports; the words far
    # from the hit do not move its boundaries.
    lo = max(0, start - RANK_WINDOW)
    offset = lo
    for token in thai.words(haystack[lo : start + len(word) + RANK_WINDOW]):
        if offset == start:
            return token == word
        if offset > start:
            return False
        offset += len(token)
    return False


def thai_rank(text: str | None, query: str | None) -> float:
    """Score ``text`` against ``query``: whole-word hits ×2, substring hits ×1, phrase +1."""
    haystack = thai.fold(_bounded(text or ""))
    needle = thai.fold(_bounded(query or ""))
    if not haystack or not needle:
        return 0.0
    score = 0.0
    query_words = {w for w in thai.words(needle) if w.strip()}
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


def snippet(text: str, query: str, width: int = SNIPPET_WIDTH) -> tuple[str, str, str]:
    """``(before, hit, after)`` around the first hit of ``query``, in the text as printed.

    The hit is found through ``thai.fold_pattern`` (so ``PM2.5`` highlights ``PM 2.5``); without
    a hit of the whole query, the first hit of one of its words; else the text's start.
    """
    haystack = " ".join(unicodedata.normalize("NFC", _bounded(text)).split())
    match = None
    pattern = thai.fold_pattern(query[:200])
    if pattern is not None:
        match = pattern.search(haystack)
        if match is None:
            found = [
                m
                for word in thai.words(thai.fold(query[:200]))
                if word.strip() and (p := thai.fold_pattern(word)) and (m := p.search(haystack))
            ]
            match = min(found, key=lambda m: m.start(), default=None)
    at, end_hit = match.span() if match else (0, 0)
    start = max(0, at - width)
    end = min(len(haystack), (end_hit if match else len(query)) + width)
    before = ("…" if start else "") + haystack[start:at]
    after = haystack[end_hit:end] + ("…" if end < len(haystack) else "")
    return before, haystack[at:end_hit], after


def thai_snippet(text: str | None, query: str | None, width: int = SNIPPET_WIDTH) -> str | None:
    """Return about ``2 * width`` characters of ``text`` around the first hit of ``query``."""
    if text is None:
        return None
    return "".join(snippet(text, query or "", width))


def parse_reader_date(text: str | None) -> dt.date | None:
    """A date a reader typed: ISO (BE or CE year), ``31/03/2566`` or ``31 มี.ค. 2566``; else None."""
    if not text:
        return None
    stripped = thai.arabic_digits(str(text)[:100]).strip()
    if iso := _ISO.fullmatch(stripped):
        year, month, day = (int(part) for part in iso.groups())
        if year >= 2400:
            year = thai.be_to_ce(year)
        try:
            return dt.date(year, month, day) if 1900 <= year <= 2200 else None
        except ValueError:
            return None
    parsed = thai.parse_date(stripped)
    if parsed is None or parsed.value is None or parsed.precision != "day":
        return None
    return parsed.value if 1900 <= parsed.value.year <= 2200 else None


def kpi_date(text: str | None) -> str | None:
    """``parse_reader_date`` as an ISO string for SQL, NULL when the text is not a date."""
    value = parse_reader_date(text)
    return value.isoformat() if value else None


def register(conn: sqlite3.Connection) -> None:
    """Register every function on ``conn``."""
    conn.create_function("thai_normalize", 1, thai_normalize, deterministic=True)
    conn.create_function("thai_fold", 1, thai_fold, deterministic=True)
    conn.create_function("thai_segment", 1, thai_segment, deterministic=True)
    conn.create_function("thai_rank", 2, thai_rank, deterministic=True)
    conn.create_function("thai_snippet", 2, thai_snippet, deterministic=True)
    conn.create_function("thai_snippet", 3, thai_snippet, deterministic=True)
    conn.create_function("kpi_date", 1, kpi_date, deterministic=True)
