"""archive.warc: WARC export and import round trip, saved HTML import."""

from __future__ import annotations

import gzip
import logging
import os

import pytest
from archive_factories import JUNE, MARCH, SEED_URL, SEPTEMBER, load_fixtures, response, seed_kpi
from helpers import write_warc
from warcio.archiveiterator import ArchiveIterator

import archive
from archive.warc import read_warc
from kpi_archive import load
from kpi_archive.errors import ArchiveError, ConfigError, ParseError

OTHER_URL = "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=5017-832"
GZIPPED = {"Content-Type": "text/html; charset=tis-620", "Content-Encoding": "gzip", "ETag": '"g"'}


def parse_none(body, url, headers):
    raise ParseError("not parsed in this test", url=url)


@pytest.fixture
def db(db):
    database = db
    archive.save(database, response(at=MARCH), seed_kpi())
    archive.save(database, response(body=b"B", at=JUNE), seed_kpi(result_value=1.0))
    archive.save(database, response(at=SEPTEMBER), seed_kpi())  # back to the first body
    archive.save(database, response(url=OTHER_URL, body=b"\xbb\xd5", headers=GZIPPED), None)
    return database


def captured(db):
    return list(
        db.query(
            "SELECT c.url, c.fetched_at, s.sha256, s.status, s.etag, s.size FROM captures c "
            "JOIN snapshots s ON s.id = c.snapshot_id ORDER BY c.fetched_at, c.url"
        )
    )


def test_export_writes_responses_and_revisits(db, tmp_path):
    out = tmp_path / "out" / "kpi.warc.gz"
    assert archive.export_warc(db, out) == 4
    with out.open("rb") as stream:
        records = [
            (
                r.rec_type,
                r.rec_headers.get_header("WARC-Target-URI"),
                r.rec_headers.get_header("WARC-Date"),
                r.http_headers.get_statuscode() if r.http_headers else None,
            )
            for r in ArchiveIterator(stream)
        ]
    assert records == [
        ("response", SEED_URL, "2023-03-31T10:00:00.000000Z", "200"),
        ("response", OTHER_URL, "2023-03-31T10:00:00.000000Z", "200"),
        ("response", SEED_URL, "2023-06-30T10:00:00.000000Z", "200"),
        ("revisit", SEED_URL, "2023-09-30T10:00:00.000000Z", None),
    ]


def test_exported_headers_do_not_ask_replay_tools_to_decode_again(db, tmp_path):
    archive.export_warc(db, tmp_path / "kpi.warc")
    other = next(r for r in read_warc(tmp_path / "kpi.warc") if r.url == OTHER_URL)
    assert other.body == b"\xbb\xd5"
    assert other.headers == {
        "Content-Type": "text/html; charset=tis-620",
        "ETag": '"g"',
        "Content-Length": "2",
    }


def test_round_trip_gives_the_same_pages_and_snapshots(db, tmp_path):
    archive.export_warc(db, tmp_path / "kpi.warc.gz")
    fresh = archive.open_db(tmp_path / "fresh.db")
    counts = load.import_paths(fresh, [tmp_path / "kpi.warc.gz"], parse=parse_none)
    assert counts == {"parse_error": 4}
    assert captured(fresh) == captured(db)
    columns = "url, host, page_kind, pid, first_seen, last_fetched, last_changed, sha256"
    assert list(fresh.query(f"SELECT {columns} FROM pages")) == list(
        db.query(f"SELECT {columns} FROM pages")
    )
    assert fresh.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    again = load.import_paths(fresh, [tmp_path / "kpi.warc.gz"], parse=parse_none)
    assert again == {"unchanged": 4}


