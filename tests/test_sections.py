"""Shared line-level pieces: names from titles, label splitting, stamps, strategy lines."""

from __future__ import annotations

import pytest

from parsers.detect import kind_from_url
from parsers.models import Report
from parsers.sections import (
    Lines,
    label_value,
    project_refs,
    quarter_table,
    reports_in,
    reports_text_year,
    split_title,
    strategy_line,
)
from parsers.thai import name_of


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ("7. ร้อยละของถนน", "ร้อยละของถนน"),
        ("๑. ร้อยละของการรับรู้", "ร้อยละของการรับรู้"),
        ("3.3 ระดับความพึงพอใจของผู้รับบริการ", "ระดับความพึงพอใจของผู้รับบริการ"),
        ("ปี 2564 ๒. ร้อยละของการจัดเก็บภาษี", "ร้อยละของการจัดเก็บภาษี"),
        ("(เจราจาตกลง) 6. ร้อยละความสำเร็จ", "ร้อยละความสำเร็จ"),
        ("(เจรจา7.1)ร้อยละความสำเร็จ", "ร้อยละความสำเร็จ"),
        ("(New)ร้อยละความก้าวหน้า", "ร้อยละความก้าวหน้า"),
        ("สปท.4/ร้อยละความสำเร็จ", "ร้อยละความสำเร็จ"),
        ("4/สปท.ร้อยละความสำเร็จ", "ร้อยละความสำเร็จ"),
        ("มิติที่ 3 (3.2) ร้อยละความสำเร็จ", "ร้อยละความสำเร็จ"),
        ("ตัวชี้วัดที่ 3.1 การจัดทำงบการเงิน", "การจัดทำงบการเงิน"),
        ("(26) ร้อยละของผู้สูงอายุ(3.2)", "ร้อยละของผู้สูงอายุ"),
        ("14.(3)ระดับความสำเร็จ", "ระดับความสำเร็จ"),
        ("18. (4) ระดับความสำเร็จ", "ระดับความสำเร็จ"),
        ("03. จำนวนของประชาชน", "จำนวนของประชาชน"),
        ("1.1_1 ร้อยละความสำเร็จ", "ร้อยละความสำเร็จ"),
        ("ตัวชี้วัดที่ 2 : (2.1) ร้อยละของปริมาณมูลฝอย", "ร้อยละของปริมาณมูลฝอย"),
        ("1.ร้อยละความสำเร็จ (ผลผลิต) 2.ระดับความพึงพอใจ", "1.ร้อยละความสำเร็จ (ผลผลิต) 2.ระดับความพึงพอใจ"),
        ("เด็กมีพัฒนาการสมวัย (1) ร้อยละของนักเรียน", "เด็กมีพัฒนาการสมวัย (1) ร้อยละของนักเรียน"),
        ("พื้นที่สีเขียวที่เพิ่มขึ้น", "พื้นที่สีเขียวที่เพิ่มขึ้น"),
        ("100", "100"),
        ("  ร้อยละของผู้สูงอายุ (3.2) ", "ร้อยละของผู้สูงอายุ (3.2)"),
        ("๓. ร้อยละ", "ร้อยละ"),
        ("– ร้อยละ", "ร้อยละ"),
    ],
)
def test_name_strips_only_list_numbers_and_prefixes(title: str, name: str) -> None:
    assert name_of(title) == name


@pytest.mark.parametrize(
    ("line", "title", "pid"),
    [
        ("ร้อยละ : ความสำเร็จ : 0411-2029", "ร้อยละ : ความสำเร็จ", "0411-2029"),
        ("2. การดำเนินคดี : 95", "2. การดำเนินคดี", "95"),
        ("โครงการ : 50140000-๓๖๕๗", "โครงการ", "50140000-3657"),
        ("ชื่อไม่มีรหัส", "ชื่อไม่มีรหัส", None),
    ],
)
def test_title_splits_on_the_last_colon(line: str, title: str, pid: str | None) -> None:
    assert split_title(line) == (title, pid)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("ค่าเป้าหมาย ร้อยละ : 100", ("ร้อยละ", "100")),
        ("ค่าเป้าหมาย : 0", (None, "0")),
        ("ค่าเป้าหมาย ร้อยละ :", ("ร้อยละ", None)),
        ("ค่าเป้าหมาย ≥1 : แห่ง", ("≥1", "แห่ง")),
        ("ค่าเป้าหมาย ร้อยละ : 20 : ของประชาชน", ("ร้อยละ", "20 : ของประชาชน")),
        ("ค่าเป้าหมายรวม : 5", None),
        ("ผลงาน ค่าเป้าหมาย : 5", None),
    ],
)
def test_label_splits_on_the_first_colon(
    line: str, expected: tuple[str | None, str | None] | None
) -> None:
    assert label_value(line, line, "ค่าเป้าหมาย") == expected


