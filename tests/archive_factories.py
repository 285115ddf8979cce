"""Hand-built responses and records for the archive tests (no parser needed)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from parsers.models import (
    DepartmentEntry,
    DepartmentPage,
    KpiPage,
    ProjectPage,
    ProjectRef,
    Quarter,
    Report,
    Strategy,
)
from scraper.models import FetchResult

SEED_URL = "https://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2029"
PROJECT_URL = "http://monitor.bangkok.go.th/mobile/myproject.php?pid=50240000-3561"
DEPARTMENT_URL = "http://monitor.bangkok.go.th/mobile/index11.php?selDEP=50350000&selYear=2564"
MARCH = dt.datetime(2023, 3, 31, 10, 0, tzinfo=dt.UTC)
JUNE = dt.datetime(2023, 6, 30, 10, 0, tzinfo=dt.UTC)
SEPTEMBER = dt.datetime(2023, 9, 30, 10, 0, tzinfo=dt.UTC)
NOVEMBER_2022 = dt.datetime(2022, 11, 15, 3, 0, tzinfo=dt.UTC)  # inside Q1 of fiscal year 2566
FEBRUARY_2023 = dt.datetime(2023, 2, 1, 3, 0, tzinfo=dt.UTC)  # after Q1
STAMP_NOV = "2022-11-15T03:00:00.000000Z"
STAMP_FEB = "2023-02-01T03:00:00.000000Z"


def response(
    url: str = SEED_URL,
    body: bytes = b"<html>seed v1</html>",
    at: dt.datetime = MARCH,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> FetchResult:
    """A FetchResult as the fetcher would hand it on."""
    if headers is None:
        headers = {"Content-Type": "text/html; charset=utf-8", "ETag": '"v1"'}
    return FetchResult(
        url=url, final_url=url, status=status, headers=headers, body=body, fetched_at=at
    )


def seed_kpi(**changes: Any) -> KpiPage:
    """The seed page 0411-2029 (fiscal year 2566), trimmed to what the tests look at."""
    record = KpiPage(
        page_kind="kpi",
        encoding="utf-8",  # what the parser reports for the utf-8 responses below
        url=SEED_URL,
        pid="0411-2029",
        title="ร้อยละความสำเร็จของการรณรงค์สร้างจิตสำนึกโปร่งใส สะอาด ปลอดภัย และสิ่งแวดล้อม",
        fiscal_year=2566,
        fiscal_year_source="reports",
        unit="ร้อยละ",
        target_text="100",
        target_value=100.0,
        result_text="100",
        result_value=100.0,
        kpi_type="ตัวชี้วัดเชิงยุทธศาสตร์",
        kpi_level="outcome",
        audit_quarter=1,
        audit_score=100.0,
        audit_score_text="100",
        quarters=[
            Quarter(quarter=1, result=10.0, result_text="10.00", assessment=100.0),
            Quarter(quarter=2, result=30.0, result_text="30.00"),
        ],
        reports=[
            Report(quarter=1, seq=1, text="จัดทำแผนประชาสัมพันธ์รณรงค์ในเรื่องจราจร ความสะอาด"),
            Report(
                quarter=3,
                seq=1,
                date=dt.date(2023, 4, 30),
                date_text="30/04/2566",
                text="จัดกิจกรรมตอบคำถาม “รู้ทันปัญหาฝุ่น PM 2.5” ทาง Facebook Fanpage กรุงเทพมหานคร",
            ),
        ],
        definition="การรณรงค์ตามแผน ปีงบประมาณ พ.ศ. ๒๕๖๖",
        strategies=[
            Strategy(code="5", title="ด้านที่ ๕", level="ด้าน", text=":ด้านที่ ๕ - มหานครปลอดภัย"),
            Strategy(code="5.4", title="๕.๔", level="มิติ", text=":๕.๔ - สังคมโปร่งใส"),
        ],
        projects=[ProjectRef(pid="04110000-1234", name="โครงการรณรงค์", url=None)],
    )
    return record.model_copy(update=changes)


def revised_seed_kpi() -> KpiPage:
    """The seed page as revised later in the year: its target cut to 80 and Q1's result rewritten
    from 10 to 8 (two revisions, once the first version is in the archive)."""
    return seed_kpi(
        target_value=80.0,
        target_text="80",
        quarters=[
            Quarter(quarter=1, result=8.0, result_text="8.00", assessment=100.0),
            Quarter(quarter=2, result=30.0, result_text="30.00"),
        ],
    )


def project(**changes: Any) -> ProjectPage:
    """A project page owned by unit 5024."""
    record = ProjectPage(
        page_kind="project",
        encoding="utf-8",  # what the parser reports for the utf-8 responses below
        url=PROJECT_URL,
        pid="50240000-3561",
        name="โครงการพัฒนาคลอง",
        fiscal_year=2566,
        owner_unit="สำนักงานเขตสาทร",
        progress=75.0,
        progress_text="75",
    )
    return record.model_copy(update=changes)


def department(**changes: Any) -> DepartmentPage:
    """An agency's 2564 report with two entries, one linking to a KPI page."""
    record = DepartmentPage(
        page_kind="department",
        encoding="utf-8",  # what the parser reports for the utf-8 responses below
        url=DEPARTMENT_URL,
        agency_code="50350000",
        fiscal_year=2564,
        fiscal_year_source="page",
        heading="ผลการปฏิบัติราชการประจำปี : 2564 ของหน่วยงาน : 50350000",
        entries=[
            DepartmentEntry(
                seq=1,
                title="ร้อยละของเรื่องร้องเรียนที่ลดลง",
                pid="5035-0001",
                unit="ลดลงร้อยละ",
                target_text="5",
                target_value=5.0,
                result_text="34",
                result_value=34.0,
                quarters=[Quarter(quarter=1, result=10.0), Quarter(quarter=2, result=34.0)],
                url="http://monitor.bangkok.go.th/mobile/mykpi.php?pid=5035-0001",
            ),
            DepartmentEntry(seq=2, title="ระดับความสำเร็จ", unit="ระดับ", target_value=5.0),
        ],
    )
    return record.model_copy(update=changes)


