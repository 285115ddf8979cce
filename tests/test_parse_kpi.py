"""KPI detail pages: bytes in, record out, with every expected value written out."""

from __future__ import annotations

import pytest
from helpers import SEED_URL, get_fixture

from parsers import KpiPage, ParseError, parse_page
from parsers.kpi import parse_kpi

SEED = {
    "url": "https://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2029",
    "pid": "0411-2029",
    "title": "ร้อยละความสำเร็จของการรณรงค์สร้างจิตสำนึกโปร่งใส สะอาด ปลอดภัย และสิ่งแวดล้อม",
    "name": "ร้อยละความสำเร็จของการรณรงค์สร้างจิตสำนึกโปร่งใส สะอาด ปลอดภัย และสิ่งแวดล้อม",
    "fiscal_year": 2566,
    "fiscal_year_source": "reports",
    "unit": "ร้อยละ",
    "target_text": "100",
    "target_value": 100.0,
    "result_text": "100",
    "result_value": 100.0,
    "kpi_type": "ตัวชี้วัดเชิงยุทธศาสตร์",
    "kpi_level": "outcome",
    "audit_quarter": 1,
    "audit_score": 100.0,
    "audit_score_text": "100",
    "quarters": [
        {
            "quarter": 1,
            "result": 10.0,
            "result_text": "10.00",
            "assessment": 100.0,
            "assessment_text": "100",
            "score_2_1": 100.0,
            "score_2_2": 100.0,
            "scores_text": "100 / 100",
        },
        {
            "quarter": 2,
            "result": 30.0,
            "result_text": "30.00",
            "assessment": None,
            "assessment_text": None,
            "score_2_1": 0.0,
            "score_2_2": 0.0,
            "scores_text": "0 / 0",
        },
        {
            "quarter": 3,
            "result": 70.0,
            "result_text": "70.00",
            "assessment": 100.0,
            "assessment_text": "100",
            "score_2_1": 100.0,
            "score_2_2": 100.0,
            "scores_text": "100 / 100",
        },
        {
            "quarter": 4,
            "result": 100.0,
            "result_text": "100.00",
            "assessment": 100.0,
            "assessment_text": "100",
            "score_2_1": 100.0,
            "score_2_2": 100.0,
            "scores_text": "100 / 100",
        },
    ],
    "reports": [
        {
            "quarter": 1,
            "seq": 1,
            "date": None,
            "date_text": None,
            "text": "จัดทำแผนประชาสัมพันธ์รณรงค์สิทธิและระเบียบวินัยพลเมืองในเรื่องจราจร "
            "ความสะอาด คอร์รัปชัน และสิ่งแวดล้อม "
            "และเสนอผู้บริหารกรุงเทพมหานครเพื่ออนุมัติแผนฯ",
        },
        {
            "quarter": 2,
            "seq": 1,
            "date": "2023-02-28",
            "date_text": "28/02/2566",
            "text": "1. จัดทำแผนประชาสัมพันธ์รณรงค์สิทธิและระเบียบวินัยพลเมืองในเรื่องจราจร "
            "ความสะอาด คอร์รัปชัน และสิ่งแวดล้อม "
            "และเสนอผู้บริหารกรุงเทพมหานครเพื่ออนุมัติแผนฯ เมื่อวันที่ 19 พฤศจิกายน "
            "2565 และได้รับการอนุมัติแผนฯ แล้วเมื่อวันที่ 21 พฤศจิกายน 2565 "
            "โดยรองปลัดกรุงเทพมหานคร (นายเฉลิมพล โชตินุชิต) "
            "ปฏิบัติราชการแทนปลัดกรุงเทพมหานคร 2. "
            "เวียนแจ้งแผนประชาสัมพันธ์รณรงค์สิทธิและระเบียบวินัยพลเมืองในเรื่องจราจร "
            "ความสะอาด คอร์รัปชัน และสิ่งแวดล้อม ไปยังผู้อำนวยการสำนัก หัวหน้าสำนักงาน "
            "ก.ก. และผู้อำนวยการเขต ผ่านทางเว็บไซต์กรุงเทพมหานคร เมื่อวันที่ 1 ธันวาคม "
            "2565 3. ดำเนินการชี้แจงแนวทางการดำเนินการตามแผนฯ "
            "ให้หน่วยงานรีบทราบในการประชุมแนวดิ่งด้านการประชาสัมพันธ์ ครั้งที่ 1/2566 "
            "เมื่อวันพุธที่ 25 มกราคม 2566 "
            "และอยู่ระหว่างรวบรวมรายงานผลการจัดกิจกรรมรณรงค์ของหน่วยงานผ่านระบบ Google "
            "From 4. อยู่ระหว่างการผลิตและเผยแพร่สื่อรณรงค์ประชาสัมพันธ์ตามแผนฯ 5. "
            "อยู่ระหว่างการเตรียมจัดประชุมหน่วยงานที่เกี่ยวข้องเพื่อกำหนดแนวทางการดำเนินการตามแผนฯ",
        },
        {
            "quarter": 2,
            "seq": 2,
            "date": "2023-03-31",
            "date_text": "31/03/2566",
            "text": "อยู่ระหว่างดำเนินการ 1. ผลิตและเผยแพร่สื่อรณรงค์ประชาสัมพันธ์ตามแผนฯ 2. "
            "เตรียมจัดประชุมหน่วยงานที่เกี่ยวข้องเพื่อกำหนดแนวทางการดำเนินการตามแผนฯ",
        },
        {
            "quarter": 3,
            "seq": 1,
            "date": "2023-04-30",
            "date_text": "30/04/2566",
            "text": "ดำเนินการไปแล้ว ดังนี้ 1. "
            "ดำเนินการเผยแพร่สื่อรณรงค์สิทธิและระเบียบวินัยพลเมืองในเรื่องจราจร "
            "ความสะอาด คอร์รัปชัน และสิ่งแวดล้อม ในรูปแบบต่าง ๆ เช่น Infographic "
            "และคลิปประชาสัมพันธ์ ฯลฯ "
            "เผยแพร่ประชาสัมพันธ์ผ่านช่องทางออนไลน์ของสำนักงานประชาสัมพันธ์ จำนวน 89 "
            "ครั้ง มียอดผู้เข้าถึงรวมทั้งหมด 718,274 คน 2. "
            'จัดกิจกรรมให้ประชาชนร่วมแสดงความคิดเห็น "ชาว '
            "กทม.คิดเห็นอย่างไรกันบ้างกับนโยบายการสร้างเมืองน่าอยู่สำหรับทุกคนใน 9 "
            "มิติ หรือกรุงเทพฯ 9 ดี? และชาว "
            'กทม.พึงพอใจต่อการดำเนินงานด้านความโปร่งใสแค่ไหน?" ทาง Facebook Fanpage '
            "กรุงเทพมหานคร เมื่อวันที่ 17 ธันวาคม 2565 โดยมียอดการเข้าถึง 6,954 คน "
            "กดถูกใจ 115 คน แชร์ 21 ครั้ง แสดงความคิดเห็น 17 ความคิดเห็น 3. "
            "จัดกิจกรรมให้ประชาชนร่วมสนุกตอบคำถาม “รู้ทันปัญหาฝุ่น PM 2.5” ทาง "
            "Facebook Fanpage กรุงเทพมหานคร เมื่อวันที่ 4 มีนาคม 2566 "
            "โดยมียอดการเข้าถึง 15,373 คน กดถูกใจ 384 คน แชร์ 118 ครั้ง "
            "แสดงความคิดเห็น 129 ความคิดเห็น",
        },
        {
            "quarter": 3,
            "seq": 2,
            "date": "2023-05-31",
            "date_text": "31/05/2566",
            "text": "ดำเนินการเผยแพร่สื่อรณรงค์สิทธิและระเบียบวินัยพลเมืองในเรื่องจราจร "
            "ความสะอาด คอร์รัปชัน และสิ่งแวดล้อม ในรูปแบบต่าง ๆ เช่น Infographic "
            "และคลิปประชาสัมพันธ์ ฯลฯ "
            "เผยแพร่ประชาสัมพันธ์ผ่านช่องทางออนไลน์ของสำนักงานประชาสัมพันธ์ จำนวน 22 "
            "ครั้ง มียอดผู้เข้าถึงรวมทั้งหมด 990,325 คน",
        },
        {
            "quarter": 3,
            "seq": 3,
            "date": "2023-06-30",
            "date_text": "30/06/2566",
            "text": "ดำเนินการเผยแพร่สื่อรณรงค์สิทธิและระเบียบวินัยพลเมืองในเรื่องจราจร "
            "ความสะอาด คอร์รัปชัน และสิ่งแวดล้อม ในรูปแบบต่าง ๆ เช่น Infographic "
            "และคลิปประชาสัมพันธ์ ฯลฯ "
            "เผยแพร่ประชาสัมพันธ์ผ่านช่องทางออนไลน์ของสำนักงานประชาสัมพันธ์ จำนวน 30 "
            "ครั้ง มียอดผู้เข้าถึงรวมทั้งหมด 1,104,325 คน",
        },
        {
            "quarter": 4,
            "seq": 1,
            "date": None,
            "date_text": None,
            "text": "สำนักงานประชาสัมพันธ์ดำเนินการได้ครบทุกขั้นตอนตามแผนฯ ดังนี้ 1. "
            "จัดทำแผนการรณรงค์สร้างจิตสำนึก โปร่งใส สะอาด ปลอดภัย และสิ่งแวดล้อม "
            "เพื่อสร้างจิตสำนึกในการอยู่ร่วมกัน รักษาสิทธิร่วมกัน "
            "และความมีวินัยของพลเมือง เสนอผู้บริหารกรุงเทพมหานครให้ความเห็นชอบ "
            "และได้รับความเห็นชอบตามหนังสือสำนักงานประชาสัมพันธ์ ที่ กท. 0408/3009 "
            "ลงวันที่ 6 กรกฎาคม 2566 2. "
            "มีการบูรณาการข้อมูลระหว่างหน่วยงานที่เกี่ยวข้อง 3. "
            "ผลิตและเผยแพร่สื่อรณรงค์ประชาสัมพันธ์การสร้างจิตสำนึก โปร่งใส สะอาด "
            "ปลอดภัย และสิ่งแวดล้อม ทางสื่อออนไลน์ รวมถึงการสื่อสารภายในองค์กร "
            "รวมทั้งสิ้นจำนวน 409 ครั้ง 4. จัดกิจกรรมสร้างการมีส่วนร่วมจำนวน 3 ครั้ง - "
            "จัดกิจกรรมให้ประชาชนร่วมแสดงความคิดเห็นในหัวข้อ “ชาว กทม. "
            "คิดเห็นอย่างไรกันบ้างกับนโยบายการสร้างเมืองน่าอยู่สำหรับทุกคนใน 9 มิติ "
            "หรือกรุงเทพฯ 9 ดี? และชาว กทม. "
            "พึงพอใจต่อการดำเนินงานด้านความโปร่งใสแค่ไหน?” ทาง Facebook Fanpage "
            "กรุงเทพมหานคร โดยมียอดการเข้าถึง 6,954 คน กดถูกใจ 115 คน แชร์ 21 ครั้ง "
            "แสดงความคิดเห็น 17 ความคิดเห็น - จัดกิจกรรมให้ประชาชนร่วมสนุกตอบคำถาม "
            "“รู้ทันปัญหาฝุ่น PM 2.5” ทาง Facebook Fanpage กรุงเทพมหานคร "
            "โดยมียอดการเข้าถึง 15,373 คน กดถูกใจ 384 คน แชร์ 118 ครั้ง "
            "แสดงความคิดเห็น 129 ความคิดเห็น - จัดกิจกรรม "
            "“ยุวชนสายตรวจคลองเปรมประชากร” ร่วมกับสำนักนายกรัฐมรตรี "
            "สถาบันพัฒนาองค์กรชุมชน (องค์กรมหาชน) กรมประชาสัมพันธ์ SCG ThaiBev "
            "และสำนักงานเขตจตุจักร ณ ชุมชนประชาร่วมใจ 2 เขตจตุจักร เมื่อวันที่ 20 "
            "สิงหาคม 2566 5. ประชาชนร้อยละ 84.80 "
            "มีความพึงพอใจต่อการรณรงค์สร้างจิตสำนึก โปร่งใส สะอาด ปลอดภัย "
            "และสิ่งแวดล้อม ที่เผยแพร่ผ่านช่องทางสื่อ ต่าง ๆ ของสำนักงานประชาสัมพันธ์ "
            "6. รายงานผลการดำเนินงาน พร้อมนำข้อมูลที่ได้มาวิเคราะห์ "
            "สังเคราะห์เป็นข้อเสนอแนะต่อผู้บริหารกรุงเทพมหานคร",
        },
    ],
    "summary": None,
    "definition": "วินัยพลเมือง หมายถึง จิตสำนึกส่วนรวมในการอยู่ร่วมกัน รักษาสิทธิร่วมกัน "
    "และวินัยของพลเมือง ทั้งด้านจราจร ความสะอาด ความโปร่งใส และสิ่งแวดล้อม เช่น "
    "การรักษาความสะอาดและสิ่งแวดล้อมเมือง การแยกขยะ การเคารพกฎจราจร "
    "ความโปร่งใสและสิทธิในการตรวจสอบ มีความตระหนักถึงความรับผิดชอบต\uf70aอ "
    "ส\uf70aวนรวมมากกว\uf70aาส\uf70aวนตัว และอยู\uf70aร\uf70aวมกันอย\uf70aางสันติภาพ "
    "สันติสุข มีอิสระที่กระทําใด ๆ "
    "ภายใต\uf70bขอบเขตกฎหมายโดยไม\uf70aล\uf70aวงละเมิดสิทธิเสรีภาพของผู\uf70bอื่น",
    "calculation": "คำนวณจากระดับความสำเร็จของการการรณรงค์สร้างจิตสำนึก โปร่งใส สะอาด ปลอดภัย และสิ่งแวดล้อม",
    "data_sources": "1) แผนประชาสัมพันธ์การรณรงค์วินัยพลเมืองของกรุงเทพมหานคร 2) "
    "จำนวนสื่อประชาสัมพันธ์รณรงค์สิทธิและระเบียบวินัยพลเมืองในเรื่องจราจร ความสะอาด "
    "คอร์รัปชั่น และสิ่งแวดล้อมทางสื่อออนไลน์ "
    "และการสื่อสารภายในองค์กรตามแผนที่กำหนด 3) "
    "สรุปผลการจัดกิจกรรมการมีส่วนร่วมของลุ่มเป้าหมายผ่านช่องทางที่กำหนด ไม่น้อยกว่า "
    "3 กิจกรรม 4) "
    "ผลสำรวจการรับรู้และความพึงพอใจของประชาชนต่อรูปแบบและชุดข้อมูลประชาสัมพันธ์ที่เผยแพร่ในช่องทางที่ตอบสนองต่อรสนิยมการบริโภคสื่อของคนเมือง",
    "data_type": None,
    "strategies": [
        {
            "code": "5",
            "title": "มหานครประชาธิปไตย",
            "title_en": "Bangkok as a Democratic City",
            "level": "ด้านที่",
            "text": ":ด้านที่ ๕ - มหานครประชาธิปไตย : Bangkok as a Democratic City",
        },
        {
            "code": "5.4",
            "title": "การเมืองสีขาว",
            "title_en": None,
            "level": None,
            "text": ":๕.๔ - การเมืองสีขาว",
        },
        {
            "code": "5.4.1",
            "title": "ประชาชนมีความเชื่อมั่นในข้าราชการและผู้ดำารงตำาแหน่งทางการเมืองของกรุงเทพมหานคร",
            "title_en": None,
            "level": None,
            "text": ":๕.๔.๑ ประชาชนมีความเชื่อมั่นในข้าราชการและผู้ดำารงตำาแหน่งทางการเมืองของกรุงเทพมหานคร%",
        },
        {
            "code": "5.4.1.1",
            "title": "ประชาชนมีความเชื่อมั่นในหน่วยงานและผู้ดำรงตำแหน่งทางการเมือง",
            "title_en": None,
            "level": None,
            "text": ":๕.๔.๑.๑ ประชาชนมีความเชื่อมั่นในหน่วยงานและผู้ดำรงตำแหน่งทางการเมือง",
        },
    ],
    "projects": [],
    "rendering": "full",
    "truncated": False,
    "encoding": "utf-8",
    "warnings": [],
    "page_kind": "kpi",
}

