"""One indicator across fiscal years and districts: the ``indicators`` and ``measures`` tables.

The BMA gives an indicator a new pid every fiscal year and every edition, and each district
reports the same indicator under its own pid. ``refresh_series(db)`` groups KPI pages:

- an **indicator** is one agency's indicator over years, editions and mirror hosts: pages with
  the same agency, the same name key and the same unit key;
- a **measure** is one indicator across agencies: the same name key and unit key, so a league
  table never ranks unlike quantities (green space in ร้อยละ and in แห่ง are two measures).

``name_key`` drops what changes from year to year without changing the indicator (list numbers,
``ปี 2564`` prefixes, ``(ผลลัพธ์)``-style tags, fiscal years, whitespace, Thai typing artefacts).
A reviewed file, ``archive/data/indicator_overrides.csv``, maps name keys the rules cannot join
(source typos) onto one key. Each page's ``kpis.indicator_match`` says how it was matched:
``name`` (by its own name key), ``override`` (through the file), ``version`` (the current
capture has no title, e.g. a compact rendering: the title of the page's latest titled version),
``pid`` (no title in any version: joined to a titled page with the same pid) or ``pid-only``.

Ids are stable: a group keeps its id across refreshes while its key exists (stored as
``group_key``, a short digest). The keys themselves are not stored: they are computed from the
pages at every refresh (a temporary table holds them while it runs), so an indicator's Thai name
is kept once, as printed. The refresh is idempotent and runs after every load, for every page or
(``scoped``) for the pages ``archive.pending`` lists and those matched through them.
"""

from __future__ import annotations

import csv
import json
import logging
import re
import sqlite3
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sqlite_utils import Database

from archive.pending import SCOPE
from archive.schema import SERIES_INDEXES, group_key
from archive.versions import decode
from parsers.thai import fold, name_of

log = logging.getLogger(__name__)

OVERRIDES = Path(__file__).resolve().parent / "data" / "indicator_overrides.csv"

# A stray phinthu (U+0E3A) typed into titles, and a tone mark with no consonant under it at the
# start of a word (5018-832 prints its unit as "้ร้อยละ").
_STRAY_MARKS = re.compile("\u0e3a|(?:(?<=\\s)|^)[\u0e31\u0e34-\u0e3a\u0e47-\u0e4e]+")
# A trailing tag naming the level or the owning office: (ผลลัพธ์), (ผลผลิต), (เจรจาตกลง), (สจน.),
# (สนท.2566), (ฝ่ายปกครอง). Only Thai letters, dots and a year fit, so (Best Service) stays.
_TRAILING_TAG = re.compile(r"\s*\((?:ตัวชี้วัด)?[\u0e01-\u0e4e.\s]{2,14}(?:\s*\d{4})?\)\s*$")
# "ประจำปีงบประมาณ พ.ศ. 2562" changes every year; a base year ("เทียบกับปี 2560") does not.
_FISCAL_YEAR = re.compile(r"(?:ประจำปี(?:งบประมาณ)?|ปีงบประมาณ)\s*(?:พ\.\s*ศ\.)?\s*25\d\d")
# Central offices write กทม. where districts spell out กรุงเทพมหานคร (2300-0839, 5045-0849).
_ABBREVIATIONS = ((re.compile(r"กทม\.?"), "กรุงเทพมหานคร"),)
_NOT_KEY = re.compile(r"[\s\-–—_/\\'\"“”‘’.,:;*()\[\]]+")
_UNIT_NOISE = re.compile(r"[\d\s.,<>≤≥=%+*()\[\]-]+")


@dataclass(frozen=True)
class Page:
    """What grouping needs to know about one KPI page."""

    url: str
    pid: str | None
    agency_code: str | None
    title: str | None
    name: str | None
    unit: str | None
    earlier_title: bool = False


def thai_clean(text: str) -> str:
    """The search folding of ``parsers.thai.fold`` (typing artefacts, legacy marks, zero widths,
    Thai digits), less stray marks."""
    return _STRAY_MARKS.sub("", fold(text))


def name_key(title: str | None) -> str | None:
    """The matching key of a KPI title: no list numbers, tags, fiscal years, spaces or artefacts."""
    if not title:
        return None
    text = thai_clean(name_of(title) or title)
    while True:
        stripped = _TRAILING_TAG.sub("", text)
        if stripped == text:
            break
        text = stripped
    text = _FISCAL_YEAR.sub("", text)
    for pattern, full in _ABBREVIATIONS:
        text = pattern.sub(full, text)
    key = _NOT_KEY.sub("", text).lower()
    return key or None


