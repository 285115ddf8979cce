"""What counts as a change: merging a short rendering, and the substantive field differences.

Contract: pure functions over records as stored (``kpi_versions.record``: JSON-ready dicts).

- ``merge(current, current_sources, new, capture_id)``: a ``full`` capture replaces the record; a
  short one (``compact``, ``flattened``) updates only the fields it shows. Fields it cannot show
  (a compact KPI page has no title, no quarterly table, no audit score, no quarter headings over
  its reports) keep their last values, and ``sources`` says, per top-level field, which capture
  each current value comes from.
- ``stored_sources(record, sources, own)`` / ``full_sources(record, own, stored)``: how
  ``kpi_versions.sources`` keeps ``sources``: only the exceptions, the fields whose capture is not
  the version's own ``own`` (JSON text, None when there are none); and back, every field's
  capture, the same answer per field as the whole map gave.
- ``field_changes(old, new)``: one ``FieldChange`` per substantive difference, with the Thai label
  the BMA page prints beside the field name. ``rendering``, ``encoding``, ``truncated``,
  ``warnings`` and ``fiscal_year_source`` (they describe the capture or the parse, not the page)
  never count.
- ``change_kind(previous, new, was_gone=…)``: ``new``, ``changed``, ``gone``, ``returned`` or None.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

ChangeKind = Literal["new", "changed", "gone", "returned"]
Sources = dict[str, int | None]

# Describe the capture or the parse, not what the page says.
NOT_CHANGES = frozenset(
    {"rendering", "encoding", "truncated", "warnings", "url", "fiscal_year_source"}
)
# The labels the BMA pages print (ค่าเป้าหมาย, ผลงานที่ทำได้ …); ones in brackets are ours, for
# values the page shows without a label of their own.
FIELD_LABELS = {
    "url": "ที่อยู่หน้า (URL)",
    "pid": "รหัสตัวชี้วัด",
    "title": "ชื่อตัวชี้วัด",
    "name": "ชื่อตัวชี้วัด (ไม่มีเลขลำดับ)",
    "fiscal_year": "ปีงบประมาณ",
    "fiscal_year_source": "ที่มาของปีงบประมาณ",
    "unit": "หน่วยนับ",
    "target_text": "ค่าเป้าหมาย",
    "target_value": "ค่าเป้าหมาย (ตัวเลข)",
    "result_text": "ผลงานที่ทำได้",
    "result_value": "ผลงานที่ทำได้ (ตัวเลข)",
    "kpi_type": "ประเภทตัวชี้วัด",
    "kpi_level": "ตัวชี้วัดระดับ",
    "audit_quarter": "สยป. ตรวจประเมินตัวชี้วัด : ไตรมาสที่",
    "audit_score": "สยป. ตรวจประเมินตัวชี้วัด (คะแนน)",
    "audit_score_text": "สยป. ตรวจประเมินตัวชี้วัด",
    "quarters": "ผลงานเทียบกับเป้าหมายรายไตรมาส",
    "reports": "รายงานผลฯ",
    "summary": "สรุปผลการดำเนินงาน",
    "definition": "นิยาม หรือความหมายของตัวชี้วัด",
    "calculation": "วิธีการคำนวณ หรือ เกณฑ์การประเมิน",
    "data_sources": "วิธีการการเก็บข้อมูล/แหล่งข้อมูล",
    "data_type": "ลักษณะข้อมูล",
    "strategies": "สนับสนุนยุทธศาสตร์กรุงเทพมหานครฯ",
    "projects": "โครงการ/กิจกรรมที่สนับสนุนตัวชี้วัด",
    "rendering": "รูปแบบการแสดงผล",
    "truncated": "หน้าถูกตัด",
    "encoding": "การเข้ารหัสอักขระ",
    "warnings": "คำเตือนของตัวอ่านหน้า",
    "page_kind": "ชนิดหน้า",
    "owner_unit": "หน่วยงานเจ้าของโครงการ",
    "progress": "ความคืบหน้าโครงการ ร้อยละ (ตัวเลข)",
    "progress_text": "ความคืบหน้าโครงการ ร้อยละ",
    "contact": "ผู้รับผิดชอบ/ติดต่อ",
    "budget_code": "รหัสงบประมาณ",
    "rationale": "หลักการและเหตุผล",
    "objectives": "วัตถุประสงค์ของโครงการ",
    "goals": "เป้าหมายของโครงการ",
    "agency_code": "รหัสหน่วยงาน",
    "heading": "ผลการปฏิบัติราชการประจำปี",
    "entries": "ตัวชี้วัดของหน่วยงาน",
}
# What a short rendering always prints, even when empty (an empty target is data, not absence).
ALWAYS_SHOWN = {
    "kpi": frozenset(
        {
            "unit",
            "target_text",
            "target_value",
            "result_text",
            "result_value",
            "kpi_type",
            "kpi_level",
            "audit_quarter",
        }
    ),
    "project": frozenset({"progress", "progress_text", "audit_quarter"}),
}
# The title line carries the fiscal year: without a title the year (read from the reports) and
# its source stay with the title they came from.
TITLE_GROUP = ("title", "name", "fiscal_year", "fiscal_year_source")
_KEYED_LISTS = {"quarters": "quarter", "entries": "seq"}


def label(field: str) -> str:
    """The Thai label of a record field (the field name itself if it has none)."""
    return FIELD_LABELS.get(field, field)


@dataclass(frozen=True)
class FieldChange:
    """One substantive difference between two records."""

    field: str
    label: str
    old: Any
    new: Any


@dataclass(frozen=True)
class Merged:
    """The record a capture leaves current, which capture each field comes from, what was kept."""

    record: dict[str, Any]
    sources: Sources
    kept: tuple[str, ...] = ()


def merge(
    current: Mapping[str, Any] | None,
    current_sources: Mapping[str, int | None] | None,
    new: Mapping[str, Any],
    capture_id: int | None,
) -> Merged:
    """The current record after a complete capture (see the module docstring)."""
    if current is not None and new.get("fiscal_year") is None and current.get("fiscal_year"):
        # The year is read from the title, the owner line or the reports' dates; a capture that
        # prints none of them does not make a known year unknown.
        year = {k: current.get(k) for k in ("fiscal_year", "fiscal_year_source")}
        merged = merge(current, current_sources, {**new, **year}, capture_id)
        kept_year = {k: (current_sources or {}).get(k) for k in year}
        return Merged(merged.record, merged.sources | kept_year, merged.kept + tuple(year))
    if current is None or new.get("rendering", "full") == "full":
        return Merged(dict(new), dict.fromkeys(new, capture_id))
    shown = ALWAYS_SHOWN.get(str(new.get("page_kind")), frozenset())
    record: dict[str, Any] = {}
    kept: list[str] = []
    no_title = not new.get("title") and bool(current.get("title"))
    for name in [*new, *(k for k in current if k not in new)]:
        if name not in new:
            value = current[name]
        elif name in NOT_CHANGES or name in shown:
            value = new[name]
        elif name in TITLE_GROUP and no_title:
            value = current.get(name)
        else:
            value = _merge_value(name, current.get(name), new[name])
        record[name] = value
        if name not in NOT_CHANGES and name not in shown and value == current.get(name):
            kept.append(name)
    sources: Sources = {}
    for name in record:
        old_source = (current_sources or {}).get(name)
        sources[name] = old_source if name in kept else capture_id
    return Merged(record, sources, tuple(k for k in kept if new.get(k) != record[k]))


def stored_sources(
    record: Mapping[str, Any], sources: Mapping[str, int | None], own: int | None
) -> str | None:
    """``sources`` as ``kpi_versions.sources`` keeps it: the fields not from capture ``own``."""
    # Nearly every version reads every field from its own capture; only a short rendering's kept
    # fields (and a gone version, which has no capture) name another. A field of the record
    # missing from ``sources`` had no known capture: it is kept as an explicit null.
    named = {k: sources.get(k) for k in record if sources.get(k) != own}
    named |= {k: v for k, v in sources.items() if k not in record}
    return json.dumps(named) if named else None


def full_sources(record: Mapping[str, Any], own: int | None, stored: str | None) -> Sources:
    """Per field of ``record``, the capture its value comes from (``stored_sources`` undone)."""
    named: Sources = json.loads(stored) if stored else {}
    return {**dict.fromkeys(record, own), **named}


def field_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[FieldChange]:
    """Substantive differences, one per field, in the new record's field order."""
    names = [*new, *(k for k in old if k not in new)]
    differ = [k for k in names if k not in NOT_CHANGES and old.get(k) != new.get(k)]
    return [FieldChange(k, label(k), old.get(k), new.get(k)) for k in differ]