SEED_FIXTURES = [
    "kpi/dp_0411-2029.table.utf8.html",
    "kpi/dp_0411-2029.br.utf8.html",
    "kpi/dp_0411-2029.table.cp874.html",
    "kpi/dp_0411-2029.br.cp874.html",
]


def parse(path: str, url: str | None = None) -> KpiPage:
    record = parse_page(get_fixture(path), url)
    assert isinstance(record, KpiPage)
    return record


@pytest.mark.parametrize("path", SEED_FIXTURES)
def test_seed_page_gives_every_field(path: str) -> None:
    record = parse(path, SEED_URL).model_dump(mode="json")
    record.pop("encoding")
    expected = {k: v for k, v in SEED.items() if k != "encoding"}
    assert record == expected


def test_parse_kpi_is_the_same_as_parse_page() -> None:
    body = get_fixture(SEED_FIXTURES[0])
    assert parse_kpi(body, SEED_URL) == parse_page(body, SEED_URL)


def test_seed_page_without_url_is_detected_and_keeps_the_title_pid() -> None:
    record = parse(SEED_FIXTURES[1])
    assert (record.page_kind, record.url, record.pid) == ("kpi", None, "0411-2029")


def test_blank_score_cell_is_null_not_zero() -> None:
    record = parse(
        "kpi/dp_0700-878.br.utf8.html", "https://dp.bangkok.go.th/mobile/mykpi.php?pid=0700-878"
    )
    assert [q.model_dump() for q in record.quarters] == [
        {
            "quarter": 1,
            "result": 0.0,
            "result_text": "0.00",
            "assessment": 100.0,
            "assessment_text": "100",
            "score_2_1": 100.0,
            "score_2_2": 100.0,
            "scores_text": "100 / 100",
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
            "result": 0.0,
            "result_text": "0.00",
            "assessment": 100.0,
            "assessment_text": "100",
            "score_2_1": 0.0,
            "score_2_2": 0.0,
            "scores_text": "0 / 0",
        },
    ]


