"""HTTP routes of the journalist pages: find the archive, read it (``pages``), render a template.

Every page is Thai first (``lang="th"``), links to ``/kpi/<pid>`` for an indicator, and advertises
its Atom feed. A stored capture is shown as its visible text (no HTML of the source is ever
rendered by us), and downloadable as raw bytes with a download disposition.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from datasette.utils.asgi import NotFound, Response

from archive.save import decompress
from kpi_archive.publish.plugin import pages
from parsers.encoding import decode
from parsers.text import visible_lines

PID = r"(?P<pid>[0-9][0-9A-Za-z.\-]*)"


async def archive_db(datasette: Any) -> Any:
    """The first served database that is a KPI archive (has ``kpis``)."""
    for name, db in datasette.databases.items():
        if not name.startswith("_") and await db.table_exists("kpis"):
            return db
    raise NotFound("ไม่มีคลังข้อมูลตัวชี้วัด / no KPI archive is being served")


async def _render(datasette: Any, request: Any, template: str, context: dict[str, Any]) -> Response:
    html = await datasette.render_template(template, context, request=request)
    return Response.html(html)


async def kpi(datasette: Any, request: Any) -> Response:
    """``/kpi/<pid>``: the indicator page (``?url=`` picks one mirror edition)."""
    return await _indicator(datasette, request, "kpi")


async def citydb(datasette: Any, request: Any) -> Response:
    """``/citydb/<pid>``: a 2562–2563 city-development indicator, in the indicator page's style."""
    return await _indicator(datasette, request, "citydb")


async def _indicator(datasette: Any, request: Any, kind: str) -> Response:
    db = await archive_db(datasette)
    pid = request.url_vars["pid"]
    data = await pages.kpi_page(db, pid, request.args.get("url"), kind)
    if data is None:
        raise NotFound(f"ไม่พบตัวชี้วัด {pid} / no indicator {pid} in this archive")
    return await _render(datasette, request, "kpi.html", {**data, "kind": kind, "db": db.name})


async def project(datasette: Any, request: Any) -> Response:
    """``/project/<pid>``: a project's progress page."""
    db = await archive_db(datasette)
    pid = request.url_vars["pid"]
    data = await pages.project_page(db, pid)
    if data is None:
        raise NotFound(f"ไม่พบโครงการ {pid} / no project {pid} in this archive")
    return await _render(datasette, request, "project.html", {**data, "db": db.name})


async def agency(datasette: Any, request: Any) -> Response:
    """``/agency/<code>``: an agency's indicators by fiscal year and its recent changes."""
    db = await archive_db(datasette)
    code = request.url_vars["code"]
    data = await pages.agency_page(db, code)
    if data is None:
        raise NotFound(f"ไม่พบหน่วยงาน {code} / no agency {code} in this archive")
    return await _render(datasette, request, "agency.html", {**data, "db": db.name})


async def search(datasette: Any, request: Any) -> Response:
    """``/search?q=``: indicators and reports, folded, merged per pid, hits highlighted."""
    db = await archive_db(datasette)
    query = (request.args.get("q") or "").strip()[:200]
    results = await pages.search(db, query) if query else []
    short = 0 < len(query) < pages.TRIGRAM_MIN
    return await _render(
        datasette,
        request,
        "kpi_search.html",
        {"q": query, "results": results, "short": short, "db": db.name},
    )


async def _snapshot(datasette: Any, request: Any) -> tuple[dict[str, Any], bytes]:
    db = await archive_db(datasette)
    rows = (
        await db.execute(
            "select s.id, s.url, s.fetched_at, s.content_type, s.compression, s.body, p.pid,"
            " p.page_kind from snapshots s join pages p on p.url = s.url where s.id = ?",
            [int(request.url_vars["id"])],
        )
    ).rows
    if not rows:
        raise NotFound("ไม่พบหน้าที่เก็บไว้ / no such capture")
    row = dict(rows[0])
    body = row.pop("body") or b""
    return row, decompress(body) if row["compression"] == "zstd" else body


async def capture(datasette: Any, request: Any) -> Response:
    """``/capture/<id>``: a stored capture's visible text, line by line, as it was."""
    row, body = await _snapshot(datasette, request)
    text, codec = decode(body, {"Content-Type": row["content_type"] or ""})
    return await _render(
        datasette, request, "capture.html", {**row, "lines": visible_lines(text), "codec": codec}
    )


async def capture_raw(datasette: Any, request: Any) -> Response:
    """``/capture/<id>.raw``: the stored bytes, as a download (never rendered on our origin)."""
    row, body = await _snapshot(datasette, request)
    return Response(
        body,
        content_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="capture-{row["id"]}.html"',
            "X-Content-Type-Options": "nosniff",
        },
    )


ROUTES: list[tuple[str, Callable[..., Awaitable[Any]]]] = [
    (rf"^/kpi/{PID}$", kpi),
    (rf"^/citydb/{PID}$", citydb),
    (rf"^/project/{PID}$", project),
    (r"^/agency/(?P<code>[0-9]{4})$", agency),
    (r"^/search$", search),
    (r"^/capture/(?P<id>[0-9]+)\.raw$", capture_raw),
    (r"^/capture/(?P<id>[0-9]+)$", capture),
]
