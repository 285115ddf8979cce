"""Indicators (one agency's indicator across years and hosts) and measures (across agencies)."""

from __future__ import annotations

import html
import itertools
import json
from pathlib import Path

import pytest
from archive_factories import JUNE, MARCH, response, seed_kpi
from helpers import get_fixture

import archive
from archive.save import agency_code
from archive.schema import group_key
from archive.series import Page, load_overrides, match_pages, name_key, unit_key
from parsers import KpiPage, ParseError, parse_page

GREEN_5038 = "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=5038-0742"
GREEN_5011 = "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=5011-0950"
GREEN_5046 = "https://dp.bangkok.go.th/mobile/mykpi.php?pid=5046-0712"
SATISFACTION_5046 = "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=5046-0920"
TAX_2564 = "http://dp1.bangkok.go.th/mobile/mykpi.php?pid=5035-905"
TAX_2565 = "http://dp1.bangkok.go.th/mobile/mykpi.php?pid=5035-0790"
CHILD_DP1 = "http://dp1.bangkok.go.th/mobile/mykpi.php?pid=5040-876"
CHILD_MONITOR = "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=5040-876"

FIXTURES = {
    GREEN_5038: "series/monitor_5038-0742.br.utf8.html",
    GREEN_5011: "series/monitor_5011-0950.br.utf8.html",
    GREEN_5046: "series/dp_5046-0712.br.utf8.html",
    SATISFACTION_5046: "series/monitor_5046-0920.br.utf8.html",
    TAX_2564: "kpi/dp1_5035-905.br.utf8.html",
    TAX_2565: "series/dp1_5035-0790.next-year.br.utf8.html",
    CHILD_DP1: "series/dp1_5040-876.br.utf8.html",
    CHILD_MONITOR: "series/monitor_5040-876.compact.utf8.html",
}


def load(db, urls=FIXTURES):
    for url in urls:
        body = get_fixture(FIXTURES[url])
        archive.save(db, response(url, body), parse_page(body, url))
    archive.refresh_derived(db)


@pytest.fixture
def db(db):
    load(db)
    return db


def kpi_row(db, url):
    return db.execute(
        "SELECT k.pid, k.fiscal_year, k.indicator_match, i.agency_code, i.name, i.unit, "
        "i.first_fiscal_year, i.last_fiscal_year, i.pages, i.pids, m.name, m.unit, m.agencies "
        "FROM kpis k JOIN indicators i ON i.id = k.indicator_id "
        "LEFT JOIN measures m ON m.id = i.measure_id WHERE k.url = ?",
        [url],
    ).fetchone()


def same(db, column, *urls):
    rows = db.execute(
        f"SELECT DISTINCT {column} FROM kpis k JOIN indicators i ON i.id = k.indicator_id "
        f"WHERE k.url IN ({', '.join('?' for _ in urls)})",
        list(urls),
    ).fetchall()
    return len(rows) == 1


@pytest.mark.parametrize(
    ("title", "key"),
    [
        ("ปี 2564 ๑๓. ร้อยละของการจัดเก็บภาษีที่ดินและสิ่งปลูกสร้าง", "ร้อยละของการจัดเก็บภาษีที่ดินและสิ่งปลูกสร้าง"),
        (
            "ตัวชี้วัดยุทธศาสตร์ (8) ร้อยละของการจัดเก็บภาษีที่ดินและสิ่งปลูกสร้าง",
            "ร้อยละของการจัดเก็บภาษีที่ดินและสิ่งปลูกสร้าง",
        ),
        ("13. ร้อยละของการจัดเก็บภาษีที่ดินและสิ่งปลูกสร้าง", "ร้อยละของการจัดเก็บภาษีที่ดินและสิ่งปลูกสร้าง"),
        (
            "ร้อยละของชุมชนที่มีความสามารถในการป้องกันและแก้ไขปัญหายาเสพติด (ผลลัพธ์)",
            "ร้อยละของชุมชนที่มีความสามารถในการป้องกันและแก้ไขปัญหายาเสพติด",
        ),
        ("ระดับความสำเร็จของการจัดระเบียบทางเท้า (สนท.2566)", "ระดับความสำเร็จของการจัดระเบียบทางเท้า"),
        ("ตัวชี้วัดที่ 2.2.1 การจัดทำงบการเงินประจำปีงบประมาณ พ.ศ.2562", "การจัดทำงบการเงิน"),
        ("การจัดทำงบการเงินประจำปีงบประมาณพ.ศ.2562", "การจัดทำงบการเงิน"),
        (
            "07. ร้อยละของสถานบริการด้านกีฬาและนันทนาการของกทม. อยู่ในเกณฑ์มาตรฐาน",
            "ร้อยละของสถานบริการด้านกีฬาและนันทนาการของกรุงเทพมหานครอยู่ในเกณฑ์มาตรฐาน",
        ),
        (
            "ร้อยละความสำเร็จของการดำเนินโครงการให้บริการที่ดีที่สุด (Best Service)",
            "ร้อยละความสำเร็จของการดำเนินโครงการให้บริการที่ดีที่สุดbestservice",
        ),
        ("ร้อยละของอาคารได้รับการปรับปรุง/ สํารวจ", "ร้อยละของอาคารได้รับการปรับปรุงสำรวจ"),
        (None, None),
    ],
)
def test_name_key_drops_numbers_year_prefixes_tags_spaces_and_typing_slips(title, key):
    assert name_key(title) == key


