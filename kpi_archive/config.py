"""Every default of the project, in one place, and the one reader of the environment.

Each setting has a name, a default, an environment variable (``KPI_ARCHIVE_<NAME>``) and one line
of help; command-line options override the environment, which overrides the default. The README's
"Settings" table is checked against this list by ``tests/test_docs.py``.

Only the edge reads the environment: ``cli.py`` (click options with ``envvar=``, and
``Settings.from_env`` for the settings that have no option). Library code takes parameters whose
defaults are the constants below; it never looks a setting up by name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from kpi_archive.errors import ConfigError

PROJECT_URL = "https://github.com/bangkok-kpi-archive/kpi-archive"
ENV_PREFIX = "KPI_ARCHIVE_"


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str

    @property
    def env_var(self) -> str:
        return ENV_PREFIX + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("db", "data/kpi.db", "SQLite archive file used when a command is given no DB"),
    Setting(
        "user_agent",
        f"kpi-archive/0.1 (+{PROJECT_URL}; civic archive of public BMA KPI pages)",
        "User-Agent header sent with every request",
    ),
    Setting("request_timeout", 30.0, "seconds to wait for connect, read or write"),
    Setting("host_delay", 1.0, "minimum seconds between two requests to the same host"),
    Setting("concurrency", 4, "hosts fetched in parallel (one request at a time per host)"),
    Setting("max_retries", 4, "retries after a connect error, timeout, 429 or 5xx"),
    Setting("backoff_base", 2.0, "first retry waits this many seconds, doubling each time"),
    Setting("backoff_max", 300.0, "longest wait between two retries, Retry-After included"),
    Setting("max_body_bytes", 5_000_000, "bodies larger than this are cut off and refused"),
    Setting("max_redirects", 5, "redirects followed before a fetch fails"),
    Setting("max_retry_after", 120.0, "a longer Retry-After fails the page for this run"),
    Setting("max_crawl_delay", 30.0, "robots.txt Crawl-delay obeyed up to this many seconds"),
    Setting("page_deadline", 60.0, "seconds one page may take, all attempts and waits included"),
    Setting("max_depth", 2, "link hops followed from the seeds (0 = the seeds only)"),
    Setting("list_host", "http://monitor.bangkok.go.th", "host of agency reports and --pid-range"),
    Setting("report_first_year", 2562, "first fiscal year (BE) of agency reports, no --years"),
    Setting("gone_after", 3, "consecutive 404/410 runs after which a page is marked gone"),
    Setting("lock_stale_seconds", 600, "a crawl lock whose heartbeat is this old is stale"),
    Setting("heartbeat_seconds", 30.0, "seconds between two heartbeats of a running crawl's lock"),
    Setting("serve_port", 8001, "port `kpi-archive serve` listens on"),
    Setting("sql_time_limit_ms", 2000, "Datasette's SQL time limit for published queries"),
    Setting(
        "jobs",
        2,
        "processes a load uses: import and reparse parse in JOBS-1 while one writes, and a first "
        "load's finish rebuilds the search index in a second; 1 = one process",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def setting(name: str) -> Setting:
    """The ``Setting`` called ``name`` (for click options: its default, env var and help)."""
    return _BY_NAME[name]


def _typed(setting: Setting, raw: str) -> Any:
    kind = type(setting.default)
    try:
        return kind(raw)
    except ValueError:
        raise ConfigError(
            f"{setting.env_var}={raw!r} is not a valid {kind.__name__} ({setting.help})"
        ) from None


def get(name: str, environ: Mapping[str, str] | None = None) -> Any:
    """One setting from the environment, typed, else its default; a bad value is ``ConfigError``.

    For the edge only (CLI, ``python -m`` entry points); library code takes parameters.
    """
    setting = _BY_NAME[name]
    raw = (os.environ if environ is None else environ).get(setting.env_var)
    return setting.default if raw is None else _typed(setting, raw)


@dataclass(frozen=True)
class Settings:
    """Every setting, typed, as one value handed down from the edge."""

    db: str
    user_agent: str
    request_timeout: float
    host_delay: float
    concurrency: int
    max_retries: int
    backoff_base: float
    backoff_max: float
    max_body_bytes: int
    max_redirects: int
    max_depth: int
    list_host: str
    report_first_year: int
    gone_after: int
    lock_stale_seconds: int
    heartbeat_seconds: float
    serve_port: int
    sql_time_limit_ms: int
    max_retry_after: float
    max_crawl_delay: float
    page_deadline: float
    jobs: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every ``KPI_ARCHIVE_*`` variable once; raise ``ConfigError`` naming a bad one."""
        return cls(**{f.name: get(f.name, environ) for f in fields(cls)})


DEFAULT_DB: str = _BY_NAME["db"].default
USER_AGENT: str = _BY_NAME["user_agent"].default
REQUEST_TIMEOUT: float = _BY_NAME["request_timeout"].default
HOST_DELAY: float = _BY_NAME["host_delay"].default
CONCURRENCY: int = _BY_NAME["concurrency"].default
MAX_RETRIES: int = _BY_NAME["max_retries"].default
BACKOFF_BASE: float = _BY_NAME["backoff_base"].default
BACKOFF_MAX: float = _BY_NAME["backoff_max"].default
MAX_BODY_BYTES: int = _BY_NAME["max_body_bytes"].default
MAX_REDIRECTS: int = _BY_NAME["max_redirects"].default
MAX_DEPTH: int = _BY_NAME["max_depth"].default
LIST_HOST: str = _BY_NAME["list_host"].default
REPORT_FIRST_YEAR: int = _BY_NAME["report_first_year"].default
GONE_AFTER: int = _BY_NAME["gone_after"].default
LOCK_STALE_SECONDS: int = _BY_NAME["lock_stale_seconds"].default
HEARTBEAT_SECONDS: float = _BY_NAME["heartbeat_seconds"].default
SERVE_PORT: int = _BY_NAME["serve_port"].default
SQL_TIME_LIMIT_MS: int = _BY_NAME["sql_time_limit_ms"].default
MAX_RETRY_AFTER: float = _BY_NAME["max_retry_after"].default
MAX_CRAWL_DELAY: float = _BY_NAME["max_crawl_delay"].default
PAGE_DEADLINE: float = _BY_NAME["page_deadline"].default
JOBS: int = _BY_NAME["jobs"].default


def cores() -> int:
    """The CPU cores this process may run on (a load runs no more processes than these)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