@pytest.mark.parametrize("name", ["kpi.warc", "kpi.warc.gz"])
def test_a_revisit_is_read_back_from_its_response_record_in_the_file(db, tmp_path, name):
    archive.export_warc(db, tmp_path / name)
    read = [(r.url, r.final_url, r.fetched_at.month, r.body) for r in read_warc(tmp_path / name)]
    assert read == [
        (SEED_URL, SEED_URL, 3, b"<html>seed v1</html>"),
        (OTHER_URL, OTHER_URL, 3, b"\xbb\xd5"),
        (SEED_URL, SEED_URL, 6, b"B"),
        (SEED_URL, SEED_URL, 9, b"<html>seed v1</html>"),
    ]


def test_html_import_needs_the_page_url(tmp_path):
    db = archive.open_db(tmp_path / "kpi.db")
    page = tmp_path / "page.html"
    page.write_bytes(b"<html>saved</html>")
    os.utime(page, (1680256800, 1680256800))
    with pytest.raises(ConfigError, match="--url"):
        load.import_paths(db, [page], parse=parse_none)
    with pytest.raises(ConfigError, match="one at a time"):
        load.import_paths(db, [page, page], url=SEED_URL, parse=parse_none)
    assert load.import_paths(db, [page], url=SEED_URL, parse=parse_none) == {"parse_error": 1}
    assert db.table("snapshots").get(1)["fetched_at"] == "2023-03-31T10:00:00.000000Z"


def test_a_file_that_is_not_a_warc_is_refused(tmp_path):
    db = archive.open_db(tmp_path / "kpi.db")
    bad = tmp_path / "bad.warc"
    bad.write_bytes(b"hello\n")
    with pytest.raises(ArchiveError, match="not a WARC file"):
        load.import_paths(db, [bad], parse=parse_none)


def test_fixture_archive_round_trips_through_warc(tmp_path):
    db = archive.open_db(tmp_path / "kpi.db")
    load_fixtures(db)
    archive.export_warc(db, tmp_path / "kpi.warc.gz")
    fresh = archive.open_db(tmp_path / "fresh.db")
    counts = load.import_paths(fresh, [tmp_path / "kpi.warc.gz"])
    assert counts == {"new": 5, "parse_error": 1}
    assert captured(fresh) == captured(db)
    kpis = "SELECT url, title, target_value, result_value, on_target FROM kpis ORDER BY url"
    assert list(fresh.query(kpis)) == list(db.query(kpis))


def test_an_import_longer_than_one_batch_counts_every_response(db, tmp_path, monkeypatch):
    archive.export_warc(db, tmp_path / "kpi.warc.gz")
    monkeypatch.setattr(load, "LOAD_BATCH", 2)
    fresh = archive.open_db(tmp_path / "fresh.db")
    counts = load.import_paths(fresh, [tmp_path / "kpi.warc.gz"], parse=parse_none)
    assert counts == {"parse_error": 4}
    assert captured(fresh) == captured(db)


def exported_fixtures(tmp_path, name):
    """The fixture archive exported as ``name``: its bytes and each record's offset."""
    db = archive.open_db(tmp_path / "kpi.db")
    load_fixtures(db)
    path = tmp_path / name
    archive.export_warc(db, path)
    with path.open("rb") as stream:
        records = ArchiveIterator(stream)
        offsets = [records.get_record_offset() for _ in records]
    return path.read_bytes(), offsets


def read_to_the_cut(path):
    """How many responses ``read_warc`` gave before its error, and the error's message."""
    read = 0
    with pytest.raises(ArchiveError) as raised:
        for _ in read_warc(path):
            read += 1
    return read, str(raised.value)


@pytest.mark.parametrize("name", ["kpi.warc.gz", "kpi.warc"])
def test_a_warc_cut_inside_its_last_body_is_an_error_after_every_whole_record(tmp_path, name):
    data, offsets = exported_fixtures(tmp_path, name)
    cut = tmp_path / f"cut-{name}"
    cut.write_bytes(data[:-300])
    read, message = read_to_the_cut(cut)
    assert read == 5
    assert message == f"{cut}: cut short in the record at byte {offsets[-1]}"


