"""Admit a stored capture into the record: judged first, then merged, versioned and written.

``admit(conn, capture, response, parsed, …)`` is the one step ``save`` and ``reparse`` share, so a
reparse judges every capture exactly as the crawl did:

- ``archive.judge`` classifies the capture against the last complete one (its record and body).
  The class and reason go on the ``captures`` row.
- Anything but ``complete`` is *held*: the bytes stay as evidence, nothing current changes (not
  the typed tables, not ``kpi_versions``, not ``pages.snapshot_id``); ``pages.last_error`` says
  why, and a page with no record yet has the status ``held``. An ``unparseable`` capture keeps
  the ``parse_error`` behaviour it always had: its snapshot becomes the page's current one (the
  site most likely changed the page beyond the parser; ``reparse`` with a fixed parser reads it),
  the last record stays current.
- A ``complete`` capture becomes current: its record is merged into the current one
  (``archive.changes.merge``: a short rendering keeps the fields it cannot show), the typed tables
  are rewritten, and a ``kpi_versions`` row is written only for a substantive change
  (``archive.changes``), with its ``change_kind`` and per-field ``sources`` (capture ids).

A version's *own capture* is the first capture (lowest ``captures.id``) with its ``url``,
``snapshot_id`` and ``fetched_at``: the capture it was read from (``save`` stores no second capture
of the same body at the same time, and captures are never deleted, so the first one stays the
first). ``kpi_versions.sources`` names only the fields whose value comes from another capture
(``archive.changes.stored_sources``); a ``gone`` version has no capture of its own, so it names
every field's.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from archive import fastpath
from archive.bodies import decompress
from archive.changes import change_kind, field_changes, full_sources, merge, stored_sources
from archive.judge import COMPLETE, Baseline, Verdict, ends_page, judge
from archive.tables import agency_code, write_record
from archive.versions import decode, encode
from kpi_archive.errors import ParseError
from parsers.models import PARSER_VERSION, DepartmentPage, KpiPage, ProjectPage
from scraper.models import FetchResult

AnyRecord = KpiPage | ProjectPage | DepartmentPage
CONFIRMATIONS = 2  # earlier identical held captures after which a shorter section is believed
Status = Literal["new", "changed", "unchanged", "parse_error", "held", "missing", "gone", "failed"]
log = logging.getLogger(__name__)
_MODELS: dict[str, type[AnyRecord]] = {
    "kpi": KpiPage,
    "citydb": KpiPage,
    "project": ProjectPage,
    "department": DepartmentPage,
}


@dataclass(frozen=True)
class Admitted:
    """What admitting one capture did: the save status, the fields that changed, the verdict."""

    status: Status
    changed: tuple[str, ...]
    verdict: Verdict


def record_data(record: AnyRecord) -> dict[str, Any]:
    """The record as JSON-ready data (dates as ISO strings), in the model's field order."""
    return record.model_dump(mode="json")


def confirm(
    conn: sqlite3.Connection, url: str, snapshot_id: int, at: str, verdict: Verdict
) -> Verdict:
    """A capture held only for its sections is complete once the same bytes come back again.

    A database hiccup that drops reports does not repeat byte for byte on three fetches; an
    agency that really deleted a report does, and must not be held for ever.
    """
    if not verdict.by_sections:
        return verdict
    (earlier,) = conn.execute(
        "SELECT count(*) FROM captures WHERE url = ? AND snapshot_id = ? AND fetched_at < ? "
        "AND capture_class = 'partial'",
        [url, snapshot_id, at],
    ).fetchone()
    if earlier < CONFIRMATIONS:
        return verdict
    log.info("%s: %s, seen %d times before: accepted", url, verdict.reason_en, earlier)
    return COMPLETE


def baseline(conn: sqlite3.Connection, url: str, body: bytes) -> Baseline | None:
    """The current record of ``url`` and the size of the last complete body, if any.

    Whether that body closed its ``<html>`` matters only when the new ``body`` does not, so only
    then is it read back.
    """
    version = conn.execute(
        "SELECT record FROM kpi_versions WHERE url = ? ORDER BY id DESC LIMIT 1", [url]
    ).fetchone()
    if version is None:
        return None
    last = conn.execute(
        "SELECT s.id, s.size, s.encoding FROM captures c "
        "JOIN snapshots s ON s.id = c.snapshot_id WHERE c.url = ? "
        "AND c.capture_class = 'complete' ORDER BY c.fetched_at DESC, c.id DESC LIMIT 1",
        [url],
    ).fetchone()
    record = decode(version[0])
    if last is None:
        return Baseline(record, 0)
    ended = True
    if not ends_page(body):
        (blob,) = conn.execute("SELECT body FROM snapshots WHERE id = ?", [last[0]]).fetchone()
        ended = ends_page(decompress(blob))
    return Baseline(record, int(last[1] or 0), ended, last[2])


