"""Thai search: trigram FTS (Datasette's search box), folded text, a scan for 1–2 letters."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys

import pytest
from archive_factories import JUNE, SEED_URL, load_fixtures, response, seed_kpi
from datasette.app import Datasette
from helpers import fts_in_step

import archive
from archive import schema
from archive.search import folded_variant, holds, normalise_digits, trigram_match
from kpi_archive import load

OTHER_URL = "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=5017-832"
# The seed's two reports rewritten (fewer reports would be held as a partial capture, issue 8).
OTHER_TEXT = [r.model_copy(update={"text": "รายงานฉบับแก้ไข"}) for r in seed_kpi().reports]


@pytest.fixture
def db(db):
    database = db
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
    load.finish(database)  # as every crawl and import ends: the saved pages indexed
    return database


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


def test_terms_shorter_than_three_characters_are_found_by_a_scan_of_the_text(db):
    # FTS5 trigram cannot index 1–2 characters: the index alone answers nothing for them.
    assert db.execute("SELECT rowid FROM kpis_fts WHERE kpis_fts MATCH '\"ลด\"'").fetchall() == []
    assert pids(archive.search(db, "kpis", "ลด")) == ["5017-832"]
    assert pids(archive.search(db, "reports", "PM")) == ["0411-2029"]
    assert pids(archive.search(db, "reports", "pm")) == ["0411-2029"]
    assert pids(archive.search(db, "kpis", "๖๖")) == ["0411-2029"]
    assert pids(archive.search(db, "kpis", "66")) == ["0411-2029"]
    assert archive.search(db, "kpis", "ฎฏ") == []
    assert archive.search(db, "kpis", "  ") == []


def test_no_word_segmented_copy_of_the_text_is_kept(db):
    names = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    assert {n for n in names if "words" in n} == set()
    assert not hasattr(archive, "search_words")


def test_search_helpers_are_not_columns_of_the_tables_readers_see(db):
    assert {"words", "search_digits"} & set(db.table("kpis").columns_dict) == set()
    assert {"words", "text_digits"} & set(db.table("reports").columns_dict) == set()


def test_digit_helpers():
    assert normalise_digits("ปี ๒๕๖๖ ข้อ 3") == "ปี 2566 ข้อ 3"
    assert folded_variant("ไม่มีเลขไทย 2566", None, "Bangkok") is None
    assert folded_variant("๕.๔", "x", "PM 2.5", "ดำารง") == "5.4\npm2.5\nดำรง"


def test_a_text_with_no_folded_spot_is_indexed_twice_only_if_folding_trims_or_casefolds_it():
    assert folded_variant("ร้อยละของ PM2.5 ที่ลดลง") is None
    assert folded_variant(" ร้อยละ 25") == "ร้อยละ 25"  # the space folding trims
    assert folded_variant("ร้อยละ 25 ") == "ร้อยละ 25"
    assert folded_variant("Straße") == "strasse"  # casefold, not lower


# Two folded spots (a Thai-digit year, ``ดำารง``/``ตำา`` with sara aa typed twice), plain words.
LONG_TEXT = (
    "หนึ่ง สอง สาม สี่ ห้า หก ปี ๒๕๖๖ เจ็ด แปด เก้า สิบ สิบเอ็ด สิบสอง ผู้ดำารงตำาแหน่ง สิบสาม สิบสี่ สิบห้า สิบหก"
)


def test_only_the_folded_spots_of_a_long_text_are_indexed_twice():
    text = LONG_TEXT
    assert folded_variant(text) == ("หก ปี 2566 เจ็ด แปด\nสิบเอ็ด สิบสอง ผู้ดำรงตำแหน่ง สิบสาม สิบสี่")
    assert folded_variant("ปี ๒๕๖๖ แล้ว") == "ปี 2566 แล้ว"  # a short text: all of it
    assert folded_variant("ปี 2566 FACEBOOK") is None
    # whitespace other than one space is a folded spot too: a phrase may span a line break
    assert folded_variant("หนึ่ง สอง สาม สี่ ห้า\nหก เจ็ด แปด เก้า") == "สาม สี่ ห้า หก เจ็ด"


@pytest.mark.parametrize(
    ("text", "spots"),
    [
        ("ปี ๒๕", [(3, 4), (4, 5)]),  # each Thai digit
        ("\uf70aก", [(0, 1)]),  # a legacy PUA tone mark
        ("ผู้\u200bว่า", [(3, 4)]),  # a zero-width space
        ("ดำารง", [(1, 3)]),
        ("ํา", [(0, 2)]),
        ("ก่่า", [(1, 3)]),  # a repeated mark
        ("ํํ", [(0, 2)]),  # nikhahit twice: not sara am, a repeated mark
        ("PM 2.5", [(0, 4)]),
        ("COVID-๑๙", [(0, 7), (7, 8)]),
        ("xPM 2", [(0, 5)]),
        ("ABCDEFG 1", []),  # more than five letters: not an acronym
        ("_PM 2", []),  # no word boundary before the letters
        ("กPM 2", []),
        ("a  b\tc", [(1, 3), (4, 5)]),  # two spaces, a tab
        ("x\u00a0 y", [(1, 3)]),  # any two whitespace characters
        ("ไม่มี อะไร", []),
    ],
)
def test_folded_spots_are_those_of_the_plain_alternation(text, spots):
    # The class-first pattern must find what the plain alternation of the spots found.
    plain = re.compile(
        "[\u0e50-\u0e59\uf700-\uf71a\u200b-\u200d\u2060\ufeff\u00ad]|[\u0e33\u0e4d]\u0e32"
        "|([\u0e31\u0e34-\u0e3a\u0e47-\u0e4e])\\1|\\b[A-Za-z]{2,5}[\\s\\-]+[0-9\u0e50-\u0e59]"
        "|\\s{2,}|[^\\S ]"
    )
    assert [m.span() for m in schema._FOLDS.finditer(text)] == spots
    assert [m.span() for m in plain.finditer(text)] == spots


@pytest.mark.parametrize(
    "query",
    [
        "ปี 2566 เจ็ด",
        "หก ปี 2566 เจ็ด แปด",
        "ดำรงตำแหน่ง",
        "ปี ๒๕๖๖ เจ็ด แปด เก้า สิบ",  # as printed
        "ห้า หก ปี 2566",  # three words before the folded spot: the recheck folds the whole text
    ],
)
def test_a_phrase_across_a_folded_spot_is_found(db, query):
    changed = seed_kpi(url=OTHER_URL, pid="5017-832", definition=LONG_TEXT, reports=[])
    archive.save(db, response(url=OTHER_URL, body=b"other 2", at=JUNE), changed)
    load.finish(db)
    assert pids(archive.search(db, "kpis", query)) == ["5017-832"]
    assert fts_in_step(db)


def test_a_row_holding_every_trigram_but_not_the_term_is_not_a_hit(db):
    # ดำเนินร้อยการ holds every trigram of ร้อยละ…การ's pieces but not the term itself.
    changed = seed_kpi(url=OTHER_URL, pid="5017-832", title="ดำเนินร้อยการ", reports=[])
    archive.save(db, response(url=OTHER_URL, body=b"other 2", at=JUNE), changed)
    load.finish(db)
    match = trigram_match("ดำเนินการ")
    assert match == '("ดำเ" AND "ำเน" AND "เนิ" AND "นิน" AND "ินก" AND "นกา" AND "การ")'
    candidates = db.execute(
        "SELECT k.pid FROM kpis_fts f JOIN kpis k ON k.rowid = f.rowid WHERE kpis_fts MATCH ?",
        ["ดำเ AND ำเน AND เนิ AND นิน AND การ"],
    ).fetchall()
    assert ("5017-832",) in candidates
    assert pids(archive.search(db, "kpis", "ดำเนินการ")) == []
    assert pids(archive.search(db, "kpis", "ดำเนินร้อยการ")) == ["5017-832"]
    assert holds("ดำเนินการ", "ร้อยละของการดำเนินการ") is True
    assert holds("ดำเนินการ", "ดำเนินร้อยการ") is False


@pytest.mark.parametrize(
    ("query", "words", "expected"),
    [
        ("ฝุ่น PM", False, '("ฝุ่" AND "ุ่น" AND "่น " AND "น p" AND " pm")'),
        ("ฝุ่น PM", True, '("ฝุ่" AND "ุ่น")'),
        ("ดำารง", False, '("ดำา" AND "ำาร" AND "ารง") OR ("ดำร" AND "ำรง")'),
        ('ab"c', False, '("ab""" AND "b""c")'),
        ("ลด", False, None),
        ("  ", False, None),
        ("ดำา", False, None),  # folds to two letters: a row holding only ดำ must still be found
    ],
)
def test_trigram_match_ands_every_trigram_of_the_term_as_typed_or_folded(query, words, expected):
    assert trigram_match(query, words=words) == expected


