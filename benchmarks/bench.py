"""``make bench``: the BMA-scale figures of issue #12, each a ratio to a baseline measured in the
same run, printed as one table and written to benchmarks/results.json.

    python benchmarks/bench.py [--pages 30000] [--only parse,store,crawl,import,reparse,serve]

Stages (each merges its keys into results.json as soon as it ends, so a long run keeps what it
measured):

- ``parse``: ``bench_parse.py`` (the parsers engineer's) on the seed page: vs bs4, vs bare lexbor.
- ``store``: the synthetic site (``synth.py``) parsed once, chunk by chunk (parse-only wall), each
  chunk written both to the write floor (``floor.py``) and through ``archive.save_many``, then the
  load's ``finish`` (agency names, derived tables, statistics: deferred index work counts, as the
  floor's FTS rebuild does); then night 2 (5 % changed) the same way; the finished archive's bytes
  against the floor's. The aims use the issue's floor (SQLite's 4 KiB pages); the same floor at
  the archive's 16 KiB pages is told beside them (``floor_16k_pages_per_s``,
  ``ingest_vs_floor_16k``, ``archive_vs_floor_16k_bytes``): the share of that page size's gain
  the floor gets too.
- ``import``: ``kpi-archive export-warc`` of night 1's archive (written by ``store``),
  ``kpi-archive import`` of it into a new file: wall against parse-only wall + floor wall, peak RSS.
- ``reparse``: ``kpi-archive reparse`` of that file: the same bound, peak RSS.
- ``serve``: ``kpi-archive serve`` on it: p50 / p95 of 10 requests (after 2 warm-ups) per URL.
- ``crawl``: ``kpi-archive crawl`` of 2,000 pages over 4 hosts from ``kpi-archive replay`` (delay
  0.1 s, 2 ms latency) against the politeness floor; then the whole site at ``--delay 0`` (peak
  RSS), then the same crawl again, unchanged (bodies downloaded, new snapshots). Last, as the
  slowest.

Only public entry points are used, and only through the adapter functions below (``cli``,
``save_pages``, ``finish_load``, ``fetch_counts``): when a command or ``save_many`` moves, change
them alone. Process timing is ``harness.py`` (peak RSS summed over each command's processes);
the aims and the table are ``report.py``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

import httpx  # noqa: E402
import synth  # noqa: E402
from floor import BATCH, Floor  # noqa: E402
from harness import Run, free_port, timed, wait_http  # noqa: E402
from report import SERVE_AIM_MS, machine, streamed, table  # noqa: E402

RESULTS = HERE / "results.json"
WORK = HERE / ".synth"
STAGES = ("parse", "store", "import", "reparse", "serve", "crawl")
CRAWL_PAGES, CRAWL_DELAY, CRAWL_LATENCY_MS = 2000, 0.1, 2.0
WARMUPS, SAMPLES = 2, 10
STAGE_TIMEOUT = 3600.0
SERVE_DB: Path | None = None
# Night 1 two days ago, so "what changed in the last 7 days" finds night 2 when served.
FETCHED_AT = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=2)


# --- adapters: the only code that knows the project's entry points ---------------------------


def kpi_archive() -> str:
    return str(Path(sys.executable).parent / "kpi-archive")


def cli(*args: str, timeout: float | None = None) -> Run:
    """Run ``kpi-archive ARGS`` (wall, peak RSS of its process tree); raise if it fails."""
    return timed([kpi_archive(), *args], timeout=timeout)


def parse(body: bytes, url: str, content_type: str) -> Any:
    """bytes → record, or the ParseError (kept as the archive keeps it)."""
    from kpi_archive.errors import ParseError
    from parsers import parse_page

    try:
        return parse_page(body, url, {"Content-Type": content_type})
    except ParseError as exc:
        return exc


def save_pages(db: Any, items: list[tuple[Any, Any]]) -> None:
    """``archive.save_many`` of (FetchResult, record) pairs built before the call, with the
    processes ``KPI_ARCHIVE_JOBS`` sets, as the CLI's commands."""
    import archive
    from kpi_archive.config import Settings

    archive.save_many(db, items, jobs=Settings.from_env().jobs)


