"""City-development indicator pages 2562–2563 (``/mobile/mykpi2563.php?pid=<n>``) → ``KpiPage``.

Contract: pure. Required: the heading ``โครงการจัดทำฐานข้อมูลตัวชี้วัดการพัฒนาเมือง``, the
``<n>. <title> : <pid>`` line and ``ค่าเป้าหมาย``. These pages have no result, table or score;
``ค่าเป้าหมาย`` is free text (``≥1 : แห่ง``), kept as printed. The numbered sections
``1.นิยาม…``, ``2.วิธีการคำนวณ…``, ``3.แหล่งข้อมูล/เจ้าของข้อมูล`` fill definition, calculation and
data_sources; a page is whole only when a ``4.`` section follows (never seen so far).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from kpi_archive.errors import ParseError
from parsers.detect import read
from parsers.kpi import TARGET, build_kpi, read_header, read_sections, title_and_pid
from parsers.models import KpiPage
from parsers.sections import Lines, drop_cut_heading, link_map, split_sections

HEADING = "โครงการจัดทำฐานข้อมูลตัวชี้วัดการพัฒนาเมือง"
_LATER_SECTION = re.compile(r"^[4-9]\.\D")
_LATER_SECTION_MAX = 60


def parse_citydb_lines(
    raw_lines: Sequence[str],
    links: Sequence[tuple[str, str]],
    url: str | None = None,
    encoding: str | None = None,
) -> KpiPage:
    """Parse a city-development indicator page from its visible lines and links."""
    warnings: list[str] = []
    lines = Lines(raw_lines)
    end = drop_cut_heading(lines, warnings)
    cut_heading = end < len(lines)
    heading = next((i for i in range(end) if lines.tight[i].startswith(HEADING)), None)
    if heading is None:
        raise ParseError(f"no {HEADING} heading", url=url, missing=HEADING)
    pre_end, sections = split_sections(lines, heading + 1, end)
    whole = False
    if sections and sections[-1].name == "data_sources":
        last = sections[-1]
        for i in range(last.start, last.end):
            if len(lines.tight[i]) < _LATER_SECTION_MAX and _LATER_SECTION.match(lines.tight[i]):
                sections[-1] = type(last)(last.name, None, last.heading, last.start, i)
                # A "4." line with nothing after it may itself be cut short ("4.ส่").
                whole = any(lines.tight[i + 1 : end])
                break
    head = read_header(lines, heading + 1, pre_end)
    if head.target is None:
        raise ParseError(f"no '{TARGET} <unit> : <value>' line", url=url, missing=TARGET)
    title, pid = title_and_pid(lines, head, url, warnings, required=True)
    if head.loose:
        warnings.append(f"unrecognised header lines: {[lines.plain[i] for i in head.loose]!r}")
    body = read_sections(lines, sections, link_map(links), warnings)
    truncated = cut_heading or not whole
    if truncated:
        last_name = body.seen[-1] if body.seen else "header"
        warnings.append(f"page ends before its last section (last section: {last_name})")
    return build_kpi(
        "citydb", url, encoding, title, pid, head, body, warnings, truncated, compact=False
    )


def parse_citydb(
    body: bytes, url: str | None = None, headers: Mapping[str, str] | None = None
) -> KpiPage:
    """Bytes of a ``mykpi2563.php`` page → ``KpiPage`` with ``page_kind="citydb"``."""
    page, encoding = read(body, url, headers)
    return parse_citydb_lines(page.lines, page.links, url, encoding)
