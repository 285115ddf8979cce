"""The ``kpi-archive`` command: one thin click group, one verb per stage.

Commands call library functions; domain errors become ``click.ClickException`` here and nowhere
else.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from kpi_archive import __version__, config
from kpi_archive.errors import KpiArchiveError, ParseError
from kpi_archive.replay import FAULT_HELP

if TYPE_CHECKING:
    from kpi_archive.pipeline import PageEvent


def _default_db(
    *, must_exist: bool
) -> Callable[[click.Context, click.Parameter, str | None], Path]:
    """An argument callback: the archive path given, else ``KPI_ARCHIVE_DB`` (data/kpi.db)."""

    def resolve(ctx: click.Context, param: click.Parameter, value: str | None) -> Path:
        path = Path(value or config.get("db"))
        if must_exist and not path.is_file():
            raise click.BadParameter(f"{path}: no such archive file", ctx=ctx, param=param)
        return path

    return resolve


@click.group()
@click.version_option(__version__, prog_name="kpi-archive")
def cli() -> None:
    """Archive the Bangkok Metropolitan Administration's KPI pages: fetch, parse, keep, publish."""


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--url", help="The page's URL (picks the parser and resolves links); default: none.")
def parse(files: tuple[Path, ...], url: str | None) -> None:
    """Parse saved pages and print each record as one line of UTF-8 JSON."""
    from parsers import parse_page

    for path in files:
        try:
            body = path.read_bytes()
        except OSError as exc:
            _fail(f"{path}: cannot read: {exc.strerror}")
        try:
            record = parse_page(body, url=url)
        except ParseError as exc:
            _fail(f"{path}: not a BMA KPI page: {exc.reason}")
        click.echo(json.dumps(record.model_dump(mode="json"), ensure_ascii=False))


@cli.command()
@click.argument("db", required=False, callback=_default_db(must_exist=True))
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port", type=int, default=None, help="Port (default: KPI_ARCHIVE_SERVE_PORT, 8001)."
)
def serve(db: Path, host: str, port: int | None) -> None:
    """Publish an archive read-only with Datasette (search, facets, canned queries, feed)."""
    import archive
    from kpi_archive.publish.serve import serve as run_datasette

    try:
        archive.check_archive_file(db)
    except KpiArchiveError as exc:
        raise click.ClickException(str(exc)) from exc
    run_datasette(db, host=host, port=port)


@cli.command()
@click.argument("db", required=False, callback=_default_db(must_exist=True))
def reparse(db: Path) -> None:
    """Re-parse every stored snapshot with the current parser (no network) and rebuild tables."""
    import archive

    try:
        database = archive.open_db(db)
        counts = archive.reparse(database)
        archive.refresh_search(database)
        archive.refresh_derived(database)
    except KpiArchiveError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"Reparsed {counts.captures} captures: {counts.records} records, "
        f"{counts.changed} changed, {counts.errors} parse errors"
    )


@cli.command("import")
@click.argument("db", type=click.Path(dir_okay=False, path_type=Path))
@click.argument(
    "paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--url", help="URL of the page a saved HTML file holds (required for HTML files).")
def import_(db: Path, paths: tuple[Path, ...], url: str | None) -> None:
    """Load saved HTML pages or WARC files (.warc, .warc.gz) into the archive."""
    import archive
    from kpi_archive.errors import ConfigError

    try:
        database = archive.open_db(db)
        counts = archive.import_paths(database, paths, url=url)
        archive.refresh_search(database)
        archive.refresh_derived(database)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    except KpiArchiveError as exc:
        raise click.ClickException(str(exc)) from exc
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing"
    click.echo(f"Imported {sum(counts.values())} responses: {summary}")