def finish_load(db: Any) -> None:
    """What every crawl and import ends with (``load.finish``): agency names, derived tables;
    with the processes ``KPI_ARCHIVE_JOBS`` sets, as the CLI's commands."""
    from kpi_archive.config import Settings
    from kpi_archive.load import finish

    finish(db, jobs=Settings.from_env().jobs)


def fetch_results(
    pages: list[tuple[str, bytes, str, Any]], at: dt.datetime
) -> list[tuple[Any, Any]]:
    from scraper.models import FetchResult

    return [
        (
            FetchResult(
                url=url,
                final_url=url,
                status=200,
                fetched_at=at,
                body=body,
                headers={"Content-Type": content_type},
            ),
            record,
        )
        for url, body, content_type, record in pages
    ]


def open_archive(path: Path) -> Any:
    import archive

    return archive.open_db(path)


def fetch_counts(path: Path) -> dict[str, int]:
    """Snapshots stored, and HTTP statuses of the last crawl run (from its fetch log)."""
    conn = sqlite3.connect(path)
    try:
        run = conn.execute("SELECT max(id) FROM runs").fetchone()[0]
        statuses = dict(
            conn.execute(
                "SELECT status, count(*) FROM fetch_log "
                "WHERE run_id = ? AND url NOT LIKE '%/robots.txt' GROUP BY status",
                [run],
            ).fetchall()
        )
        snapshots = conn.execute("SELECT count(*) FROM snapshots").fetchone()[0]
    finally:
        conn.close()
    return {
        "snapshots": snapshots,
        "ok_200": statuses.get(200, 0),
        "not_modified": statuses.get(304, 0),
    }


# --- the recorded site in its own process ---------------------------------------------------


