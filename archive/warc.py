"""WARC and saved-HTML files in and out of the archive (warcio), so replay tools can open captures.

- ``export_warc(db, path)`` writes every capture in time order: the first capture of a body as a
  WARC ``response`` record (HTTP status line and the stored headers, minus the transfer and
  content encodings the fetcher already undid), every later capture of the same body (a page that
  went A → B → A) as a ``revisit`` record pointing at it (profile ``identical-payload-digest``),
  and a capture saved as a revisit (other bytes showing the same visible text and record, issue
  8) as a ``revisit`` record with the profile ``SAME_VISIBLE_TEXT`` and the received bytes'
  sha256. ``.gz`` names are gzipped per record.
- ``read_responses(path, url=None)`` reads a WARC file (``.warc``, ``.warc.gz``; the page URL is
  each record's ``WARC-Target-URI``) or a saved HTML file (its URL given with ``url``; its
  modification time is its fetch time) as ``FetchResult``s; ``kpi_archive.load.import_paths``
  parses and saves them. An unreadable file is an ``ArchiveError`` naming it.
"""

from __future__ import annotations

import datetime as dt
import http
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from sqlite_utils import Database
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive.save import decompress
from kpi_archive.errors import ArchiveError
from kpi_archive.web import is_http_url
from scraper.models import FetchResult

log = logging.getLogger(__name__)

WARC_SUFFIXES = (".warc", ".warc.gz")
IDENTICAL_PAYLOAD = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
# Issue 8: a body that differed only in what no reader sees (a timestamp in a comment) was not
# stored; its revisit record names this profile and the digest of the bytes actually received.
SAME_VISIBLE_TEXT = "urn:kpi-archive:revisit:identical-visible-text"
# The stored body is already decoded; these headers would make a replay tool decode it again.
DROPPED_HEADERS = frozenset({"content-encoding", "transfer-encoding", "content-length"})


