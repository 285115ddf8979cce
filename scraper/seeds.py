"""Where a crawl starts: the bundled seed URLs, agency report lists and pid ranges.

Everything here is pure string work: URLs in, URLs out. The bundled lists live in
``scraper/data/`` (``seed_urls.txt``: every real page URL we know; ``agencies.txt``: every 8-digit
agency code, a pid prefix plus ``0000``). The site's own lists are the agency annual reports
(``index11.php?selDEP=<agency>&selYear=<BE year>`` and ``index101/102/103.php?selDEP=<agency>``);
``pid_range_urls`` enumerates pids where no list links to them. A miss is cheap (one 404).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

from kpi_archive.errors import ConfigError
from kpi_archive.web import is_http_url

REPORT_PAGES = ("index101.php", "index102.php", "index103.php")
_YEARS = re.compile(r"^\s*(\d{4})\s*(?:-\s*(\d{4})\s*)?$")
_PID_RANGE = re.compile(r"^\s*(\d{4})\s*:\s*(\d+)\s*-\s*(\d+)\s*$")
_AGENCY = re.compile(r"^\d{4}(?:0000)?$")


def _read_lines(text: str) -> list[str]:
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def bundled_seed_urls() -> list[str]:
    """Every real page URL we know of, as bundled with the package."""
    return _read_lines(resources.files("scraper.data").joinpath("seed_urls.txt").read_text("utf-8"))


def bundled_agencies() -> list[str]:
    """Every 8-digit agency code we know of (pid prefix + ``0000``)."""
    return _read_lines(resources.files("scraper.data").joinpath("agencies.txt").read_text("utf-8"))


def read_seeds_file(path: str | Path) -> list[str]:
    """Read one URL a line; blank lines and ``#`` comments are skipped."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read seeds file {path}: {exc.strerror}") from exc
    urls = _read_lines(text)
    for url in urls:
        try:
            check_url(url)
        except ConfigError as exc:
            raise ConfigError(f"seeds file {path}: {exc}") from exc
    return urls


def check_url(url: str) -> str:
    """Return ``url`` if it is an absolute http(s) URL, else raise ``ConfigError``."""
    if not is_http_url(url):
        raise ConfigError(f"not an absolute http(s) URL: {url!r}")
    return url


def parse_years(spec: str) -> list[int]:
    """Parse ``2564-2566`` or ``2565`` into a list of Buddhist-Era years."""
    match = _YEARS.match(spec)
    if not match:
        raise ConfigError(f"must look like 2564-2566 or 2565, not {spec!r}")
    first = int(match.group(1))
    last = int(match.group(2) or first)
    if last < first:
        raise ConfigError(f"{spec!r}: the range runs backwards")
    if not 2500 <= first <= 2700:
        raise ConfigError(f"{spec!r}: years are Buddhist Era (e.g. 2566), not CE")
    return list(range(first, last + 1))


def parse_agencies(spec: str, known: Iterable[str] | None = None) -> list[str]:
    """Parse ``all`` or a comma list of 4- or 8-digit codes into 8-digit agency codes."""
    if spec.strip().lower() == "all":
        return list(known if known is not None else bundled_agencies())
    codes: list[str] = []
    for raw in spec.split(","):
        code = raw.strip()
        if not code:
            continue
        if not _AGENCY.match(code):
            raise ConfigError(f"{code!r} is not a 4-digit pid prefix or 8-digit code")
        full = code if len(code) == 8 else code + "0000"
        if full not in codes:
            codes.append(full)
    if not codes:
        raise ConfigError("no agency codes given")
    return codes


def parse_pid_range(spec: str) -> tuple[str, int, int, int]:
    """Parse ``5001:0700-1100`` into (prefix, first, last, digits)."""
    match = _PID_RANGE.match(spec)
    if not match:
        raise ConfigError(f"must look like 5001:0700-1100, not {spec!r}")
    prefix, first_text, last_text = match.groups()
    first, last = int(first_text), int(last_text)
    if last < first:
        raise ConfigError(f"{spec!r}: the range runs backwards")
    return prefix, first, last, len(first_text)


def agency_report_urls(agencies: Iterable[str], years: Iterable[int], host: str) -> list[str]:
    """Agency report URLs: ``index11.php`` per agency and year, ``index101-103`` per agency."""
    base = host.rstrip("/")
    year_list = list(years)
    urls: list[str] = []
    for agency in agencies:
        urls.extend(
            f"{base}/mobile/index11.php?selDEP={agency}&selYear={year}" for year in year_list
        )
        urls.extend(f"{base}/mobile/{page}?selDEP={agency}" for page in REPORT_PAGES)
    return urls


def pid_range_urls(
    prefix: str,
    first: int,
    last: int,
    host: str,
    path: str = "/mobile/mykpi.php",
    *,
    digits: int = 4,
) -> list[str]:
    """KPI page URLs for pids ``<prefix>-<first>`` … ``<prefix>-<last>``, zero-padded."""
    base = host.rstrip("/")
    return [f"{base}{path}?pid={prefix}-{n:0{digits}d}" for n in range(first, last + 1)]


def seed_hosts(urls: Iterable[str]) -> set[str]:
    """The set of hostnames the crawl may visit (it never leaves them)."""
    return {urlsplit(url).hostname or "" for url in urls} - {""}


def dedupe(urls: Iterable[str]) -> Iterator[str]:
    """Yield each URL once, in first-seen order."""
    seen: set[str] = set()
    for url in urls:
        if url not in seen:
            seen.add(url)
            yield url