class Replay:
    """``kpi-archive replay`` of the synthetic site in its own process."""

    def __init__(self, site: Path, latency_ms: float = 0, overlays: tuple[Path, ...] = ()) -> None:
        self.port = free_port()
        extra = [arg for overlay in overlays for arg in ("--overlay", str(overlay))]
        self.process = subprocess.Popen(
            [
                kpi_archive(),
                "replay",
                str(site),
                "--port",
                str(self.port),
                "--latency",
                str(latency_ms),
                *extra,
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_http(f"http://127.0.0.1:{self.port}/dp.bangkok.go.th/robots.txt", self.process)

    def map_hosts(self) -> list[str]:
        base = f"http://127.0.0.1:{self.port}"
        return [arg for host in synth.HOSTS for arg in ("--map-host", f"{host}={base}/{host}")]

    def close(self) -> None:
        self.process.terminate()
        self.process.wait()


# --- stages -----------------------------------------------------------------------------------


def parsed_night(out: Path, night: int) -> Iterator[list[tuple[str, bytes, str, Any]]]:
    """The night's pages in chunks of BATCH, parsed; ``parse_seconds`` collects the parse time."""
    chunk: list[tuple[str, bytes, str, bytes]] = []
    pages = synth.site_pages(out, night)
    while True:
        chunk = [page for _, page in zip(range(BATCH), pages, strict=False)]
        if not chunk:
            return
        start = time.perf_counter()
        parsed = [(url, body, ctype, parse(body, url, ctype)) for url, body, ctype in chunk]
        PARSE_SECONDS[night] = PARSE_SECONDS.get(night, 0.0) + time.perf_counter() - start
        yield parsed


PARSE_SECONDS: dict[int, float] = {}


def stage_parse(figures: dict[str, Any]) -> None:
    subprocess.run([sys.executable, str(HERE / "bench_parse.py"), "--seconds", "3"], check=True)
    measured = json.loads(RESULTS.read_text())
    for key in (
        "parse_pages_per_s",
        "parse_vs_bs4",
        "parse_share_of_bare_lexbor",
        "parse_ceiling_share_of_bare_lexbor",
        "parse_bs4_pages_per_s",
        "bare_lexbor_pages_per_s",
    ):
        figures[key] = measured[key]


def stage_store(figures: dict[str, Any], work: Path) -> None:
    """Night 1 into the floor and through ``save_many`` + ``finish`` (what a crawl or an import
    leaves: the archive a reader gets), then night 2 the same way."""
    from archive import PAGE_SIZE

    floor = Floor(work / "floor.db")
    # The same floor with the archive's own page size (16 KiB; the floor keeps SQLite's
    # 4 KiB): told beside the aims, as the share of the page size's gain the floor gets too.
    floor_pages = Floor(work / "floor-pages.db", page_size=PAGE_SIZE)
    ingest_path = work / "ingest.db"
    ingest_path.unlink(missing_ok=True)
    db = open_archive(ingest_path)
    save_s, pages = 0.0, 0
    for chunk in parsed_night(work, 1):
        at = FETCHED_AT
        records = [None if isinstance(rec, Exception) else rec for *_, rec in chunk]
        for each in (floor, floor_pages):
            each.add(
                (url, body, ctype, at.isoformat(), record)
                for (url, body, ctype, _), record in zip(chunk, records, strict=True)
            )
        items = fetch_results(chunk, at)
        start = time.perf_counter()
        save_pages(db, items)
        save_s += time.perf_counter() - start
        pages += len(chunk)
    start = time.perf_counter()
    finish_load(db)
    finish_s = time.perf_counter() - start
    result, same_pages = floor.finish(), floor_pages.finish()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    archive_bytes = ingest_path.stat().st_size
    cli("export-warc", str(ingest_path), str(work / "night1.warc.gz"))  # import's input
    resave_s = 0.0
    for chunk in parsed_night(work, 2):
        items = fetch_results(chunk, FETCHED_AT + dt.timedelta(days=1))
        start = time.perf_counter()
        save_pages(db, items)
        resave_s += time.perf_counter() - start
    start = time.perf_counter()
    finish_load(db)
    resave_s += time.perf_counter() - start
    db.close()
    ingest_s = save_s + finish_s
    figures.update(
        pages=pages,
        parse_only_s=round(PARSE_SECONDS[1], 2),
        write_floor_pages_per_s=round(result.pages_per_s, 1),
        write_floor_s=round(result.seconds, 2),
        write_floor_bytes_per_1000_pages=round(result.bytes_per_1000_pages),
        ingest_pages_per_s=round(pages / ingest_s, 1),
        ingest_save_many_s=round(save_s, 2),
        ingest_finish_s=round(finish_s, 2),
        ingest_vs_floor=round(pages / ingest_s / result.pages_per_s, 3),
        archive_bytes_per_1000_pages=round(archive_bytes / pages * 1000),
        archive_vs_floor_bytes=round(archive_bytes / result.bytes, 2),
        floor_16k_pages_per_s=round(same_pages.pages_per_s, 1),
        ingest_vs_floor_16k=round(pages / ingest_s / same_pages.pages_per_s, 3),
        archive_vs_floor_16k_bytes=round(archive_bytes / same_pages.bytes, 2),
        archive_bytes=archive_bytes,
        nightly_resave_pages_per_s=round(pages / resave_s, 1),
    )


def stage_crawl(figures: dict[str, Any], work: Path) -> None:
    urls = (work / "seeds.txt").read_text().split()
    few = [u for u in urls if "mykpi.php" in u][:CRAWL_PAGES]
    (work / "seeds-few.txt").write_text("\n".join(few) + "\n")
    replay = Replay(work / "site", latency_ms=CRAWL_LATENCY_MS)
    try:
        db = work / "crawl-few.db"
        db.unlink(missing_ok=True)
        run = cli(
            "crawl",
            str(db),
            "--seeds-file",
            str(work / "seeds-few.txt"),
            "--max-depth",
            "0",
            "--delay",
            str(CRAWL_DELAY),
            "--quiet",
            "--log-json",
            *replay.map_hosts(),
        )
        summary = json.loads(run.stdout.strip().splitlines()[-1])
    finally:
        replay.close()
    per_host = Counter(urlsplit(u).hostname for u in few)
    floor_s = (max(per_host.values()) + 1) * CRAWL_DELAY
    figures.update(
        crawl_pages=len(few),
        crawl_floor_s=round(floor_s, 1),
        crawl_wall_s=round(summary["seconds"], 1),
        crawl_wall_over_floor=round(summary["seconds"] / floor_s, 3),
    )
    merge(figures)  # the whole-site crawl below is the slowest step of the bench
    replay = Replay(work / "site")
    try:
        db = work / "crawl.db"
        db.unlink(missing_ok=True)
        command = (
            "crawl",
            str(db),
            "--seeds-file",
            str(work / "seeds.txt"),
            "--max-depth",
            "0",
            "--delay",
            "0",
            "--quiet",
            "--log-json",
            *replay.map_hosts(),
        )
        first = cli(*command)
        before = fetch_counts(db)
        again = cli(*command)
        after = fetch_counts(db)
    finally:
        replay.close()
    figures.update(
        crawl_all_s=round(first.seconds, 1),
        crawl_peak_rss_mb=round(first.peak_rss_mb, 1),
        recrawl_s=round(again.seconds, 1),
        recrawl_bodies_downloaded=after["ok_200"],
        recrawl_new_snapshots=after["snapshots"] - before["snapshots"],
    )


def stage_import(figures: dict[str, Any], work: Path) -> None:
    db = work / "import.db"
    db.unlink(missing_ok=True)
    run = cli("import", str(db), str(work / "night1.warc.gz"), timeout=STAGE_TIMEOUT)
    against_bound(figures, "import", "import_s", run)


def stage_reparse(figures: dict[str, Any], work: Path) -> None:
    db = work / "reparse.db"
    shutil.copy(work / "import.db", db)
    run = cli("reparse", str(db), timeout=STAGE_TIMEOUT)
    if run.stopped:  # rolled back: serve the imported archive instead
        db.unlink()
    against_bound(figures, "reparse", "reparse_30k_s", run)


def against_bound(figures: dict[str, Any], name: str, seconds_key: str, run: Run) -> None:
    """A command's wall, peak RSS and wall over its bound (parse-only wall + floor wall)."""
    bound = figures["parse_only_s"] + figures["write_floor_s"]
    figures[f"{name}_stopped"] = run.stopped
    figures[seconds_key] = round(run.seconds, 1)
    figures[f"{name}_peak_rss_mb"] = round(run.peak_rss_mb, 1)
    figures[f"{name}_vs_bound"] = round(run.seconds / bound, 2)


def serve_urls(base: str, name: str, conn: sqlite3.Connection) -> list[str]:
    """Front page, tables (kpis with its facets), Thai searches, every canned query with
    realistic parameters, an indicator (KPI row) page, a row page, the full CSV stream."""
    from datasette.utils import tilde_encode

    pid, url = conn.execute(
        "SELECT pid, url FROM kpis WHERE pid IS NOT NULL ORDER BY url LIMIT 1 "
        "OFFSET (SELECT count(*) / 2 FROM kpis WHERE pid IS NOT NULL)"
    ).fetchone()
    page = conn.execute("SELECT url FROM pages ORDER BY url LIMIT 1 OFFSET 11").fetchone()[0]
    agency = pid.split("-")[0]
    today = dt.date.today().isoformat()
    values = {
        "pid": pid,
        "kpi": pid,
        "url": url,
        "q": "ดำเนินการ",
        "term": "ฝุ่น",
        "days": "7",
        "agency": agency,
        "fiscal_year": "2566",
        "date": today,
    }
    paths = [
        "/",
        f"/{name}",
        f"/{name}/kpis",
        f"/{name}/kpis?_search={quote('ร้อยละ')}",
        f"/{name}/reports?_search={quote('ดำเนินการ')}",
        f"/{name}/kpis/{tilde_encode(url)}",
        f"/{name}/pages/{tilde_encode(page)}",
        f"/{name}/kpis.csv?_stream=on&_size=max",
    ]
    listing = httpx.get(f"{base}/{name}.json", timeout=120).json()
    for listed in listing.get("tables", []):
        if not listed.get("hidden") and f"/{name}/{listed['name']}" not in paths:
            paths.append(f"/{name}/{listed['name']}")
    metadata = httpx.get(f"{base}/-/metadata.json", timeout=60).json()
    queries = metadata.get("databases", {}).get(name, {}).get("queries", {})
    for query, spec in queries.items():
        sql = re.sub(r"'[^']*'", "''", spec.get("sql", ""))
        params = dict.fromkeys(re.findall(r"(?<![:\w]):(\w+)", sql))
        pairs = "&".join(f"{p}={quote(values.get(p, pid))}" for p in params)
        paths.append(f"/{name}/{query}" + (f"?{pairs}" if pairs else ""))
    paths.append("/-/dashboards/kpi-dashboard")
    return paths


def stage_serve(figures: dict[str, Any], work: Path) -> None:
    db = SERVE_DB or (work / "reparse.db" if (work / "reparse.db").exists() else work / "import.db")
    port = free_port()
    process = subprocess.Popen(
        [kpi_archive(), "serve", str(db), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    p50: dict[str, float] = {}
    p95: dict[str, float] = {}
    status: dict[str, int] = {}
    try:
        wait_http(base + "/-/versions.json", process)
        conn = sqlite3.connect(db)
        paths = serve_urls(base, db.stem, conn)
        conn.close()
        with httpx.Client(base_url=base, timeout=120, follow_redirects=True) as client:
            for path in paths:
                times = []
                for n in range(WARMUPS + SAMPLES):
                    start = time.perf_counter()
                    response = client.get(path)
                    response.read()
                    if n >= WARMUPS:
                        times.append((time.perf_counter() - start) * 1000)
                status[path] = response.status_code
                p50[path] = round(statistics.median(times), 1)
                p95[path] = round(statistics.quantiles(times, n=20, method="inclusive")[18], 1)
    finally:
        process.terminate()
        process.wait()
    aimed = [path for path in p95 if not streamed(path)]
    figures.update(
        serve_p50_ms=p50,
        serve_p95_ms=p95,
        serve_status=status,
        serve_urls_p95_le_150ms=sum(p95[path] <= SERVE_AIM_MS for path in aimed),
        serve_urls=len(aimed),
    )


def merge(figures: dict[str, Any]) -> None:
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results.update(figures)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def main() -> None:
    global STAGE_TIMEOUT, SERVE_DB
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument(
        "--pages", type=int, default=30_000, help="KPI pages (+1/15 projects, +1/60 reports)"
    )
    options.add_argument("--only", default=",".join(STAGES), help="comma-separated stages")
    options.add_argument("--report", action="store_true", help="print the table of results.json")
    options.add_argument("--work", type=Path, default=WORK)
    options.add_argument("--serve-db", type=Path, help="serve this archive (default: the reparsed)")
    options.add_argument(
        "--stage-timeout",
        type=float,
        default=STAGE_TIMEOUT,
        help="stop import or reparse after this many seconds (figures become lower bounds)",
    )
    options.add_argument(
        "--keep-site", action="store_true", help="reuse an existing synthetic site"
    )
    args = options.parse_args()
    STAGE_TIMEOUT, SERVE_DB = args.stage_timeout, args.serve_db
    if args.report:
        print(table(json.loads(RESULTS.read_text())))
        return
    stages = args.only.split(",")
    figures: dict[str, Any] = {"machine": machine()}
    manifest_path = args.work / "manifest.json"
    fresh = manifest_path.exists() and json.loads(manifest_path.read_text())["kpi"] == args.pages
    if not (args.keep_site and fresh):
        synth.generate(args.work, args.pages, args.pages // 15, args.pages // 60, 3)
    if set(stages) & {"import", "reparse"} and "store" not in stages:
        previous = json.loads(RESULTS.read_text())
        urls = json.loads(manifest_path.read_text())["urls"]
        if previous.get("pages") != urls:  # the bound must come from the same site
            options.error(f"{RESULTS}: {previous.get('pages')} pages, not {urls}: run store too")
        figures.update({k: previous[k] for k in ("parse_only_s", "write_floor_s", "pages")})
    for stage in STAGES:
        if stage not in stages:
            continue
        started = time.perf_counter()
        if stage == "parse":
            stage_parse(figures)
        else:
            globals()[f"stage_{stage}"](figures, args.work)
        figures[f"{stage}_stage_s"] = round(time.perf_counter() - started, 1)
        print(f"[{stage} done in {figures[f'{stage}_stage_s']:.0f} s]", file=sys.stderr)
        merge(figures)
    print(table(figures))
    merge(figures)


if __name__ == "__main__":
    main()
