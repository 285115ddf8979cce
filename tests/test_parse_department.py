"""Agency annual reports (index11/101/102/103.php): one entry per ``(n) <title>`` block."""

from __future__ import annotations

from helpers import get_fixture

from parsers import DepartmentPage, parse_page
from parsers.department import parse_department

URL_11 = "http://monitor.bangkok.go.th/mobile/index11.php?selDEP=23000000&selYear=2564"


def parse(path: str, url: str | None = None) -> DepartmentPage:
    record = parse_page(get_fixture(path), url)
    assert isinstance(record, DepartmentPage)
    return record


def test_index11_entry_with_its_figures_and_kpi_link() -> None:
    record = parse_department(
        get_fixture("department/monitor_index11_23000000_2564.table.utf8.html"), URL_11
    )
    assert (
        record.agency_code,
        record.fiscal_year,
        record.fiscal_year_source,
        record.rendering,
    ) == ("23000000", 2564, "page", "full")
    [entry] = record.entries
    assert entry.model_dump(mode="json", exclude={"reports"}) == {
        "seq": 1,
        "title": "1.1 ร้อยละของชาวกรุงเทพมหานครออกกำลังกายตามเกณฑ์เมืองไทยแข็งแรง",
        "name": "ร้อยละของชาวกรุงเทพมหานครออกกำลังกายตามเกณฑ์เมืองไทยแข็งแรง",
        "tag": "มิติที่ 1 : ตัวชี้วัดเจรจา",
        "routine": False,
        "dimension": "มิติที่ 1",
        "pid": "2300-0813",
        "unit": "ร้อยละ",
        "target_text": "80.00",
        "target_value": 80.0,
        "result_text": "82.62",
        "result_value": 82.62,
        "quarters": [
            {
                "quarter": 1,
                "result": 0.0,
                "result_text": "0.00",
                "assessment": None,
                "assessment_text": None,
                "score_2_1": 95.0,
                "score_2_2": 100.0,
                "scores_text": "95 / 100",
            },
            {
                "quarter": 2,
                "result": 0.0,
                "result_text": "0.00",
                "assessment": None,
                "assessment_text": None,
                "score_2_1": 0.0,
                "score_2_2": 0.0,
                "scores_text": "0 / 0",
            },
            {
                "quarter": 3,
                "result": 0.0,
                "result_text": "0.00",
                "assessment": None,
                "assessment_text": None,
                "score_2_1": 0.0,
                "score_2_2": 0.0,
                "scores_text": "0 / 0",
            },
            {
                "quarter": 4,
                "result": 82.62,
                "result_text": "82.62",
                "assessment": None,
                "assessment_text": None,
                "score_2_1": 0.0,
                "score_2_2": 0.0,
                "scores_text": "0 / 0",
            },
        ],
        "strategies": [
            {
                "code": "1.6",
                "title": "ปลอดโรคคนเมือง อาหารปลอดภัย",
                "title_en": None,
                "level": None,
                "text": "๑.๖ - ปลอดโรคคนเมือง อาหารปลอดภัย",
            },
            {
                "code": "1.6.6",
                "title": "คนกรุงเทพฯมีวิถีชีวิตแบบ Active Living Lifestyle",
                "title_en": None,
                "level": None,
                "text": "๑.๖.๖ คนกรุงเทพฯมีวิถีชีวิตแบบ Active Living Lifestyle",
            },
        ],
        "summary": None,
        "projects": [],
        "url": "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=2300-0813",
    }
    assert [(r.quarter, r.seq, r.text) for r in entry.reports] == [
        (1, 1, "อยู่ระหว่างจัดทำแบบสอบถาม และแบบสอบถามออนไลน์"),
        (
            2,
            1,
            "อยู่ระหว่างดำเนินการสำรวจพฤติกรรมการออกกำลังกายและเล่นกีฬา ของผู้รับบริการในศูนย์เยาวชน และศูนย์กีฬา"
            " ซึ่งทำการสำรวจผ่านแบบสอบถามออนไลน์ โดยกำหนดกลุ่มตัวอย่างรวมจำนวน 5,648 คน แบ่งออกเป็นผู้รับบ",
        ),
    ]
    assert record.truncated is True


def test_dimension_heading_and_joined_strategy_line() -> None:
    record = parse(
        "department/monitor_index101_09000000.br.utf8.html",
        "http://monitor.bangkok.go.th/mobile/index101.php?selDEP=09000000",
    )
    assert (record.agency_code, record.fiscal_year, record.heading) == (
        "09000000",
        None,
        "ผลการปฏิบัติราชการประจำปีของหน่วยงาน : 09000000",
    )
    [entry] = record.entries
    assert (entry.dimension, entry.pid) == ("มิติที่ 1 ด้านประสิทธิผลตามพันธกิจ", "0900-0976")
    assert [(s.level, s.code, s.title) for s in entry.strategies] == [
        ("มิติที่", "3.3", "การศึกษาสำหรับทุกคน"),
        ("เป้าหมายที่", "3.3.1", "การกระจายโอกาสทางการศึกษาอย่างเท่าเทียมและเสมอภาค"),
    ]
    assert [q.result for q in entry.quarters] == [70.0, 100.0, 100.0, 100.0]
    assert all(q.assessment is None for q in entry.quarters)


def test_empty_year_routine_banner_and_cp874() -> None:
    record = parse(
        "department/dp_index102_50350000.table.cp874.html",
        "https://dp.bangkok.go.th/mobile/index102.php?selDEP=50350000",
    )
    assert (record.agency_code, record.fiscal_year, record.encoding) == ("50350000", None, "cp874")
    [entry] = record.entries
    assert (entry.routine, entry.tag, entry.dimension) == (
        True,
        "มิติที่ 2 : ตัวชี้วัดเจรจา",
        "มิติที่ 2 ด้านประสิทธิภาพของการปฏิบัติราชการ",
    )
    assert entry.name == "ร้อยละมูลฝอยที่คัดแยกจากแหล่งกำเนิดและนำไปใช้ประโยชน์เพิ่มขึ้น เมื่อเทียบกับปี ๒๕๖๐"
    assert (entry.target_value, entry.result_value, entry.pid) == (30.0, 36.75, "5035-0865")
    assert record.warnings == ["page ends before the last entry's projects section"]


def test_year_comes_from_the_url_when_the_heading_has_none() -> None:
    body = get_fixture("department/dp_index102_50350000.table.cp874.html")
    record = parse_page(
        body, "https://dp.bangkok.go.th/mobile/index11.php?selDEP=50350000&selYear=2564"
    )
    assert isinstance(record, DepartmentPage)
    assert (record.fiscal_year, record.fiscal_year_source) == (2564, "url")


def test_flattened_pipe_table_copy_is_parsed_as_far_as_it_goes() -> None:
    record = parse(
        "department/dp_index103_50010000.flattened.utf8.html",
        "https://dp.bangkok.go.th/mobile/index103.php?selDEP=50010000",
    )
    assert (record.rendering, record.agency_code) == ("flattened", "50010000")
    [entry] = record.entries
    assert (entry.title, entry.unit, entry.target_value, entry.result_value) == (
        None,
        "ร้อยละ",
        100.0,
        76.17,
    )
    assert [s.code for s in entry.strategies] == ["7.4", "7.4.1"]
    assert [(r.quarter, r.seq) for r in entry.reports] == [
        (None, 1),
        (None, 2),
        (None, 3),
        (None, 4),
    ]
    assert record.warnings == ["flattened table rendering: titles and quarters cannot be told"]