def admit(
    conn: sqlite3.Connection,
    capture_id: int,
    snapshot_id: int,
    response: FetchResult,
    at: str,
    parsed: AnyRecord | ParseError | None,
    *,
    verdict: Verdict | None = None,
    page: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    packed: Callable[[], bytes] | None = None,
    own: bool = False,
) -> Admitted:
    """Judge one stored capture and, if complete, make it the page's current record.

    ``data`` (``record_data(parsed)``), when the caller has it, spares dumping the record again;
    ``packed``, ``encode(data)`` made ahead (``save_many`` compresses on a second thread), spares
    encoding it when the record stays as parsed. ``own``: ``capture_id`` was just stored and is
    the only capture of its snapshot at ``at`` (``save`` makes sure), so it is the version's own.
    """
    url = response.url
    sha = response.sha256
    if page is None:
        page = page_row(conn, url)
        assert page is not None
    if verdict is None:
        verdict = judge(response, parsed, baseline(conn, url, response.body))
        verdict = confirm(conn, url, snapshot_id, at, verdict)
        conn.execute(
            "UPDATE captures SET capture_class = ?, capture_reason = ? WHERE id = ?",
            [verdict.capture_class, verdict.reason, capture_id],
        )
    if not verdict.complete:
        current = {"snapshot_id": snapshot_id, "sha256": sha, "last_changed": at}
        return Admitted(_hold(conn, page, verdict, parsed, at, current), (), verdict)
    assert not isinstance(parsed, ParseError)
    was_gone = page["status"] == "gone"
    first_body = page["snapshot_id"] is None
    changes: dict[str, Any] = {
        "snapshot_id": snapshot_id,
        "sha256": sha,
        "last_changed": at,
        "miss_count": 0,
        "gone_since": None,
        "status": "ok",
        "last_error": None,
        "last_error_at": None,
    }
    changes.update(seen_ok(page, at))
    changes["status"] = "ok"
    if parsed is None:
        update_page(conn, page, changes)
        return Admitted("new" if first_body else "changed", (), verdict)
    previous = None if first_body else _last_version(conn, url)
    new_data = data if data is not None else record_data(parsed)
    merged = merge(
        previous["record"] if previous else None,
        previous["sources"] if previous else None,
        new_data,
        capture_id,
    )
    data = merged.record
    record = parsed if data == new_data else _MODELS[str(data["page_kind"])].model_validate(data)
    pid = data.get("pid") or page["pid"]
    code = agency_code(pid) or page["agency_code"]
    if isinstance(record, DepartmentPage):
        code = agency_code(record.agency_code) or code
    changes.update(page_kind=data["page_kind"], pid=pid, agency_code=code)
    update_page(conn, page, changes)
    write_record(conn, url, record, data, snapshot_id, at, code, first=first_body)
    kind = change_kind(previous["record"] if previous else None, data, was_gone=was_gone)
    if kind is None:
        return Admitted("unchanged", (), verdict)
    changed = [c.field for c in field_changes(previous["record"], data)] if previous else []
    version = {
        "url": url,
        "pid": pid,
        "page_kind": data["page_kind"],
        "snapshot_id": snapshot_id,
        "sha256": sha,
        "fetched_at": at,
        "parser_version": PARSER_VERSION,
        "previous_id": previous["id"] if previous else None,
        "change_kind": kind,
        "changed": json.dumps(changed),
        "record": packed() if packed is not None and _as_parsed(data, new_data) else encode(data),
        "sources": stored_sources(
            data, merged.sources, capture_id if own else own_capture(conn, url, snapshot_id, at)
        ),
    }
    fastpath.insert(conn, "kpi_versions", version)
    return Admitted("new" if kind == "new" else "changed", tuple(changed), verdict)


def _as_parsed(data: dict[str, Any], parsed: dict[str, Any]) -> bool:
    """Whether the merged record is the parsed one itself: same keys, in order, same objects."""
    return len(data) == len(parsed) and all(
        a == b and data[a] is parsed[b] for a, b in zip(data, parsed, strict=True)
    )


