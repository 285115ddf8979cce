"""KPI detail pages (``/mobile/mykpi.php?pid=…``, also ``/mobile62/``): text lines → ``KpiPage``.

Contract: pure. The heading ``รายละเอียดตัวชี้วัด``, the ``<title> : <pid>`` line and the
``ค่าเป้าหมาย`` line are required (a page without them raises ``ParseError`` naming the label);
everything after the header is optional, because stored pages are often cut off. The compact
rendering (no heading or title, starting at ``ค่าเป้าหมาย``) takes its pid from the URL, and its
report lines, which carry no ``รายงานผลฯ`` headings, get ``quarter=None``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from kpi_archive.errors import ParseError
from parsers import detect
from parsers.models import KpiPage, ProjectRef, Quarter, Report, Strategy, validator
from parsers.sections import (
    SKIP,
    Lines,
    Section,
    audit,
    drop_cut_heading,
    label_value,
    link_map,
    number,
    pid_from_url,
    project_refs,
    quarter_table,
    reports_in,
    reports_text_year,
    reports_year,
    split_sections,
    split_title,
    strategies,
)
from parsers.thai import name_of, title_year

HEADING = "รายละเอียดตัวชี้วัด"
TARGET = "ค่าเป้าหมาย"
RESULT = "ผลงานที่ทำได้"
_TYPE = "ประเภทตัวชี้วัด"
_LEVEL = re.compile(r"ตัวชี้วัดระดับ(ผลผลิต|ผลลัพธ์)|\((output|outcome)\)")
_LEVELS = {"ผลผลิต": "output", "ผลลัพธ์": "outcome", "output": "output", "outcome": "outcome"}
# A compact rendering prints at most one line per quarter before the definition.
_MAX_BARE_REPORTS = 4
_KPI_PAGE = validator(KpiPage)


@dataclass
class Header:
    """What the lines before the first section say."""

    title_lines: list[int] = field(default_factory=list)
    unit: str | None = None
    target: tuple[str | None, str | None] | None = None
    result: tuple[str | None, str | None] | None = None
    kpi_type: str | None = None
    kpi_level: str | None = None
    audit: tuple[int, str | None, float | None] | None = None
    data_type: str | None = None
    loose: list[int] = field(default_factory=list)


def read_header(lines: Lines, start: int, end: int) -> Header:
    """Read the header lines ``[start, end)``: title, target/result, type, level, audit."""
    head = Header()
    taken: set[int] = set()
    for i in range(start, end):
        tight = lines.tight[i]
        if not tight or tight in SKIP or i in taken:
            continue
        plain, key = lines.plain[i], lines.key[i]
        if head.target is None and (found := label_value(plain, key, TARGET)) is not None:
            head.target = _value_below(lines, i, end, found, taken)
        elif head.result is None and (found := label_value(plain, key, RESULT)) is not None:
            head.result = _value_below(lines, i, end, found, taken)
        elif key.startswith(_TYPE):
            value = plain[len(_TYPE) :].lstrip(" :")
            value = value.split("(ตัวชี้วัดระดับ", 1)[0].strip()
            below = None if value else _next_line(lines, i, end, taken)
            if below is not None and lines.key[below].startswith("ตัวชี้วัด"):
                value = lines.plain[below]
                taken.add(below)
            head.kpi_type = value or None
            head.kpi_level = _level(key) or head.kpi_level
        elif head.kpi_level is None and key[0] == "(" and (level := _level(key)) is not None:
            head.kpi_level = level
        elif key.startswith("ลักษณะข้อมูล"):
            head.data_type = plain.partition(":")[2].strip() or None
        elif head.audit is None and key.startswith("สยป") and (found_audit := audit(plain, key)):
            head.audit = found_audit
        elif head.target is None:
            head.title_lines.append(i)
        else:
            head.loose.append(i)
    return head


def _next_line(lines: Lines, i: int, end: int, taken: set[int]) -> int | None:
    """The next non-empty line after ``i`` (a lone ``:`` cell is passed over and taken)."""
    for j in range(i + 1, end):
        if lines.tight[j] == ":":
            taken.add(j)
        elif lines.tight[j]:
            return j
    return None


def _value_below(
    lines: Lines, i: int, end: int, found: tuple[str | None, str | None], taken: set[int]
) -> tuple[str | None, str | None]:
    """A label whose value sits in the next cell (``<td>ค่าเป้าหมาย ร้อยละ :</td><td>100</td>``)."""
    unit, value = found
    if value is not None:
        return found
    below = _next_line(lines, i, end, taken)
    if below is None:
        return found
    text = lines.plain[below].removeprefix(":").strip()
    # Only a bare number is read as the value: an empty value is real data too, and the next
    # line is then another label or a report.
    if text and number(text) is not None:
        taken.add(below)
        return unit, text
    return found


def _level(key: str) -> str | None:
    m = _LEVEL.search(key)
    return _LEVELS[m.group(1) or m.group(2)] if m else None


def title_and_pid(
    lines: Lines, head: Header, url: str | None, warnings: list[str], *, required: bool
) -> tuple[str | None, str | None]:
    """The ``<title> : <pid>`` line among the header's title lines; pid falls back to the URL."""
    url_pid = pid_from_url(url)
    if not head.title_lines:
        if required:
            raise ParseError("no '<title> : <pid>' line before ค่าเป้าหมาย", url=url, missing="title")
        return None, url_pid
    title, pid = None, None
    for i in reversed(head.title_lines):
        candidate, found = split_title(lines.plain[i])
        if found is not None:
            title, pid = candidate, found
            others = [lines.plain[j] for j in head.title_lines if j != i]
            if others:
                warnings.append(f"unrecognised header lines: {others!r}")
            break
    if title is None:
        # Markup may break "<title> : <pid>" over several lines; read them as one.
        title, pid = split_title(" ".join(lines.plain[i] for i in head.title_lines))
        if pid is None:
            warnings.append("title line has no ' : <pid>'; pid taken from the URL")
    if pid is not None and url_pid is not None and pid != url_pid:
        warnings.append(f"pid {pid!r} in the title differs from the URL's {url_pid!r}")
    return title, pid or url_pid


