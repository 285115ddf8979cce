"""The ``kpi-archive`` command: one thin click group, one verb per stage.

The edge of the project: settings are read here once (``Settings.from_env`` and options with
``envvar=``) and handed down as parameters; option values are parsed by the ``click.ParamType``s
below; library errors become exit codes in one place (``KpiArchiveGroup.invoke``).

Exit codes (named in ``kpi_archive.alarms``): 0 ok; 1 some pages failed (crawl) or the archive
file is unusable; 2 a usage or setting error (and, for ``crawl``, where 1 already means "some pages
failed", an unusable archive); 3 another crawl holds the lock; 4 site problem; 5 deadline reached;
6 / 7 (``status``) stale / last crawl interrupted; 130 / 143 crawl stopped by SIGINT / SIGTERM.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import re
import shutil
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from kpi_archive import __version__, alarms, config
from kpi_archive.config import Settings
from kpi_archive.errors import ArchiveError, ConfigError, KpiArchiveError, LockError, ParseError
from kpi_archive.replay import FAULT_HELP
from scraper import seeds

if TYPE_CHECKING:
    from kpi_archive.crawl import PageEvent

# The stages are imported inside the commands that use them: importing the parsers loads
# PyThaiNLP (~0.9 s), which would triple the time of `kpi-archive --help` (0.5 s → 1.9 s).

F = TypeVar("F", bound=Callable[..., Any])

_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_AGE_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# Commands whose exit 1 already means something else ("some pages failed", "last crawl failed").
_REFUSED_ON_ARCHIVE_ERROR = frozenset({"crawl", "status"})


class Failed(click.ClickException):
    """A one-line ``Error: …`` on stderr, exit 1."""


class Refused(click.ClickException):
    """A one-line ``Error: …`` on stderr, exit 2 (a bad input or setting, no usage text)."""

    exit_code = 2


class LockHeld(click.ClickException):
    """A one-line ``Error: …`` on stderr, exit 3: another crawl holds the lock."""

    exit_code = 3


def parse_age(text: str) -> float:
    """``90``, ``30m``, ``12h``, ``2d``, ``1w`` → seconds."""
    match = _AGE.match(text)
    if not match:
        raise ConfigError(f"must look like 12h, 2d or 3600, not {text!r}")
    return float(match.group(1)) * _AGE_UNITS[match.group(2)]


def parse_host_map(items: Iterable[str]) -> dict[str, str]:
    """``HOST=BASE_URL`` items → ``{host: base_url}``."""
    mapping: dict[str, str] = {}
    for item in items:
        host, sep, base = item.partition("=")
        if not sep or not host.strip() or not base.startswith(("http://", "https://")):
            raise ConfigError(f"must look like HOST=http://127.0.0.1:8765, not {item!r}")
        mapping[host.strip().lower()] = base.strip()
    return mapping


class _Spec(click.ParamType):  # type: ignore[type-arg]
    """An option value parsed by a library function; its ``ConfigError`` names the option."""

    def __init__(self, name: str, parse: Callable[[str], Any]) -> None:
        self.name = name
        self.parse = parse

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return self.parse(value)
        except ConfigError as exc:
            flag = param.opts[0] if param is not None and param.opts else self.name
            raise click.UsageError(f"{flag} {exc}", ctx) from exc


AGE = _Spec("age", parse_age)
HOST_MAP = _Spec("host=url", lambda item: next(iter(parse_host_map([item]).items())))
YEARS = _Spec("years", seeds.parse_years)
AGENCIES = _Spec("agencies", seeds.parse_agencies)
PID_RANGE = _Spec("pid range", seeds.parse_pid_range)
URL = _Spec("url", seeds.check_url)


class _ArchivePath(click.ParamType):  # type: ignore[type-arg]
    name = "db"

    def __init__(self, must_exist: bool) -> None:
        self.must_exist = must_exist

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        path = Path(value)
        if self.must_exist and not path.is_file():
            self.fail(f"{path}: no such archive file", param, ctx)
        return path


def db_argument(*, must_exist: bool, required: bool = False) -> Callable[[F], F]:
    """The archive path: given, else ``KPI_ARCHIVE_DB`` (data/kpi.db) unless it is required."""
    db = config.setting("db")
    extra: dict[str, Any] = {} if required else {"envvar": db.env_var, "default": db.default}
    return click.argument("db", type=_ArchivePath(must_exist), required=required, **extra)


class KpiArchiveGroup(click.Group):
    """The one place where library errors become exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LockError as exc:
            raise LockHeld(f"{exc} - try again when it has finished") from exc
        except ConfigError as exc:
            raise click.UsageError(str(exc), ctx) from exc
        except ArchiveError as exc:
            if ctx.invoked_subcommand in _REFUSED_ON_ARCHIVE_ERROR:
                raise Refused(str(exc)) from exc
            raise Failed(str(exc)) from exc
        except KpiArchiveError as exc:
            raise Failed(str(exc)) from exc