@pytest.mark.parametrize(
    ("unit", "key"),
    [
        ("ร้อยละ", "ร้อยละ"),
        ("ร้อยละ 100", "ร้อยละ"),
        (">ร้อยละ", "ร้อยละ"),
        ("\u0e49ร้อยละ", "ร้อยละ"),
        ("แห่ง", "แห่ง"),
        ("ตร.ม.", "ตรม"),
        (None, ""),
    ],
)
def test_unit_key_ignores_numbers_signs_and_stray_marks(unit, key):
    assert unit_key(unit) == key


def test_two_pids_of_one_district_indicator_in_two_fiscal_years_share_an_indicator(db):
    assert kpi_row(db, TAX_2564) == (
        "5035-905",
        2564,
        "name",
        "5035",
        "ร้อยละของการจัดเก็บภาษีที่ดินและสิ่งปลูกสร้าง",
        "ร้อยละ",
        2564,
        2565,
        2,
        2,
        "ร้อยละของการจัดเก็บภาษีที่ดินและสิ่งปลูกสร้าง",
        "ร้อยละ",
        1,
    )
    assert kpi_row(db, TAX_2565)[:3] == ("5035-0790", 2565, "name")
    assert same(db, "k.indicator_id", TAX_2564, TAX_2565)


def test_green_space_pages_of_two_districts_share_a_measure_not_an_indicator(db):
    assert same(db, "i.measure_id", GREEN_5038, GREEN_5011)
    assert not same(db, "k.indicator_id", GREEN_5038, GREEN_5011)
    assert kpi_row(db, GREEN_5038)[10:] == ("พื้นที่สีเขียวที่เพิ่มขึ้น", "ร้อยละ", 2)


def test_green_space_in_another_unit_is_another_measure(db):
    assert not same(db, "i.measure_id", GREEN_5038, GREEN_5046)
    assert kpi_row(db, GREEN_5046)[10:] == ("พื้นที่สีเขียวที่เพิ่มขึ้น", "แห่ง", 1)


def test_different_indicators_of_one_district_do_not_share_anything(db):
    assert not same(db, "k.indicator_id", GREEN_5046, SATISFACTION_5046)
    assert not same(db, "i.measure_id", GREEN_5046, SATISFACTION_5046)


def test_an_untitled_compact_capture_joins_the_titled_mirror_by_pid(db):
    assert kpi_row(db, CHILD_MONITOR)[:3] == ("5040-876", None, "pid")
    assert kpi_row(db, CHILD_DP1)[:3] == ("5040-876", None, "name")
    assert same(db, "k.indicator_id", CHILD_DP1, CHILD_MONITOR)
    assert db.execute(
        "SELECT match_methods, pages, pids FROM indicators i JOIN kpis k ON k.indicator_id = i.id "
        "WHERE k.url = ?",
        [CHILD_DP1],
    ).fetchone() == ("name,pid", 2, 1)


def test_refresh_is_idempotent_and_keeps_ids(db):
    before = db.execute("SELECT url, indicator_id FROM kpis ORDER BY url").fetchall()
    measures = db.execute("SELECT * FROM measures ORDER BY id").fetchall()
    archive.refresh_derived(db)
    archive.refresh_derived(db)
    assert db.execute("SELECT url, indicator_id FROM kpis ORDER BY url").fetchall() == before
    assert db.execute("SELECT * FROM measures ORDER BY id").fetchall() == measures
    assert (db.table("indicators").count, db.table("measures").count) == (6, 5)