@cli.command("export-warc")
@click.argument("db", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def export_warc(db: Path, out: Path) -> None:
    """Write every stored capture to a WARC file (OUT.warc.gz) for web-archive replay tools."""
    import archive

    try:
        count = archive.export_warc(archive.open_db(db), out)
    except KpiArchiveError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Wrote {count} WARC records to {out}")


@cli.command()
@click.argument("db", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--excel", is_flag=True, help="Write the CSV files with a BOM, so Excel reads Thai.")
def export(db: Path, outdir: Path, excel: bool) -> None:
    """Write a data release: CSV of every public table, the SQLite file, datapackage.json."""
    from kpi_archive.export import export as write_release

    try:
        counts = write_release(db, outdir, excel=excel)
    except KpiArchiveError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Wrote {len(counts)} tables ({sum(counts.values())} rows) to {outdir}")


@cli.command()
@click.argument("db", required=False, callback=_default_db(must_exist=False))
@click.option(
    "--seed",
    "seed_urls",
    multiple=True,
    metavar="URL",
    help="Start from URL (repeatable); default: the bundled list and agency reports.",
)
@click.option(
    "--seeds-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read seed URLs from FILE, one a line (# comments allowed).",
)
@click.option(
    "--map-host",
    multiple=True,
    metavar="HOST=BASE_URL",
    help="Send requests for HOST to BASE_URL; the archive keeps the real URLs.",
)
@click.option(
    "--delay",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="Seconds between requests to one host (default: KPI_ARCHIVE_HOST_DELAY, 1.0).",
)
@click.option(
    "--concurrency",
    metavar="N",
    type=click.IntRange(min=1),
    help="Hosts fetched in parallel, one request at a time each (default 4).",
)
@click.option(
    "--max-pages",
    metavar="N",
    type=click.IntRange(min=1),
    help="Fetch at most N pages; the rest stays queued for the next run.",
)
@click.option(
    "--max-depth",
    metavar="N",
    type=click.IntRange(min=0),
    help="Link hops followed from the seeds; 0 = the seeds only (default 2).",
)
@click.option(
    "--refresh-older-than",
    metavar="AGE",
    help="Skip pages fetched less than AGE ago (90, 30m, 12h, 2d, 1w).",
)
@click.option(
    "--agencies",
    metavar="CODES",
    help="Agency reports for these codes (5035,0411 or all; default all).",
)
@click.option(
    "--years", metavar="FROM-TO", help="Fiscal years (BE) of agency reports, e.g. 2564-2566."
)
@click.option(
    "--pid-range",
    "pid_ranges",
    multiple=True,
    metavar="PREFIX:FROM-TO",
    help="Enumerate KPI pids where no list links to them, e.g. 5001:0700-1100.",
)
@click.option("--ignore-robots", is_flag=True, help="Neither fetch nor obey robots.txt.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the summary line.")
@click.option("--verbose", "-v", is_flag=True, help="Also log every retry and robots decision.")
@click.option("--log-json", is_flag=True, help="One JSON line per page and for the summary.")
def crawl(db: Path, seed_urls: tuple[str, ...], seeds_file: Path | None,
          map_host: tuple[str, ...], delay: float | None, concurrency: int | None,
          max_pages: int | None, max_depth: int | None, refresh_older_than: str | None,
          agencies: str | None, years: str | None, pid_ranges: tuple[str, ...],
          ignore_robots: bool, quiet: bool, verbose: bool, log_json: bool) -> None:  # fmt: skip
    """Fetch pages politely into the archive: incremental, resumable; exit 1 if any failed."""
    import logging

    from kpi_archive.errors import ConfigError, LockError
    from kpi_archive.pipeline import CrawlOptions, parse_age, parse_host_map
    from kpi_archive.pipeline import crawl as run_crawl
    from scraper.seeds import parse_agencies, parse_years

    if quiet and verbose:
        raise click.UsageError("--quiet and --verbose cannot be used together")
    level = logging.ERROR if quiet else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)
    try:
        options = CrawlOptions(
            seeds=list(seed_urls),
            seeds_file=seeds_file,
            host_map=parse_host_map(map_host),
            refresh_older_than=parse_age(refresh_older_than) if refresh_older_than else None,
            agencies=parse_agencies(agencies) if agencies else None,
            years=parse_years(years) if years else None,
            pid_ranges=list(pid_ranges),
            ignore_robots=ignore_robots,
            max_pages=max_pages,
            on_page=None if quiet else _page_reporter(log_json),
        )
        overrides = {"delay": delay, "concurrency": concurrency, "max_depth": max_depth}
        for name, value in overrides.items():
            if value is not None:
                setattr(options, name, value)
        summary = run_crawl(db, options)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    except LockError as exc:
        _fail(f"{exc} - try again when it has finished", code=3)
    except KpiArchiveError as exc:
        # Not "some pages failed" (1): the archive itself is unusable and needs a person.
        _fail(str(exc), code=2)
    if sys.stderr.isatty() and not (quiet or log_json):
        click.echo("\r\033[K", nl=False, err=True)
    click.echo(json.dumps(summary.as_dict()) if log_json else summary.line())
    sys.exit(summary.exit_code)


def _page_reporter(log_json: bool) -> Callable[[PageEvent], None]:
    """Show each page: JSON lines, a live status line on a terminal, else plain log lines."""
    live = sys.stderr.isatty() and not log_json

    def report(event: PageEvent) -> None:
        if log_json:
            click.echo(json.dumps(event.__dict__, ensure_ascii=False))
        elif live:
            line = f"[{event.done} done, {event.queued} queued] {event.outcome:<11} {event.url}"
            width = shutil.get_terminal_size().columns - 1
            click.echo("\r\033[K" + line[:width], nl=False, err=True)
        else:
            why = f" ({event.error})" if event.error else ""
            click.echo(f"{event.outcome:<11} {event.url}{why}", err=True)

    return report


@cli.command(epilog=FAULT_HELP)
@click.argument(
    "directory", metavar="DIR", type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option("--port", type=int, default=8765, show_default=True, help="Port on 127.0.0.1.")
@click.option(
    "--latency",
    type=click.FloatRange(min=0),
    default=0,
    metavar="MS",
    help="Milliseconds added to every response.",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="SPEC",
    help="Inject a fault (repeatable; the keys are listed below).",
)
@click.option(
    "--overlay",
    "overlays",
    multiple=True,
    metavar="DIR",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A later version of some pages, served instead of DIR's (repeatable).",
)
def replay(directory: Path, port: int, latency: float, faults: tuple[str, ...],
           overlays: tuple[Path, ...]) -> None:  # fmt: skip
    """Serve a recorded site on 127.0.0.1 like the live one (ETag/304, robots.txt, faults)."""
    from kpi_archive.errors import ConfigError
    from kpi_archive.replay import ReplayServer, parse_fault

    try:
        parsed = [parse_fault(spec) for spec in faults]
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    try:
        server = ReplayServer(directory, overlays=overlays, port=port, latency=latency / 1000,
                              faults=parsed)  # fmt: skip
    except OSError as exc:
        raise click.ClickException(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from exc
    click.echo(f"Serving {directory} on {server.url} (Ctrl-C to stop); crawl it with:")
    click.echo(" ".join(f"--map-host {h}={b}" for h, b in server.host_map().items()))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


def _fail(message: str, code: int = 2) -> NoReturn:
    """Print one line to stderr and exit with ``code``."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


__all__ = ["KpiArchiveError", "cli"]
