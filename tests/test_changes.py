"""archive.changes: a short rendering is not a deletion; only substantive differences count."""

from __future__ import annotations

import pytest
from helpers import SEED_URL, get_fixture

from archive.changes import (
    FIELD_LABELS,
    FieldChange,
    Merged,
    change_kind,
    field_changes,
    full_sources,
    merge,
    stored_sources,
)
from parsers import parse_page
from parsers.models import DepartmentEntry, DepartmentPage, KpiPage, ProjectPage, Quarter

COMPACT_URL = "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=2400-1060"
FULL = parse_page(get_fixture("kpi/monitor_2400-1060.table.utf8.html"), COMPACT_URL).model_dump(
    mode="json"
)
COMPACT_BODY = get_fixture("kpi/monitor_2400-1060.alt.compact.utf8.html")
COMPACT = parse_page(COMPACT_BODY, COMPACT_URL).model_dump(mode="json")
SEED = parse_page(get_fixture("kpi/dp_0411-2029.table.utf8.html"), SEED_URL).model_dump(mode="json")


def test_a_compact_capture_keeps_what_it_cannot_show() -> None:
    merged = merge(FULL, dict.fromkeys(FULL, 1), COMPACT, 2)
    assert merged.kept == (
        "title",
        "name",
        "audit_score",
        "audit_score_text",
        "quarters",
        "reports",
    )
    assert {k: merged.record[k] for k in merged.kept} == {k: FULL[k] for k in merged.kept}
    assert merged.record["rendering"] == "compact"
    assert field_changes(FULL, merged.record) == []


def test_every_current_value_says_which_capture_it_comes_from() -> None:
    merged = merge(FULL, dict.fromkeys(FULL, 1), COMPACT, 2)
    assert merged.sources == {
        "url": 2,
        "pid": 1,
        "title": 1,
        "name": 1,
        "fiscal_year": 1,
        "fiscal_year_source": 2,
        "unit": 2,
        "target_text": 2,
        "target_value": 2,
        "result_text": 2,
        "result_value": 2,
        "kpi_type": 2,
        "kpi_level": 2,
        "audit_quarter": 2,
        "audit_score": 1,
        "audit_score_text": 1,
        "quarters": 1,
        "reports": 1,
        "summary": 1,
        "definition": 1,
        "calculation": 1,
        "data_sources": 1,
        "data_type": 1,
        "strategies": 1,
        "projects": 1,
        "rendering": 2,
        "truncated": 2,
        "encoding": 2,
        "warnings": 2,
        "page_kind": 1,
    }


def test_without_merging_the_compact_capture_would_blank_the_title_quarters_and_score() -> None:
    assert [c.field for c in field_changes(FULL, COMPACT)] == [
        "title",
        "name",
        "audit_score",
        "audit_score_text",
        "quarters",
        "reports",
    ]


def test_a_compact_capture_updates_the_target_it_shows() -> None:
    body = COMPACT_BODY.replace("ค่าเป้าหมาย ร้อยละ : 100".encode(), "ค่าเป้าหมาย ร้อยละ : 90".encode())
    lower = parse_page(body, COMPACT_URL).model_dump(mode="json")
    merged = merge(FULL, dict.fromkeys(FULL, 1), lower, 3)
    assert field_changes(FULL, merged.record) == [
        FieldChange("target_text", "ค่าเป้าหมาย", "100", "90"),
        FieldChange("target_value", "ค่าเป้าหมาย (ตัวเลข)", 100.0, 90.0),
    ]
    assert (merged.sources["target_text"], merged.sources["title"]) == (3, 1)


def test_a_full_capture_replaces_the_whole_record() -> None:
    merged = merge(COMPACT, None, FULL, 4)
    assert merged == Merged(FULL, dict.fromkeys(FULL, 4))


def test_the_first_capture_is_the_record_whatever_its_rendering() -> None:
    assert merge(None, None, COMPACT, 1) == Merged(COMPACT, dict.fromkeys(COMPACT, 1))


def test_a_compact_quarterly_table_fills_only_the_columns_it_shows() -> None:
    full_quarters = [
        Quarter(quarter=1, result=90.0, result_text="90.00", assessment=100.0),
        Quarter(quarter=2, result=95.0, result_text="95.00", assessment=100.0),
    ]
    current = FULL | {"quarters": [q.model_dump() for q in full_quarters]}
    compact = COMPACT | {
        "quarters": [
            {"quarter": 1, "score_2_1": 100.0, "score_2_2": 100.0, "scores_text": "100 / 100"},
            {"quarter": 2, "score_2_1": 90.0, "score_2_2": 100.0, "scores_text": "90 / 100"},
        ]
    }
    assert merge(current, None, compact, 2).record["quarters"] == [
        {
            "quarter": 1,
            "result": 90.0,
            "result_text": "90.00",
            "assessment": 100.0,
            "assessment_text": None,
            "score_2_1": 100.0,
            "score_2_2": 100.0,
            "scores_text": "100 / 100",
        },
        {
            "quarter": 2,
            "result": 95.0,
            "result_text": "95.00",
            "assessment": 100.0,
            "assessment_text": None,
            "score_2_1": 90.0,
            "score_2_2": 100.0,
            "scores_text": "90 / 100",
        },
    ]