def test_a_full_refresh_leaves_the_pages_indexed_by_indicator(db):
    archive.refresh_derived(db, full=True)
    plan = db.execute(
        "EXPLAIN QUERY PLAN SELECT as_of FROM kpis WHERE indicator_id = 1 ORDER BY as_of"
    ).fetchall()
    assert [row[-1] for row in plan] == [
        "SEARCH kpis USING COVERING INDEX idx_kpis_indicator_id_as_of (indicator_id=?)"
    ]


def test_an_indicator_gone_from_kpis_is_dropped_and_others_keep_their_ids(db):
    kept = db.execute("SELECT indicator_id FROM kpis WHERE url = ?", [GREEN_5038]).fetchone()
    db.execute("DELETE FROM kpis WHERE url = ?", [GREEN_5011])
    archive.refresh_derived(db)
    assert (
        db.execute("SELECT indicator_id FROM kpis WHERE url = ?", [GREEN_5038]).fetchone() == kept
    )
    assert db.execute("SELECT count(*) FROM indicators WHERE agency_code = '5011'").fetchone() == (
        0,
    )
    assert kpi_row(db, GREEN_5038)[12] == 1


def test_the_override_file_joins_a_source_typo_and_says_so():
    pages = [
        Page(
            "a",
            "5006-980",
            "5006",
            "(1)ร้อยละมูลฝอยที่คัดแยกจากแหล่งกำเนิดและนำไปใช้ประโยชน์เพิ่มขึ้นเมื่อเทียบกับปี 2560",
            None,
            "ร้อยละ",
        ),
        Page(
            "b",
            "5046-0942",
            "5046",
            "ร้อยละมูลฝอยที่คัดแยกจากแหล่งกำเนิดและนำไปใช้ประโยชน์เพิ่มขึ้นเมือเทียบกับปี 2560",
            None,
            "ร้อยละ",
        ),
    ]
    matches = match_pages(pages, load_overrides())
    assert (matches["a"].method, matches["b"].method) == ("name", "override")
    assert matches["a"].name_key == matches["b"].name_key
    assert match_pages(pages, {})["b"].name_key != matches["a"].name_key


def test_a_page_with_no_title_anywhere_is_its_own_indicator_with_no_measure(tmp_path):
    db = archive.open_db(tmp_path / "kpi.db")
    archive.save(db, response(), seed_kpi(title=None, name=None))
    archive.refresh_derived(db)
    assert db.execute(
        "SELECT k.indicator_match, i.key, i.measure_id FROM kpis k "
        "JOIN indicators i ON i.id = k.indicator_id"
    ).fetchall() == [("pid-only", group_key("0411|pid:0411-2029|ร้อยละ"), None)]


# --- The real texts: how far they collapse, and the precision of matching, checked by hand ----

REALPAGES = Path(__file__).resolve().parents[2] / "shared" / "realpages"

# Every pair of pages the matcher puts in one measure (or one indicator), checked by reading both
# titles and units: (pid, pid, verdict, why).
CHECKED_PAIRS = [
    ("5001-0784", "5035-905", True, "ร้อยละของการจัดเก็บภาษีที่ดินและสิ่งปลูกสร้าง, two districts"),
    ("5001-0784", "5042-2005", True, "the same, under a ตัวชี้วัดยุทธศาสตร์ (8) prefix"),
    ("5035-905", "5042-2005", True, "the same"),
    ("5011-0950", "5038-0742", True, "พื้นที่สีเขียวที่เพิ่มขึ้น in ร้อยละ; 5046-0712 (แห่ง) stays apart"),
    ("5044-2001", "5046-0896", True, "the same school-results indicator, one with a 6.1 prefix"),
    ("5025-0912", "5049-0847", True, "budget disbursement; unit ร้อยละ vs ร้อยละ 100"),
    ("5013-0904", "5036-1040", True, "financial statements ประจำปีงบประมาณ พ.ศ.2562"),
    ("2300-0839", "5045-0849", True, "sports facilities up to standard; กทม. spelled out"),
    ("5006-980", "5046-0942", True, "waste sorting; override for the เมือ typo"),
    ("5006-980", "5018-832", True, "waste sorting; override (ของ and the tonnes baseline)"),
    ("5006-980", "5007-0783", True, "waste sorting; override (ทราบ typo)"),
    ("5046-0942", "5018-832", True, "waste sorting"),
    ("5046-0942", "5007-0783", True, "waste sorting"),
    ("5018-832", "5007-0783", True, "waste sorting"),
    ("5040-876", "5040-876", True, "one pid on dp1 (titled) and monitor (compact): one indicator"),
]


