"""Save one fetched page and its parse into the archive, keeping every version.

``save(db, response, record_or_error, visible=…)`` runs in one transaction and is idempotent:

- 304, or a body identical to the current snapshot → ``unchanged``; only ``pages.last_fetched``
  moves. A body seen before for this URL (A → B → A) reuses its snapshot and adds a capture.
- a new body is judged first (``archive.judge``: complete, partial, foreign, error_page,
  unparseable; class and reason kept on its ``captures`` row), then
  - a complete body that shows a reader exactly what the current snapshot does (same visible
    text and record: a timestamp in a comment, a session id) is a *revisit*: a ``captures`` row
    pointing at the current snapshot (``revisit = 1``, ``body_sha256`` of the bytes received), no
    new snapshot → ``unchanged``;
  - otherwise a new ``snapshots`` row (zstd-compressed) and a ``captures`` row, then
    ``archive.admit``: a complete capture becomes the record (merged, versioned only when
    something substantive changed → ``new`` / ``changed`` / ``unchanged``); any other is held
    (``held``, or ``parse_error`` for an unparseable page) and nothing current changes.
- 404 / 410 → ``missing``, then ``gone`` after ``gone_after`` consecutive misses (with
  ``gone_since``); any other status → ``failed``, recorded in ``pages.last_error``.

Neither indexes the page for search: a changed page's old entries leave the trigram index and
the page is marked (``archive.search.unindex``); the load's finish indexes it (``sync_index``).

``save_many`` saves the same way, a transaction per batch and a savepoint per page (an error
raised while saving a page goes up; batches committed before it stay). It reads a batch's
``pages`` rows in one query and compresses the bodies and version records the batch will store
on ``pack_threads`` threads while its own thread judges and writes; every row and id is what
``save`` would write, and no thread outlives the call. Into an archive with no page yet (a first
load) it sets the publishing indexes aside (``archive.schema.set_aside_indexes``) for the load's
finish to make once.

Nothing is ever deleted: a gone page keeps its snapshots, captures and versions. A body fetched
earlier than the current one (an old WARC imported late) is stored as history but does not
become current; ``archive.reparse`` replays captures in time order to rebuild the versions.
"""

from __future__ import annotations

import itertools
import json
import logging
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from sqlite_utils import Database

from archive import fastpath
from archive.admit import (
    Status,
    admit,
    baseline,
    confirm,
    mark_gone,
    page_row,
    page_rows,
    record_data,
    seen_ok,
    update_page,
)
from archive.bodies import compress as compress
from archive.bodies import decompress as decompress  # re-exported: snapshot readers import it here
from archive.judge import Verdict, fingerprint, judge
from archive.schema import PAGE_COLUMNS, set_aside_indexes, utc_iso
from archive.search import follow_load
from archive.tables import agency_code
from archive.versions import compress_json, encode
from kpi_archive.config import GONE_AFTER
from kpi_archive.errors import ParseError
from kpi_archive.web import kind_from_url, pid_from_url, query_value
from parsers.models import DepartmentPage, KpiPage, ProjectPage
from scraper.models import FetchResult

log = logging.getLogger(__name__)

AnyRecord = KpiPage | ProjectPage | DepartmentPage
# zstd releases the GIL, so bodies and version records compressed on a thread of their own run on
# the second core while this one judges and writes (0: compress inline, as ``save`` does).
PACK_THREADS = 1
PACK_GROUP = 25  # pages compressed by one task: fewer hand-offs, yet the writer soon has its first


@dataclass(frozen=True)
class Packed:
    """A record's ``record_data``, that data as ``versions.encode`` stores it and, given the
    page's visible lines, the page's ``judge.fingerprint``, made ahead: a parse worker makes them
    (``pack``), so the writer neither dumps nor encodes the record, and the lines stay there."""

    data: dict[str, Any]
    record: bytes
    fingerprint: str | None = None

    def encoded(self) -> bytes:
        """``record``, as ``admit`` asks for it."""
        return self.record


def pack(record: AnyRecord, visible: Sequence[str] | None = None) -> Packed:
    """What saving ``record`` (on a page showing ``visible``) stores, made where it was parsed."""
    data = record_data(record)
    return Packed(data, encode(data), None if visible is None else fingerprint(data, visible))


