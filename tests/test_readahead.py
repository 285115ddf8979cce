"""kpi_archive.readahead and the loads that use it: import and reparse with parse workers give the
same archive as without; a parser crash in a worker is one page's ParseError; a dead worker is one
loud error; no worker outlives a load (real worker processes, real WARC and SQLite files)."""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import multiprocessing
import operator
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from archive_factories import (
    FIXTURES,
    JUNE,
    LATER_FIXTURES,
    MARCH,
    SEED_URL,
    fixture_responses,
    response,
)
from helpers import get_fixture, write_warc

import archive
import parsers
from archive.judge import fingerprint
from archive.versions import record_json
from kpi_archive import load, readahead
from kpi_archive.errors import ArchiveError, KpiArchiveError, ParseError

CRASHING_URL = FIXTURES["citydb/dp2_181.table.utf8.html"]
KPI_ARCHIVE = str(Path(sys.executable).parent / "kpi-archive")


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    # Two pages a chunk: a dozen pages are then read by a worker, not all in this process.
    monkeypatch.setattr(readahead, "CHUNK", 2)


def night():
    """Every fixture page in March; later markups, a 404 and a 500 in June."""
    return [
        *fixture_responses(FIXTURES, MARCH),
        *fixture_responses(LATER_FIXTURES, JUNE),
        response(url=CRASHING_URL, body=b"<html>gone</html>", at=JUNE, status=404),
        response(url=FIXTURES["kpi/dp_0411-2029.table.utf8.html"], at=JUNE, status=500),
    ]


@pytest.fixture
def warc(tmp_path):
    """The night's captures as a WARC file."""
    source = archive.open_db(tmp_path / "source.db")
    load.load_many(source, night())
    path = tmp_path / "night.warc.gz"
    archive.export_warc(source, path)
    source.close()
    return path


def rows(db):
    """Every row, ids included, of every table (the migrations' timestamps aside)."""
    tables = [t for t in db.table_names() if t != "_sqlite_migrations"]
    return {t: sorted(db.execute(f"SELECT * FROM [{t}]").fetchall(), key=repr) for t in tables}


def imported(tmp_path, warc, jobs, name):
    db = archive.open_db(tmp_path / name)
    counts = load.import_paths(db, [warc], jobs=jobs)
    load.finish(db)
    return db, counts


def crash_on_one_page(body, url, headers):
    if url == CRASHING_URL:
        raise RuntimeError("a parser bug")
    return parsers.parse_page(body, url, headers)


def die_in_a_worker(value):
    if multiprocessing.parent_process() is not None:
        os._exit(3)
    return value


def test_import_with_a_parse_worker_saves_the_same_rows_as_without(tmp_path, warc):
    alone, alone_counts = imported(tmp_path, warc, 1, "alone.db")
    shared, shared_counts = imported(tmp_path, warc, 2, "shared.db")
    assert shared_counts == alone_counts == {"new": 5, "unchanged": 2, "parse_error": 1}
    assert rows(shared) == rows(alone)


def test_a_load_with_a_parse_worker_saves_the_same_rows_as_without(tmp_path):
    alone, shared = archive.open_db(tmp_path / "alone.db"), archive.open_db(tmp_path / "shared.db")
    counts = load.load_many(alone, night(), jobs=1)
    assert load.load_many(shared, night(), jobs=2) == counts
    assert counts == {"new": 5, "unchanged": 2, "parse_error": 1, "missing": 1, "failed": 1}
    assert rows(shared) == rows(alone)


def test_reparse_with_a_parse_worker_gives_the_same_rows_as_without(tmp_path, warc):
    alone, _ = imported(tmp_path, warc, 1, "alone.db")
    shared, _ = imported(tmp_path, warc, 1, "shared.db")
    assert load.reparse(shared, jobs=2) == load.reparse(alone, jobs=1)
    assert rows(shared) == rows(alone)