def unit_key(unit: str | None) -> str:
    """The unit without numbers, comparison signs or spaces (``ร้อยละ 100``, ``>ร้อยละ`` → ร้อยละ)."""
    if not unit:
        return ""
    return _UNIT_NOISE.sub("", thai_clean(unit)).lower()


@lru_cache(maxsize=4)
def load_overrides(path: Path = OVERRIDES) -> dict[str, str]:
    """The reviewed ``name_key → same_as`` map (a key the rules leave apart, onto another)."""
    with path.open(encoding="utf-8", newline="") as handle:
        return {row["name_key"]: row["same_as"] for row in csv.DictReader(handle)}


@dataclass(frozen=True)
class Match:
    """Where one page goes: its indicator key parts and how they were found."""

    agency_code: str
    name_key: str
    unit_key: str
    method: str


def match_pages(pages: list[Page], overrides: dict[str, str]) -> dict[str, Match]:
    """Group pages into indicators: url → match (pure; ``refresh_series`` writes the result)."""
    matches: dict[str, Match] = {}
    by_pid: dict[tuple[str | None, str], Match] = {}
    untitled: list[Page] = []
    # Each distinct text is folded once: a unit is one of a few dozen, and a district's name for
    # an indicator is every other district's (at 32,500 pages, 1.2 -> 0.8 s CPU).
    names: dict[str | None, str | None] = {}
    units: dict[str | None, str] = {}

    def unit_of(page: Page) -> str:
        if page.unit not in units:
            units[page.unit] = unit_key(page.unit)
        return units[page.unit]

    for page in sorted(pages, key=lambda p: p.url):
        text = page.name or page.title
        if text not in names:
            names[text] = name_key(text)
        key = names[text]
        if key is None:
            untitled.append(page)
            continue
        method = "version" if page.earlier_title else "name"
        if key in overrides:
            key, method = overrides[key], "override"
        match = Match(page.agency_code or "", key, unit_of(page), method)
        matches[page.url] = match
        if page.pid:
            by_pid.setdefault((page.agency_code, page.pid), match)
    for page in untitled:
        found = by_pid.get((page.agency_code, page.pid or page.url))
        if found is not None:
            matches[page.url] = Match(found.agency_code, found.name_key, found.unit_key, "pid")
        else:
            key = "pid:" + (page.pid or page.url)
            matches[page.url] = Match(page.agency_code or "", key, unit_of(page), "pid-only")
    return matches


def ensure_series_tables(db: Database) -> None:
    """Create ``measures`` and ``indicators``; add ``kpis.indicator_id`` and ``indicator_match``."""
    db.conn.create_function("group_key", 1, group_key, deterministic=True)
    if not db.table("measures").exists():
        db.table("measures").create(
            {
                "id": int,
                "key": str,
                "name": str,
                "unit": str,
                "agencies": int,
                "indicators": int,
                "first_fiscal_year": int,
                "last_fiscal_year": int,
            },
            pk="id",
            not_null={"key"},
        )
        db.table("measures").create_index(["key"], unique=True)
    if not db.table("indicators").exists():
        db.table("indicators").create(
            {
                "id": int,
                "key": str,
                "agency_code": str,
                "name": str,
                "unit": str,
                "measure_id": int,
                "match_methods": str,
                "first_fiscal_year": int,
                "last_fiscal_year": int,
                "pages": int,
                "pids": int,
            },
            pk="id",
            not_null={"key"},
            foreign_keys=[("measure_id", "measures", "id")],
        )
        db.table("indicators").create_index(["key"], unique=True)
        db.table("indicators").create_index(["measure_id"])
        db.table("indicators").create_index(list(SERIES_INDEXES["indicators"]))
    # The few untitled pages, which a scoped refresh matches again every time.
    db.execute(
        "CREATE INDEX IF NOT EXISTS idx_kpis_untitled ON kpis (agency_code, pid) "
        "WHERE title IS NULL"
    )
    columns = db.table("kpis").columns_dict
    if "indicator_id" not in columns:
        # ALTER TABLE … REFERENCES adds the foreign key without rebuilding kpis (and its FTS).
        db.execute("ALTER TABLE kpis ADD COLUMN indicator_id INTEGER REFERENCES indicators(id)")
        db.table("kpis").create_index(list(SERIES_INDEXES["kpis"]), if_not_exists=True)
    if "indicator_match" not in columns:
        db.table("kpis").add_column("indicator_match", str)


