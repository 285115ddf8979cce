"""Project progress pages (myproject.php): owner, progress, contact, budget code, strategies."""

from __future__ import annotations

from helpers import get_fixture

from parsers import ProjectPage, parse_page
from parsers.project import parse_project

URL_2435 = "http://monitor.bangkok.go.th/mobile/myproject.php?pid=01000000-2435"


def parse(path: str, url: str | None = None) -> ProjectPage:
    record = parse_page(get_fixture(path), url)
    assert isinstance(record, ProjectPage)
    return record


def test_full_project_page() -> None:
    record = parse_project(get_fixture("project/monitor_01000000-2435.br.utf8.html"), URL_2435)
    dump = record.model_dump(mode="json")
    assert {
        k: dump[k]
        for k in (
            "page_kind",
            "pid",
            "title",
            "owner_unit",
            "fiscal_year",
            "fiscal_year_source",
            "progress",
            "progress_text",
            "contact",
            "audit_quarter",
            "audit_score",
            "budget_code",
            "rationale",
            "objectives",
            "goals",
            "rendering",
            "truncated",
        )
    } == {
        "page_kind": "project",
        "pid": "01000000-2435",
        "title": "การจัดทำข่าวเพื่อประชาสัมพันธ์สภากรุงเทพมหานคร",
        "owner_unit": "สํานักงานเลขานุการสภากรุงเทพมหานคร",
        "fiscal_year": 2563,
        "fiscal_year_source": "page",
        "progress": 0.0,
        "progress_text": "0.00",
        "contact": "น.ส.พิรุณพร อินธะนู โทร. 1140",
        "audit_quarter": 1,
        "audit_score": 100.0,
        "budget_code": "01000700/01000700",
        "rationale": "ข้อมูลข่าวสารของสภากรุงเทพมหานคร",
        "objectives": "ประชาสัมพันธ์ข้อมูลข่าวสาร",
        "goals": "จำนวนข้อมูลข่าวสารของสภากรุงเทพมหานครที่เผยแพร่ตามช่องทางต่างๆ จำนวน 36 ครั้ง/ปี",
        "rendering": "full",
        "truncated": True,
    }
    assert [(s.code, s.title, s.title_en) for s in record.strategies] == [
        ("7", "การบริหารจัดการเมืองมหานคร", "Management Strategy"),
        ("7.2", "การบริหารแผนและประเมินผล", None),
        (
            "7.2.1",
            "กรุงเทพมหานครมีระบบการติดตามและรายงานความก้าวหน้าผลการดำาเนินงานตามแผนพัฒนากรุงเทพ",
            None,
        ),
    ]
    assert record.warnings == [
        "strategy line cut short: 'เป้าประสงค์ที่'",
        "page ends before the end of its strategy block",
    ]


def test_alt_capture_without_year_has_no_fiscal_year() -> None:
    record = parse("project/monitor_01000000-2435.alt.table.utf8.html", URL_2435)
    assert (record.owner_unit, record.fiscal_year, record.progress) == (
        "สํานักงานเลขานุการสภากรุงเทพมหานคร",
        None,
        34.0,
    )
    assert (record.audit_quarter, record.audit_score, record.audit_score_text) == (4, 0.0, "0.0000")


def test_owner_line_starting_with_bold_marks() -> None:
    record = parse("project/dp1_04110000-3766.table.cp874.html")
    assert (record.owner_unit, record.fiscal_year, record.encoding) == (
        "สำนักงานประชาสัมพันธ์ สํานักปลัดกรุงเทพมหานคร",
        2564,
        "cp874",
    )
    assert record.budget_code == "04110000/04110000"
    assert record.objectives == "1. เพื่อศึกษาการรับรู้ข่าวสารผ่"


def test_english_strategy_names_are_kept_apart() -> None:
    record = parse("project/dp1_50270000-3207.br.utf8.html")
    assert [(s.code, s.title, s.title_en) for s in record.strategies] == [
        ("2", "มหานครสีเขียว สะดวกสบาย", "Bangkok as a Green and Convenient City"),
        ("2.1", "ภูมิทัศน์สวยงาม", None),
        ("2.1.1", "กรุงเทพมหานครจัดระเบียบเมือง ปรับปรุงทัศนียภาพของเมืองให้แลดูสะอาด ไม่มีสายไฟฟ้า", None),
    ]
    assert (record.budget_code, record.goals) == ("50270300/50270300", "คลองลาดพร้าว จำนวน 1 คลอง")


def test_compact_project_rendering_assigns_unlabelled_lines_in_order() -> None:
    record = parse(
        "project/monitor_50010000-3418.compact.utf8.html",
        "http://monitor.bangkok.go.th/mobile/myproject.php?pid=50010000-3418",
    )
    assert (record.rendering, record.pid, record.title, record.progress) == (
        "compact",
        "50010000-3418",
        None,
        100.0,
    )
    assert (record.contact, record.budget_code, record.goals) == (
        "นายธวัชชัย สุกปานแก้ว (โทร.6573)",
        "50010600/50010600",
        "ปรับปร",
    )
    assert record.rationale is not None and record.rationale.startswith("พื้นที่เขตพระนคร เป็นพื้นที่เขต")
    assert record.objectives is not None and record.objectives.startswith("เพื่อปรับปรุงภูมิทัศน์")
    assert (record.audit_quarter, record.audit_score) == (3, None)


def test_compact_project_with_a_unit_as_contact() -> None:
    record = parse("project/dp_08000000-7062.compact.utf8.html")
    assert (record.page_kind, record.contact, record.budget_code, record.pid) == (
        "project",
        "กองสร้างเสริมสุขภาพ",
        None,
        None,
    )