def mark_gone(conn: sqlite3.Connection, url: str, at: str) -> None:
    """Record that a page has gone: a ``gone`` version repeating its last record, if it had one."""
    last = _last_version(conn, url)
    if last is None or last["change_kind"] == "gone":
        return
    # Repeating the last record, not read from a capture: every field names the one it came from.
    own = own_capture(conn, url, last["snapshot_id"], at)
    conn.execute(
        "INSERT INTO kpi_versions (url, pid, page_kind, snapshot_id, sha256, fetched_at, "
        "parser_version, previous_id, change_kind, changed, record, sources) "
        "SELECT url, pid, page_kind, snapshot_id, sha256, ?, ?, id, 'gone', '[]', record, ? "
        "FROM kpi_versions WHERE id = ?",
        [at, PARSER_VERSION, stored_sources(last["record"], last["sources"], own), last["id"]],
    )


def own_capture(conn: sqlite3.Connection, url: str, snapshot_id: int, at: str) -> int | None:
    """The capture a version of ``url`` read from ``snapshot_id`` at ``at`` has as its own."""
    (capture_id,) = conn.execute(
        "SELECT min(id) FROM captures WHERE url = ? AND fetched_at = ? AND snapshot_id = ?",
        [url, at, snapshot_id],
    ).fetchone()
    return int(capture_id) if capture_id is not None else None


def _last_version(conn: sqlite3.Connection, url: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT id, record, sources, snapshot_id, fetched_at, change_kind FROM kpi_versions "
        "WHERE url = ? ORDER BY id DESC LIMIT 1",
        [url],
    ).fetchone()
    if row is None:
        return None
    record = decode(row[1])
    own = own_capture(conn, url, row[3], row[4])
    return {
        "id": row[0],
        "record": record,
        "sources": full_sources(record, own, row[2]),
        "snapshot_id": row[3],
        "change_kind": row[5],
    }


def _hold(
    conn: sqlite3.Connection,
    page: dict[str, Any],
    verdict: Verdict,
    parsed: AnyRecord | ParseError | None,
    at: str,
    current: dict[str, Any],
) -> Status:
    changes: dict[str, Any] = {"last_fetched": max(at, page["last_fetched"] or at)}
    if verdict.capture_class == "unparseable" and isinstance(parsed, ParseError):
        # Most likely the page itself changed beyond the parser: these bytes are the page now
        # (a fixed parser and `reparse` read them), but the last record stays the current one.
        changes.update(current, status="parse_error", last_error=str(parsed), last_error_at=at)
        update_page(conn, page, changes)
        return "parse_error"
    changes.update(last_error=f"held ({verdict.capture_class}): {verdict.reason_en}",
                   last_error_at=at)  # fmt: skip
    if page["snapshot_id"] is None and page["status"] in (None, "parse_error", "held"):
        changes["status"] = "held"
    update_page(conn, page, changes)
    return "held"


def seen_ok(page: dict[str, Any], at: str) -> dict[str, Any]:
    """The page columns a successful fetch at ``at`` updates (a missing page is back)."""
    changes: dict[str, Any] = {"last_fetched": max(at, page["last_fetched"] or at)}
    if page["status"] in ("missing", "gone", "failed") or page["miss_count"]:
        changes.update(status="ok", miss_count=0, gone_since=None)
    return changes


def page_row(conn: sqlite3.Connection, url: str) -> dict[str, Any] | None:
    """The ``pages`` row of ``url`` as a dict, or None."""
    cursor = conn.execute("SELECT * FROM pages WHERE url = ?", [url])
    row = cursor.fetchone()
    if row is None:
        return None
    return dict(zip(_column_names(cursor.description), row, strict=True))


def page_rows(conn: sqlite3.Connection, urls: Iterable[str]) -> dict[str, dict[str, Any] | None]:
    """The ``pages`` rows of ``urls`` in one query: each URL's row as a dict, or None."""
    wanted = list(dict.fromkeys(urls))
    rows: dict[str, dict[str, Any] | None] = dict.fromkeys(wanted)
    cursor = conn.execute(
        "SELECT * FROM pages WHERE url IN (SELECT value FROM json_each(?))", [json.dumps(wanted)]
    )
    names = _column_names(cursor.description)
    for row in cursor:
        page = dict(zip(names, row, strict=True))
        rows[page["url"]] = page
    return rows


@lru_cache(maxsize=8)
def _column_names(description: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    return tuple(d[0] for d in description)


def update_page(conn: sqlite3.Connection, page: dict[str, Any], changes: dict[str, Any]) -> None:
    """Write only the columns that differ, so a repeated save leaves total_changes unchanged."""
    diff = {k: v for k, v in changes.items() if page.get(k) != v}
    if not diff:
        return
    fastpath.update(conn, "pages", ("url", page["url"]), diff)
    page.update(diff)