def test_all_blank_score_column_and_empty_report_sections() -> None:
    record = parse(
        "kpi/dp_0200-921.table.utf8.html", "https://dp.bangkok.go.th/mobile/mykpi.php?pid=0200-921"
    )
    assert [(q.quarter, q.result, q.assessment) for q in record.quarters] == [
        (1, 0.0, None),
        (2, 0.0, None),
        (3, 0.0, None),
        (4, 0.0, None),
    ]
    assert record.reports == []
    assert (record.audit_quarter, record.audit_score, record.audit_score_text) == (1, None, None)
    assert (
        record.name == "ร้อยละความสำเร็จของการผลักดันให้หน่วยงานดำเนินการแก้ไขปัญหาเรื่องร้องเรียน/ร้องทุกข์"
        "จากการลงพื้นที่ผู้ว่าฯ สัญจรประจำเขต"
    )


def test_dash_report_sections_give_no_reports() -> None:
    record = parse(
        "kpi/monitor_0406-0752.br.cp874.html",
        "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=0406-0752",
    )
    assert [(r.quarter, r.seq, r.text) for r in record.reports] == [
        (1, 1, "อยู่ระหว่างขั้นตอนการดำเนินการ")
    ]
    assert record.summary is None
    assert (
        record.definition
        == "การเลือกตั้ง หมายถึง การเลือกตั้งผู้ว่าราชการกรุงเทพมหานคร และการเลือกตั้งสมาชิกสภากรุงเทพมหานคร ระดับ"
    )
    assert (record.audit_quarter, record.audit_score, record.audit_score_text) == (4, 0.0, "0.0000")
    assert (record.kpi_type, record.kpi_level) == ("ตัวชี้วัดงานประจำ", "outcome")