SaveItem = (
    tuple[FetchResult, AnyRecord | ParseError | None]
    | tuple[FetchResult, AnyRecord | ParseError | None, Sequence[str] | None]
    | tuple[FetchResult, AnyRecord | ParseError | None, Sequence[str] | None, Packed | None]
)


@dataclass(frozen=True)
class SaveOutcome:
    """What one ``save`` did: ``status`` for the crawl summary, the snapshot it points at."""

    status: Status
    url: str
    sha256: str | None = None
    snapshot_id: int | None = None
    new_snapshot: bool = False
    changed: tuple[str, ...] = ()
    revisit: bool = False
    verdict: Verdict | None = None

    @property
    def capture_class(self) -> str | None:
        """How the capture was judged (``archive.judge``), if a body was judged."""
        return self.verdict.capture_class if self.verdict else None


def save(
    db: Database,
    response: FetchResult,
    record_or_error: AnyRecord | ParseError | None,
    *,
    gone_after: int = GONE_AFTER,
    visible: Sequence[str] | None = None,
    packed: Packed | None = None,
) -> SaveOutcome:
    """Store one response and its parse in one transaction; see the module docstring.

    ``visible``: the page's visible lines, for telling a revisit from a new snapshot; or
    ``packed``, the record packed where it was parsed, with the page's fingerprint made there.
    """
    made = packed.fingerprint if packed is not None else None
    with db.atomic():
        return _save(db.conn, response, record_or_error, gone_after, visible, made_print=made)


def save_many(
    db: Database,
    items: Iterable[SaveItem],
    batch: int = 500,
    *,
    gone_after: int = GONE_AFTER,
    pack_threads: int = PACK_THREADS,
    jobs: int = 1,
) -> list[SaveOutcome]:
    """Save many pages, committing every ``batch`` pages; each page is still its own savepoint.

    A batch's pages are looked up in one query, and the bodies and records it will store are
    compressed ahead on ``pack_threads`` threads; all of them are done when this returns.
    ``jobs`` > 1: a first load's search index is built in a worker process as its batches are
    committed (``archive.search.follow_load``), for the load's finish to put in place.
    """
    outcomes: list[SaveOutcome] = []
    pending = iter(items)
    pool = ThreadPoolExecutor(pack_threads, "archive-pack") if pack_threads > 0 else None
    # A first load: the archive holds no page yet. Its finish builds the indexes set aside and
    # puts the following worker's search index in place.
    first = db.execute("SELECT 1 FROM pages LIMIT 1").fetchone() is None
    try:
        while chunk := list(itertools.islice(pending, batch)):
            if first and jobs > 1:
                follow_load(db.conn, len(chunk))
            with db.atomic():
                if first:
                    set_aside_indexes(db.conn)
                first = False
                pages = page_rows(db.conn, (response.url for response, *_ in chunk))
                packs = _pack(pool, chunk, pages)
                for (response, parsed, *rest), packed in zip(chunk, packs, strict=True):
                    lines = cast("Sequence[str] | None", rest[0]) if rest else None
                    made = cast("Packed | None", rest[1]) if len(rest) > 1 else None
                    print_ = made.fingerprint if made is not None else None
                    outcomes.append(
                        _save_point(
                            db.conn, response, parsed, gone_after, lines, pages, packed, print_
                        )
                    )
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return outcomes


@dataclass(frozen=True)
class _Pack:
    """One page's share of a packing task: its record's data, its body and record compressed
    (the record's made ahead by a parse worker, when it was)."""

    data: dict[str, Any] | None
    done: Future[list[tuple[bytes, bytes | None]]]
    index: int
    encoded: bytes | None = None

    def body(self) -> bytes:
        """The body, as ``compress`` stores it."""
        return self.done.result()[self.index][0]

    def record(self) -> bytes:
        """``data`` as ``versions.encode`` stores it."""
        blob = self.encoded or self.done.result()[self.index][1]
        assert blob is not None
        return blob