def test_folded_query_and_thai_digits_are_rechecked_against_the_folded_text():
    assert holds("2566", "ปี ๒๕๖๖") is True
    assert holds("๒๕๖๖", "ปี 2566") is True
    assert holds("pm2.5", "ค่า PM 2.5 สูง") is True
    assert holds("ดำรง", None, "ผู้ดำารงตำาแหน่ง") is True
    assert holds("ฝุ่น จราจร", "ฝุ่น", "จราจร") is False
    assert holds("ฝุ่น จราจร", "ฝุ่น", "จราจร", words=True) is True
    assert holds("", "ฝุ่น") is False


async def test_datasette_search_box_finds_the_seed_page(db, tmp_path):
    ds = Datasette([str(tmp_path / "kpi.db")])
    result = await ds.client.get("/kpi/reports.json?_search=ฝุ่น&_shape=objects")
    assert result.status_code == 200
    rows = result.json()["rows"]
    assert [(r["url"], r["quarter"]) for r in rows] == [(SEED_URL, 3)]
    result = await ds.client.get("/kpi/kpis.json?_search=2566&_shape=objects")
    assert [r["pid"] for r in result.json()["rows"]] == ["0411-2029"]


async def test_datasette_finds_the_seed_fixture_by_a_thai_word(tmp_path):
    db = archive.open_db(tmp_path / "fixtures.db")
    load_fixtures(db)
    load.finish(db)
    ds = Datasette([str(tmp_path / "fixtures.db")])
    result = await ds.client.get("/fixtures/reports.json?_search=ฝุ่น&_shape=objects")
    assert [(r["url"], r["quarter"]) for r in result.json()["rows"]] == [
        (SEED_URL, 3),
        (SEED_URL, 4),
    ]
    assert pids(archive.search(db, "reports", "จราจร")) == ["0411-2029"]


