"""What a URL or an HTTP header says by itself: a page's kind and query values, a header's value.

A ground module: pure string work, imported by the fetcher, the parsers and the archive alike so
that each rule is written once. Kinds: ``kpi`` (``/mobile/mykpi.php``,
``/mobile62/mykpi.php``, any host), ``citydb`` (``mykpi2563.php``), ``project``
(``myproject.php``) and ``department`` (``index11.php``, ``index101–103.php``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import parse_qs, urlsplit

_PATHS = {
    "mykpi.php": "kpi",
    "mykpi2563.php": "citydb",
    "myproject.php": "project",
    "index11.php": "department",
    "index101.php": "department",
    "index102.php": "department",
    "index103.php": "department",
}
_PAGE_PATH = re.compile(r"(?:^|/)mobile(?:62)?/([a-z0-9]+\.php)$")
_INDEX_PAGE = re.compile(r"^/mobile(?:62)?/(?:index\d*\.php)?$")


def is_http_url(url: str) -> bool:
    """Whether ``url`` is an absolute http(s) URL with a host (one ``urlsplit`` can read: not
    ``http://[::1``, ``http://[object Object]``)."""
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # an unclosed or invalid [IPv6] host
        return False


def kind_from_url(url: str | None) -> str | None:
    """The page kind a URL's path names, or None."""
    if not url:
        return None
    m = _PAGE_PATH.search(urlsplit(url.strip()).path.lower())
    return _PATHS.get(m.group(1)) if m else None


def is_index_page(url: str) -> bool:
    """Whether a URL is one of the site's mobile list/index pages."""
    return bool(_INDEX_PAGE.match(urlsplit(url).path.lower()))


# A plain page URL whose whole query is ``pid=<letters, digits, dashes>`` (most of them): its pid
# read without urlsplit and parse_qs (~3 µs, once a page parsed), as they would read it.
_PLAIN_PID_URL = re.compile(
    r"https?://[A-Za-z0-9.-]+(?::[0-9]+)?(?:/[A-Za-z0-9._/-]*)?\?pid=([A-Za-z0-9-]+)", re.ASCII
).fullmatch


def pid_from_url(url: str | None) -> str | None:
    """The ``pid`` query parameter of a page URL, if any."""
    if not url:
        return None
    plain = _PLAIN_PID_URL(url)
    if plain is not None:
        return plain.group(1)
    values = parse_qs(urlsplit(url).query).get("pid")
    return values[0].strip() if values else None


def query_value(url: str | None, name: str) -> str | None:
    """One query parameter of a URL (blank → None)."""
    if not url:
        return None
    values = parse_qs(urlsplit(url).query).get(name)
    return values[0].strip() or None if values else None


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """A header's value, whatever the case of its name in ``headers``."""
    if not headers:
        return None
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None
