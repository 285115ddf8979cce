"""Bytes of a BMA page → a typed record; the one entry point the rest of the project uses.

Contract: ``parse_page`` and ``extract_links`` are pure (no I/O, no clock, no globals). The kind of
page is taken from the URL when it names one, else from the page's headings; the markup is never
relied on, only the Thai labels and the order of the text. Anything that is not one of our pages
(empty, binary, unrelated HTML, a required label missing) raises ``ParseError``, a ``ValueError``
carrying ``url`` and ``missing``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from kpi_archive.errors import ParseError
from parsers.citydb import parse_citydb_lines
from parsers.department import parse_department_lines
from parsers.detect import HEADINGS_LOOKED_FOR, detect_kind, read
from parsers.kpi import parse_kpi_lines
from parsers.links import extract_links
from parsers.models import PARSER_VERSION, DepartmentPage, KpiPage, ProjectPage, Record
from parsers.project import parse_project_lines

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


def parse_page(
    body: bytes, url: str | None = None, headers: Mapping[str, str] | None = None
) -> KpiPage | ProjectPage | DepartmentPage:
    """Parse one page's bytes into its record; raise ``ParseError`` if it is not a BMA page."""
    page, encoding = read(body, url, headers)
    kind = detect_kind(url, page.lines)
    if kind is None:
        raise ParseError(
            f"not a BMA KPI, project or department page (no heading: {HEADINGS_LOOKED_FOR})",
            url=url,
            missing="page heading",
        )
    return PARSERS[kind](page.lines, page.links, url, encoding)


__all__ = [
    "PARSER_VERSION",
    "DepartmentPage",
    "KpiPage",
    "ParseError",
    "ProjectPage",
    "Record",
    "detect_kind",
    "extract_links",
    "parse_page",
]