def test_trigram_index_has_no_per_row_triggers(db):
    triggers = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert triggers.isdisjoint({"kpis_ai", "kpis_ad", "kpis_au", "reports_ai", "reports_ad"})
    assert fts_in_step(db)


async def test_pages_saved_by_save_many_are_searchable_after_the_loads_finish(tmp_path):
    db = archive.open_db(tmp_path / "many.db")
    outcomes = archive.save_many(
        db,
        [
            (response(), seed_kpi()),
            (response(url=OTHER_URL, body=b"other"), seed_kpi(url=OTHER_URL, pid="5017-832")),
        ],
    )
    assert [o.status for o in outcomes] == ["new", "new"]
    assert archive.search(db, "reports", "ฝุ่น") == []  # indexed at the finish, not per batch
    load.finish(db)
    assert pids(archive.search(db, "reports", "ฝุ่น")) == ["0411-2029", "5017-832"]
    assert pids(archive.search(db, "kpis", "2566")) == ["0411-2029", "5017-832"]
    ds = Datasette([str(tmp_path / "many.db")])
    result = await ds.client.get("/many/reports.json?_search=ฝุ่น&_shape=objects")
    assert sorted(r["url"] for r in result.json()["rows"]) == [OTHER_URL, SEED_URL]
    assert fts_in_step(db)