def change_kind(
    previous: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    *,
    was_gone: bool = False,
) -> ChangeKind | None:
    """What a version records: a first record, a change, a disappearance, a return; or nothing.

    ``new`` is None when the page has gone; ``was_gone`` when it had gone since ``previous``.
    """
    if new is None:
        return "gone" if previous is not None and not was_gone else None
    if previous is None:
        return "new"
    if was_gone:
        return "returned"
    return "changed" if field_changes(previous, new) else None


def _merge_value(name: str, old: Any, new: Any) -> Any:
    if _empty(new):
        return old
    if _empty(old):
        return new
    if name in _KEYED_LISTS and isinstance(old, list) and isinstance(new, list):
        return _merge_keyed(old, new, _KEYED_LISTS[name])
    if name == "reports" and isinstance(old, list) and isinstance(new, list):
        return _merge_reports(old, new)
    if isinstance(old, list) and isinstance(new, list):
        return new if len(new) >= len(old) else old
    if isinstance(old, str) and isinstance(new, str) and _cut_of(new, old):
        return old
    return new


def _merge_keyed(old: list[Any], new: list[Any], key: str) -> list[Any]:
    """Rows matched by ``key``; a cell the short rendering leaves empty keeps its last value."""
    merged = {row.get(key): dict(row) for row in old}
    for row in new:
        before = merged.get(row.get(key))
        if before is None:
            merged[row.get(key)] = dict(row)
        else:
            merged[row.get(key)] = {
                k: _merge_value(k, before.get(k), row.get(k)) for k in [*row, *before]
            }
    return sorted(merged.values(), key=lambda r: (r.get(key) is None, r.get(key) or 0))


def _merge_reports(old: list[Any], new: list[Any]) -> list[Any]:
    """Compact report lines carry no quarter: a line matching the report at its place keeps it."""
    merged = []
    for i, report in enumerate(new):
        if i < len(old) and _same_text(old[i].get("text"), report.get("text")):
            merged.append(old[i])
        else:
            merged.append(report)
    return merged + old[len(new) :]


def _same_text(a: object, b: object) -> bool:
    """Equal, or one a cut-off start of the other (stored pages often end mid-sentence)."""
    if not isinstance(a, str) or not isinstance(b, str):
        return a == b
    x, y = " ".join(a.split()), " ".join(b.split())
    return x == y or (bool(x) and bool(y) and (x.startswith(y) or y.startswith(x)))


def _cut_of(new: str, old: str) -> bool:
    x, y = " ".join(new.split()), " ".join(old.split())
    return x != y and y.startswith(x)


def _empty(value: object) -> bool:
    return value is None or value == "" or value == []