@click.group(cls=KpiArchiveGroup)
@click.version_option(__version__, prog_name="kpi-archive")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Archive the Bangkok Metropolitan Administration's KPI pages: fetch, parse, keep, publish."""
    try:
        ctx.obj = Settings.from_env()
    except ConfigError as exc:
        raise Refused(str(exc)) from exc


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--url", type=URL, help="The page's URL (picks the parser and resolves links); default: none."
)
def parse(files: tuple[Path, ...], url: str | None) -> None:
    """Parse saved pages and print each record as one line of UTF-8 JSON."""
    import parsers

    for path in files:
        try:
            body = path.read_bytes()
        except OSError as exc:
            raise Refused(f"{path}: cannot read: {exc.strerror}") from exc
        try:
            record = parsers.parse_page(body, url=url)
        except ParseError as exc:
            raise Refused(f"{path}: not a BMA KPI page: {exc.reason}") from exc
        click.echo(json.dumps(record.model_dump(mode="json"), ensure_ascii=False))


@cli.command()
@db_argument(must_exist=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port",
    type=int,
    envvar=config.setting("serve_port").env_var,
    default=config.SERVE_PORT,
    show_default=True,
    help="Port (KPI_ARCHIVE_SERVE_PORT).",
)
@click.pass_obj
def serve(settings: Settings, db: Path, host: str, port: int) -> None:
    """Publish an archive read-only with Datasette (search, facets, canned queries, feed)."""
    import archive
    from kpi_archive.publish.serve import serve as run_datasette

    archive.check_archive_file(db)
    archive.schema.restore_indexes_in(db)  # a load stopped before its finish left them out
    run_datasette(db, host=host, port=port, sql_time_limit_ms=settings.sql_time_limit_ms)


def jobs_option(f: F) -> F:
    """``--jobs``: processes of an import or a reparse (one writes, the others parse; the finish
    rebuilds the search index in a second)."""
    return click.option(
        "--jobs",
        "-j",
        metavar="N",
        type=click.IntRange(min=1),
        envvar=config.setting("jobs").env_var,
        default=config.JOBS,
        help="Processes: N-1 parse while one writes; 1 = parse and write in one (default 2).",
    )(f)


@cli.command()
@db_argument(must_exist=True)
@jobs_option
def reparse(db: Path, jobs: int) -> None:
    """Re-parse every stored snapshot with the current parser (no network) and rebuild tables."""
    import archive
    from kpi_archive import load

    database = archive.open_db(db)
    counts = load.reparse(database, jobs=jobs)
    load.finish(database, jobs=jobs)
    click.echo(
        f"Reparsed {counts.captures} captures: {counts.records} records, "
        f"{counts.changed} changed, {counts.errors} parse errors"
    )


