"""Archive benchmarks: ingest rate, reparse time, archive size; merged into results.json.

    python benchmarks/bench_archive.py [--pages 5000] [--copies 100]

- ``ingest_records_per_s``: pages saved per second through ``archive.save_many`` (one savepoint
  per page, a commit every 500 pages, trigram search in step at each commit). Each page is a
  fixture body under its own URL, made unique, so every save stores a new snapshot, record and
  version; the fixtures are parsed once before the timer (parse cost is ``bench_parse.py``'s).
  About 1 page in 25 is a fixture the parser rejects, saved as a parse error.
- ``ingest_records_per_s_one_commit_each``: the same through ``archive.save`` (what a crawl does).
- ``reparse_fixtures_x100_s``: ``kpi_archive.load.reparse`` over the fixture set saved 100 times.
- ``archive_bytes_per_1000_pages``: file size after ingest (WAL checkpointed), per 1,000 pages.
- ``segment_rows_per_s``: ``archive.refresh_search`` (PyThaiNLP newmm) rows per second.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "fixtures")]

import archive  # noqa: E402
from kpi_archive import load  # noqa: E402
from kpi_archive.errors import ParseError  # noqa: E402
from parsers import parse_page  # noqa: E402
from scraper.models import FetchResult  # noqa: E402

SEED_URL = "https://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2029"
RESULTS = ROOT / "benchmarks" / "results.json"


def fixture_pages() -> list[tuple[str, bytes]]:
    """(url, body) of every fixture page, URLs as recorded by the fixture maker."""
    from make_fixtures import KPI

    pages = []
    for name, url, *_ in KPI:
        url = SEED_URL if url == "seed" else url.split("#")[0]
        pages.append((url, (ROOT / "tests" / "fixtures" / name).read_bytes()))
    return pages


def synthetic(pages: list[tuple[str, bytes]], count: int) -> list[tuple[FetchResult, object]]:
    """``count`` new pages: fixture bodies under varied URLs, each body made unique."""
    parsed = []
    for url, body in pages:
        try:
            parsed.append((url, body, parse_page(body, url, {})))
        except ParseError as exc:
            parsed.append((url, body, exc))
    at = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    items = []
    for i in range(count):
        url, body, record = parsed[i % len(parsed)]
        varied = f"{url}&copy={i}"
        items.append(
            (
                FetchResult(
                    url=varied,
                    final_url=varied,
                    status=200,
                    fetched_at=at,
                    body=body + f"<!-- {i} -->".encode(),
                ),
                record,
            )
        )
    return items


def bench_ingest(items: list, folder: Path) -> tuple[float, float, float]:
    db = archive.open_db(folder / "ingest.db")
    start = time.perf_counter()
    outcomes = archive.save_many(db, items)
    rate = len(items) / (time.perf_counter() - start)
    assert all(o.new_snapshot for o in outcomes), "every benchmark page must be a new body"
    for table in ("kpis", "reports"):  # searchable as soon as save_many returns
        db.execute(f"INSERT INTO [{table}_fts] ([{table}_fts], rank) VALUES ('integrity-check', 1)")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = (folder / "ingest.db").stat().st_size / len(items) * 1000
    start = time.perf_counter()
    segmented = archive.refresh_search(db)
    segment_rate = segmented / (time.perf_counter() - start)
    db.close()
    return rate, size, segment_rate


def bench_single(items: list, folder: Path) -> float:
    db = archive.open_db(folder / "single.db")
    start = time.perf_counter()
    for response, record in items:
        archive.save(db, response, record)
    return len(items) / (time.perf_counter() - start)


def bench_reparse(pages: list[tuple[str, bytes]], copies: int, folder: Path) -> float:
    db = archive.open_db(folder / "reparse.db")
    archive.save_many(db, synthetic(pages, len(pages) * copies))
    start = time.perf_counter()
    load.reparse(db)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--copies", type=int, default=100)
    args = parser.parse_args()
    pages = fixture_pages()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        items = synthetic(pages, args.pages)
        errors = sum(isinstance(parsed, ParseError) for _, parsed in items)
        print(
            f"ingest: {len(items):,} new pages ({len(items) - errors:,} records, {errors:,} parse "
            "errors), parsed before the timer"
        )
        rate, size, segment_rate = bench_ingest(items, folder)
        single = bench_single(items[: args.pages // 5], folder)
        reparse_s = bench_reparse(pages, args.copies, folder)
    figures = {
        "ingest_records_per_s": round(rate),
        "ingest_records_per_s_one_commit_each": round(single),
        "reparse_fixtures_x100_s": round(reparse_s, 2),
        "archive_bytes_per_1000_pages": round(size),
        "segment_rows_per_s": round(segment_rate),
    }
    for key, value in figures.items():
        print(f"{key:40} {value:>12,}")
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results.update(figures)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