def test_table_with_only_the_2_1_2_2_column_fills_just_those() -> None:
    record = parse(
        "kpi/monitor_1700-0877.compact.utf8.html",
        "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=1700-0877",
    )
    assert [q.model_dump() for q in record.quarters] == [
        {
            "quarter": n,
            "result": None,
            "result_text": None,
            "assessment": None,
            "assessment_text": None,
            "score_2_1": a,
            "score_2_2": 100.0,
            "scores_text": f"{a:g} / 100",
        }
        for n, a in ((1, 100.0), (2, 90.0), (3, 95.0), (4, 100.0))
    ]
    assert [(r.quarter, r.text) for r in record.reports] == [
        (1, "อยู่ระหว่างดำเนินการตามสัญญา"),
        (2, "อยู่ระหว่างดำเนินการตามสัญญา"),
        (3, "อยู่ระหว่างดำเนินการตามสัญญา"),
        (4, "ดำเนินการแล้วเสร็จ"),
    ]
    assert (record.rendering, record.pid, record.title) == ("compact", "1700-0877", None)


def test_compact_rendering_reports_have_no_quarter_and_split_on_stamps() -> None:
    record = parse(
        "kpi/dp_0411-0751.compact.utf8.html",
        "https://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-0751",
    )
    assert (
        record.rendering,
        record.pid,
        record.unit,
        record.target_value,
        record.result_value,
    ) == ("compact", "0411-0751", "ร้อยละ", 70.0, 70.991)
    assert [
        (r.quarter, r.seq, r.date_text, r.date and r.date.isoformat()) for r in record.reports
    ] == [
        (None, 1, None, None),
        (None, 2, "31/1/2563", "2020-01-31"),
        (None, 3, "29/2/2563", "2020-02-29"),
        (None, 4, "31/3/2563", "2020-03-31"),
    ]
    assert record.reports[1].text.startswith("อยู่ระหว่างขั้นตอน... 1. เตรียมการจัดซื้อจัดจ้าง")
    assert (record.fiscal_year, record.fiscal_year_source) == (2563, "reports")
    assert record.truncated is True