def test_a_page_changed_twice_in_one_batch_is_indexed_once_with_its_last_text(db):
    archive.save_many(
        db,
        [
            (response(body=b"v2", at=JUNE), seed_kpi(title="ดัชนีคุณภาพอากาศ", reports=OTHER_TEXT)),
            (
                response(body=b"v3", at=JUNE.replace(day=29, month=7)),
                seed_kpi(title="ปริมาณขยะมูลฝอย", reports=OTHER_TEXT),
            ),
        ],
    )
    load.finish(db)
    assert pids(archive.search(db, "kpis", "ขยะมูลฝอย")) == ["0411-2029"]
    assert archive.search(db, "kpis", "คุณภาพอากาศ") == []
    assert archive.search(db, "reports", "ฝุ่น") == []
    assert fts_in_step(db)


def test_index_stays_in_step_through_save_and_reparse(db):
    archive.save(db, response(body=b"v2", at=JUNE), seed_kpi(title="ชื่อใหม่ของตัวชี้วัด"))
    load.finish(db)
    assert fts_in_step(db)
    load.reparse(
        db,
        lambda body, url, headers: seed_kpi(
            url=url, pid=url.rsplit("=", 1)[1], title="หลังแยกวิเคราะห์ใหม่"
        ),
    )
    load.finish(db)
    assert pids(archive.search(db, "kpis", "แยกวิเคราะห์")) == ["0411-2029", "5017-832"]
    archive.save(db, response(body=b"v3", at=JUNE.replace(month=8)), seed_kpi(title="ล่าสุด"))
    load.finish(db)
    assert pids(archive.search(db, "kpis", "ล่าสุด")) == ["0411-2029"]
    assert fts_in_step(db)


def test_one_index_finds_the_text_as_printed_and_as_folded(db):
    changed = seed_kpi(
        url=OTHER_URL, pid="5017-832", title="ผู้ดำารงตำาแหน่ง", reports=[], strategies=[]
    )
    archive.save(db, response(url=OTHER_URL, body=b"other 2", at=JUNE), changed)
    load.finish(db)
    assert pids(archive.search(db, "kpis", "ดำรงตำแหน่ง")) == ["5017-832"]
    assert pids(archive.search(db, "kpis", "ดำารงตำาแหน่ง")) == ["5017-832"]
    # the title as printed holds ดำา (sara aa typed twice): only the folded column has ดำร
    folded = db.execute("SELECT rowid FROM kpis_fts WHERE kpis_fts MATCH 'ดำร AND ำรง'").fetchall()
    assert folded == db.execute("SELECT rowid FROM kpis WHERE url = ?", [OTHER_URL]).fetchall()
    assert fts_in_step(db)


def test_trigram_indexes_keep_no_copy_of_the_text(db):
    tables = set(db.table_names())
    assert {"kpis_fts_content", "reports_fts_content", "search_index"} & tables == set()
    assert db.execute("SELECT title FROM kpis_fts").fetchall() == [(None,), (None,)]


async def test_search_page_finds_an_indicator_by_the_strategy_line_it_supports(db, tmp_path):
    ds = Datasette([str(tmp_path / "kpi.db")])
    response = await ds.client.get("/search?q=มหานครปลอดภัย")
    assert re.findall(r'<h2><a href="/kpi/([^"]+)">', response.text) == ["0411-2029"]
    assert "<mark>มหานครปลอดภัย</mark>" in response.text


async def test_the_search_box_finds_a_two_letter_word_and_only_rows_holding_every_word(
    db, tmp_path
):
    ds = Datasette([str(tmp_path / "kpi.db")])
    short = await ds.client.get("/kpi/kpis.json?_shape=objects&_search=" + "ลด")
    assert [r["pid"] for r in short.json()["rows"]] == ["5017-832"]
    both = await ds.client.get("/kpi/kpis.json?_shape=objects&_search=" + "ทางเท้า ลด")
    assert [r["pid"] for r in both.json()["rows"]] == ["5017-832"]
    neither = await ds.client.get("/kpi/kpis.json?_shape=objects&_search=" + "ทางเท้า ฝุ่น")
    assert neither.json()["rows"] == []
    blank = await ds.client.get("/kpi/kpis.json?_shape=objects&_search=%20")
    assert sorted(r["pid"] for r in blank.json()["rows"]) == ["0411-2029", "5017-832"]