@cli.command("import")
@db_argument(must_exist=False, required=True)
@click.argument(
    "paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--url", type=URL, help="URL of the page a saved HTML file holds (required for HTML files)."
)
@jobs_option
@click.pass_obj
def import_(
    settings: Settings, db: Path, paths: tuple[Path, ...], url: str | None, jobs: int
) -> None:
    """Load saved HTML pages or WARC files (.warc, .warc.gz) into the archive."""
    import archive
    from kpi_archive import load

    database = archive.open_db(db)
    counts = load.import_paths(database, paths, url=url, gone_after=settings.gone_after, jobs=jobs)
    load.finish(database, jobs=jobs)
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing"
    click.echo(f"Imported {sum(counts.values())} responses: {summary}")


@cli.command("export-warc")
@db_argument(must_exist=True, required=True)
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def export_warc(db: Path, out: Path) -> None:
    """Write every stored capture to a WARC file (OUT.warc.gz) for web-archive replay tools."""
    import archive

    count = archive.export_warc(archive.open_db(db), out)
    click.echo(f"Wrote {count} WARC records to {out}")


@cli.command()
@db_argument(must_exist=True, required=True)
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--excel", is_flag=True, help="Write the CSV files with a BOM, so Excel reads Thai.")
def export(db: Path, outdir: Path, excel: bool) -> None:
    """Write a data release: CSV of every public table, the SQLite file, datapackage.json."""
    from kpi_archive.export import export as write_release

    counts = write_release(db, outdir, excel=excel)
    click.echo(f"Wrote {len(counts)} tables ({sum(counts.values())} rows) to {outdir}")