def test_compact_rendering_line_with_หมายถึง_is_the_definition() -> None:
    record = parse(
        "kpi/policy_5003-0861.compact.utf8.html",
        "https://policy.bangkok.go.th/mobile/mykpi.php?pid=5003-0861",
    )
    assert len(record.reports) == 4
    assert record.definition == "มูลฝอยอันตราย (Hazardous Wastes) หมายถึง มูลฝอยที่เป็นพิษหรืออันตราย ที่เกิดจา"


def test_truncated_page_is_flagged_and_a_cut_heading_dropped() -> None:
    record = parse(
        "kpi/dp1_1900-6516.br.utf8.html", "http://dp1.bangkok.go.th/mobile/mykpi.php?pid=1900-6516"
    )
    assert record.truncated is True
    assert record.warnings == [
        "page ends inside a heading: 'รา'",
        "page ends before its footer (last section: report)",
    ]
    assert (
        record.reports[-1].text
        == "- ขณะนี้อยู่ในขั้นตอนการประกวดราคาจ้างเหมาดำเนินการตามโครงการฯ - ประกาศผู้ชนะการเสนอราคา"
        " - อยู่ระหว่างการจัดทำสัญญาจ้าง"
    )


def test_title_year_prefix_gives_the_fiscal_year() -> None:
    record = parse(
        "kpi/dp1_5035-905.br.utf8.html", "http://dp1.bangkok.go.th/mobile/mykpi.php?pid=5035-905"
    )
    assert (record.title, record.name) == (
        "ปี 2564 ๑๓. ร้อยละของการจัดเก็บภาษีที่ดินและสิ่งปลูกสร้าง",
        "ร้อยละของการจัดเก็บภาษีที่ดินและสิ่งปลูกสร้าง",
    )
    assert (record.fiscal_year, record.fiscal_year_source) == (2564, "title")