@pytest.mark.parametrize("share", [1.0, 0.0], ids=["pending-pages-only", "whole-index-rebuilt"])
def test_a_save_takes_the_old_text_out_and_the_finish_indexes_the_new(db, monkeypatch, share):
    # The share past which the search index (and the derived tables) are rebuilt whole
    monkeypatch.setattr(importlib.import_module("archive.pending"), "FULL_SHARE", share)
    archive.save(db, response(body=b"v2", at=JUNE), seed_kpi(title="ดัชนีคุณภาพอากาศ"))
    assert archive.search(db, "kpis", "คุณภาพอากาศ") == []
    assert pids(archive.search(db, "kpis", "ทางเท้า")) == ["5017-832"]  # the other page stays
    assert db.execute("SELECT url FROM search_pending").fetchall() == [(SEED_URL,)]
    load.finish(db)
    assert pids(archive.search(db, "kpis", "คุณภาพอากาศ")) == ["0411-2029"]
    assert db.execute("SELECT count(*) FROM search_pending").fetchone() == (0,)
    assert fts_in_step(db)


def test_pages_saved_by_a_load_stopped_before_its_finish_are_indexed_by_the_next(tmp_path):
    path = tmp_path / "stopped.db"
    db = archive.open_db(path)
    archive.save_many(db, [(response(), seed_kpi())])
    db.close()  # the load ends here, without its finish
    db = archive.open_db(path)
    assert archive.search(db, "reports", "ฝุ่น") == []
    other = seed_kpi(url=OTHER_URL, pid="5017-832")
    archive.save(db, response(url=OTHER_URL, body=b"other"), other)
    load.finish(db)
    assert pids(archive.search(db, "reports", "ฝุ่น")) == ["0411-2029", "5017-832"]
    assert fts_in_step(db)


@pytest.fixture
def in_worker(monkeypatch):
    """Every whole rebuild of the index goes to the worker process, whatever the archive's size."""
    module = importlib.import_module("archive.search")
    monkeypatch.setattr(module, "WORKER_MIN_PAGES", 0)
    return module


def index_entries(db):
    """What the trigram indexes hold: each table's (trigram, rowid) pairs."""
    entries = {}
    for table in ("kpis", "reports"):
        db.execute(f"CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, {table}_fts, instance)")
        entries[table] = db.execute("SELECT term, doc FROM temp.vocab ORDER BY 1, 2").fetchall()
        db.execute("DROP TABLE temp.vocab")
    return entries


TWO_PAGES = [
    (response(), seed_kpi()),
    (response(url=OTHER_URL, body=b"other"), seed_kpi(url=OTHER_URL, pid="5017-832")),
]


def test_a_rebuild_in_the_worker_process_indexes_what_the_main_process_would(tmp_path, in_worker):
    stored = {}
    for jobs in (1, 2):
        db = archive.open_db(tmp_path / f"jobs-{jobs}.db")
        archive.save_many(db, TWO_PAGES)
        load.finish(db, jobs=jobs)
        stored[jobs] = index_entries(db)
        assert pids(archive.search(db, "reports", "ฝุ่น")) == ["0411-2029", "5017-832"]
        assert pids(archive.search(db, "kpis", "๒๕๖๖")) == ["0411-2029", "5017-832"]
        assert db.execute("SELECT count(*) FROM search_pending").fetchone() == (0,)
        assert fts_in_step(db)
        db.close()
    assert stored[2] == stored[1]
    assert len(stored[2]["reports"]) > 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jobs-1.db", "jobs-2.db"]


