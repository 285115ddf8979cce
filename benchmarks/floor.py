"""The write floor: the least this machine needs to store the archive's writes, with stdlib sqlite3.

    python benchmarks/floor.py [--pages 2000] [--synth benchmarks/.synth]

A minimal hand-written schema receives, per page, the same writes the archive makes: a page row,
a zstd-compressed snapshot (level 3, as ``archive.save``) keyed by its SHA-256, a capture, a KPI
row (typed fields and texts), its report rows (~4) and quarter rows (4), and a version row naming
the changed fields; WAL, ``synchronous=NORMAL``, one transaction per 500 pages (``save_many``'s
batch). Trigram FTS5 over the KPI texts and the reports is rebuilt once at the end. Agency
reports write their entries' reports and quarters. The records are parsed before the timer (parse
cost is the parse benchmark's), so the figure is the storage floor any archive code is held to:
``pages_per_s`` and ``bytes_per_1000_pages``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zstandard

BATCH = 500  # pages a transaction, as archive.save_many
SCHEMA = """
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE pages (url TEXT PRIMARY KEY, kind TEXT, snapshot_id INTEGER, first_seen TEXT,
  last_seen TEXT);
CREATE TABLE snapshots (id INTEGER PRIMARY KEY, sha256 BLOB UNIQUE, status INTEGER,
  content_type TEXT, body BLOB);
CREATE TABLE captures (id INTEGER PRIMARY KEY, url TEXT, snapshot_id INTEGER, fetched_at TEXT);
CREATE TABLE kpis (url TEXT PRIMARY KEY, pid TEXT, kind TEXT, title TEXT, fiscal_year INTEGER,
  unit TEXT, target_text TEXT, target_value REAL, result_text TEXT, result_value REAL,
  kpi_type TEXT, kpi_level TEXT, definition TEXT, calculation TEXT, data_sources TEXT,
  summary TEXT);
CREATE TABLE reports (id INTEGER PRIMARY KEY, url TEXT, entry INTEGER, quarter INTEGER,
  seq INTEGER, date TEXT, text TEXT);
CREATE TABLE quarters (url TEXT, entry INTEGER, quarter INTEGER, result REAL, assessment REAL,
  score_2_1 REAL, score_2_2 REAL, PRIMARY KEY (url, entry, quarter));
CREATE TABLE versions (id INTEGER PRIMARY KEY, url TEXT, snapshot_id INTEGER, at TEXT,
  changed TEXT);
CREATE INDEX reports_url ON reports (url);
CREATE VIRTUAL TABLE kpis_fts USING fts5 (title, definition, calculation, data_sources,
  content='kpis', tokenize='trigram');
CREATE VIRTUAL TABLE reports_fts USING fts5 (text, content='reports', tokenize='trigram');
"""
KPI_FIELDS = ("pid", "title", "fiscal_year", "unit", "target_text", "target_value",
              "result_text", "result_value", "kpi_type", "kpi_level", "definition",
              "calculation", "data_sources", "summary")  # fmt: skip


@dataclass(frozen=True)
class FloorResult:
    pages: int
    seconds: float
    bytes: int

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.seconds

    @property
    def bytes_per_1000_pages(self) -> float:
        return self.bytes / self.pages * 1000


Item = tuple[str, bytes, str, str, Any]  # url, body, content type, fetched_at, record or None


def _rows(
    url: str, record: Any
) -> tuple[tuple[Any, ...], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(kpi row, report rows, quarter rows) of one parsed record."""
    kind = record.page_kind
    if kind == "department":
        kpi = (url, None, kind, record.heading, record.fiscal_year) + (None,) * 11
        sources = [(n, e) for n, e in enumerate(record.entries, start=1)]
    else:
        kpi = (url, record.pid, kind, *(getattr(record, f) for f in KPI_FIELDS[1:]))
        sources = [(0, record)]
    reports = [
        (url, n, r.quarter, r.seq, r.date.isoformat() if r.date else None, r.text)
        for n, source in sources
        for r in source.reports
    ]
    quarters = [
        (url, n, q.quarter, q.result, q.assessment, q.score_2_1, q.score_2_2)
        for n, source in sources
        for q in source.quarters
    ]
    return kpi, reports, quarters


