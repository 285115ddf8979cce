"""An agency's annual report (``index11.php?selDEP=…&selYear=…``, ``index101–103.php``) → record.

Contract: pure. The heading ``ผลการปฏิบัติราชการประจำปี : <year> ของหน่วยงาน : <agency>`` is
required (the year may be empty, the `` : `` before ``ของ`` missing); each ``(n) <title>`` block
becomes an entry with its tag, the ``มิติที่ …`` dimension in force, strategy lines, unit, target,
result, quarterly table (its score column is blank here), reports, summary and projects, and the
KPI page its title links to. The flattened pipe-table copy is parsed as far as it goes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from kpi_archive.errors import ParseError
from parsers import detect
from parsers.kpi import read_sections
from parsers.models import DepartmentEntry, DepartmentPage, Strategy, validator
from parsers.sections import (
    SKIP,
    Lines,
    drop_cut_heading,
    is_strategy_line,
    label_value,
    number,
    pid_from_url,
    query_value,
    reports_in,
    split_sections,
    strategy_line,
)
from parsers.thai import arabic_digits, name_of

HEADING = "ผลการปฏิบัติราชการประจำปี"
_HEADING = re.compile(r"^ผลการปฏิบัติราชการประจำปี\s*:?\s*(\d{4})?\s*ของหน่วยงาน\s*:?\s*(\d+)?")
_ENTRY = re.compile(r"^\((\d{1,3})\)\s*")
_DIMENSION = re.compile(r"^มิติที่\s*\d+(?![.\d])")
_TAG = re.compile(r"^\[(.*)\]$")
_ROUTINE = "ภารกิจงานประจำของหน่วยงาน"
_FLAT = re.compile(r"หน่วยนับ\s*:(.*?)\s*เป้าหมาย\s*:(.*?)\s*ผลงาน\s*:(.*?)\s*\|?\s*$")
_DEPARTMENT_PAGE = validator(DepartmentPage)


class _State:
    """The dimension heading and group strategies in force before an entry."""

    def __init__(self) -> None:
        self.dimension: str | None = None
        self.groups: list[Strategy] = []
        self.routine = False

    def take(self, lines: Lines, i: int) -> bool:
        """Apply line ``i`` if it is a marker (dimension, group strategy, banner)."""
        plain, key = lines.plain[i], lines.key[i]
        if _ROUTINE in lines.tight[i]:
            self.routine = True
        elif _DIMENSION.match(key):
            self.dimension, self.groups = plain, []
        elif is_strategy_line(key):
            self.groups = strategy_line(plain, key)
        else:
            return False
        return True


def parse_department_lines(
    raw_lines: Sequence[str],
    links: Sequence[tuple[str, str]],
    url: str | None = None,
    encoding: str | None = None,
) -> DepartmentPage:
    """Parse an agency's annual report from its visible lines and links."""
    warnings: list[str] = []
    lines = Lines(raw_lines)
    end = drop_cut_heading(lines, warnings)
    heading = next((i for i in range(end) if lines.key[i].startswith(HEADING)), None)
    agency, year = query_value(url, "selDEP"), None
    year_source = "page"
    if heading is not None:
        m = _HEADING.match(lines.key[heading])
        if m:
            year = int(m.group(1)) if m.group(1) else None
            agency = agency or m.group(2)
    if year is None:
        url_year = query_value(url, "selYear")
        year = int(url_year) if url_year and url_year.isdigit() else None
        year_source = "url"
    record = {
        "page_kind": "department",
        "url": url,
        "agency_code": agency,
        "fiscal_year": year,
        "fiscal_year_source": year_source if year is not None else None,
        "heading": lines.plain[heading] if heading is not None else None,
        "encoding": encoding,
        "warnings": warnings,
    }
    if heading is None:
        if not any(_FLAT.search(k) for k in lines.key[:end]):
            raise ParseError(f"no {HEADING} heading", url=url, missing=HEADING)
        warnings.append("flattened table rendering: titles and quarters cannot be told")
        flat = _flattened(lines, end, warnings)
        return _DEPARTMENT_PAGE({**record, "entries": flat, "rendering": "flattened"})
    starts: list[int] = []
    for i in range(heading + 1, end):
        m = _ENTRY.match(lines.tight[i])
        if m and int(m.group(1)) == len(starts) + 1 and lines.tight[i][m.end() :]:
            starts.append(i)
    state = _State()
    for i in range(heading + 1, starts[0] if starts else end):
        if lines.tight[i] and lines.tight[i] not in SKIP and not state.take(lines, i):
            warnings.append(f"unrecognised line before the first entry: {lines.plain[i]!r}")
    kpi_links = {_tight(text): href for href, text in links if detect.kind_from_url(href) == "kpi"}
    entries: list[DepartmentEntry] = []
    truncated = not starts
    for n, start in enumerate(starts):
        stop = starts[n + 1] if n + 1 < len(starts) else end
        entry, complete = _entry(lines, n + 1, start, stop, state, kpi_links, warnings)
        entries.append(entry)
        truncated = not complete
    if not starts:
        warnings.append("no '(1) <title>' entries on the page")
    _links_by_order(entries, links)
    if truncated:
        warnings.append("page ends before the last entry's projects section")
    return _DEPARTMENT_PAGE(
        {**record, "entries": entries, "truncated": truncated or end < len(lines)}
    )


