"""Thai search: trigram FTS (Datasette's search box), Thai digits, PyThaiNLP word search."""

from __future__ import annotations

import pytest
from archive_factories import JUNE, SEED_URL, response, seed_kpi
from datasette.app import Datasette

import archive
from archive.search import digits_variant, fts_phrase, normalise_digits, segment

OTHER_URL = "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=5017-832"


@pytest.fixture
def db(tmp_path):
    database = archive.open_db(tmp_path / "kpi.db")
    archive.save(database, response(), seed_kpi())
    other = seed_kpi(
        url=OTHER_URL,
        pid="5017-832",
        title="ร้อยละความสำเร็จของเรื่องร้องเรียนการจอดรถบนทางเท้าลดลง",
        definition="เรื่องร้องเรียนในปี 2565",
        reports=[],
        strategies=[],
        projects=[],
    )
    archive.save(database, response(url=OTHER_URL, body=b"other"), other)
    archive.refresh_search(database)
    yield database
    assert database.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def pids(rows):
    return sorted({row["url"].rsplit("=", 1)[1] for row in rows})


@pytest.mark.parametrize(
    ("table", "query", "expected"),
    [
        ("reports", "ฝุ่น", ["0411-2029"]),
        ("reports", "จราจร", ["0411-2029"]),
        ("reports", "กรุงเทพ", ["0411-2029"]),
        ("kpis", "ร้อยละความสำเร็จ", ["0411-2029", "5017-832"]),
        ("kpis", "ทางเท้า", ["5017-832"]),
        ("kpis", "2566", ["0411-2029"]),
        ("kpis", "๒๕๖๖", ["0411-2029"]),
        ("kpis", "2565", ["5017-832"]),
        ("kpis", "๒๕๖๕", ["5017-832"]),
        ("reports", "pm 2.5", ["0411-2029"]),
    ],
)
def test_trigram_search_finds_thai_substrings_and_both_digit_forms(db, table, query, expected):
    assert pids(archive.search(db, table, query)) == expected


def test_terms_shorter_than_three_characters_match_nothing(db):
    # FTS5 trigram cannot index 1–2 characters; the publishing side falls back to LIKE.
    assert archive.search(db, "reports", "PM") == []
    assert archive.search(db, "kpis", "ลด") == []
    assert pids(db.query("SELECT url FROM kpis WHERE title LIKE '%ลด%'")) == ["5017-832"]


def test_word_search_is_ranked_on_segmented_words(db):
    assert pids(archive.search_words(db, "reports", "ปัญหาฝุ่น")) == ["0411-2029"]
    assert pids(archive.search_words(db, "kpis", "ร้องเรียน")) == ["5017-832"]
    # a word boundary matters here, unlike trigram: "สะอา" is not a word
    assert archive.search_words(db, "reports", "สะอา") == []


def test_words_column_is_filled_by_refresh_and_cleared_by_a_change(db):
    report = db.execute("SELECT words FROM reports WHERE quarter = 3").fetchone()[0]
    assert "ฝุ่น" in report.split()
    archive.save(db, response(body=b"v2", at=JUNE), seed_kpi(title="ชื่อใหม่"))
    assert db.execute("SELECT count(*) FROM kpis WHERE words IS NULL").fetchone()[0] == 1
    assert archive.refresh_search(db) == 3
    assert archive.refresh_search(db) == 0


def test_digit_helpers():
    assert normalise_digits("ปี ๒๕๖๖ ข้อ 3") == "ปี 2566 ข้อ 3"
    assert digits_variant("ไม่มีเลขไทย 2566", None) is None
    assert digits_variant("๕.๔", "x") == "5.4\nx"
    assert fts_phrase('ฝุ่น "PM"') == '"ฝุ่น" """PM"""'
    assert segment("รู้ทันปัญหาฝุ่น PM 2.5") == "รู้ทัน ปัญหา ฝุ่น PM 2.5"


async def test_datasette_search_box_finds_the_seed_page(db, tmp_path):
    ds = Datasette([str(tmp_path / "kpi.db")])
    result = await ds.client.get("/kpi/reports.json?_search=ฝุ่น&_shape=objects")
    assert result.status_code == 200
    rows = result.json()["rows"]
    assert [(r["url"], r["quarter"]) for r in rows] == [(SEED_URL, 3)]
    result = await ds.client.get("/kpi/kpis.json?_search=2566&_shape=objects")
    assert [r["pid"] for r in result.json()["rows"]] == ["0411-2029"]
