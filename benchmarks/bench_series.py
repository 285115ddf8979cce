"""What the derived tables (indicators, measures, observations) add to a load, as ratios.

    python benchmarks/bench_series.py [--pages 2000]

Saves ``pages`` KPI pages from 50 districts, two versions each, with ``archive.save_many``, then
times ``archive.refresh_derived`` on the result (the first refresh builds everything) and again
after nothing changed (what a nightly crawl with few changes pays). Prints JSON:

- ``first_refresh_over_load``: first refresh time / load time;
- ``idle_refresh_over_load``: second refresh time / load time;
- ``indicators``, ``measures``, ``observations``: rows built.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from archive_factories import JUNE, MARCH, response, seed_kpi  # noqa: E402

import archive  # noqa: E402


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = archive.open_db(Path(tmp) / "bench.db")
        pairs = []
        for i in range(args.pages):
            pid = f"{5001 + i % 50}-{i:04d}"
            url = f"http://monitor.bangkok.go.th/mobile/mykpi.php?pid={pid}"
            title = f"{i % 40}. ร้อยละความสำเร็จของงาน {i % 37} ของเขต"
            record = seed_kpi(url=url, pid=pid, title=title, fiscal_year=2560 + i % 7)
            pairs.append((response(url, f"<html>{i}</html>".encode(), at=MARCH), record))
            later = record.model_copy(update={"target_value": 80.0})
            pairs.append((response(url, f"<html>{i} v2</html>".encode(), at=JUNE), later))
        started = time.perf_counter()
        archive.save_many(db, pairs)
        load = time.perf_counter() - started
        started = time.perf_counter()
        archive.refresh_derived(db)
        first = time.perf_counter() - started
        started = time.perf_counter()
        archive.refresh_derived(db)
        idle = time.perf_counter() - started
        figures = {
            "pages": args.pages,
            "first_refresh_over_load": round(first / load, 3),
            "idle_refresh_over_load": round(idle / load, 3),
            "indicators": db.table("indicators").count,
            "measures": db.table("measures").count,
            "observations": db.table("observations").count,
        }
        db.close()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