def _pack(
    pool: ThreadPoolExecutor | None,
    chunk: Sequence[tuple[Any, ...]],
    pages: dict[str, dict[str, Any] | None],
) -> list[_Pack | None]:
    """Start compressing what a batch is likely to store (a 2xx body its page does not have, and
    its record), ``PACK_GROUP`` pages a task; None for the other pages."""
    packs: list[_Pack | None] = [None] * len(chunk)
    if pool is None:
        return packs
    wanted = []
    for i, (response, parsed, *rest) in enumerate(chunk):
        page = pages.get(response.url)
        if 200 <= response.status < 300 and (page is None or page["sha256"] != response.sha256):
            made: Packed | None = rest[1] if len(rest) > 1 else None
            data = made.data if made is not None else _plain(parsed)
            text = None if data is None or made else json.dumps(data, ensure_ascii=False)
            wanted.append((i, data, response.body, text, made))
    for start in range(0, len(wanted), PACK_GROUP):
        group = wanted[start : start + PACK_GROUP]
        # Only the compression goes to the thread, as it runs without the GIL: pydantic and json
        # hold it, so dumping the record there would only make the writer wait for it.
        done = pool.submit(_compress, [(body, text) for _, _, body, text, _ in group])
        for n, (i, data, _, _, made) in enumerate(group):
            packs[i] = _Pack(data, done, n, made.record if made is not None else None)
    return packs


def _compress(pages: list[tuple[bytes, str | None]]) -> list[tuple[bytes, bytes | None]]:
    return [(compress(body), None if text is None else compress_json(text)) for body, text in pages]


def _save_point(
    conn: sqlite3.Connection,
    response: FetchResult,
    parsed: AnyRecord | ParseError | None,
    gone_after: int,
    visible: Sequence[str] | None = None,
    pages: dict[str, dict[str, Any] | None] | None = None,
    pack: _Pack | None = None,
    made_print: str | None = None,
) -> SaveOutcome:
    # sqlite-utils names each savepoint at random, so SQLite prepares it afresh every page.
    conn.execute("SAVEPOINT archive_page")
    try:
        outcome = _save(conn, response, parsed, gone_after, visible, pages, pack, made_print)
    except BaseException:
        if pages is not None:
            pages.pop(response.url, None)  # rolled back: read it again if the batch has it twice
        if conn.in_transaction:
            conn.execute("ROLLBACK TO SAVEPOINT archive_page")
            conn.execute("RELEASE SAVEPOINT archive_page")
        raise
    conn.execute("RELEASE SAVEPOINT archive_page")
    return outcome


def last_validators(db: Database, url: str) -> tuple[str | None, str | None]:
    """The ETag and Last-Modified of the page's current snapshot, for a conditional GET."""
    row = db.execute(
        "SELECT s.etag, s.last_modified FROM pages p JOIN snapshots s ON s.id = p.snapshot_id "
        "WHERE p.url = ?",
        [url],
    ).fetchone()
    return (row[0], row[1]) if row else (None, None)


def current_body(db: Database, url: str, *, fetched_since: str | None = None) -> bytes | None:
    """The body of ``url``'s current snapshot (if fetched at or after ``fetched_since``)."""
    sql = "SELECT s.body FROM pages p JOIN snapshots s ON s.id = p.snapshot_id WHERE p.url = ?"
    params = [url]
    if fetched_since is not None:
        sql += " AND p.last_fetched >= ?"
        params.append(fetched_since)
    row = db.execute(sql, params).fetchone()
    return decompress(row[0]) if row else None


def current_links(
    db: Database, url: str, *, fetched_since: str | None = None
) -> tuple[int, tuple[str, ...] | None] | None:
    """``url``'s current snapshot (if fetched at or after ``fetched_since``) and the links saved
    with it: None for links stored before links were kept; None for no such snapshot."""
    sql = (
        "SELECT s.id, s.links FROM pages p JOIN snapshots s ON s.id = p.snapshot_id WHERE p.url = ?"
    )
    params = [url]
    if fetched_since is not None:
        sql += " AND p.last_fetched >= ?"
        params.append(fetched_since)
    row = db.execute(sql, params).fetchone()
    if row is None:
        return None
    return int(row[0]), (tuple(json.loads(row[1])) if row[1] is not None else None)


