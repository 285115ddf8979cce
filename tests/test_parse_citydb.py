"""City-development indicator pages (mykpi2563.php): free-text targets, numbered sections."""

from __future__ import annotations

from helpers import get_fixture

from parsers import KpiPage, parse_page
from parsers.citydb import parse_citydb

URL_181 = "http://dp2.bangkok.go.th/mobile/mykpi2563.php?pid=181"


def test_free_text_target_is_kept_as_printed() -> None:
    record = parse_citydb(get_fixture("citydb/dp2_181.table.utf8.html"), URL_181)
    assert (record.page_kind, record.pid, record.unit, record.target_text, record.target_value) == (
        "citydb",
        "181",
        "≥1",
        "แห่ง",
        None,
    )
    assert record.name == (
        "พื้นที่สีเขียวและ/หรือพื้นที่ทางธรรมชาติที่ได้รับการส่งเสริม อนุรักษ์ ฟื้นฟู รักษา"
        " และป้องกันการทำลายจนกลายเป็นพื้นที่มีความหลากหลายทางชีวภาพ"
    )
    assert (record.data_type, record.result_text, record.quarters, record.fiscal_year) == (
        "ตัวชี้วัดเป้าประสงค์",
        None,
        [],
        None,
    )
    assert [(s.level, s.code, s.title) for s in record.strategies] == [
        ("ด้านที่", "2", "มหานครสีเขียว สะดวกสบาย"),
        ("มิติที่", "2.2", "มีพื้นที่สาธารณะ พื้นที่สีเขียวกระจายทั่วทุกพื้นที่"),
        ("เป้าหมายที่", "2.2.1", "กรุงเทพมหานครเป็นมหานครที่ร่มรื่นด้วยพรรณไม้ มีพื้นที่สีเขียวเพื่อการพักผ่อน"),
    ]
    assert record.definition is not None and record.definition.startswith("- พื้นที่สีเขียวและ/หรือ")
    assert record.truncated is True


def test_numbered_sections_fill_definition_calculation_and_sources() -> None:
    record = parse_page(
        get_fixture("citydb/monitor_167.table.utf8.html"),
        "http://monitor.bangkok.go.th/mobile/mykpi2563.php?pid=167",
    )
    assert isinstance(record, KpiPage)
    assert (record.title, record.name) == (
        "๓. มีแหล่งเงินทุนเพื่อช่วยเหลือแรงงานนอกระบบและผู้ด้อยโอกาสทางเศรษฐกิจเพิ่มขึ้น",
        "มีแหล่งเงินทุนเพื่อช่วยเหลือแรงงานนอกระบบและผู้ด้อยโอกาสทางเศรษฐกิจเพิ่มขึ้น",
    )
    assert (record.unit, record.target_text, record.target_value) == ("แห่ง", "1", 1.0)
    assert (record.calculation, record.data_sources) == (
        "จำนวนสถานธนานุบาลที่สร้างขึ้นใหม่",
        "สถานธนานุบาล",
    )
    assert record.truncated is True  # the "4.ส่" line that follows is itself cut short


def test_cp874_city_db_page_with_thai_digit_prefix() -> None:
    record = parse_page(get_fixture("citydb/dp2_87.br.cp874.html"))
    assert isinstance(record, KpiPage)
    assert (record.page_kind, record.pid, record.encoding) == ("citydb", "87", "cp874")
    assert (record.unit, record.target_text) == ("ร้อยละ", "20 ของประชาชนที่ทำการสำรวจ")
    assert record.name is not None and record.name.startswith("ร้อยละของการรับรู้และการมีส่วนร่วม")