# Fixture files and the real URL each reproduces (see tests/fixtures/make_fixtures.py).
FIXTURES = {
    "kpi/dp_0411-2029.table.utf8.html": SEED_URL,
    "kpi/monitor_2400-1060.table.utf8.html": (
        "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=2400-1060"
    ),
    "citydb/dp2_181.table.utf8.html": "http://dp2.bangkok.go.th/mobile/mykpi2563.php?pid=181",
    "project/dp1_04110000-3766.table.cp874.html": (
        "http://dp1.bangkok.go.th/mobile/myproject.php?pid=04110000-3766"
    ),
    "department/monitor_index11_23000000_2564.table.utf8.html": (
        "http://monitor.bangkok.go.th/mobile/index11.php?selDEP=23000000&selYear=2564"
    ),
    "other/dp2_reportprojectit662.utf8.html": (
        "http://dp2.bangkok.go.th/mobile/reportprojectit662.php?selDEP=13"
    ),
}
# Later captures of the same URLs: another markup and encoding; a different capture.
LATER_FIXTURES = {
    "kpi/dp_0411-2029.br.cp874.html": SEED_URL,
    "kpi/monitor_2400-1060.alt.compact.utf8.html": FIXTURES[
        "kpi/monitor_2400-1060.table.utf8.html"
    ],
}


def fixture_responses(files: dict[str, str], at: dt.datetime = MARCH) -> list[FetchResult]:
    """The fixture files as 200 responses of their real URLs."""
    from helpers import get_fixture

    return [
        response(url=url, body=get_fixture(name), at=at, headers={}) for name, url in files.items()
    ]


def load_fixtures(db: Any, files: dict[str, str] = FIXTURES, at: dt.datetime = MARCH) -> list[Any]:
    """Parse the fixtures with the real parser and save them; return the outcomes."""
    import archive
    from kpi_archive.errors import ParseError
    from parsers import parse_page

    outcomes = []
    for result in fixture_responses(files, at):
        try:
            parsed: Any = parse_page(result.body, result.url, result.headers)
        except ParseError as exc:
            parsed = exc
        outcomes.append(archive.save(db, result, parsed))
    return outcomes