@pytest.mark.parametrize("name", ["kpi.warc.gz", "kpi.warc"])
def test_a_warc_cut_inside_its_last_records_headers_is_an_error_too(tmp_path, name):
    data, offsets = exported_fixtures(tmp_path, name)
    cut = tmp_path / f"cut-{name}"
    cut.write_bytes(data[: offsets[-1] + 200])
    read, message = read_to_the_cut(cut)
    assert read == 5
    assert message == f"{cut}: cut short after the record at byte {offsets[-2]}"


@pytest.mark.parametrize("name", ["kpi.warc.gz", "kpi.warc"])
def test_a_record_cut_right_after_a_header_name_is_an_error_not_a_record(tmp_path, name):
    # Seen in one cut of every dozen or so (the exported gzip members differ run to run): the
    # cut left this header block, which warcio read as a record with an empty target.
    data, offsets = exported_fixtures(tmp_path, name)
    head = (
        b"WARC/1.1\r\nWARC-Date: 2023-03-31T10:00:00.000000Z\r\nWARC-Type: response\r\n"
        b"WARC-Record-ID: <urn:uuid:3ecbfe99-522f-4743-8ea0-5012f220ecbf>\r\nWARC-Target-URI:"
    )
    cut = tmp_path / f"cut-{name}"
    cut.write_bytes(data[: offsets[-1]] + (gzip.compress(head) if name.endswith(".gz") else head))
    read, message = read_to_the_cut(cut)
    assert read == 5
    assert message == f"{cut}: cut short after the record at byte {offsets[-2]}"


def test_a_warc_cut_between_two_records_reads_as_the_shorter_file_it_is(tmp_path):
    data, offsets = exported_fixtures(tmp_path, "kpi.warc.gz")
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(data[: offsets[-1]])
    assert len(list(read_warc(cut))) == 5


@pytest.mark.parametrize("jobs", [1, 2])
def test_an_import_of_a_cut_warc_saves_every_page_before_the_cut_and_says_so(tmp_path, jobs):
    data, offsets = exported_fixtures(tmp_path, "kpi.warc.gz")
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(data[:-300])
    fresh = archive.open_db(tmp_path / "fresh.db")
    with pytest.raises(ArchiveError) as raised:
        load.import_paths(fresh, [cut], jobs=jobs)
    assert str(raised.value) == f"{cut}: cut short in the record at byte {offsets[-1]}"
    assert fresh.execute("SELECT count(*) FROM pages").fetchone()[0] == 5


BAD_URIS = ("http://[::1/mobile/mykpi.php?pid=1", "http://[x]/", "dns:bangkok.go.th")


def test_a_record_of_no_http_page_is_skipped_and_said(tmp_path, caplog):
    path = tmp_path / "mixed.warc.gz"
    offsets = write_warc(
        path, [(uri, b"<p>x</p>") for uri in (BAD_URIS[0], SEED_URL, *BAD_URIS[1:])]
    )
    with caplog.at_level(logging.WARNING, logger="archive.warc"):
        assert [response.url for response in read_warc(path)] == [SEED_URL]
    assert [record.getMessage() for record in caplog.records] == [
        f"{path}: the record at byte {offsets[0]} is of no http(s) page "
        "('http://[::1/mobile/mykpi.php?pid=1'); skipped",
        f"{path}: the record at byte {offsets[2]} is of no http(s) page ('http://[x]/'); skipped",
        f"{path}: the record at byte {offsets[3]} is of no http(s) page "
        "('dns:bangkok.go.th'); skipped",
    ]


@pytest.mark.parametrize("jobs", [1, 2])
def test_an_import_with_a_record_of_no_http_page_saves_the_others(tmp_path, jobs):
    path = tmp_path / "mixed.warc.gz"
    write_warc(path, [(uri, b"<p>x</p>") for uri in (*BAD_URIS, SEED_URL)])
    fresh = archive.open_db(tmp_path / "fresh.db")
    assert load.import_paths(fresh, [path], jobs=jobs) == {"parse_error": 1}
    assert [row["url"] for row in fresh.query("SELECT url FROM pages")] == [SEED_URL]