@dataclass
class Body:
    """What the sections after the header hold."""

    quarters: list[Quarter] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)
    texts: dict[str, str | None] = field(default_factory=dict)
    strategies: list[Strategy] = field(default_factory=list)
    projects: list[ProjectRef] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)
    cut: bool = False


def read_sections(
    lines: Lines, sections: Sequence[Section], links: Mapping[str, str], warnings: list[str]
) -> Body:
    """Fill a ``Body`` from the page's sections, in page order."""
    body = Body()
    for sec in sections:
        body.seen.append(sec.name)
        if sec.name == "table":
            body.quarters = quarter_table(lines, sec.start, sec.end, warnings)
        elif sec.name == "report":
            seq = 1 + sum(1 for r in body.reports if r.quarter == sec.quarter)
            text = lines.text(sec.start, sec.end)
            body.reports.extend(reports_in(text, sec.quarter, seq, warnings))
        elif sec.name == "strategies":
            found, body.cut = strategies(lines, sec.start, sec.end, warnings)
            body.strategies.extend(found)
        elif sec.name == "projects":
            body.projects.extend(
                project_refs(lines, sec.start, sec.end, dict(links), detect.kind_from_url)
            )
        elif sec.name != "footer":
            body.texts[sec.name] = lines.text(sec.start, sec.end)
    return body


def bare_reports(lines: Lines, loose: list[int], body: Body, warnings: list[str]) -> None:
    """Compact rendering: header-less lines are the reports, then perhaps the definition."""
    for n, i in enumerate(loose):
        text = lines.plain[i]
        if "หมายถึง" in text or n == _MAX_BARE_REPORTS:
            if "หมายถึง" in text and "definition" not in body.texts:
                body.texts["definition"] = lines.text(i, i + 1)
                n += 1
            rest = loose[n:]
            if rest:
                warnings.append(f"{len(rest)} unlabelled line(s) after the reports not assigned")
            return
        body.reports.extend(reports_in(lines.raw[i], None, len(body.reports) + 1, warnings))