def refresh_series(
    db: Database, overrides: dict[str, str] | None = None, *, scoped: bool = False
) -> dict[str, int]:
    """Rebuild indicators and measures from ``kpis``; return the three counts.

    ``scoped``: only for the pages in ``archive.pending.SCOPE`` (which gains the pages whose match
    may follow theirs), leaving the tables as a rebuild from every page would."""
    ensure_series_tables(db)
    pages = _pages(db, scoped)
    matches = match_pages(pages, load_overrides() if overrides is None else overrides)
    with db.atomic():
        if scoped:
            _write_scoped(db.conn, matches)
        else:
            _write_all(db, matches)
    counts = {
        "pages": len(matches),
        "indicators": db.table("indicators").count,
        "measures": db.table("measures").count,
    }
    log.info("series: %(pages)d pages, %(indicators)d indicators, %(measures)d measures", counts)
    return counts


def _pages(db: Database, scoped: bool) -> list[Page]:
    where = ""
    if scoped:
        # An untitled page is matched through others (the titled page with its pid): all of them
        # and the pages sharing their pid are matched again, as a full rebuild would.
        db.execute(f"INSERT OR IGNORE INTO {SCOPE} SELECT url FROM kpis WHERE title IS NULL")
        db.execute(
            f"INSERT OR IGNORE INTO {SCOPE} SELECT k.url FROM kpis k JOIN (SELECT DISTINCT "
            "agency_code, pid FROM kpis WHERE title IS NULL AND pid IS NOT NULL) u "
            "ON k.pid = u.pid AND k.agency_code IS u.agency_code"
        )
        where = f" WHERE url IN (SELECT url FROM {SCOPE})"
    titled = {}
    # Only a page without a title now needs the last title an earlier version of it had.
    for url, stored in db.execute(
        "SELECT url, record FROM kpi_versions "
        "WHERE url IN (SELECT url FROM kpis WHERE title IS NULL) ORDER BY id"
    ):
        record = decode(stored)
        if record.get("title") is not None:
            titled[url] = (record["title"], record.get("name"))
    pages = []
    for url, pid, code, title, name, unit in db.execute(
        "SELECT url, pid, agency_code, title, name, unit FROM kpis" + where
    ):
        if title is None and url in titled:
            pages.append(Page(url, pid, code, *titled[url], unit, earlier_title=True))
        else:
            pages.append(Page(url, pid, code, title, name, unit))
    return pages


def _keys(matches: dict[str, Match]) -> dict[Match, str]:
    return {m: f"{m.agency_code}|{m.name_key}|{m.unit_key}" for m in set(matches.values())}


def _add_indicators(conn: sqlite3.Connection, keys: dict[Match, str]) -> dict[Match, str]:
    """Add the indicators not there yet; return each match's ``indicators.key``."""
    digests = {m: group_key(k) for m, k in keys.items()}
    # Ids survive a refresh: rows are keyed, new keys are added, unused ones dropped.
    conn.executemany(
        "INSERT INTO indicators (key, agency_code) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
        [
            (digests[m], m.agency_code or None)
            for m, _ in sorted(keys.items(), key=lambda item: item[1])
        ],
    )
    # Each matched indicator's measure key, for this refresh only: the name and unit keys are
    # derived from the pages, so storing them (twice the Thai name per row) bought nothing.
    conn.execute("DROP TABLE IF EXISTS temp.series_keys")
    conn.execute(
        "CREATE TABLE temp.series_keys (key TEXT PRIMARY KEY, measure_key TEXT, "
        "measure_text TEXT) WITHOUT ROWID"
    )
    rows = []
    measures: dict[str, str] = {}
    for m, digest in digests.items():
        text = None if m.name_key.startswith("pid:") else f"{m.name_key}|{m.unit_key}"
        if text is not None and text not in measures:
            measures[text] = group_key(text)
        rows.append((digest, text and measures[text], text))
    conn.executemany("INSERT OR IGNORE INTO temp.series_keys VALUES (?, ?, ?)", rows)
    return digests