class Floor:
    """The floor archive at ``path``: ``add`` a batch of pages per transaction, then ``finish``."""

    def __init__(self, path: Path, *, page_size: int | None = None) -> None:
        path.unlink(missing_ok=True)
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None)
        if page_size is not None:  # SQLite's default (4 KiB) otherwise, as the floor
            self.conn.execute(f"PRAGMA page_size = {int(page_size)}")
        self.conn.executescript(SCHEMA)
        self.compressor = zstandard.ZstdCompressor(level=3)
        self.pages = 0
        self.seconds = 0.0

    def add(self, items: Iterable[Item]) -> None:
        """Write one batch of pages in one transaction (timed)."""
        start = time.perf_counter()
        conn = self.conn
        conn.execute("BEGIN")
        for url, body, content_type, at, record in items:
            digest = hashlib.sha256(body).digest()
            found = conn.execute("SELECT id FROM snapshots WHERE sha256 = ?", (digest,)).fetchone()
            snapshot = (
                found[0]
                if found
                else conn.execute(
                    "INSERT INTO snapshots (sha256, status, content_type, body) "
                    "VALUES (?, 200, ?, ?)",
                    (digest, content_type, self.compressor.compress(body)),
                ).lastrowid
            )
            conn.execute(
                "INSERT INTO pages VALUES (?, ?, ?, ?, ?) ON CONFLICT (url) DO UPDATE SET "
                "snapshot_id = excluded.snapshot_id, last_seen = excluded.last_seen",
                (url, record.page_kind if record else None, snapshot, at, at),
            )
            conn.execute(
                "INSERT INTO captures (url, snapshot_id, fetched_at) VALUES (?, ?, ?)",
                (url, snapshot, at),
            )
            if record is not None:
                kpi, reports, quarters = _rows(url, record)
                conn.execute(f"INSERT OR REPLACE INTO kpis VALUES ({', '.join('?' * 16)})", kpi)
                conn.executemany(
                    "INSERT INTO reports (url, entry, quarter, seq, date, text) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    reports,
                )
                conn.executemany(
                    "INSERT OR REPLACE INTO quarters VALUES (?, ?, ?, ?, ?, ?, ?)", quarters
                )
            conn.execute(
                "INSERT INTO versions (url, snapshot_id, at, changed) VALUES (?, ?, ?, ?)",
                (url, snapshot, at, json.dumps(["*"])),
            )
            self.pages += 1
        conn.execute("COMMIT")
        self.seconds += time.perf_counter() - start

    def finish(self, *, fts: bool = True) -> FloorResult:
        """Rebuild the trigram indexes (timed), checkpoint, and measure the file."""
        start = time.perf_counter()
        if fts:
            for table in ("kpis_fts", "reports_fts"):
                self.conn.execute(f"INSERT INTO {table} ({table}) VALUES ('rebuild')")
        self.seconds += time.perf_counter() - start
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.close()
        return FloorResult(self.pages, self.seconds, self.path.stat().st_size)


def main() -> None:
    import sys
    import tempfile

    sys.path[:0] = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).parent)]
    import synth
    from bench import parsed_night

    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--pages", type=int, default=2000)
    options.add_argument("--synth", type=Path, default=synth.DEFAULT_OUT)
    args = options.parse_args()
    if not (args.synth / "seeds.txt").exists():
        synth.generate(args.synth, args.pages, args.pages // 15, args.pages // 60, 3)
    with tempfile.TemporaryDirectory() as tmp:
        for fts in (True, False):
            floor = Floor(Path(tmp) / "floor.db")
            for chunk in parsed_night(args.synth, 1):
                floor.add(
                    (
                        url,
                        body,
                        ctype,
                        "2024-01-01T00:00:00+00:00",
                        None if isinstance(rec, Exception) else rec,
                    )
                    for url, body, ctype, rec in chunk
                )
            result = floor.finish(fts=fts)
            print(
                f"write floor ({'with' if fts else 'without'} FTS): {result.pages:,} pages, "
                f"{result.pages_per_s:,.0f} pages/s, {result.bytes_per_1000_pages / 1e6:.1f} MB "
                "per 1,000 pages"
            )


if __name__ == "__main__":
    main()
