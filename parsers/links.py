"""Links the crawler should follow: the one rule, used by the crawl, import and tests alike.

Contract: pure. ``follow(url, hrefs)`` keeps, in page order and each once, the absolute http(s)
URLs without fragments that sit on the page's own host and are either a page of a kind we parse
(KPI, city-DB, project, department) or one of the site's mobile index pages; a crawl so stays on
the site it was started on (the same pid on another host is another seed's business). An href no
URL can be made of (``http://[object Object]``) is skipped, never an error.
``extract_links(body, url)`` is ``follow`` over one reading of the page.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urldefrag, urljoin, urlsplit

from parsers.detect import is_index_page, kind_from_url, read


def extract_links(body: bytes, url: str) -> list[str]:
    """Absolute, de-duplicated URLs worth crawling on a page (see ``follow``)."""
    page, _ = read(body, url)
    return follow(url, (href for href, _ in page.links))


def follow(url: str, hrefs: Iterable[str]) -> list[str]:
    """Of ``hrefs`` found on ``url``, the ones worth crawling, absolute and de-duplicated."""
    host = urlsplit(url).hostname
    found: dict[str, None] = {}
    for href in hrefs:
        try:
            absolute = urldefrag(urljoin(url, href.strip())).url
            parts = urlsplit(absolute)
            hostname = parts.hostname
        except ValueError:
            continue
        if parts.scheme not in ("http", "https") or not hostname or hostname != host:
            continue
        if kind_from_url(absolute) is not None or is_index_page(absolute):
            found.setdefault(absolute)
    return list(found)
