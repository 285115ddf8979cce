"""One reading of a page: decoded once, parsed once, and everything the loop needs taken from it.

Contract: pure. ``read(body, url, headers)`` decodes the bytes (``parsers.encoding``), parses them
once with lexbor and walks the tree once (``parsers.text``), giving the page's lines, its
``innerText``-like visible lines, its links and the codec used; it raises ``ParseError`` only for
bodies that are not text (empty or binary). ``parse(body, url, headers)`` turns that one reading
into a ``Parsed``: the record, or the ``ParseError`` saying why there is none, *and* the links to
follow either way. Links come from the reading, not the record, so a stored page that does not
parse (an agency listing whose labels changed, a "ไม่พบข้อมูล" page) still yields its links without
a second parse; whether links of an error status page are followed is the loop's choice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from kpi_archive.errors import ParseError
from parsers.citydb import parse_citydb_lines
from parsers.department import parse_department_lines
from parsers.detect import HEADINGS_LOOKED_FOR, detect_kind
from parsers.detect import read as _read
from parsers.kpi import parse_kpi_lines
from parsers.links import follow
from parsers.models import DepartmentPage, KpiPage, ProjectPage
from parsers.project import parse_project_lines
from parsers.text import PageText

AnyPage = KpiPage | ProjectPage | DepartmentPage
Parser = Callable[
    [Sequence[str], Sequence[tuple[str, str]], str | None, str | None],
    KpiPage | ProjectPage | DepartmentPage,
]
PARSERS: Mapping[str, Parser] = {
    "kpi": parse_kpi_lines,
    "citydb": parse_citydb_lines,
    "project": parse_project_lines,
    "department": parse_department_lines,
}


@dataclass(frozen=True)
class Reading:
    """A page as a reader sees it: ``lines`` for the parsers, ``visible`` as ``innerText`` shows
    them, every ``(url, text)`` link in page order, and the codec the bytes were decoded with."""

    url: str | None
    encoding: str
    page: PageText

    @property
    def lines(self) -> list[str]:
        """The lines the parsers read (``parsers.text``)."""
        return self.page.lines

    @property
    def visible(self) -> list[str]:
        """The non-empty lines a browser's ``innerText`` shows."""
        return self.page.visible

    @property
    def links(self) -> list[tuple[str, str]]:
        """Every ``(absolute url, link text)`` in page order."""
        return self.page.links

    def follow(self) -> list[str]:
        """The links the crawler should follow from this page (``parsers.links.follow``)."""
        if self.url is None:
            return []
        return follow(self.url, (href for href, _ in self.links))

    def record(self) -> AnyPage:
        """The page's record; raises ``ParseError`` when it is not one of our pages."""
        kind = detect_kind(self.url, self.lines)
        if kind is None:
            raise ParseError(
                f"not a BMA KPI, project or department page (no heading: {HEADINGS_LOOKED_FOR})",
                url=self.url,
                missing="page heading",
            )
        return PARSERS[kind](self.lines, self.links, self.url, self.encoding)


@dataclass(frozen=True)
class Parsed:
    """What one reading of a page gives: ``record`` or ``error`` (exactly one is set), the links
    to follow, and the codec (None when the body was not text)."""

    record: AnyPage | None
    error: ParseError | None
    links: list[str] = field(default_factory=list)
    encoding: str | None = None

    @property
    def result(self) -> AnyPage | ParseError:
        """The record, or the error in its place (the shape ``archive.save`` takes)."""
        if self.record is not None:
            return self.record
        assert self.error is not None
        return self.error


def read(body: bytes, url: str | None = None, headers: Mapping[str, str] | None = None) -> Reading:
    """Decode and parse a page once; raises ``ParseError`` for empty and binary bodies."""
    page, encoding = _read(body, url, headers)
    return Reading(url, encoding, page)


def parse(body: bytes, url: str | None = None, headers: Mapping[str, str] | None = None) -> Parsed:
    """One reading → the record (or its ``ParseError``) and the links to follow; never raises
    ``ParseError``."""
    try:
        reading = read(body, url, headers)
    except ParseError as error:
        return Parsed(None, error)
    links = reading.follow()
    try:
        return Parsed(reading.record(), None, links, reading.encoding)
    except ParseError as error:
        return Parsed(None, error, links, reading.encoding)