def test_several_stamps_in_one_section_are_several_reports() -> None:
    warnings: list[str] = []
    text = "ก่อน 28/02/2566 : หนึ่ง 31/02/2566 : สอง ๐๑/๐๓/๒๕๖๖ : สาม"
    reports = reports_in(text, 2, 1, warnings)
    assert [(r.seq, r.date_text, r.date and r.date.isoformat(), r.text) for r in reports] == [
        (1, None, None, "ก่อน"),
        (2, "28/02/2566", "2023-02-28", "หนึ่ง"),
        (3, "31/02/2566", None, "สอง"),
        (4, "๐๑/๐๓/๒๕๖๖", "2023-03-01", "สาม"),
    ]
    assert warnings == ["report date '31/02/2566' is not a real date"]


def reports(*texts: str) -> list[Report]:
    return [Report(quarter=q, seq=1, text=text) for q, text in enumerate(texts, 1)]


@pytest.mark.parametrize(
    ("texts", "year"),
    [
        # October–December 2563 is the first quarter of fiscal year 2564 (real texts, 5018-0816,
        # 5030-1040, 1500-2088)
        (["เดือนต.ค. - ธ.ค. 63 - อนุมัติโครงการ"], 2564),
        (["ณ วันที่ 31 ตุลาคม 2563 และ 1 พฤศจิกายน 2563"], 2564),
        (["ตั้งแต่วันที่ ๑ ตุลาคม ๒๕๖๕ - ๓๑ ธันวาคม ๒๕๖๕"], 2566),
        # September is the last month of its fiscal year, October the first of the next
        (["ข้อมูล ณ เดือนกันยายน 2565"], 2565),
        # the year named most often, across reports (1100-0837: one November 2562 among 2564s)
        (["พ.ย.62", "ต.ค.63 ถึง ก.พ.64", "มีนาคม 2564"], 2564),
        # a bare year is no date: its fiscal year is unknown
        (["ใบทะเบียนพาณิชย์ ปี 2555-2559"], None),
        # a count read as a two-digit year (February 2515) or a typo (2663): no KPI's year
        (["ภายในเดือน ก.พ. 15 ครั้ง", "ภายในเดือนมีนาคม 2663"], None),
        (["เดือน ก.พ. 15 ครั้ง ณ วันที่ 31 ธันวาคม 2565"], 2566),
        (["อยู่ระหว่างดำเนินการ"], None),
        # two years named equally often: no answer rather than a guess
        (["ธันวาคม 2562", "มีนาคม 2564"], None),
    ],
)
def test_the_reports_texts_give_the_fiscal_year_of_the_dates_they_name_most(
    texts: list[str], year: int | None
) -> None:
    assert reports_text_year(reports(*texts)) == year


@pytest.mark.parametrize("text", ["", "-", " - "])
def test_dash_or_empty_section_gives_no_report(text: str) -> None:
    assert reports_in(text, 1, 1, []) == []


def test_strategy_codes_in_arabic_digits_without_stray_percent() -> None:
    line = ":เป้าหมายที่ ๗.๑.๑ ระบบกฎหมายที่รองรับ%"
    [strategy] = strategy_line(line, line.translate(str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")))
    assert (strategy.level, strategy.code, strategy.title) == (
        "เป้าหมายที่",
        "7.1.1",
        "ระบบกฎหมายที่รองรับ",
    )


def test_quarter_row_missing_its_pair_stops_at_the_next_quarter() -> None:
    lines = Lines(["(* 2.1 / 2.2 *)", "1", "10.00", "100", "2", "20.00", "", "0 / 0"])
    quarters = quarter_table(lines, 0, len(lines), [])
    assert [(q.quarter, q.result, q.assessment, q.score_2_1) for q in quarters] == [
        (1, 10.0, 100.0, None),
        (2, 20.0, None, 0.0),
    ]


def test_project_lines_give_their_pid_whether_it_comes_first_or_last() -> None:
    lines = Lines(
        [
            "โครงการรณรงค์สร้างจิตสำนึก : 04110000-3766",
            "04110000-3770 โครงการประชาสัมพันธ์",
            "-",
            "กิจกรรมที่ไม่มีรหัส",
        ]
    )
    refs = project_refs(lines, 0, len(lines), {}, kind_from_url)
    assert [r.model_dump() for r in refs] == [
        {"pid": "04110000-3766", "name": "โครงการรณรงค์สร้างจิตสำนึก", "url": None},
        {"pid": "04110000-3770", "name": "โครงการประชาสัมพันธ์", "url": None},
        {"pid": None, "name": "กิจกรรมที่ไม่มีรหัส", "url": None},
    ]
