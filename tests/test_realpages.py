"""Every stored real page text parses, and each field the text shows is found.

The texts live in ../shared/realpages (skipped when absent). Each is wrapped as HTML with one
``<br>`` per line; the ``*bold*`` marks stay in the text (the parsers ignore them in labels).
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from parsers import DepartmentPage, KpiPage, ParseError, ProjectPage, parse_page

REALPAGES = Path(__file__).resolve().parents[2] / "shared" / "realpages"
NOT_OURS = {"reportprojectit", "bs2568-project"}
STAMP = re.compile(r"(?<!\S)[0-9๐-๙]{1,2}/[0-9๐-๙]{1,2}/[0-9๐-๙]{4}\s*:")
REPORT_HEADING = re.compile(r"^รายงานผลฯ ไตรมาสที่ [1-4]$")
ENTRY = re.compile(r"^\((\d+)\) \S")


def _cases() -> list[tuple[str, str, str]]:
    if not REALPAGES.is_dir():
        return []
    cases = [
        (
            "https://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2029",
            "mykpi",
            (REALPAGES / "seed-0411-2029.txt").read_text(encoding="utf-8"),
        )
    ]
    for line in (REALPAGES / "pages.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        for text in [row["text"], *(row.get("alt_texts") or [])]:
            cases.append((row["url"], row["path_kind"], text))
    return cases


CASES = _cases()
pytestmark = pytest.mark.skipif(not CASES, reason="../shared/realpages is not here")


def as_html(text: str) -> bytes:
    """The text as a page: one ``<br>`` per line, ``<>&`` escaped."""
    lines = "<br>\n".join(html.escape(line, quote=False) for line in text.split("\n"))
    return f"<html><body>{lines}</body></html>".encode()


def section_stamps(text: str) -> int:
    """Stamps inside report sections (or anywhere after the audit line of a compact copy)."""
    lines = text.split("\n")
    inside, count = False, 0
    compact = lines[0].startswith("ค่าเป้าหมาย") and not any(
        REPORT_HEADING.match(line) for line in lines
    )
    for line in lines:
        if REPORT_HEADING.match(line) or (compact and line.startswith("*** สยป.")):
            inside = True
            continue
        if line.startswith("** สรุปผลการดำเนินงาน") or line.startswith("นิยาม"):
            inside = False
        if inside:
            count += len(STAMP.findall(line))
    return count


@pytest.mark.parametrize(("url", "kind", "text"), CASES, ids=[f"{n}" for n in range(len(CASES))])
def test_real_page_parses_and_its_fields_are_found(url: str, kind: str, text: str) -> None:
    if kind in NOT_OURS:
        with pytest.raises(ParseError):
            parse_page(as_html(text), url)
        return
    record = parse_page(as_html(text), url)
    lines = text.split("\n")
    if isinstance(record, DepartmentPage):
        entries = [line for line in lines if ENTRY.match(line)]
        assert len(record.entries) == max(len(entries), 1 if "หน่วยนับ" in text else 0)
        for entry in record.entries:
            assert entry.unit is not None
        return
    assert isinstance(record, KpiPage | ProjectPage)
    title_line = next(
        (
            line
            for line in lines[:6]
            if re.search(r" : [0-9]+(?:-[0-9]+)?$", line)
            and not line.startswith(("ค่าเป้าหมาย", "ผลงาน"))
        ),
        None,
    )
    if title_line is not None:
        assert record.pid == title_line.rsplit(" : ", 1)[1]
        assert record.title == " ".join(title_line.rsplit(" : ", 1)[0].split())
    else:
        assert record.pid == re.search(r"pid=([^&]+)", url).group(1)  # type: ignore[union-attr]
    target = next((line for line in lines if line.startswith("ค่าเป้าหมาย")), None)
    if target is not None:
        value = target.split(":", 1)[1].strip() or None
        assert record.target_text == value
    if any(line.startswith("(ตัวชี้วัดระดับ") for line in lines):
        assert record.kpi_level in ("output", "outcome")
    if any(line.startswith("ประเภทตัวชี้วัด : ตัวชี้วัด") for line in lines):
        assert record.kpi_type is not None
    audit = next((line for line in lines if line.startswith("*** สยป.")), None)
    if audit is not None:
        assert record.audit_quarter == int(re.search(r"ไตรมาสที่ (\d)", audit).group(1))  # type: ignore[union-attr]
    rows = sum(1 for line in lines if re.fullmatch(r"\d+(?:\.\d+)? / \d+(?:\.\d+)?", line))
    assert len(record.quarters) == rows
    assert sum(1 for r in record.reports if r.date_text) == section_stamps(text)
    if "สนับสนุนยุทธศาสตร์กรุงเทพมหานครฯ" in text:
        assert record.strategies