def parse_kpi_lines(
    raw_lines: Sequence[str],
    links: Sequence[tuple[str, str]],
    url: str | None = None,
    encoding: str | None = None,
) -> KpiPage:
    """Parse a KPI detail page from its visible lines and links."""
    warnings: list[str] = []
    lines = Lines(raw_lines)
    end = drop_cut_heading(lines, warnings)
    cut_heading = end < len(lines)
    heading = _find(lines, lambda t: t == HEADING, end)
    compact = heading is None
    if compact:
        heading = _find(lines, lambda t: t.startswith(TARGET), end)
        if heading is None:
            raise ParseError(f"no {HEADING} heading", url=url, missing=HEADING)
        start = heading
    else:
        assert heading is not None
        start = heading + 1
    pre_end, sections = split_sections(lines, start, end)
    head = read_header(lines, start, pre_end)
    if head.target is None:
        raise ParseError(f"no '{TARGET} <unit> : <value>' line", url=url, missing=TARGET)
    title, pid = title_and_pid(lines, head, url, warnings, required=not compact)
    body = read_sections(lines, sections, link_map(links), warnings)
    if head.loose:
        if compact and not any(s.name == "report" for s in sections):
            bare_reports(lines, head.loose, body, warnings)
        else:
            loose = [lines.plain[i] for i in head.loose]
            warnings.append(f"unrecognised lines before the sections: {loose!r}")
    truncated = cut_heading or "footer" not in body.seen
    if truncated:
        last = body.seen[-1] if body.seen else "header"
        warnings.append(f"page ends before its footer (last section: {last})")
    return build_kpi(
        "kpi", url, encoding, title, pid, head, body, warnings, truncated, compact=compact
    )


def build_kpi(
    kind: str,
    url: str | None,
    encoding: str | None,
    title: str | None,
    pid: str | None,
    head: Header,
    body: Body,
    warnings: list[str],
    truncated: bool,
    *,
    compact: bool,
) -> KpiPage:
    """Assemble the validated record (fiscal year: the title's prefix, else the year of the
    reports' date stamps, else of the dates their texts name)."""
    year, source = title_year(title), "title"
    if year is None:
        year, source = reports_year(body.reports), "reports"
    if year is None:
        year, source = reports_text_year(body.reports), "report_text"
    unit, target_text = head.target or (None, None)
    result_unit, result_text = head.result or (None, None)
    quarter, score_text, score = head.audit or (None, None, None)
    return _KPI_PAGE(
        {
            "page_kind": kind,
            "url": url,
            "pid": pid,
            "title": title,
            "name": name_of(title),
            "fiscal_year": year,
            "fiscal_year_source": source if year is not None else None,
            "unit": unit or result_unit,
            "target_text": target_text,
            "target_value": number(target_text),
            "result_text": result_text,
            "result_value": number(result_text),
            "kpi_type": head.kpi_type,
            "kpi_level": head.kpi_level,
            "audit_quarter": quarter,
            "audit_score": score,
            "audit_score_text": score_text,
            "quarters": body.quarters,
            "reports": body.reports,
            "summary": body.texts.get("summary"),
            "definition": body.texts.get("definition"),
            "calculation": body.texts.get("calculation"),
            "data_sources": body.texts.get("data_sources"),
            "data_type": head.data_type,
            "strategies": body.strategies,
            "projects": body.projects,
            "rendering": "compact" if compact else "full",
            "truncated": truncated,
            "encoding": encoding,
            "warnings": warnings,
        }
    )


def _find(lines: Lines, test: detect.Test, end: int) -> int | None:
    for i in range(end):
        if lines.tight[i] and test(lines.tight[i]):
            return i
    return None


def parse_kpi(
    body: bytes, url: str | None = None, headers: Mapping[str, str] | None = None
) -> KpiPage:
    """Bytes of a ``mykpi.php`` page → ``KpiPage`` (raises ``ParseError``)."""
    page, encoding = detect.read(body, url, headers)
    return parse_kpi_lines(page.lines, page.links, url, encoding)
