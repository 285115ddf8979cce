"""Links the crawler should follow: every page of a kind we parse, plus the site's index pages.

Contract: pure. ``extract_links(body, url)`` returns absolute URLs in page order, without
fragments or surrounding whitespace, each once. KPI, city-DB and project pages are kept from any
host (the same pid lives on several hosts); department and mobile index pages only from the
page's own host, so a crawl stays on the site it was started on.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urldefrag, urljoin, urlsplit

from parsers.detect import is_index_page, kind_from_url, read

_ANY_HOST = frozenset({"kpi", "citydb", "project"})


def extract_links(body: bytes, url: str) -> list[str]:
    """Absolute, de-duplicated URLs of parseable pages and same-site index pages on a page."""
    page, _ = read(body, url)
    return follow(url, (href for href, _ in page.links))


def follow(url: str, hrefs: Iterable[str]) -> list[str]:
    """Of ``hrefs`` found on ``url``, the ones worth crawling, absolute and de-duplicated."""
    host = urlsplit(url).hostname
    found: dict[str, None] = {}
    for href in hrefs:
        absolute = urldefrag(urljoin(url, href.strip())).url
        parts = urlsplit(absolute)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            continue
        kind = kind_from_url(absolute)
        if kind in _ANY_HOST or (
            parts.hostname == host and (kind == "department" or is_index_page(absolute))
        ):
            found.setdefault(absolute)
    return list(found)