def export_warc(db: Database, path: str | Path) -> int:
    """Write every capture of the archive to a WARC file; return the number of records."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written: dict[int, tuple[str, str, str]] = {}
    count = 0
    rows = db.execute(
        "SELECT c.url, c.fetched_at, s.id, s.status, s.headers, s.body, c.revisit, c.body_sha256 "
        "FROM captures c JOIN snapshots s ON s.id = c.snapshot_id ORDER BY c.fetched_at, c.id"
    )
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=path.name.endswith(".gz"), warc_version="1.1")
        for url, fetched_at, snapshot_id, status, headers_json, blob, revisit, sha in rows:
            date = fetched_at.replace("+00:00", "Z")
            if snapshot_id in written:
                target_url, target_date, digest = written[snapshot_id]
                profile = IDENTICAL_PAYLOAD
                if revisit and sha:
                    # Other bytes, same visible text and record: say so, with their own digest.
                    profile, digest = SAME_VISIBLE_TEXT, "sha256:" + sha
                record = writer.create_revisit_record(
                    url,
                    digest=digest,
                    refers_to_uri=target_url,
                    refers_to_date=target_date,
                    warc_headers_dict={"WARC-Date": date},
                )
                record.rec_headers.replace_header("WARC-Profile", profile)
            else:
                body = decompress(blob)
                record = writer.create_warc_record(
                    url,
                    "response",
                    payload=io.BytesIO(body),
                    length=len(body),  # known length: warcio then needs no temporary file
                    http_headers=_http_headers(status, json.loads(headers_json or "{}"), body),
                    warc_headers_dict={"WARC-Date": date},
                )
                digest = record.rec_headers.get_header("WARC-Payload-Digest")
                written[snapshot_id] = (url, date, digest)
            writer.write_record(record)
            count += 1
    log.info("wrote %d WARC records to %s", count, path)
    return count


def _http_headers(status: int, headers: dict[str, str], body: bytes) -> StatusAndHeaders:
    try:
        reason = http.HTTPStatus(status).phrase
    except ValueError:
        reason = ""
    pairs = [(k, v) for k, v in headers.items() if k.lower() not in DROPPED_HEADERS]
    pairs.append(("Content-Length", str(len(body))))
    return StatusAndHeaders(f"{status} {reason}".strip(), pairs, protocol="HTTP/1.1")


# What the WARC standard requires of every record (WARC 1.1, section 5).
MANDATORY_HEADERS = ("WARC-Record-ID", "Content-Length", "WARC-Date", "WARC-Type")


def read_warc(path: str | Path) -> Iterator[FetchResult]:
    """Every HTTP response (and revisit of an earlier one) in a WARC file, as FetchResults.

    A file cut short (a copy that stopped, a disk that filled) is an ``ArchiveError`` after every
    whole record before the cut: warcio itself yields the cut record's first bytes as if they
    were the body, or drops a last record whose headers were cut, without a word."""
    # A revisit re-reads its response from the file: only each response's offset is kept (about
    # 200 bytes a record), never its body, so memory does not grow with the WARC.
    offsets: dict[tuple[str, str], int] = {}
    with Path(path).open("rb") as stream, Path(path).open("rb") as again:
        records = ArchiveIterator(stream)
        last = 0
        for record in _records(records, path):
            uri = record.rec_headers.get_header("WARC-Target-URI")
            date = record.rec_headers.get_header("WARC-Date")
            if uri and record.rec_type in ("response", "revisit") and not is_http_url(uri):
                last = records.get_record_offset()
                log.warning(
                    "%s: the record at byte %d is of no http(s) page (%r); skipped", path, last, uri
                )
                continue
            if uri and date and record.rec_type == "response" and record.http_headers is not None:
                fetched_at = dt.datetime.fromisoformat(date.replace("Z", "+00:00"))
                result = _response(record, uri, fetched_at)
                # (after the body: warcio's offset reads a record to its end first)
                last = records.get_record_offset()
                if getattr(record.raw_stream, "limit", 0):  # bytes its headers promised, missing
                    raise ArchiveError(f"cut short in the record at byte {last}", path=str(path))
                offsets[(uri, date)] = last
                yield result
                continue
            last = records.get_record_offset()
            if not uri or not date or record.rec_type != "revisit":
                continue
            fetched_at = dt.datetime.fromisoformat(date.replace("Z", "+00:00"))
            ref = (
                record.rec_headers.get_header("WARC-Refers-To-Target-URI") or uri,
                record.rec_headers.get_header("WARC-Refers-To-Date") or "",
            )
            offset = offsets.get(ref)
            if offset is None:
                log.warning("%s: revisit of %s at %s not in this file; skipped", path, *ref)
                continue
            again.seek(offset)
            original = next(iter(ArchiveIterator(again)))
            yield _response(original, uri, fetched_at, final_url=ref[0])
        if _more_after(again, last + (records.get_record_length() or 0)):
            raise ArchiveError(f"cut short after the record at byte {last}", path=str(path))


def _records(records: ArchiveIterator, path: str | Path) -> Iterator[ArcWarcRecord]:
    """warcio's records; one cut inside its headers is an ``ArchiveError`` naming where, whether
    warcio crashes on it or reads the header block it got as a whole one (then it lacks one of
    ``MANDATORY_HEADERS``: seen with a gzip member cut right after a header's name)."""
    iterator = iter(records)
    at = 0  # the last whole record's offset
    while True:
        try:
            record = next(iterator)
        except StopIteration:
            return
        except (ArchiveLoadFailed, OSError):  # read_responses tells these
            raise
        except Exception as exc:
            raise ArchiveError(f"cut short after the record at byte {at}", path=str(path)) from exc
        if any(record.rec_headers.get_header(name) is None for name in MANDATORY_HEADERS):
            raise ArchiveError(f"cut short after the record at byte {at}", path=str(path))
        yield record
        at = records.get_record_offset()  # (after its body: it reads the record to its end)


def _more_after(stream: BinaryIO, end: int) -> bool:
    """Whether anything but blank lines follows byte ``end`` (the last whole record's end): a
    record cut inside its headers, which warcio drops without a word."""
    stream.seek(end)
    while chunk := stream.read(1 << 16):
        if chunk.strip():
            return True
    return False


def _response(
    record: ArcWarcRecord, url: str, fetched_at: dt.datetime, final_url: str | None = None
) -> FetchResult:
    """A WARC response record's HTTP response, as fetched from ``url`` at ``fetched_at``."""
    return FetchResult(
        url=url,
        final_url=final_url or url,
        status=int(record.http_headers.get_statuscode()),
        headers=dict(record.http_headers.headers),
        body=record.content_stream().read(),
        fetched_at=fetched_at,
    )


def read_html(path: str | Path, url: str) -> FetchResult:
    """A saved HTML file as a 200 response for ``url``, fetched when the file was last modified."""
    path = Path(path)
    stat = path.stat()
    return FetchResult(
        url=url,
        final_url=url,
        status=200,
        body=path.read_bytes(),
        fetched_at=dt.datetime.fromtimestamp(stat.st_mtime, tz=dt.UTC),
    )


def is_warc(path: str | Path) -> bool:
    """Whether ``path`` is named like a WARC file."""
    return str(path).endswith(WARC_SUFFIXES)


def read_responses(path: str | Path, url: str | None = None) -> Iterator[FetchResult]:
    """The responses in a WARC file, or a saved HTML file as the page at ``url``."""
    try:
        if is_warc(path):
            yield from read_warc(path)
        elif url is None:
            raise ArchiveError("a saved HTML file needs its page URL", path=str(path))
        else:
            yield read_html(path, url)
    except OSError as exc:
        raise ArchiveError(f"cannot read: {exc.strerror or exc}", path=str(path)) from exc
    except ArchiveLoadFailed as exc:
        raise ArchiveError(f"not a WARC file: {exc}", path=str(path)) from exc
