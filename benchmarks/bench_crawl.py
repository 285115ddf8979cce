"""Crawl 2,000 pages from the replay server across 4 hosts and compare with the politeness floor.

The floor is the least time a polite crawl can take: the busiest host's requests × the delay
(robots.txt included). The delay runs from the end of a response to the next request, so each
request's own response time (the injected latency at least) comes on top. Prints wall time,
wall / floor (aim ≤ 1.05) and peak RSS, and merges ``crawl_wall_over_floor`` and
``crawl_peak_rss_mb`` into ``benchmarks/results.json``.

    python benchmarks/bench_crawl.py [--pages 2000] [--delay 0.1] [--latency-ms 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from kpi_archive.crawl import CrawlOptions, crawl

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "kpi"
RESULTS = ROOT / "benchmarks" / "results.json"
HOSTS = ("dp.bangkok.go.th", "dp1.bangkok.go.th", "dp2.bangkok.go.th", "monitor.bangkok.go.th")


def make_site(root: Path, pages: int) -> list[str]:
    """Write ``pages`` KPI pages spread over HOSTS, each a fixture body with its own pid."""
    bodies = []
    for path in sorted(FIXTURES.glob("*.html")):
        pid = path.name.split("_", 1)[1].split(".", 1)[0]
        bodies.append((pid, path.read_bytes()))
    urls = []
    for n in range(pages):
        host = HOSTS[n % len(HOSTS)]
        old_pid, body = bodies[n % len(bodies)]
        pid = f"{5001 + n % 50:04d}-{n:04d}"
        target = root / host / "mobile" / f"mykpi.php?pid={pid}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body.replace(old_pid.encode(), pid.encode()))
        urls.append(f"http://{host}/mobile/mykpi.php?pid={pid}")
    return urls


def start_replay(root: Path, latency_ms: float) -> tuple[subprocess.Popen[str], str]:
    """Run ``kpi-archive replay`` in its own process; return it and its base URL."""
    command = [str(Path(sys.executable).parent / "kpi-archive"), "replay", str(root),
               "--port", "0", "--latency", str(latency_ms)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    banner = process.stdout.readline()
    process.stdout.readline()
    return process, banner.split(" on ", 1)[1].split(" ", 1)[0]


def merge_results(values: dict[str, float]) -> None:
    """Update some keys of benchmarks/results.json, keeping the others."""
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results.update(values)
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    tmp.replace(RESULTS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--delay", type=float, default=0.1)
    parser.add_argument("--latency-ms", type=float, default=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        urls = make_site(site, args.pages)
        process, base = start_replay(site, args.latency_ms)
        try:
            options = CrawlOptions(
                seeds=urls,
                host_map={host: f"{base}/{host}" for host in HOSTS},
                delay=args.delay,
                concurrency=len(HOSTS),
                max_depth=0,
            )
            started = time.monotonic()
            summary = crawl(Path(tmp) / "kpi.db", options)
            wall = time.monotonic() - started
        finally:
            process.terminate()
            process.wait()
            if process.stdout is not None:
                process.stdout.close()
    per_host = Counter(urlsplit(u).hostname for u in urls)
    requests = max(per_host.values()) + 1  # + robots.txt
    floor = requests * args.delay
    # The delay runs from the end of one response to the start of the next, so each request
    # also costs its own response time: the least the injected latency alone adds.
    floor_with_latency = requests * (args.delay + args.latency_ms / 1000)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(summary.line())
    print(
        f"crawl: {args.pages} pages, {len(HOSTS)} hosts, delay {args.delay:g} s, latency "
        f"{args.latency_ms:g} ms: wall {wall:.1f} s, floor {floor:.1f} s, "
        f"wall/floor {wall / floor:.3f} (over floor + latency {wall / floor_with_latency:.3f}), "
        f"peak RSS {rss_mb:.0f} MB"
    )
    merge_results(
        {"crawl_wall_over_floor": round(wall / floor, 3), "crawl_peak_rss_mb": round(rss_mb, 1)}
    )


if __name__ == "__main__":
    main()