@cli.command()
@db_argument(must_exist=False)
@click.option(
    "--seed",
    "seed_urls",
    multiple=True,
    type=URL,
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
    type=HOST_MAP,
    metavar="HOST=BASE_URL",
    help="Send requests for HOST to BASE_URL; the archive keeps the real URLs.",
)
@click.option(
    "--delay",
    type=click.FloatRange(min=0),
    envvar=config.setting("host_delay").env_var,
    default=config.HOST_DELAY,
    metavar="SECONDS",
    help="Seconds between requests to one host (default: KPI_ARCHIVE_HOST_DELAY, 1.0).",
)
@click.option(
    "--concurrency",
    metavar="N",
    type=click.IntRange(min=1),
    envvar=config.setting("concurrency").env_var,
    default=config.CONCURRENCY,
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
    envvar=config.setting("max_depth").env_var,
    default=config.MAX_DEPTH,
    help="Link hops followed from the seeds; 0 = the seeds only (default 2).",
)
@click.option(
    "--refresh-older-than",
    type=AGE,
    metavar="AGE",
    help="Skip pages fetched less than AGE ago (90, 30m, 12h, 2d, 1w).",
)
@click.option(
    "--agencies",
    type=AGENCIES,
    metavar="CODES",
    help="Agency reports for these codes (5035,0411 or all; default all).",
)
@click.option(
    "--years",
    type=YEARS,
    metavar="FROM-TO",
    help="Fiscal years (BE) of agency reports, e.g. 2564-2566.",
)
@click.option(
    "--pid-range",
    "pid_ranges",
    multiple=True,
    type=PID_RANGE,
    metavar="PREFIX:FROM-TO",
    help="Enumerate KPI pids where no list links to them, e.g. 5001:0700-1100.",
)
@click.option(
    "--deadline",
    type=AGE,
    metavar="AGE",
    help="Take no new page after AGE (2h, 90m); finish, exit 5, the rest stays queued.",
)
@click.option("--ignore-robots", is_flag=True, help="Neither fetch nor obey robots.txt.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the summary line.")
@click.option("--verbose", "-v", is_flag=True, help="Also log every retry and robots decision.")
@click.option("--log-json", is_flag=True, help="One JSON line per page and for the summary.")
@click.pass_context
def crawl(ctx: click.Context, db: Path, seed_urls: tuple[str, ...], seeds_file: Path | None,
          map_host: tuple[tuple[str, str], ...], delay: float, concurrency: int,
          max_pages: int | None, max_depth: int, refresh_older_than: float | None,
          agencies: list[str] | None, years: list[int] | None,
          pid_ranges: tuple[tuple[str, int, int, int], ...], deadline: float | None,
          ignore_robots: bool, quiet: bool, verbose: bool, log_json: bool) -> None:  # fmt: skip
    """Fetch pages politely into the archive: incremental, resumable; exit 1 if any failed."""
    from kpi_archive.crawl import CrawlOptions
    from kpi_archive.crawl import crawl as run_crawl

    if quiet and verbose:
        raise click.UsageError("--quiet and --verbose cannot be used together")
    settings: Settings = ctx.obj
    level = logging.ERROR if quiet else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)
    options = CrawlOptions(
        seeds=list(seed_urls),
        seeds_file=seeds_file,
        host_map=dict(map_host),
        delay=delay,
        concurrency=concurrency,
        max_pages=max_pages,
        max_depth=max_depth,
        refresh_older_than=refresh_older_than,
        agencies=agencies,
        years=years,
        pid_ranges=list(pid_ranges),
        ignore_robots=ignore_robots,
        list_host=settings.list_host,
        report_first_year=settings.report_first_year,
        gone_after=settings.gone_after,
        lock_stale_seconds=settings.lock_stale_seconds,
        heartbeat_seconds=settings.heartbeat_seconds,
        jobs=settings.jobs,
        deadline=deadline,
        fetch={
            "timeout": settings.request_timeout,
            "max_retries": settings.max_retries,
            "backoff_base": settings.backoff_base,
            "backoff_max": settings.backoff_max,
            "max_body_bytes": settings.max_body_bytes,
            "max_redirects": settings.max_redirects,
            "user_agent": settings.user_agent,
            "max_retry_after": settings.max_retry_after,
            "max_crawl_delay": settings.max_crawl_delay,
            "page_deadline": settings.page_deadline,
        },
        on_page=None if quiet else _page_reporter(log_json),
    )
    summary = run_crawl(db, options)
    if sys.stderr.isatty() and not (quiet or log_json):
        click.echo("\r\033[K", nl=False, err=True)
    click.echo(json.dumps(summary.as_dict()) if log_json else summary.line())
    if summary.outcome in alarms.OUTCOME_LABELS and not log_json:
        click.echo(f"{alarms.OUTCOME_LABELS[summary.outcome]}: {summary.reason}", err=True)
    ctx.exit(summary.exit_code)


@cli.command()
@db_argument(must_exist=True)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option(
    "--max-age",
    type=AGE,
    default="36h",
    show_default=True,
    metavar="AGE",
    help="Unhealthy when no crawl completed within AGE.",
)
@click.pass_context
def status(ctx: click.Context, db: Path, as_json: bool, max_age: float) -> None:
    """Say whether the nightly crawl is healthy; exit non-zero (4, 1, 7, 6) when it is not."""
    from kpi_archive.status import open_readonly
    from kpi_archive.status import status as read_status

    with contextlib.closing(open_readonly(db)) as database:
        report = read_status(database, dt.timedelta(seconds=max_age))
    click.echo(json.dumps(report.as_dict(), ensure_ascii=False) if as_json else report.text())
    ctx.exit(report.exit_code)


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
    from kpi_archive.replay import ReplayServer, parse_fault

    parsed = [parse_fault(spec) for spec in faults]
    try:
        server = ReplayServer(directory, overlays=overlays, port=port, latency=latency / 1000,
                              faults=parsed)  # fmt: skip
    except OSError as exc:
        raise Failed(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from exc
    click.echo(f"Serving {directory} on {server.url} (Ctrl-C to stop); crawl it with:")
    click.echo(" ".join(f"--map-host {h}={b}" for h, b in server.host_map().items()))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


__all__ = ["KpiArchiveError", "cli"]