def test_a_new_compact_report_line_is_added_after_the_known_ones() -> None:
    line = {"quarter": None, "seq": 3, "date": None, "date_text": None, "text": "ไตรมาส 3 เสร็จ"}
    compact = COMPACT | {"reports": [*COMPACT["reports"], line]}
    merged = merge(FULL, None, compact, 2)
    assert merged.record["reports"] == [*FULL["reports"], line]
    assert [c.field for c in field_changes(FULL, merged.record)] == ["reports"]


def test_a_text_a_short_rendering_cuts_keeps_its_last_value() -> None:
    current = FULL | {"definition": "ผู้สูงอายุ หมายถึง ผู้ที่มีอายุ 60 ปีขึ้นไป"}
    compact = COMPACT | {"definition": "ผู้สูงอายุ หมายถึง ผู้ที่"}
    assert merge(current, None, compact, 2).record["definition"] == current["definition"]


def test_a_flattened_department_page_keeps_the_titles_it_cannot_tell() -> None:
    entry = DepartmentEntry(seq=1, title="ร้อยละของเรื่องร้องเรียน", unit="ร้อยละ", target_text="5")
    current = DepartmentPage(page_kind="department", agency_code="50010000", entries=[entry])
    flat = current.model_copy(
        update={
            "rendering": "flattened",
            "entries": [DepartmentEntry(seq=1, unit="ร้อยละ", target_text="6")],
        }
    )
    merged = merge(current.model_dump(mode="json"), None, flat.model_dump(mode="json"), 2)
    assert merged.record["entries"][0]["title"] == "ร้อยละของเรื่องร้องเรียน"
    assert merged.record["entries"][0]["target_text"] == "6"


def test_rendering_encoding_truncated_and_warnings_are_never_changes() -> None:
    other = SEED | {
        "rendering": "compact",
        "encoding": "cp874",
        "truncated": True,
        "warnings": ["page ends before its footer (last section: report)"],
    }
    assert field_changes(SEED, other) == []
    assert change_kind(SEED, other) is None


def test_a_target_change_names_the_printed_text_and_the_number() -> None:
    assert field_changes(SEED, SEED | {"target_text": "90", "target_value": 90.0}) == [
        FieldChange("target_text", "ค่าเป้าหมาย", "100", "90"),
        FieldChange("target_value", "ค่าเป้าหมาย (ตัวเลข)", 100.0, 90.0),
    ]


def test_a_capture_that_prints_no_year_keeps_the_known_fiscal_year() -> None:
    current = SEED | {"fiscal_year": 2566, "fiscal_year_source": "title"}
    merged = merge(current, dict.fromkeys(current, 1), SEED | {"fiscal_year": None}, 2)
    assert (merged.record["fiscal_year"], merged.record["fiscal_year_source"]) == (2566, "title")
    assert (merged.sources["fiscal_year"], merged.sources["target_text"]) == (1, 2)


@pytest.mark.parametrize(
    ("previous", "new", "was_gone", "kind"),
    [
        (None, SEED, False, "new"),
        (SEED, SEED | {"result_text": "90"}, False, "changed"),
        (SEED, SEED | {"warnings": []}, False, None),
        (SEED, None, False, "gone"),
        (SEED, None, True, None),
        (SEED, SEED, True, "returned"),
    ],
)
def test_each_version_has_a_change_kind(previous, new, was_gone, kind) -> None:
    assert change_kind(previous, new, was_gone=was_gone) == kind


@pytest.mark.parametrize("model", [KpiPage, ProjectPage, DepartmentPage])
def test_every_record_field_has_a_thai_label(model) -> None:
    assert [f for f in model.model_fields if f not in FIELD_LABELS] == []


def test_sources_are_stored_as_the_fields_from_another_capture_only() -> None:
    record = {"pid": "2400-1060", "title": "t", "target_text": "80"}
    assert stored_sources(record, {"pid": 2, "title": 1, "target_text": 2}, 2) == '{"title": 1}'
    assert stored_sources(record, dict.fromkeys(record, 2), 2) is None


def test_stored_sources_read_back_give_every_field_the_capture_it_had() -> None:
    record = {"pid": "2400-1060", "title": "t", "target_text": "80"}
    # title had no known capture, and an old field the record lost still names its own.
    sources = {"pid": 2, "target_text": 2, "old": 1}
    text = stored_sources(record, sources, 2)
    assert text == '{"title": null, "old": 1}'
    assert full_sources(record, 2, text) == {"pid": 2, "title": None, "target_text": 2, "old": 1}
    assert full_sources(record, None, None) == {"pid": None, "title": None, "target_text": None}