def save_links(db: Database, snapshot_id: int, links: Iterable[str]) -> None:
    """Keep the links read from a snapshot's body beside it (once: the body never changes)."""
    db.execute(
        "UPDATE snapshots SET links = ? WHERE id = ? AND links IS NULL",
        [json.dumps(list(links), ensure_ascii=False), snapshot_id],
    )


def url_facts(url: str) -> dict[str, str | None]:
    """host, page_kind, pid and agency_code as far as the URL alone tells them."""
    kind = kind_from_url(url)
    pid = pid_from_url(url)
    agency = agency_code(query_value(url, "selDEP") if kind == "department" else pid)
    host = urlsplit(url).hostname or ""
    return {"host": host, "page_kind": kind, "pid": pid, "agency_code": agency}


def _save(
    conn: sqlite3.Connection,
    response: FetchResult,
    parsed: AnyRecord | ParseError | None,
    gone_after: int,
    visible: Sequence[str] | None = None,
    pages: dict[str, dict[str, Any] | None] | None = None,
    pack: _Pack | None = None,
    made_print: str | None = None,
) -> SaveOutcome:
    """``pages``: rows read ahead (kept up to date here); ``pack``: compression done ahead;
    ``made_print``: the page's fingerprint, made where it was parsed."""
    url = response.url
    at = utc_iso(response.fetched_at)
    page = pages[url] if pages is not None and url in pages else page_row(conn, url)
    fresh = page is None  # a page first seen now has no snapshots, captures or versions yet
    if page is None:
        page = _new_page(conn, url, at)
        if pages is not None:
            pages[url] = page
    if response.status == 304:
        update_page(conn, page, seen_ok(page, at))
        return SaveOutcome("unchanged", url, page["sha256"], page["snapshot_id"])
    if response.status in (404, 410):
        return _miss(conn, page, response, at, gone_after)
    if not 200 <= response.status < 300:
        changes: dict[str, Any] = {"last_error": f"HTTP {response.status}", "last_error_at": at}
        if page["status"] is None:
            changes["status"] = "failed"
        update_page(conn, page, changes)
        return SaveOutcome("failed", url, page["sha256"], page["snapshot_id"])

    sha = response.sha256
    if sha == page["sha256"]:
        update_page(conn, page, seen_ok(page, at))
        return SaveOutcome("unchanged", url, sha, page["snapshot_id"])
    verdict = judge(response, parsed, None if fresh else baseline(conn, url, response.body))
    data = pack.data if pack is not None else _plain(parsed) if visible is not None else None
    print_ = made_print
    if print_ is None and visible is not None:
        print_ = fingerprint(data, visible)
    readable = verdict.complete or verdict.capture_class == "unparseable"
    if readable and print_ is not None and _revisits(conn, page, print_, at):
        _capture(conn, url, page["snapshot_id"], response, verdict, revisit=True)
        update_page(conn, page, seen_ok(page, at))
        return SaveOutcome("unchanged", url, page["sha256"], page["snapshot_id"], revisit=True)
    body = pack.body if pack is not None else None
    snapshot_id, new_snapshot = _store_snapshot(
        conn, response, parsed, at, sha, fresh, print_, body
    )
    if (
        not fresh
        and conn.execute(
            "SELECT 1 FROM captures WHERE url = ? AND snapshot_id = ? AND fetched_at = ?",
            [url, snapshot_id, at],
        ).fetchone()
    ):
        return SaveOutcome("unchanged", url, sha, snapshot_id)
    verdict = confirm(conn, url, snapshot_id, at, verdict)
    capture_id = _capture(conn, url, snapshot_id, response, verdict)
    if page["last_changed"] is not None and at < page["last_changed"]:
        log.info("%s: capture of %s is older than the current one; kept as history", url, at)
        return SaveOutcome("unchanged", url, sha, snapshot_id, new_snapshot)
    done = admit(
        conn,
        capture_id,
        snapshot_id,
        response,
        at,
        parsed,
        verdict=verdict,
        page=page,
        data=data,
        packed=pack.record if pack is not None and data is not None else None,
        own=True,
    )
    return SaveOutcome(
        done.status,
        url,
        sha,
        snapshot_id,
        new_snapshot,
        done.changed,
        verdict=verdict,
    )


