"""Atom feeds of changed versions: all pages, one indicator, one agency.

One entry per changed version (not per field), titled in Thai with the indicator's name and its
headline change (``ผลงาน 50 → 60 ร้อยละ``), HTML content with a before/after table, linking to our
``/kpi/<pid>`` page. Built with feedgen (what datasette-atom uses), served as
``application/atom+xml``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from html import escape
from typing import Any

from datasette.utils.asgi import Response
from feedgen.feed import FeedGenerator

from archive.versions import decode
from kpi_archive.publish.plugin import pages

FEED_LIMIT = 200
ATOM = "application/atom+xml; charset=utf-8"


async def changed_versions(db: Any, where: str = "", params: list[Any] | None = None) -> list[Any]:
    """The latest changed versions (newest first), each with its headline and changes."""
    rows = await pages._rows(
        db,
        "select v.id, v.url, v.pid, v.page_kind, v.fetched_at, v.changed, v.record,"
        " p.record as previous, k.agency_code from kpi_versions v"
        " join kpi_versions p on p.id = v.previous_id left join kpis k on k.url = v.url"
        f" where v.change_kind = 'changed' {where} order by v.fetched_at desc, v.id desc limit ?",
        [*(params or []), FEED_LIMIT],
    )
    out = []
    for row in rows:
        record, previous = decode(row["record"]), decode(row["previous"])
        changes = pages.version_changes(record, previous, json.loads(row["changed"] or "[]"))
        name = (
            record.get("title") or previous.get("title") or record.get("name") or row["pid"]
        ) or row["url"]
        out.append(
            {
                **row,
                "title": pages.headline(name, changes, record.get("unit")),
                "changes": changes,
                "name": name,
            }
        )
    return out


def page_path(row: dict[str, Any]) -> str:
    """Our page for a version's pid (``/kpi/…``, ``/project/…`` or ``/citydb/…``)."""
    kind = {"project": "project", "citydb": "citydb"}.get(row["page_kind"], "kpi")
    return f"/{kind}/{row['pid']}" if row["pid"] else "/search"


def _content(row: dict[str, Any], base: str) -> str:
    cells = "".join(
        f"<tr><th>{escape(c['label'])}</th><td>{escape(c['old'])}</td><td>{escape(c['new'])}</td></tr>"
        for c in row["changes"]
    )
    return (
        f"<p>{escape(row['name'])}</p><table><thead><tr><th>รายการ</th><th>เดิม / before</th>"
        f"<th>ใหม่ / after</th></tr></thead><tbody>{cells}</tbody></table>"
        f'<p><a href="{escape(base + page_path(row))}">ดูหน้าตัวชี้วัด / the indicator page</a></p>'
    )


def render(title: str, self_url: str, base: str, rows: list[dict[str, Any]]) -> bytes:
    """An Atom document for ``rows``."""
    feed = FeedGenerator()
    feed.id(self_url)
    feed.title(title)
    feed.language("th")
    feed.link(href=self_url, rel="self")
    feed.link(href=base + "/", rel="alternate")
    feed.author({"name": "kpi-archive"})
    updated = [dt.datetime.fromisoformat(r["fetched_at"].replace("Z", "+00:00")) for r in rows]
    feed.updated(max(updated) if updated else dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    for row, when in zip(reversed(rows), reversed(updated), strict=True):
        entry = feed.add_entry()
        entry.id(f"{base}/kpi-version/{row['id']}")
        entry.title(row["title"])
        entry.updated(when)
        entry.link(href=base + page_path(row))
        entry.content(_content(row, base), type="html")
    body: bytes = feed.atom_str(pretty=True)
    return body


def _base(request: Any) -> str:
    return f"{request.scheme}://{request.host}"


async def _feed(
    datasette: Any, request: Any, title: str, where: str, params: list[Any]
) -> Response:
    from kpi_archive.publish.plugin.routes import archive_db

    db = await archive_db(datasette)
    rows = await changed_versions(db, where, params)
    base = _base(request)
    body = render(title, base + request.path, base, rows)
    return Response(body, content_type=ATOM)


async def all_changes(datasette: Any, request: Any) -> Response:
    """``/changes.atom``: every page's changed versions."""
    return await _feed(datasette, request, "ตัวชี้วัดกรุงเทพมหานคร: ความเปลี่ยนแปลงล่าสุด", "", [])


async def kpi_changes(datasette: Any, request: Any) -> Response:
    """``/kpi/<pid>.atom``: one indicator's changed versions (every mirror)."""
    pid = request.url_vars["pid"]
    return await _feed(datasette, request, f"ตัวชี้วัด {pid}: ความเปลี่ยนแปลง", "and v.pid = ?", [pid])


async def agency_changes(datasette: Any, request: Any) -> Response:
    """``/agency/<code>.atom``: the changed versions of an agency's pages."""
    code = request.url_vars["code"]
    return await _feed(
        datasette, request, f"หน่วยงาน {code}: ความเปลี่ยนแปลง", "and substr(v.pid, 1, 4) = ?", [code]
    )


ROUTES: list[tuple[str, Callable[..., Awaitable[Any]]]] = [
    (r"^/changes\.atom$", all_changes),
    (r"^/(?:kpi|citydb|project)/(?P<pid>[0-9][0-9A-Za-z.\-]*)\.atom$", kpi_changes),
    (r"^/agency/(?P<code>[0-9]{4})\.atom$", agency_changes),
]