def _link_pages(
    conn: sqlite3.Connection,
    matches: dict[str, Match],
    digests: dict[Match, str],
    ids: dict[str, int],
) -> None:
    rowids = conn.execute(
        "SELECT rowid, url FROM kpis WHERE url IN (SELECT value FROM json_each(?)) ORDER BY rowid",
        [json.dumps(list(matches))],
    )
    # In the table's order, not the urls': at 32,500 pages 0.42 -> 0.26 s CPU, and far fewer
    # pages read and dirtied out of order (every row grows by the two columns on a first load).
    conn.executemany(
        "UPDATE kpis SET indicator_id = ?1, indicator_match = ?2 WHERE rowid = ?3 "
        "AND (indicator_id IS NOT ?1 OR indicator_match IS NOT ?2)",
        [
            (ids[digests[matches[url]]], matches[url].method, rowid)
            for rowid, url in rowids.fetchall()
        ],
    )


def _write_all(db: Database, matches: dict[str, Match]) -> None:
    conn = db.conn
    conn.execute("UPDATE indicators SET measure_id = NULL")
    digests = _add_indicators(conn, _keys(matches))
    ids = dict(db.execute("SELECT key, id FROM indicators").fetchall())
    # Every page's link may move, so its index is made again after them, not kept up to date
    # through them: at 32,500 pages on a first load, 2.3-2.7 -> 0.6 s (the index: 0.04 s).
    conn.execute(f"DROP INDEX IF EXISTS [idx_kpis_{'_'.join(SERIES_INDEXES['kpis'])}]")
    _link_pages(conn, matches, digests, ids)
    db.table("kpis").create_index(list(SERIES_INDEXES["kpis"]), if_not_exists=True)
    used = "(SELECT indicator_id FROM kpis WHERE indicator_id IS NOT NULL)"
    if db.table("observations").exists():
        # Rebuilt right after by refresh_observations; until then, no link to a dropped id.
        conn.execute(
            f"UPDATE observations SET indicator_id = NULL WHERE indicator_id NOT IN {used}"
        )
    conn.execute(f"DELETE FROM indicators WHERE id NOT IN {used}")
    conn.execute(_INDICATOR_FACTS)
    conn.execute(_ADD_MEASURES.format(where=""))
    conn.execute(_SET_MEASURE)
    conn.execute("DROP TABLE temp.series_keys")
    conn.execute(
        "DELETE FROM measures WHERE id NOT IN "
        "(SELECT measure_id FROM indicators WHERE measure_id IS NOT NULL)"
    )
    conn.execute(_MEASURE_FACTS)


def _write_scoped(conn: sqlite3.Connection, matches: dict[str, Match]) -> None:
    """What ``_write_all`` does, for the indicators and measures the scoped pages were or are in.

    The same statements in the same order, so new rows get the ids a full rebuild would give."""
    urls = json.dumps(list(matches))
    in_urls = "(SELECT value FROM json_each(?))"
    conn.execute("DROP TABLE IF EXISTS temp.derived_indicators")
    conn.execute("CREATE TABLE temp.derived_indicators (id INTEGER PRIMARY KEY)")
    conn.execute(
        "INSERT OR IGNORE INTO temp.derived_indicators SELECT indicator_id FROM kpis "
        f"WHERE url IN {in_urls} AND indicator_id IS NOT NULL",
        [urls],
    )
    # Pages deleted since the last refresh: the indicators they were in.
    conn.execute(
        "INSERT OR IGNORE INTO temp.derived_indicators SELECT indicator_id FROM derived_pending "
        "WHERE indicator_id IS NOT NULL"
    )
    digests = _add_indicators(conn, _keys(matches))
    wanted = sorted(set(digests.values()))
    ids = dict(
        conn.execute(
            "SELECT key, id FROM indicators WHERE key IN (SELECT value FROM json_each(?))",
            [json.dumps(wanted)],
        ).fetchall()
    )
    _link_pages(conn, matches, digests, ids)
    conn.executemany(
        "INSERT OR IGNORE INTO temp.derived_indicators VALUES (?)", [(i,) for i in ids.values()]
    )
    touched = "(SELECT id FROM temp.derived_indicators)"
    conn.execute("DROP TABLE IF EXISTS temp.derived_measures")
    conn.execute(
        "CREATE TABLE temp.derived_measures AS SELECT DISTINCT measure_id AS id FROM indicators "
        f"WHERE id IN {touched} AND measure_id IS NOT NULL"
    )
    # An indicator no scoped page is in any more keeps its measure (both are keyed by the same
    # name and unit keys); only the matched ones, whose keys are at hand, are set again.
    conn.execute(
        f"UPDATE indicators SET measure_id = NULL WHERE id IN {touched} "
        "AND key IN (SELECT key FROM temp.series_keys)"
    )
    dropped = (
        "(SELECT t.id FROM temp.derived_indicators t WHERE NOT EXISTS "
        "(SELECT 1 FROM kpis k WHERE k.indicator_id = t.id))"
    )
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'observations'").fetchone():
        conn.execute(f"UPDATE observations SET indicator_id = NULL WHERE indicator_id IN {dropped}")
    conn.execute(f"DELETE FROM indicators WHERE id IN {dropped}")
    conn.execute(_INDICATOR_FACTS + f" WHERE id IN {touched}")
    conn.execute(_ADD_MEASURES.format(where=f"id IN {touched} AND"))
    conn.execute(_SET_MEASURE + f" AND id IN {touched}")
    conn.execute(
        "INSERT INTO temp.derived_measures SELECT DISTINCT measure_id FROM indicators "
        f"WHERE id IN {touched} AND measure_id IS NOT NULL"
    )
    measures = "(SELECT id FROM temp.derived_measures)"
    conn.execute(
        f"DELETE FROM measures WHERE id IN {measures} AND NOT EXISTS "
        "(SELECT 1 FROM indicators i WHERE i.measure_id = measures.id)"
    )
    conn.execute(_MEASURE_FACTS + f" WHERE id IN {measures}")
    conn.execute("DROP TABLE temp.derived_indicators")
    conn.execute("DROP TABLE temp.derived_measures")
    conn.execute("DROP TABLE temp.series_keys")


