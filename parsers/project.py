"""Project progress pages (``/mobile/myproject.php?pid=NNNNNNNN-NNNN``) → ``ProjectPage``.

Contract: pure. The full rendering needs the heading ``ความคืบหน้าโครงการ/กิจกรรม`` and the
``<name> : <pid>`` line; the compact one starts at ``ความคืบหน้าโครงการ ร้อยละ <n>`` and takes
its pid from the URL. Then, each optional: ``<owning unit> : (<BE year>)``, progress, contact,
the ``*** สยป. ประเมินโครงการ`` audit, rationale with its budget-code line
(``50270300/50270300``), objectives, goals and the strategy block (English names kept apart).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from kpi_archive.errors import ParseError
from parsers.detect import read
from parsers.kpi import Body, read_sections
from parsers.models import ProjectPage, validator
from parsers.sections import (
    SKIP,
    Lines,
    audit,
    drop_cut_heading,
    is_strategy_line,
    link_map,
    number,
    pid_from_url,
    split_sections,
    split_title,
    strategy_line,
)
from parsers.thai import name_of, title_year

HEADING = "ความคืบหน้าโครงการ/กิจกรรม"
PROGRESS = "ความคืบหน้าโครงการร้อยละ"
_OWNER_YEAR = re.compile(r"^(.*?)\s*:\s*\(\s*(\d{4})\s*\)$")
_BUDGET_CODE = re.compile(r"^\d{8}/\d{8}$")
_COMPACT_ORDER = ("rationale", "objectives", "goals")
_PROJECT_PAGE = validator(ProjectPage)


def parse_project_lines(
    raw_lines: Sequence[str],
    links: Sequence[tuple[str, str]],
    url: str | None = None,
    encoding: str | None = None,
) -> ProjectPage:
    """Parse a project progress page from its visible lines and links."""
    warnings: list[str] = []
    lines = Lines(raw_lines)
    end = drop_cut_heading(lines, warnings)
    cut_heading = end < len(lines)
    tight = lines.tight
    heading = next((i for i in range(end) if tight[i] == HEADING), None)
    compact = heading is None
    if heading is None:
        start = next((i for i in range(end) if tight[i].startswith(PROGRESS)), None)
        if start is None:
            raise ParseError(f"no {HEADING} heading", url=url, missing=HEADING)
    else:
        start = heading + 1
    pre_end, sections = split_sections(lines, start, end)
    fields: dict[str, object] = {}
    title: str | None = None
    pid = pid_from_url(url)
    owner_year: int | None = None
    contact: list[str] = []
    loose: list[int] = []
    for i in range(start, pre_end):
        if not tight[i] or tight[i] in SKIP:
            continue
        plain, key = lines.plain[i], lines.key[i]
        if tight[i].startswith(PROGRESS):
            text = plain.split("ร้อยละ", 1)[1].strip() or None
            fields["progress_text"], fields["progress"] = text, number(text)
        elif key.startswith("สยป") and (found := audit(plain, key)) is not None:
            fields["audit_quarter"], fields["audit_score_text"], fields["audit_score"] = found
        elif not compact and title is None:
            title, title_pid = split_title(plain)
            if title_pid is None:
                raise ParseError("no '<name> : <pid>' line", url=url, missing="title")
            if pid is not None and title_pid != pid:
                warnings.append(f"pid {title_pid!r} in the title differs from the URL's {pid!r}")
            pid = title_pid
        elif "progress_text" not in fields and "owner_unit" not in fields:
            m = _OWNER_YEAR.match(key)
            owner = plain[: m.end(1)] if m else plain
            fields["owner_unit"] = owner.strip() or None
            owner_year = int(m.group(2)) if m else None
        elif "progress_text" not in fields:
            continue  # the bare progress number the chart prints above its label
        elif "audit_quarter" not in fields:
            contact.append(plain)
        else:
            loose.append(i)
    if "progress_text" not in fields and compact:
        raise ParseError("no progress line", url=url, missing=PROGRESS)
    body = read_sections(lines, sections, link_map(links), warnings)
    if "rationale" in body.texts:
        body.texts["rationale"], fields["budget_code"] = _budget_code(body.texts["rationale"])
    if loose:
        _compact_lines(lines, loose, body, fields, warnings)
    truncated = cut_heading or body.cut or ("strategies" not in body.seen and not body.strategies)
    if truncated:
        warnings.append("page ends before the end of its strategy block")
    year, source = title_year(title), "title"
    if year is None:
        year, source = owner_year, "page"
    return _PROJECT_PAGE(
        {
            **fields,
            "page_kind": "project",
            "url": url,
            "pid": pid,
            "title": title,
            "name": name_of(title),
            "fiscal_year": year,
            "fiscal_year_source": source if year is not None else None,
            "contact": "\n".join(contact) or None,
            "rationale": body.texts.get("rationale"),
            "objectives": body.texts.get("objectives"),
            "goals": body.texts.get("goals"),
            "strategies": body.strategies,
            "projects": body.projects,
            "rendering": "compact" if compact else "full",
            "truncated": truncated,
            "encoding": encoding,
            "warnings": warnings,
        }
    )


def _budget_code(text: str | None) -> tuple[str | None, str | None]:
    """Split the budget-code line (``50270300/50270300``) out of the rationale text."""
    if text is None:
        return None, None
    kept: list[str] = []
    code: str | None = None
    for line in text.split("\n"):
        if code is None and _BUDGET_CODE.match(line.replace(" ", "")):
            code = line.strip()
        else:
            kept.append(line)
    return "\n".join(kept) or None, code


def _compact_lines(
    lines: Lines, loose: list[int], body: Body, fields: dict[str, object], warnings: list[str]
) -> None:
    """Compact rendering: unlabelled lines are rationale, budget code, objectives, goals, …"""
    order = [name for name in _COMPACT_ORDER if name not in body.texts]
    unused: list[str] = []
    for i in loose:
        plain, key = lines.plain[i], lines.key[i]
        if "budget_code" not in fields and _BUDGET_CODE.match(lines.tight[i]):
            fields["budget_code"] = plain
        elif is_strategy_line(key) or (body.strategies and lines.tight[i][0].isdigit()):
            found = strategy_line(plain, key)
            body.cut = any(not s.title for s in found)
            body.strategies.extend(s for s in found if s.title)
        elif order and not body.strategies:
            body.texts[order.pop(0)] = lines.text(i, i + 1)
        else:
            unused.append(plain)
    if unused:
        warnings.append(f"{len(unused)} unlabelled line(s) not assigned")


def parse_project(
    body: bytes, url: str | None = None, headers: Mapping[str, str] | None = None
) -> ProjectPage:
    """Bytes of a ``myproject.php`` page → ``ProjectPage`` (raises ``ParseError``)."""
    page, encoding = read(body, url, headers)
    return parse_project_lines(page.lines, page.links, url, encoding)