def _plain(parsed: AnyRecord | ParseError | None) -> dict[str, Any] | None:
    return (
        record_data(parsed) if isinstance(parsed, KpiPage | ProjectPage | DepartmentPage) else None
    )


def _revisits(conn: sqlite3.Connection, page: dict[str, Any], print_: str, at: str) -> bool:
    """Whether the page's current snapshot shows a reader what this body does (and is older)."""
    if page["snapshot_id"] is None or (page["last_changed"] and at < page["last_changed"]):
        return False
    row = conn.execute(
        "SELECT fingerprint FROM snapshots WHERE id = ?", [page["snapshot_id"]]
    ).fetchone()
    return row is not None and row[0] == print_


def _capture(
    conn: sqlite3.Connection,
    url: str,
    snapshot_id: int,
    response: FetchResult,
    verdict: Verdict,
    *,
    revisit: bool = False,
) -> int:
    capture = {
        "url": url,
        "snapshot_id": snapshot_id,
        "fetched_at": utc_iso(response.fetched_at),
        "final_url": response.final_url,
        "capture_class": verdict.capture_class,
        "capture_reason": verdict.reason,
        "body_sha256": response.sha256,
        "revisit": int(revisit),
    }
    return fastpath.insert(conn, "captures", capture)


def _store_snapshot(
    conn: sqlite3.Connection,
    response: FetchResult,
    parsed: object,
    at: str,
    sha: str,
    fresh: bool,
    print_: str | None = None,
    packed: Callable[[], bytes] | None = None,
) -> tuple[int, bool]:
    if not fresh:
        row = conn.execute(
            "SELECT id FROM snapshots WHERE url = ? AND sha256 = ?", [response.url, sha]
        ).fetchone()
        if row:
            return int(row[0]), False
    content_type = response.header("content-type")
    # The codec the parser decoded the body with, not the server's label: BMA pages often lie.
    encoding = (
        parsed.encoding if isinstance(parsed, KpiPage | ProjectPage | DepartmentPage) else None
    )
    snapshot = {
        "url": response.url,
        "sha256": sha,
        "fetched_at": at,
        "status": response.status,
        "final_url": response.final_url,
        "content_type": content_type,
        "encoding": encoding,
        "etag": response.header("etag"),
        "last_modified": response.header("last-modified"),
        "headers": json.dumps(response.headers, ensure_ascii=False),
        "size": len(response.body),
        "compression": "zstd",
        "body": packed() if packed is not None else compress(response.body),
        "fingerprint": print_,
    }
    return fastpath.insert(conn, "snapshots", snapshot), True


def _miss(
    conn: sqlite3.Connection,
    page: dict[str, Any],
    response: FetchResult,
    at: str,
    gone_after: int,
) -> SaveOutcome:
    error = f"HTTP {response.status}"
    if page["last_error_at"] == at and page["last_error"] == error:
        status: Status = "gone" if page["status"] == "gone" else "missing"
        return SaveOutcome(status, page["url"], page["sha256"], page["snapshot_id"])
    misses = (page["miss_count"] or 0) + 1
    status = "gone" if misses >= gone_after else "missing"
    changes = {"miss_count": misses, "status": status, "last_error": error, "last_error_at": at}
    if status == "gone" and page["gone_since"] is None:
        changes["gone_since"] = at
        mark_gone(conn, page["url"], at)
    update_page(conn, page, changes)
    return SaveOutcome(status, page["url"], page["sha256"], page["snapshot_id"])


def _new_page(conn: sqlite3.Connection, url: str, at: str) -> dict[str, Any]:
    facts = url_facts(url)
    page: dict[str, Any] = dict.fromkeys(PAGE_COLUMNS)
    page.update(facts, url=url, first_seen=at, miss_count=0)
    fastpath.insert(conn, "pages", {"url": url, **facts, "first_seen": at, "miss_count": 0})
    return page