def test_after_a_rebuild_in_the_worker_the_next_save_and_finish_keep_the_index_in_step(
    tmp_path, in_worker
):
    # The worker's index is put in place by another connection: the archive's own must not keep
    # the structure of the index it had before (FTS5 caches it per connection).
    db = archive.open_db(tmp_path / "kpi.db")
    archive.save_many(db, TWO_PAGES)
    assert archive.search(db, "reports", "ฝุ่น") == []  # the empty index read (and cached)
    load.finish(db, jobs=2)
    assert pids(archive.search(db, "reports", "ฝุ่น")) == ["0411-2029", "5017-832"]
    archive.save(db, response(body=b"v2", at=JUNE), seed_kpi(title="ดัชนีคุณภาพอากาศ"))
    assert pids(archive.search(db, "reports", "ฝุ่น")) == ["5017-832"]  # the seed's taken out
    load.finish(db, jobs=2)
    assert pids(archive.search(db, "kpis", "คุณภาพอากาศ")) == ["0411-2029"]
    assert pids(archive.search(db, "reports", "ฝุ่น")) == ["0411-2029", "5017-832"]
    assert fts_in_step(db)


def test_the_refresh_beside_the_worker_keeps_a_small_page_cache_and_restores_it(
    tmp_path, in_worker, monkeypatch
):
    # Two processes hold the archive's pages at once: the main one keeps less of them meanwhile,
    # so an import's processes stay within their memory aim.
    seen = []
    real = in_worker.start_rebuild

    def start(conn, **kwargs):
        build = real(conn, **kwargs)
        seen.append(build is not None)
        return build

    monkeypatch.setattr(archive, "start_rebuild", start)
    observed = []
    refresh = archive.refresh_series

    def spy(db, **kwargs):
        observed.append(db.execute("PRAGMA cache_size").fetchone()[0])
        return refresh(db, **kwargs)

    monkeypatch.setattr(archive, "refresh_series", spy)
    db = archive.open_db(tmp_path / "kpi.db")
    archive.save_many(db, TWO_PAGES)
    load.finish(db, jobs=2)
    assert (seen, observed) == ([True], [archive.BESIDE_WORKER_CACHE])
    assert db.execute("PRAGMA cache_size").fetchone()[0] == -65536


def test_a_failed_worker_is_loud_and_leaves_its_pages_for_the_next_finish(
    tmp_path, in_worker, monkeypatch
):
    from kpi_archive.errors import ArchiveError

    monkeypatch.setattr(in_worker, "WORKER", "archive.no_such_module")
    db = archive.open_db(tmp_path / "kpi.db")
    archive.save_many(db, TWO_PAGES)
    failed = r"search index rebuild failed \(exit 1\): .*no_such_module"
    with pytest.raises(ArchiveError, match=failed):
        load.finish(db, jobs=2)
    assert db.execute("SELECT count(*) FROM search_pending").fetchone() == (2,)
    assert not list(tmp_path.glob("*.search"))
    load.finish(db, jobs=1)
    assert pids(archive.search(db, "reports", "ฝุ่น")) == ["0411-2029", "5017-832"]
    assert fts_in_step(db)


@pytest.mark.parametrize("where", ["small file", "memory"])
def test_a_small_or_in_memory_archive_is_indexed_without_a_worker(tmp_path, monkeypatch, where):
    module = importlib.import_module("archive.search")
    monkeypatch.setattr(module, "WORKER", "archive.no_such_module")  # a worker would fail
    if where == "memory":
        monkeypatch.setattr(module, "WORKER_MIN_PAGES", 0)
    db = archive.open_db(tmp_path / "small.db" if where == "small file" else ":memory:")
    archive.save_many(db, TWO_PAGES)
    load.finish(db, jobs=2)
    assert pids(archive.search(db, "reports", "ฝุ่น")) == ["0411-2029", "5017-832"]
    assert fts_in_step(db)