# New measures in the order of their matching keys, as ids were given before keys were digests.
_ADD_MEASURES = """
INSERT INTO measures (key)
SELECT key FROM (SELECT DISTINCT s.measure_key AS key, s.measure_text AS text
  FROM indicators JOIN temp.series_keys s ON s.key = indicators.key
  WHERE {where} s.measure_key IS NOT NULL)
ORDER BY text LIMIT -1
ON CONFLICT (key) DO NOTHING"""
_SET_MEASURE = """
UPDATE indicators SET measure_id = (SELECT m.id FROM temp.series_keys s
  JOIN measures m ON m.key = s.measure_key WHERE s.key = indicators.key)
WHERE key IN (SELECT key FROM temp.series_keys)"""

# The most common printed name and unit stand for the group (ties: the shortest, then first).
_INDICATOR_FACTS = """
UPDATE indicators SET
  name = (SELECT coalesce(k.name, k.title) AS n FROM kpis k WHERE k.indicator_id = indicators.id
          AND n IS NOT NULL GROUP BY n ORDER BY count(*) DESC, length(n), n LIMIT 1),
  unit = (SELECT k.unit FROM kpis k WHERE k.indicator_id = indicators.id AND k.unit IS NOT NULL
          GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1),
  match_methods = (SELECT group_concat(method, ',') FROM (SELECT DISTINCT k.indicator_match
          AS method FROM kpis k WHERE k.indicator_id = indicators.id ORDER BY 1)),
  first_fiscal_year = (SELECT min(k.fiscal_year) FROM kpis k WHERE k.indicator_id = indicators.id),
  last_fiscal_year = (SELECT max(k.fiscal_year) FROM kpis k WHERE k.indicator_id = indicators.id),
  pages = (SELECT count(*) FROM kpis k WHERE k.indicator_id = indicators.id),
  pids = (SELECT count(DISTINCT k.pid) FROM kpis k WHERE k.indicator_id = indicators.id)
"""

_MEASURE_FACTS = """
UPDATE measures SET
  name = (SELECT i.name FROM indicators i WHERE i.measure_id = measures.id
          GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1),
  unit = (SELECT i.unit FROM indicators i WHERE i.measure_id = measures.id AND i.unit IS NOT NULL
          GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1),
  agencies = (SELECT count(DISTINCT i.agency_code) FROM indicators i
              WHERE i.measure_id = measures.id),
  indicators = (SELECT count(*) FROM indicators i WHERE i.measure_id = measures.id),
  first_fiscal_year = (SELECT min(i.first_fiscal_year) FROM indicators i
                       WHERE i.measure_id = measures.id),
  last_fiscal_year = (SELECT max(i.last_fiscal_year) FROM indicators i
                      WHERE i.measure_id = measures.id)
"""