def test_without_a_title_year_or_stamps_the_dates_the_reports_name_give_the_fiscal_year() -> None:
    # 5018-0816's first-quarter report: "เดือนต.ค. - ธ.ค. 63 - อนุมัติโครงการ …"
    record = parse(
        "kpi/bmavisions_5018-0816.table.utf8.html",
        "http://bmavisions.com/mobile/mykpi.php?pid=5018-0816",
    )
    assert [r.date for r in record.reports] == [None, None]
    assert (record.fiscal_year, record.fiscal_year_source) == (2564, "report_text")


def test_the_reports_stamps_come_before_the_dates_their_texts_name() -> None:
    # 5006-983: stamped 2564, and its texts name October 2563 (2564 too); the seed: both 2566
    assert parse("kpi/dp1_5006-983.table.utf8.html").fiscal_year_source == "reports"
    assert parse("kpi/dp_0411-2029.table.utf8.html").fiscal_year_source == "reports"


def test_title_holding_ค่าเป้าหมาย_splits_on_the_last_colon() -> None:
    record = parse(
        "kpi/monitor62_5027-0824.br.cp874.html",
        "http://monitor.bangkok.go.th/mobile62/mykpi.php?pid=5027-0824",
    )
    assert record.title == (
        "การจัดเก็บภาษี 3 ประเภท -ร้อยละของยอดรวมการจัดเก็บภาษี 3 ประเภท ตามยอดรวมประมาณการภาษี 3 ภาษี"
        " ที่สำนักการคลังกำหนด ร้อยละ 95 -ร้อยละของยอดรวมการจัเก็บภาษีค้างชำระ 3 ประเภท ค่าเป้าหมาย ร้อยละ 25"
    )
    assert (record.pid, record.target_text, record.target_value) == ("5027-0824", "95.0000", 95.0)
    assert (record.result_text, record.audit_quarter, record.audit_score) == ("100.0000", 4, 100.0)
    assert record.quarters[0].assessment_text == "100.0000"
    assert record.encoding == "cp874"