def test_no_room_for_the_workers_scratch_file_rebuilds_the_index_in_process(
    tmp_path, in_worker, monkeypatch
):
    def no_room(**_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(in_worker.tempfile, "mkstemp", no_room)
    db = archive.open_db(tmp_path / "kpi.db")
    archive.save_many(db, TWO_PAGES)
    load.finish(db, jobs=2)
    assert pids(archive.search(db, "reports", "ฝุ่น")) == ["0411-2029", "5017-832"]
    assert fts_in_step(db)


def test_a_first_load_is_indexed_by_a_worker_following_its_batches(tmp_path, in_worker):
    db = archive.open_db(tmp_path / "kpi.db")
    archive.save_many(db, TWO_PAGES, batch=1, jobs=2)
    [(_, build, _)] = in_worker._FOLLOWING.values()
    assert build.process.poll() is None  # still following, until the finish says the saves end
    # Two processes hold pages meanwhile: the load's keeps less of them, until its finish.
    assert db.execute("PRAGMA cache_size").fetchone() == (archive.BESIDE_WORKER_CACHE,)
    load.finish(db, jobs=2)
    assert build.process.returncode == 0 and in_worker._FOLLOWING == {}
    assert db.execute("PRAGMA cache_size").fetchone() == (-65536,)
    reference = archive.open_db(tmp_path / "in-process.db")
    archive.save_many(reference, TWO_PAGES)
    load.finish(reference, jobs=1)
    assert index_entries(db) == index_entries(reference)
    assert pids(archive.search(db, "reports", "ฝุ่น")) == ["0411-2029", "5017-832"]
    assert db.execute("SELECT count(*) FROM search_pending").fetchone() == (0,)
    assert fts_in_step(db)
    assert sorted(p.name for p in tmp_path.iterdir() if ".search" in p.name) == []
    archive.save_many(db, [(response(body=b"v2", at=JUNE), seed_kpi())], jobs=2)
    assert in_worker._FOLLOWING == {}  # the archive holds pages: no longer a first load


def test_a_page_saved_again_during_a_first_load_stops_its_worker_and_the_finish_rebuilds(
    tmp_path, in_worker
):
    # The worker may have indexed the page's first rows, which a contentless index cannot forget
    # without them: its index is dropped, and the finish rebuilds from the rows as they are.
    db = archive.open_db(tmp_path / "kpi.db")
    archive.save_many(db, TWO_PAGES, jobs=2)
    [(_, build, _)] = in_worker._FOLLOWING.values()
    archive.save_many(db, [(response(body=b"v2", at=JUNE), seed_kpi(title="ดัชนีคุณภาพอากาศ"))])
    assert in_worker._FOLLOWING == {} and build.process.poll() is not None
    assert not list(tmp_path.glob("*.search"))
    load.finish(db, jobs=2)
    assert pids(archive.search(db, "kpis", "คุณภาพอากาศ")) == ["0411-2029"]
    assert pids(archive.search(db, "reports", "ฝุ่น")) == ["0411-2029", "5017-832"]
    assert fts_in_step(db)


def test_a_first_load_stopped_before_its_finish_leaves_no_worker_and_its_pages_marked(
    tmp_path, in_worker
):
    db = archive.open_db(tmp_path / "kpi.db")
    archive.save_many(db, TWO_PAGES, jobs=2)
    [(_, build, _)] = in_worker._FOLLOWING.values()
    in_worker._stop_all()  # what the process's exit runs
    assert build.process.poll() is not None and in_worker._FOLLOWING == {}
    assert not list(tmp_path.glob("*.search"))
    assert db.execute("SELECT count(*) FROM search_pending").fetchone() == (2,)
    load.finish(db, jobs=2)
    assert pids(archive.search(db, "reports", "ฝุ่น")) == ["0411-2029", "5017-832"]


def test_a_following_worker_whose_load_ends_without_a_finish_keeps_nothing(tmp_path):
    db = archive.open_db(tmp_path / "kpi.db")
    archive.save_many(db, TWO_PAGES)
    scratch = tmp_path / "scratch.search"
    scratch.touch()
    command = [sys.executable, "-m", "archive.trigram_build", "--follow"]
    done = subprocess.run(
        [*command, str(tmp_path / "kpi.db"), str(scratch), "reports"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.decode().strip() == "the load ended before its finish: index abandoned"
    assert scratch.stat().st_size == 0
