"""The same visible text in five markup families and two encodings gives the identical record."""

from __future__ import annotations

import pytest
from markup_families import ENCODINGS, FAMILIES, page, plain, sources

import parsers
from parsers import ParseError, parse_page

SOURCES = list(sources())


def comparable(body: bytes, url: str | None) -> object:
    """The record without ``warnings`` and ``encoding``, or the label a ``ParseError`` missed."""
    try:
        record = parse_page(body, url).model_dump(mode="json")
    except ParseError as error:
        return ("ParseError", error.missing)
    record.pop("warnings")
    record.pop("encoding")
    return record


def test_every_fixture_and_real_text_is_a_source() -> None:
    kinds = {name.split(":", 1)[0] for name, _, _ in SOURCES}
    assert "fixture" in kinds
    assert len([s for s in SOURCES if s[0].startswith("fixture:")]) >= 45


@pytest.mark.parametrize(("name", "url", "lines"), SOURCES, ids=[s[0] for s in SOURCES])
def test_every_markup_family_and_encoding_gives_the_plain_record(
    name: str, url: str | None, lines: list[str]
) -> None:
    expected = comparable(page(plain(lines), "utf-8"), url)
    for family, render in FAMILIES.items():
        for encoding in ENCODINGS:
            assert comparable(page(render(lines), encoding), url) == expected, (family, encoding)


URL = "https://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2029"
KPI_HEAD = "<p>รายละเอียดตัวชี้วัด</p><p>ชื่อ : 0411-2029</p><p>ค่าเป้าหมาย ร้อยละ : 100</p>"


def kpi(body: str) -> parsers.KpiPage:
    record = parse_page(f"<html><body>{KPI_HEAD}{body}</body></html>".encode(), URL)
    assert isinstance(record, parsers.KpiPage)
    return record


def test_audit_in_three_cells_is_read() -> None:
    record = kpi("<TABLE><TR><TD>*** สยป. ตรวจประเมินตัวชี้วัด<TD>:<TD>ไตรมาสที่ 1: 100</TABLE>")
    assert (record.audit_quarter, record.audit_score) == (1, 100.0)


def test_audit_in_a_definition_list_is_read() -> None:
    record = kpi("<dl><dt>*** สยป. ตรวจประเมินตัวชี้วัด :</dt> <dd>ไตรมาสที่ 1: 100</dd></dl>")
    assert (record.audit_quarter, record.audit_score) == (1, 100.0)


def test_label_in_th_and_value_in_td_is_one_line() -> None:
    record = kpi("<table><tr><th>ผลงานที่ทำได้ ร้อยละ</th><td>96.5</td></tr></table>")
    assert (record.unit, record.result_value) == ("ร้อยละ", 96.5)


def test_project_title_and_pid_in_three_cells() -> None:
    body = (
        "<p>ความคืบหน้าโครงการ/กิจกรรม</p><TABLE><TR><TD>โครงการปรับปรุงถนน<TD>:<TD>50270000-3207"
        "</TABLE><dl><dt>สำนักงานเขตลาดพร้าว :</dt><dd>(2564)</dd></dl>"
        "<p>ความคืบหน้าโครงการ ร้อยละ 50</p>"
    ).encode()
    record = parse_page(body, "https://dp.bangkok.go.th/mobile/myproject.php?pid=50270000-3207")
    assert isinstance(record, parsers.ProjectPage)
    assert (record.name, record.pid) == ("โครงการปรับปรุงถนน", "50270000-3207")
    assert (record.owner_unit, record.fiscal_year) == ("สำนักงานเขตลาดพร้าว", 2564)