def test_a_parser_crash_in_a_worker_is_one_pages_parse_error_and_logged(tmp_path, warc, caplog):
    db = archive.open_db(tmp_path / "kpi.db")
    with caplog.at_level(logging.ERROR, logger="kpi_archive.load"):
        counts = load.import_paths(db, [warc], parse=crash_on_one_page, jobs=2)
    assert counts["parse_error"] == 2  # the page crashed on, and the unrelated HTML page
    error = db.execute("SELECT last_error FROM pages WHERE url = ?", [CRASHING_URL]).fetchone()[0]
    assert error == f"{CRASHING_URL}: parser crashed: RuntimeError('a parser bug')"
    crashed = [r for r in caplog.records if r.getMessage() == f"parser crashed on {CRASHING_URL}"]
    assert len(crashed) == 1
    assert "RuntimeError: a parser bug" in crashed[0].exc_text


def test_a_parse_error_crosses_from_a_worker_with_its_url_and_missing_label():
    error = ParseError("no ตัวชี้วัด label", url=CRASHING_URL, missing="ตัวชี้วัด")
    back = pickle.loads(pickle.dumps(load.PageRead(error, ("a",), ("line",))))
    assert isinstance(back.record, ParseError)
    assert (str(back.record), back.record.url, back.record.missing, back.record.reason) == (
        f"{CRASHING_URL}: no ตัวชี้วัด label",
        CRASHING_URL,
        "ตัวชี้วัด",
        "no ตัวชี้วัด label",
    )
    assert (back.links, back.visible) == (("a",), ("line",))


def test_items_come_back_in_order_whatever_the_number_of_workers():
    for jobs in (1, 2, 3):
        got = list(readahead.read_ahead(range(15), lambda i: (i,), operator.neg, jobs, ahead=4))
        assert got == [(i, -i) for i in range(15)]
    assert multiprocessing.active_children() == []


def numbers_then_damage(count):
    """A source that gives ``count`` numbers, then fails as a damaged WARC file does."""
    yield from range(count)
    raise ArchiveError("not a WARC file: damaged record", path="night.warc.gz")


def test_a_source_read_in_workers_comes_back_in_order_whatever_the_number_of_workers():
    for jobs in (1, 2, 3):
        source = functools.partial(range, 15)
        got = list(readahead.read_source_ahead(source, operator.neg, jobs, ahead=4, name="r"))
        assert got == [(i, -i) for i in range(15)]
    assert multiprocessing.active_children() == []


def counted_numbers(log, count):
    """``count`` numbers, each opening of the source noted in the file ``log``."""
    with log.open("a") as out:
        out.write("opened\n")
    yield from range(count)


def test_a_worker_opens_its_source_once_even_for_chunks_past_its_end(tmp_path):
    log = tmp_path / "opens.txt"
    source = functools.partial(counted_numbers, log, 15)
    got = list(readahead.read_source_ahead(source, operator.neg, 2, ahead=8, name="n"))
    assert got == [(i, -i) for i in range(15)]
    assert log.read_text().splitlines() == ["opened", "opened"]  # this process, then the worker


def test_a_sources_error_in_a_worker_comes_after_every_item_before_it():
    source = functools.partial(numbers_then_damage, 7)
    reads = readahead.read_source_ahead(source, operator.neg, 2, name="night.warc.gz")
    got = []
    with pytest.raises(ArchiveError) as raised:
        got.extend(reads)
    assert got == [(i, -i) for i in range(7)]
    assert (str(raised.value), raised.value.path) == (
        "night.warc.gz: not a WARC file: damaged record",
        "night.warc.gz",
    )
    assert multiprocessing.active_children() == []


def test_a_record_read_in_a_worker_crosses_as_the_same_record_with_its_data_packed():
    body = get_fixture("kpi/dp_0411-2029.table.utf8.html")
    url = FIXTURES["kpi/dp_0411-2029.table.utf8.html"]
    read = load.read_body(body, url, {})
    back = pickle.loads(pickle.dumps(read))
    assert back.record == read.record
    assert back.record.reports[1].date == read.record.reports[1].date == dt.date(2023, 2, 28)
    assert back.links == read.links
    assert back.packed.data == archive.admit.record_data(read.record)
    assert json.loads(record_json(back.packed.record)) == back.packed.data
    # The visible lines stay behind: only the fingerprint the save needs from them crosses.
    assert len(read.visible) > 40
    assert back.visible is None
    assert back.packed.fingerprint == fingerprint(back.packed.data, read.visible)


