"""Thai digits, numbers, Buddhist-Era dates, the fiscal calendar, search folding and words."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parsers import thai
from parsers.thai import (
    ThaiDate,
    arabic_digits,
    be_to_ce,
    ce_to_be,
    collapse_space,
    find_dates,
    fiscal_quarter,
    fiscal_year,
    parse_date,
    parse_number,
    stamp_date,
)

THAI = "๐๑๒๓๔๕๖๗๘๙"


def test_thai_digits_become_arabic_and_nothing_else_changes() -> None:
    assert arabic_digits(":๕.๔.๑ ประชาชน%") == ":5.4.1 ประชาชน%"
    assert arabic_digits("") == ""


@given(st.integers(min_value=0))
def test_thai_digits_round_trip(n: int) -> None:
    thai = "".join(THAI[int(c)] for c in str(n))
    assert arabic_digits(thai) == str(n)
    assert parse_number(thai) == float(n) or n > 10**300


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100", 100.0),
        ("95.0000", 95.0),
        ("1,407.52", 1407.52),
        ("4.577", 4.577),
        ("-5", -5.0),
        ("๑๐๐", 100.0),
        ("561,753,200.-", 561753200.0),
        (" 96.6200 ", 96.62),
        ("-", None),
        ("", None),
        (None, None),
        ("ร้อยละ 2", None),
        ("≥1", None),
        ("12.25 ตร.ม.", None),
        ("1 2", None),
        ("1,2", None),
        ("1" * 400, None),
    ],
)
def test_parse_number_takes_one_number_only(text: str | None, expected: float | None) -> None:
    assert parse_number(text) == expected


@given(st.text())
def test_parse_number_never_raises(text: str) -> None:
    parse_number(text)


@given(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False))
def test_formatted_numbers_parse_back(x: float) -> None:
    assert parse_number(f"{x:,.2f}") == pytest.approx(round(x, 2), abs=0.006)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("28/02/2566", ThaiDate("28/02/2566", dt.date(2023, 2, 28), "day")),
        ("31/1/2563", ThaiDate("31/1/2563", dt.date(2020, 1, 31), "day")),
        ("28/02/2566 :", ThaiDate("28/02/2566", dt.date(2023, 2, 28), "day")),
        ("19 พฤศจิกายน 2565", ThaiDate("19 พฤศจิกายน 2565", dt.date(2022, 11, 19), "day")),
        ("21 พ.ย. 65", ThaiDate("21 พ.ย. 65", dt.date(2022, 11, 21), "day")),
        ("21 พ.ย. 2565", ThaiDate("21 พ.ย. 2565", dt.date(2022, 11, 21), "day")),
        ("ธ.ค. 62", ThaiDate("ธ.ค. 62", dt.date(2019, 12, 1), "month")),
        ("เดือนมกราคม 2564", ThaiDate("เดือนมกราคม 2564", dt.date(2021, 1, 1), "month")),
        ("มกราคม 2564", ThaiDate("มกราคม 2564", dt.date(2021, 1, 1), "month")),
        ("๒๘/๐๒/๒๕๖๖", ThaiDate("๒๘/๐๒/๒๕๖๖", dt.date(2023, 2, 28), "day")),
        ("5 มีนาคม 2022", ThaiDate("5 มีนาคม 2022", dt.date(2022, 3, 5), "day")),
    ],
)
def test_parse_date_reads_buddhist_era_dates(text: str, expected: ThaiDate) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("28/02/2566", dt.date(2023, 2, 28)),
        ("1/1/2565", dt.date(2022, 1, 1)),
        ("๒๘/๐๒/๒๕๖๖", dt.date(2023, 2, 28)),
        ("05/03/2022", dt.date(2022, 3, 5)),
        ("31/02/2566", None),
        ("00/13/2566", None),
    ],
)
def test_report_stamp_date_is_what_parse_date_reads(stamp: str, expected: dt.date | None) -> None:
    parsed = parse_date(stamp)
    assert stamp_date(stamp) == expected == (parsed.value if parsed else None)


def test_impossible_date_has_no_value_and_a_warning() -> None:
    parsed = parse_date("31/02/2566")
    assert parsed is not None
    assert (parsed.text, parsed.value, parsed.precision) == ("31/02/2566", None, "day")
    assert parsed.warning == "impossible date '31/02/2566': day is out of range for month"


@pytest.mark.parametrize("text", ["", "-", "ร้อยละ 2", "1/2566", "100", "0408/3009", "ก.ก."])
def test_parse_date_is_none_for_non_dates(text: str) -> None:
    assert parse_date(text) is None


@given(st.text())
def test_parse_date_and_find_dates_never_raise(text: str) -> None:
    parse_date(text)
    find_dates(text)


def test_find_dates_in_report_text() -> None:
    text = (
        "28/02/2566 : 1. เสนอแผนฯ เมื่อวันที่ 19 พฤศจิกายน 2565 ครั้งที่ 1/2566 "
        "เมื่อวันพุธที่ 25 มกราคม 2566 ผลงานถึง ต.ค.63 และ ธ.ค. 62 ที่ กท. 0408/3009"
    )
    assert [(d.text, d.value, d.precision) for d in find_dates(text)] == [
        ("28/02/2566", dt.date(2023, 2, 28), "day"),
        ("19 พฤศจิกายน 2565", dt.date(2022, 11, 19), "day"),
        ("25 มกราคม 2566", dt.date(2023, 1, 25), "day"),
        ("ต.ค.63", dt.date(2020, 10, 1), "month"),
        ("ธ.ค. 62", dt.date(2019, 12, 1), "month"),
    ]


def test_years_convert_between_eras() -> None:
    assert (be_to_ce(2566), ce_to_be(2023)) == (2023, 2566)


@pytest.mark.parametrize(
    ("day", "year", "quarter"),
    [
        (dt.date(2022, 10, 1), 2566, 1),
        (dt.date(2022, 12, 31), 2566, 1),
        (dt.date(2023, 1, 1), 2566, 2),
        (dt.date(2023, 4, 30), 2566, 3),
        (dt.date(2023, 9, 30), 2566, 4),
    ],
)
def test_fiscal_year_runs_october_to_september(day: dt.date, year: int, quarter: int) -> None:
    assert (fiscal_year(day), fiscal_quarter(day)) == (year, quarter)


@given(st.dates())
def test_fiscal_calendar_invariants(d: dt.date) -> None:
    assert fiscal_year(d) == ce_to_be(d.year) + (1 if d.month >= 10 else 0)
    assert fiscal_quarter(d) in {1, 2, 3, 4}
    assert fiscal_quarter(d) == {10: 1, 1: 2, 4: 3, 7: 4}[d.month - (d.month - 1) % 3]


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(7000, 12, 31)))
def test_printed_dates_parse_back(d: dt.date) -> None:
    text = f"{d.day}/{d.month:02d}/{ce_to_be(d.year)}"
    assert parse_date(text) == ThaiDate(text, d, "day")


def test_collapse_space_handles_nbsp_and_zero_width_space() -> None:
    assert collapse_space("\u00a0 ผลงาน\u200b\u200b ที่ทำได้\n\t:\u3000100 ") == "ผลงาน ที่ทำได้ : 100"


@pytest.mark.parametrize(
    ("printed", "folded"),
    [
        ("ผู้ดำารงตำาแหน่ง", "ผู้ดำรงตำแหน่ง"),  # sara am typed, then sara aa again
        ("ดํารง", "ดำรง"),  # nikhahit + sara aa
        ("ต\uf70aอ ส\uf70aวนรวมมากกว\uf70aา", "ต่อ ส่วนรวมมากกว่า"),  # legacy PUA (seed page)
        ("ก\uf70bา", "ก้า"),
        ("ส\u200bวน\ufeffตัว", "สวนตัว"),  # zero-width characters
        ("ก่่า", "ก่า"),  # a tone mark typed twice
        ("ปี ๒๕๖๖", "ปี 2566"),
        ("ฝุ่น PM 2.5", "ฝุ่น pm2.5"),
        ("ฝุ่น PM2.5", "ฝุ่น pm2.5"),
        ("  COVID-19\n", "covid19"),
        ("(PM 2.5)", "(pm2.5)"),  # after a non-letter: still an acronym
        ("xPM 2.5", "xpm2.5"),  # the whole word is the acronym
        ("A1PM 2.5", "a1pm 2.5"),  # a word of letters and digits: not one
        ("ABCDEF 5", "abcdef 5"),  # longer than an acronym
        ("ฝุ่\u00adน", "ฝุ่น"),  # a soft hyphen
        ("", ""),
    ],
)
def test_fold_makes_what_a_reader_sees_and_types_the_same(printed: str, folded: str) -> None:
    assert thai.fold(printed) == folded


@pytest.mark.parametrize(
    ("query", "text", "hit"),
    [
        ("ดำรงตำแหน่ง", "ผู้ดำารงตำาแหน่งทางการเมือง", "ดำารงตำาแหน่ง"),
        ("PM2.5", "ปัญหาฝุ่น PM 2.5 ทาง", "PM 2.5"),
        ("2566", "ปี ๒๕๖๖ นี้", "๒๕๖๖"),
        ("ส่วนตัว", "มากกว\uf70aาส\uf70aวนตัว และ", "ส\uf70aวนตัว"),
        ("ส่วนตัว", "มากกว่าส\uf70bวนตัว และ", None),  # another tone mark: another word
        ("ต่อ", "ความรับผิดชอบต\uf70aอ", "ต\uf70aอ"),
    ],
)
def test_fold_pattern_finds_the_printed_form_of_a_folded_query(
    query: str, text: str, hit: str | None
) -> None:
    pattern = thai.fold_pattern(query)
    assert pattern is not None
    match = pattern.search(text)
    assert (match.group(0) if match else None) == hit


def test_segment_cuts_newmm_words_and_words_keep_every_character() -> None:
    assert thai.segment("รู้ทันปัญหาฝุ่น  PM") == "รู้ทัน ปัญหา ฝุ่น PM"
    assert "".join(thai.words("ร้อยละความสำเร็จ ของ")) == "ร้อยละความสำเร็จ ของ"


def test_importing_the_thai_module_loads_no_pythainlp() -> None:
    code = (
        "import sys; import parsers.thai as t; t.parse_date('31 มี.ค. 2566');"
        "print(sorted(m for m in sys.modules if m.startswith('pythainlp')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