@pytest.mark.parametrize(
    ("path", "unit", "target_text", "target_value", "result_text", "result_value"),
    [
        ("kpi/monitor_0401-744.compact.utf8.html", None, "0", 0.0, "100", 100.0),
        ("kpi/monitor_0800-0940.compact.cp874.html", ">ร้อยละ", "70", 70.0, "63.15", 63.15),
        ("kpi/dp_1500-2088.compact.utf8.html", "ร้อยละ (ลดลง)", "70", 70.0, "73.14", 73.14),
        ("kpi/dp_2200-1058.compact.utf8.html", "เขตละ...เส้นทาง", "5", 5.0, "5", 5.0),
        ("kpi/monitor_5025-0896.compact.utf8.html", "ร้อยละ 100", "100", 100.0, "100", 100.0),
        ("kpi/dp1_5018-832.table.utf8.html", "\u0e49ร้อยละ", "30", 30.0, "33.35", 33.35),
        (
            "kpi/monitor_0200-0863.table.utf8.html",
            "จำนวน 12 นาที/เรื่อง",
            "100.0000",
            100.0,
            "95.0000",
            95.0,
        ),
        (
            "kpi/dp1_2000-756.br.utf8.html",
            "การจัดทำแผนงบประมาณระยะปานกลาง หมายถึง การจัดทำกรอ",
            "5",
            5.0,
            "60",
            60.0,
        ),
        ("kpi/dp1_0409-0968.table.cp874.html", "คะแนน", "10", 10.0, "100", 100.0),
    ],
)
def test_units_and_values_as_printed(
    path: str,
    unit: str | None,
    target_text: str,
    target_value: float,
    result_text: str,
    result_value: float,
) -> None:
    record = parse(path)
    assert (record.unit, record.target_text, record.target_value) == (
        unit,
        target_text,
        target_value,
    )
    assert (record.result_text, record.result_value) == (result_text, result_value)