def test_a_page_read_in_a_worker_and_saved_alone_is_still_told_a_revisit(tmp_path):
    db = archive.open_db(tmp_path / "archive.db")
    body = get_fixture("kpi/dp_0411-2029.table.utf8.html")
    march = response(url=SEED_URL, body=body, at=MARCH, headers={})
    # Other bytes, the same page to a reader: a timestamp in a comment.
    stamped = body.replace(b"</body>", b"<!-- 2023-06-01 02:00 --></body>")
    june = response(url=SEED_URL, body=stamped, at=JUNE, headers={})
    for fetched, status, revisit in ((march, "new", False), (june, "unchanged", True)):
        crossed = pickle.loads(pickle.dumps(load.read_page(fetched)))
        outcome, _ = load.load_one(db, fetched, parsed=crossed)
        assert (outcome.status, outcome.revisit) == (status, revisit)


def test_a_source_of_one_chunk_starts_no_worker(monkeypatch):
    monkeypatch.setattr(readahead, "ProcessPoolExecutor", None)  # would fail if called
    got = list(readahead.read_ahead(range(2), lambda i: (i,), operator.neg, jobs=2))
    assert got == [(0, 0), (1, -1)]


def test_one_core_starts_no_worker(monkeypatch):
    monkeypatch.setattr(readahead, "cores", lambda: 1)
    monkeypatch.setattr(readahead, "ProcessPoolExecutor", None)  # would fail if called
    got = list(readahead.read_ahead(range(9), lambda i: (i,), operator.neg, jobs=2))
    assert got == [(i, -i) for i in range(9)]


def test_a_worker_that_dies_is_one_loud_error_naming_the_chunk():
    reads = readahead.read_ahead(range(10), lambda i: (i,), die_in_a_worker, 2, label=str)
    with pytest.raises(KpiArchiveError) as raised:
        list(reads)
    assert str(raised.value) == "a parse worker process stopped while reading the 2 pages from 2"
    assert multiprocessing.active_children() == []


def test_stopping_a_load_midway_leaves_no_worker_running():
    reads = readahead.read_ahead(range(40), lambda i: (i,), operator.neg, 2)
    assert [next(reads) for _ in range(5)] == [(i, -i) for i in range(5)]
    reads.close()  # what an error or Ctrl-C in the writer's loop does, through contextlib.closing
    assert multiprocessing.active_children() == []


def many_pages_warc(path, count):
    """``count`` captures of the seed page under as many URLs, as a WARC file."""
    body = get_fixture("kpi/dp_0411-2029.table.utf8.html")
    pages = (
        (f"https://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-{n:04d}", body) for n in range(count)
    )
    write_warc(path, pages, "text/html; charset=utf-8")
    return path


def group_members(group):
    """The live processes of a process group."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def wait_for(predicate, what):
    for _ in range(600):
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


@pytest.mark.slow
def test_ctrl_c_during_an_import_stops_its_workers_and_keeps_the_archive_whole(tmp_path):
    warc = many_pages_warc(tmp_path / "many.warc", 3000)
    db = tmp_path / "kpi.db"
    process = subprocess.Popen(
        [KPI_ARCHIVE, "import", str(db), str(warc), "--jobs", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own group, as a terminal's foreground job is
    )
    wait_for(lambda: len(group_members(process.pid)) >= 2, "a parse worker started")
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends: the command and its workers
    _, stderr = process.communicate(timeout=60)
    assert (process.returncode, stderr.decode().strip().splitlines()[-1:]) == (1, ["Aborted!"])
    wait_for(lambda: group_members(process.pid) == [], "every worker gone")
    database = archive.open_db(db)
    assert database.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert database.execute("SELECT count(*) FROM pages").fetchone()[0] % load.LOAD_BATCH == 0