# Pairs the matcher keeps apart, checked the same way: (pid, pid, should they be one measure, why).
CHECKED_APART = [
    ("5038-0742", "5046-0712", False, "green space in ร้อยละ vs in แห่ง: unlike quantities"),
    ("5001-0764", "5046-0920", False, "satisfaction in คะแนน vs ร้อยละ: unlike quantities"),
    ("5021-0834", "5018-0816", True, "Best Service; 5018-0816's title runs on (รักษารอบ…): a miss"),
    ("5023-0793", "5026-0855", True, "complaints handled; ระดับ vs ร้อยละความสำเร็จ, จากจาก: a miss"),
    ("5006-980", "5016-0773", False, "waste sorted at source vs waste sorted and reused"),
    ("0411-0755", "0411-2003", False, "two indicators of one agency in two years"),
]


def _real_pages() -> list[Page]:
    pages = []
    rows = [json.loads(line) for line in (REALPAGES / "pages.jsonl").read_text().splitlines()]
    rows.append(
        {
            "url": "https://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2029",
            "text": (REALPAGES / "seed-0411-2029.txt").read_text(encoding="utf-8"),
        }
    )
    for row in rows:
        body = "<br>\n".join(html.escape(line, quote=False) for line in row["text"].split("\n"))
        try:
            record = parse_page(f"<html><body>{body}</body></html>".encode(), row["url"])
        except ParseError:
            continue
        if isinstance(record, KpiPage):
            pages.append(
                Page(
                    row["url"],
                    record.pid,
                    agency_code(record.pid),
                    record.title,
                    record.name,
                    record.unit,
                )
            )
    return pages


@pytest.mark.skipif(not REALPAGES.is_dir(), reason="../shared/realpages is not here")
def test_the_real_texts_collapse_to_fewer_indicators_and_measures_all_pairs_checked():
    pages = _real_pages()
    matches = match_pages(pages, load_overrides())
    groups: dict[tuple[str, str], list[str]] = {}
    for page in pages:
        match = matches[page.url]
        if not match.name_key.startswith("pid:"):
            groups.setdefault((match.name_key, match.unit_key), []).append(page.pid or "")
    pairs = sorted(
        tuple(sorted(pair)) for pids in groups.values() for pair in itertools.combinations(pids, 2)
    )
    assert pairs == sorted(tuple(sorted((a, b))) for a, b, _, _ in CHECKED_PAIRS)
    correct = sum(verdict for _, _, verdict, _ in CHECKED_PAIRS)
    assert (correct, len(CHECKED_PAIRS)) == (15, 15)  # precision 15/15 on every grouped pair
    indicators = {(m.agency_code, m.name_key, m.unit_key) for m in matches.values()}
    assert (len(pages), len(indicators), len(groups)) == (138, 137, 99)
    key = {page.pid: matches[page.url] for page in pages}
    apart = [
        (a, b, wanted)
        for a, b, wanted, _ in CHECKED_APART
        if (key[a].name_key, key[a].unit_key) != (key[b].name_key, key[b].unit_key)
    ]
    assert apart == [(a, b, wanted) for a, b, wanted, _ in CHECKED_APART]
    assert sum(wanted for _, _, wanted in apart) == 2  # known misses on the sample
    methods = sorted(m.method for m in matches.values())
    assert {m: methods.count(m) for m in set(methods)} == {
        "name": 106,
        "override": 3,
        "pid": 1,
        "pid-only": 28,
    }


def test_series_counts_are_logged(tmp_path, caplog):
    db = archive.open_db(tmp_path / "kpi.db")
    archive.save(db, response(at=MARCH), seed_kpi())
    caplog.set_level("INFO", logger="archive.series")
    assert archive.refresh_series(db) == {"pages": 1, "indicators": 1, "measures": 1}
    assert "series: 1 pages, 1 indicators, 1 measures" in caplog.text


def test_a_compact_capture_keeps_the_indicator_its_titled_version_had(tmp_path):
    db = archive.open_db(tmp_path / "kpi.db")
    archive.save(db, response(at=MARCH), seed_kpi())
    archive.refresh_derived(db)
    before = db.execute("SELECT indicator_id FROM kpis").fetchone()
    archive.save(db, response(body=b"compact", at=JUNE), seed_kpi(title=None, name=None))
    archive.refresh_derived(db)
    assert db.execute("SELECT indicator_id, indicator_match FROM kpis").fetchone() == (
        before[0],
        "version",
    )