def _tight(text: str) -> str:
    return arabic_digits("".join(text.replace("*", "").split()))


def _entry(
    lines: Lines,
    seq: int,
    start: int,
    stop: int,
    state: _State,
    kpi_links: Mapping[str, str],
    warnings: list[str],
) -> tuple[DepartmentEntry, bool]:
    """One ``(n) <title>`` block ``[start, stop)``; updates ``state`` for the next entry."""
    title_line = lines.plain[start]
    m = _ENTRY.match(lines.key[start])
    title = title_line[m.end() :].strip() if m else title_line
    dimension, groups, routine = state.dimension, list(state.groups), state.routine
    state.routine = False
    # Markers for the next entry (dimension heading, group strategy) end this block.
    block_end = stop
    while stop - 1 > start and (not lines.tight[stop - 1] or _is_marker(lines, stop - 1)):
        stop -= 1
    for i in range(stop, block_end):
        if lines.tight[i]:
            state.take(lines, i)
    pre_end, sections = split_sections(lines, start + 1, stop)
    fields: dict[str, str | None] = {}
    tag: str | None = None
    own: list[Strategy] = []
    for i in range(start + 1, pre_end):
        tight, plain, key = lines.tight[i], lines.plain[i], lines.key[i]
        if not tight or tight == _tight(title) or tight in SKIP:
            continue
        if (tagged := _TAG.match(plain)) is not None:
            tag = tagged.group(1).strip() or None
        elif _ROUTINE in tight:
            routine = True
        elif (value := _label(plain, key)) is not None:
            fields[value[0]] = value[1]
        elif is_strategy_line(key):
            own.extend(strategy_line(plain, key))
        else:
            warnings.append(f"entry {seq}: unrecognised line {plain!r}")
    body = read_sections(lines, sections, {}, warnings)
    url = kpi_links.get(_tight(title)) or kpi_links.get(_tight(title_line))
    if dimension is None and tag:
        found = re.match(r"มิติที่\s*[0-9๐-๙]+", tag)
        dimension = found.group(0) if found else None
    codes = {s.code for s in own}
    entry = DepartmentEntry(
        seq=seq,
        title=title,
        name=name_of(title),
        tag=tag,
        routine=routine,
        dimension=dimension,
        pid=pid_from_url(url),
        unit=fields.get("unit"),
        target_text=fields.get("target"),
        target_value=number(fields.get("target")),
        result_text=fields.get("result"),
        result_value=number(fields.get("result")),
        quarters=body.quarters,
        reports=body.reports,
        strategies=[s for s in groups if s.code not in codes] + own,
        summary=body.texts.get("summary"),
        projects=body.projects,
        url=url,
    )
    return entry, "projects" in body.seen


def _is_marker(lines: Lines, i: int) -> bool:
    key = lines.key[i]
    return _ROUTINE in lines.tight[i] or bool(_DIMENSION.match(key)) or is_strategy_line(key)


def _label(plain: str, key: str) -> tuple[str, str | None] | None:
    for label, name in (("หน่วยนับ", "unit"), ("เป้าหมาย", "target"), ("ผลงาน", "result")):
        found = label_value(plain, key, label)
        if found is not None:
            return name, found[1]
    return None


def _links_by_order(entries: list[DepartmentEntry], links: Sequence[tuple[str, str]]) -> None:
    """When titles are not the link texts, pair entries and KPI links in page order."""
    if all(e.url for e in entries):
        return
    hrefs = list(dict.fromkeys(h for h, _ in links if detect.kind_from_url(h) == "kpi"))
    if len(hrefs) == len(entries):
        for entry, href in zip(entries, hrefs, strict=True):
            entry.url, entry.pid = href, pid_from_url(href)


def _flattened(lines: Lines, end: int, warnings: list[str]) -> list[DepartmentEntry]:
    """The pipe-table copy: one entry per ``หน่วยนับ : … เป้าหมาย : … ผลงาน : …`` line."""
    entries: list[DepartmentEntry] = []
    pending: list[Strategy] = []
    for i in range(end):
        plain, key = lines.plain[i], lines.key[i]
        if not plain:
            continue
        m = _FLAT.search(key)
        cells = [c.strip() for c in plain.split("|") if c.strip()]
        if m is not None:
            target, result = plain[m.start(2) : m.end(2)].strip(), plain[m.start(3) : m.end(3)]
            entries.append(
                DepartmentEntry(
                    seq=len(entries) + 1,
                    unit=plain[m.start(1) : m.end(1)].strip() or None,
                    target_text=target or None,
                    target_value=number(target),
                    result_text=result.strip() or None,
                    result_value=number(result.strip()),
                    strategies=pending,
                )
            )
            pending = []
        elif "|" in plain and cells and is_strategy_line(arabic_digits(cells[0])):
            pending = [s for c in cells for s in strategy_line(c, arabic_digits(c))]
        elif entries:
            entry = entries[-1]
            entry.reports.extend(reports_in(plain, None, len(entry.reports) + 1, warnings))
    return entries


def parse_department(
    body: bytes, url: str | None = None, headers: Mapping[str, str] | None = None
) -> DepartmentPage:
    """Bytes of an ``index11/101/102/103.php`` page → ``DepartmentPage``."""
    page, encoding = detect.read(body, url, headers)
    return parse_department_lines(page.lines, page.links, url, encoding)
