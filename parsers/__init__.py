"""Bytes of a BMA page → a typed record; the one entry point the rest of the project uses.

Contract: ``read``, ``parse``, ``parse_page`` and ``extract_links`` are pure (no I/O, no clock,
no globals). The kind of page is taken from the URL when it names one, else from the page's
headings; the markup is never relied on, only the Thai labels and the order of the text. Anything
that is not one of our pages (empty, binary, unrelated HTML, a required label missing) raises
``ParseError``, a ``ValueError`` carrying ``url`` and ``missing``. ``parse`` gives the record (or
its error) and the links to follow from one reading of the page; ``parse_page`` is the record
alone.
"""

from __future__ import annotations

from collections.abc import Mapping

from kpi_archive.errors import ParseError
from parsers.detect import detect_kind
from parsers.links import extract_links, follow
from parsers.models import PARSER_VERSION, DepartmentPage, KpiPage, ProjectPage, Record
from parsers.reading import PARSERS, Parsed, Reading, parse, read


def parse_page(
    body: bytes, url: str | None = None, headers: Mapping[str, str] | None = None
) -> KpiPage | ProjectPage | DepartmentPage:
    """Parse one page's bytes into its record; raise ``ParseError`` if it is not a BMA page."""
    return read(body, url, headers).record()


__all__ = [
    "PARSERS",
    "PARSER_VERSION",
    "DepartmentPage",
    "KpiPage",
    "ParseError",
    "Parsed",
    "ProjectPage",
    "Reading",
    "Record",
    "detect_kind",
    "extract_links",
    "follow",
    "parse",
    "parse_page",
    "read",
]
