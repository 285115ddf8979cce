"""Page kind from the URL, else from the first lines."""

from __future__ import annotations

import pytest

from parsers.detect import detect_kind, kind_from_lines, kind_from_url


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2029", "kpi"),
        ("http://monitor.bangkok.go.th/mobile62/mykpi.php?pid=0900-0981", "kpi"),
        ("http://bmavisions.com/mobile/mykpi.php?pid=5018-0816", "kpi"),
        ("http://dp2.bangkok.go.th/mobile/mykpi2563.php?pid=181", "citydb"),
        ("http://monitor.bangkok.go.th/mobile/myproject.php?pid=01000000-2435", "project"),
        (
            "http://monitor.bangkok.go.th/mobile/index11.php?selDEP=23000000&selYear=2564",
            "department",
        ),
        ("http://monitor.bangkok.go.th/mobile/index101.php?selDEP=09000000", "department"),
        ("https://dp.bangkok.go.th/mobile/index102.php?selDEP=50350000", "department"),
        ("https://dp.bangkok.go.th/mobile/index103.php?selDEP=50010000", "department"),
        ("http://dp2.bangkok.go.th/mobile/reportprojectit662.php?selDEP=13", None),
        (
            "https://policy.bangkok.go.th/bs2568/frontend/web/index.php?project_id=15000000-2677",
            None,
        ),
        ("https://dp.bangkok.go.th/mobile/index.php", None),
        (None, None),
    ],
)
def test_kind_from_url(url: str | None, kind: str | None) -> None:
    assert kind_from_url(url) == kind


@pytest.mark.parametrize(
    ("lines", "kind"),
    [
        (["รายละเอียดตัวชี้วัด", "Back Home"], "kpi"),
        (["*รายละเอียด ตัวชี้วัด*"], "kpi"),
        (["ค่าเป้าหมาย ร้อยละ : 75", "ผลงานที่ทำได้ ร้อยละ : 100"], "kpi"),
        (["โครงการจัดทำฐานข้อมูลตัวชี้วัดการพัฒนาเมือง (2562-2563)"], "citydb"),
        (["ความคืบหน้าโครงการ/กิจกรรม"], "project"),
        (["ความคืบหน้าโครงการ ร้อยละ 100"], "project"),
        (["ผลการปฏิบัติราชการประจำปี : 2564 ของหน่วยงาน : 23000000"], "department"),
        (
            ["๗.๔ - การคลังและงบประมาณ | |", "หน่วยนับ :ร้อยละ เป้าหมาย :100.00 ผลงาน :76.17 |"],
            "department",
        ),
        (["รายงานสรุปจำนวนโครงการด้านเทคโนโลยีดิจิทัลของกรุงเทพมหานคร"], None),
        (["รายละเอียดโครงการ/กิจกรรม: 15000000-2677", "หลักการและเหตุผลปัจจุบัน"], None),
        ([], None),
    ],
)
def test_kind_from_lines(lines: list[str], kind: str | None) -> None:
    assert kind_from_lines(lines) == kind


def test_url_wins_over_content() -> None:
    url = "http://dp2.bangkok.go.th/mobile/mykpi2563.php?pid=181"
    assert detect_kind(url, ["รายละเอียดตัวชี้วัด"]) == "citydb"
    assert detect_kind("https://example.org/page.html", ["รายละเอียดตัวชี้วัด"]) == "kpi"


def test_headings_after_a_long_menu_are_not_looked_for() -> None:
    assert kind_from_lines([f"menu {n}" for n in range(40)] + ["รายละเอียดตัวชี้วัด"]) is None