@pytest.mark.parametrize(
    ("path", "title", "name"),
    [
        (
            "kpi/bmavisions_5018-0816.table.utf8.html",
            "มิติที่ 3 (3.2) ร้อยละความสำเร็จของการดำเนินโครงการให้บริการที่ดีที่สุด (Best Service) รักษารอบ",
            "ร้อยละความสำเร็จของการดำเนินโครงการให้บริการที่ดีที่สุด (Best Service) รักษารอบ",
        ),
        (
            "kpi/dp1_1100-2001.table.utf8.html",
            "(New)ร้อยละความก้าวหน้าในการก่อสร้างระบบบำบัดน้ำเสียรวมและระบบรวบรวมน้ำเสีย"
            " เพื่อแก้ไขปัญหามลพิษทางน้ำ(สจน.)",
            "ร้อยละความก้าวหน้าในการก่อสร้างระบบบำบัดน้ำเสียรวมและระบบรวบรวมน้ำเสีย"
            " เพื่อแก้ไขปัญหามลพิษทางน้ำ(สจน.)",
        ),
        (
            "kpi/dp2_0406-0768.br.utf8.html",
            "4/สปท.ร้อยละความสำเร็จของการดำเนินกิจกรรมพิจารณาข้อกฎหมายด้านการปกครองและการทะเบียนของกรุงเทพมหานคร",
            "ร้อยละความสำเร็จของการดำเนินกิจกรรมพิจารณาข้อกฎหมายด้านการปกครองและการทะเบียนของกรุงเทพมหานคร",
        ),
        (
            "kpi/monitor_0406-0752.br.cp874.html",
            "สปท.9/ร้อยละความสำเร็จของการจัดการเลือกตั้งผู้ว่าราชการกรุงเทพมหานคร และสมาชิกสภากรุงเทพมหานคร",
            "ร้อยละความสำเร็จของการจัดการเลือกตั้งผู้ว่าราชการกรุงเทพมหานคร และสมาชิกสภากรุงเทพมหานคร",
        ),
        (
            "kpi/dp1_5006-983.table.utf8.html",
            "(3)กรุงเทพฯ เมืองอาหารปลอดภัย",
            "กรุงเทพฯ เมืองอาหารปลอดภัย",
        ),
        (
            "kpi/dp2_5042-2005.table.utf8.html",
            "ตัวชี้วัดยุทธศาสตร์ (8) ร้อยละของการจัดเก็บภาษีที่ดินและสิ่งปลูกสร้าง",
            "ร้อยละของการจัดเก็บภาษีที่ดินและสิ่งปลูกสร้าง",
        ),
        (
            "kpi/monitor_5013-0904.br.utf8.html",
            "ตัวชี้วัดที่ 2.2.1 การจัดทำงบการเงินประจำปีงบประมาณ พ.ศ.2562",
            "การจัดทำงบการเงินประจำปีงบประมาณ พ.ศ.2562",
        ),
        (
            "kpi/dp1_0409-0968.table.cp874.html",
            "5.2 ร้อยละความสำเร็จในการพัฒนาและจัดเก็บฐานข้อมูลที่มีความสาคัญต่อการปฏิบัติงานหรือการให้บริการ",
            "ร้อยละความสำเร็จในการพัฒนาและจัดเก็บฐานข้อมูลที่มีความสาคัญต่อการปฏิบัติงานหรือการให้บริการ",
        ),
    ],
)
def test_title_prefixes_are_stripped_from_the_name(path: str, title: str, name: str) -> None:
    record = parse(path)
    assert (record.title, record.name) == (title, name)


def test_empty_kpi_type_is_null() -> None:
    record = parse("kpi/dp1_5006-983.table.utf8.html")
    assert (record.kpi_type, record.kpi_level) == (None, "outcome")
    assert [r.date_text for r in record.reports] == ["27/10/2563", "26/11/2563"]


def test_page_without_its_title_line_names_the_missing_title() -> None:
    body = get_fixture(SEED_FIXTURES[1]).replace(
        "ร้อยละความสำเร็จของการรณรงค์สร้างจิตสำนึกโปร่งใส สะอาด ปลอดภัย และสิ่งแวดล้อม"
        " : 0411-2029<br>".encode(),
        b"",
    )
    with pytest.raises(ParseError) as caught:
        parse_page(body, SEED_URL)
    assert (caught.value.missing, caught.value.url) == ("title", SEED_URL)


def test_title_broken_over_two_lines_by_markup_is_read_as_one() -> None:
    title = "ร้อยละความสำเร็จของการรณรงค์สร้างจิตสำนึกโปร่งใส สะอาด ปลอดภัย และสิ่งแวดล้อม"
    body = get_fixture(SEED_FIXTURES[1]).replace(
        f"{title} : 0411-2029<br>".encode(), f"<h4>{title}</h4><div>: 0411-2029</div>".encode()
    )
    record = parse_page(body, SEED_URL)
    assert (record.title, record.pid, record.warnings) == (title, "0411-2029", [])


def test_page_without_its_target_label_names_the_missing_label() -> None:
    body = get_fixture(SEED_FIXTURES[1]).replace("ค่าเป้าหมาย".encode(), "เป้า".encode())
    with pytest.raises(ParseError) as caught:
        parse_page(body, SEED_URL)
    assert caught.value.missing == "ค่าเป้าหมาย"


def test_mykpi_url_on_an_unrelated_page_raises() -> None:
    with pytest.raises(ParseError) as caught:
        parse_page(get_fixture("other/unrelated.utf8.html"), SEED_URL)
    assert caught.value.missing == "รายละเอียดตัวชี้วัด"
