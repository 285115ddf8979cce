"""The journalist pages: what each route reads from the archive, as plain dicts for a template.

Every function takes a Datasette ``Database`` and returns data or ``None`` when nothing matches;
rendering and HTTP live in ``routes``. Field names stay those of the archive's tables; Thai labels
are the templates' business. A pid on several mirror hosts is one page: its editions are ordered
newest fiscal year first, then most recent capture.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup

from archive.search import candidates_sql, fast_holds, trigram_match
from archive.versions import decode, record_json
from parsers import thai

Row = dict[str, Any]

# Record fields shown in a version's "what changed" table, with their Thai labels; a change in
# any other field is listed by name only.
FIELD_LABELS = {
    "title": "ชื่อตัวชี้วัด",
    "target_text": "ค่าเป้าหมาย",
    "target_value": "ค่าเป้าหมาย",
    "result_text": "ผลงาน",
    "result_value": "ผลงาน",
    "unit": "หน่วยนับ",
    "fiscal_year": "ปีงบประมาณ",
    "quarters": "ผลงานรายไตรมาส",
    "reports": "รายงานผล",
    "audit_score": "ผล สยป. ตรวจประเมิน",
    "definition": "นิยาม",
    "calculation": "วิธีการคำนวณ",
    "data_sources": "แหล่งข้อมูล",
    "progress": "ความก้าวหน้า",
    "summary": "สรุปผล",
}
# Of a changed field pair (text as printed, number), show the printed one.
_SHADOWED = {"target_value": "target_text", "result_value": "result_text"}
RECENT_CHANGES = 20
WHOLE_RECORD_SQL = "select id, kpi_record(record) as record from kpi_versions where id = :id"


async def _rows(db: Any, sql: str, params: list[Any] | dict[str, Any] | None = None) -> list[Row]:
    return [dict(r) for r in (await db.execute(sql, params or [])).rows]


async def agency_name(db: Any, code: str | None) -> str | None:
    """The agency's name for a 4-digit code (or an 8-digit department code), if known."""
    if not code:
        return None
    rows = await _rows(
        db,
        "select name from agencies where (code = ? or dep_code = ?) and name is not null",
        [code[:4], code],
    )
    return rows[0]["name"] if rows else None


def _short(value: Any) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, dict)):
        return f"{len(value)} รายการ" if isinstance(value, list) else "…"
    return str(value)


def version_changes(record: Row, previous: Row | None, changed: list[str]) -> list[Row]:
    """``changed`` fields as ``{field, label, old, new}`` rows, printed text over numbers."""
    fields = [f for f in changed if not (f in _SHADOWED and _SHADOWED[f] in changed)]
    return [
        {
            "field": field,
            "label": FIELD_LABELS.get(field, field),
            "old": _short((previous or {}).get(field)),
            "new": _short(record.get(field)),
        }
        for field in fields
    ]


def headline(name: str, changes: list[Row], unit: str | None) -> str:
    """A version's headline: ``<name>: ผลงาน 50 → 60 ร้อยละ`` from its most telling change."""
    order = ["result_text", "result_value", "target_text", "target_value", "fiscal_year", "title"]
    ranked = sorted(changes, key=lambda c: order.index(c["field"]) if c["field"] in order else 99)
    if not ranked:
        return f"{name}: บันทึกครั้งแรก"
    top = ranked[0]
    suffix = f" {unit}" if unit and top["field"] in _SHADOWED.values() | _SHADOWED.keys() else ""
    more = f" (และอีก {len(ranked) - 1} รายการ)" if len(ranked) > 1 else ""
    return f"{name}: {top['label']} {top['old']} → {top['new']}{suffix}{more}"


async def versions(db: Any, url: str) -> list[Row]:
    """Every version of ``url``, newest first, each with its changes and its capture."""
    rows = await _rows(
        db,
        "select v.id, v.fetched_at, v.change_kind, v.changed, v.record, v.snapshot_id,"
        " p.record as previous from kpi_versions v left join kpi_versions p on p.id = v.previous_id"
        " where v.url = ? order by v.fetched_at desc, v.id desc",
        [url],
    )
    out = []
    for row in rows:
        record = decode(row["record"])
        previous = decode(row["previous"]) if row["previous"] else None
        changes = version_changes(record, previous, json.loads(row["changed"] or "[]"))
        out.append({**row, "changes": changes, "record": record, "previous": None})
    return out


async def kpi_page(db: Any, pid: str, url: str | None = None, kind: str = "kpi") -> Row | None:
    """Everything the indicator page shows for ``pid`` (the edition at ``url`` if given)."""
    editions = await _rows(
        db,
        "select k.*, p.host, p.first_seen, p.last_fetched, p.status as page_status from kpis k"
        " join pages p on p.url = k.url where k.pid = ? and k.page_kind = ?"
        " order by k.fiscal_year is null, k.fiscal_year desc, k.as_of desc, k.url",
        [pid, kind],
    )
    if not editions:
        return None
    kpi = next((e for e in editions if e["url"] == url), editions[0])
    url = kpi["url"]
    quarters = await _rows(db, "select * from quarters where url = ? order by quarter", [url])
    reports = await _rows(
        db,
        "select * from reports where url = ? order by quarter is null, quarter, seq, position",
        [url],
    )
    strategies = await _rows(
        db,
        "select s.code, s.title, s.level from kpi_strategies ks join strategies s"
        " on s.id = ks.strategy_id where ks.url = ? order by ks.position",
        [url],
    )
    projects = await _rows(
        db,
        "select pk.project_pid, pk.project_name, pk.project_url, pr.progress from project_kpis pk"
        " left join projects pr on pr.url = pk.project_url where pk.kpi_url = ?"
        " order by pk.position",
        [url],
    )
    captures = await _rows(
        db,
        "select c.fetched_at, s.id as snapshot_id, s.size, s.status from captures c"
        " join snapshots s on s.id = c.snapshot_id where c.url = ? order by c.fetched_at desc",
        [url],
    )
    return {
        "kpi": kpi,
        "editions": editions,
        "agency": await agency_name(db, kpi["agency_code"]),
        "quarters": quarters,
        "chart": quarter_chart(quarters, kpi.get("target_value")),
        "reports": reports,
        "strategies": strategies,
        "projects": projects,
        "versions": await versions(db, url),
        "captures": captures,
        **await indicator_and_measure(db, kpi),
    }


async def indicator_and_measure(db: Any, kpi: Row) -> Row:
    """The page's indicator (its years, charted) and its measure (how many agencies report it)."""
    none: Row = {"series": [], "series_chart": None, "measure": None}
    if kpi.get("indicator_id") is None or "indicator_series" not in await db.view_names():
        return none
    rows = await _rows(
        db,
        "select fiscal_year, pid, target, result, on_target, unit, as_of, url from indicator_series"
        " where indicator_id = ? and fiscal_year is not null order by fiscal_year, as_of, url",
        [kpi["indicator_id"]],
    )
    # One point per fiscal year: its latest capture (mirrors of one year are one page).
    series = list({row["fiscal_year"]: row for row in rows}.values())
    measures = await _rows(
        db,
        "select m.id, m.name, m.unit, m.agencies from measures m"
        " join indicators i on i.measure_id = m.id where i.id = ?",
        [kpi["indicator_id"]],
    )
    return {
        "series": series,
        "series_chart": series_chart(series),
        "measure": measures[0] if measures else None,
    }


SERIES_BOX = (320, 170)  # the SVG's own units; it scales to the page's width


def series_chart(series: list[Row]) -> Row | None:
    """Points for an inline SVG of target and result per fiscal year; None without a number."""
    values = [float(r[k]) for r in series for k in ("target", "result") if r.get(k) is not None]
    if not values:
        return None
    width, height = SERIES_BOX
    left, right, top_y, bottom_y = 34, 10, 12, height - 34
    low, high = min(0.0, *values), max(values)
    span = (high - low) or 1.0
    step = (width - left - right) / len(series)

    def y(value: float) -> float:
        return round(bottom_y - (bottom_y - top_y) * (value - low) / span, 1)

    points = []
    for i, row in enumerate(series):
        x = round(left + step * (i + 0.5), 1)
        points.append(
            {
                **row,
                "x": x,
                "target_y": None if row["target"] is None else y(row["target"]),
                "result_y": None if row["result"] is None else y(row["result"]),
            }
        )

    def line(key: str) -> str:
        return " ".join(f"{p['x']},{p[key]}" for p in points if p[key] is not None)

    return {
        "width": width,
        "height": height,
        "left": left,
        "right": width - right,
        "bottom": bottom_y,
        "points": points,
        "target_line": line("target_y"),
        "result_line": line("result_y"),
        "ticks": [{"value": v, "y": y(v)} for v in sorted({low, high})],
    }


def quarter_chart(quarters: list[Row], target: float | None) -> Row | None:
    """Bar positions (percent of the chart's height) for an inline SVG; None without results."""
    values = [q["result"] for q in quarters if q.get("result") is not None]
    if not values:
        return None
    top = max([*values, target or 0]) or 1.0
    bars = [
        {"quarter": q["quarter"], "value": q["result"], "height": round(80 * q["result"] / top, 2)}
        for q in quarters
        if q.get("result") is not None
    ]
    target_y = None if target is None else round(90 - 80 * target / top, 2)
    return {"bars": bars, "target_y": target_y, "width": 100 / max(4, len(bars))}


async def project_page(db: Any, pid: str) -> Row | None:
    """The project page's rows for ``pid`` (every mirror), newest capture first."""
    rows = await _rows(db, "select * from projects where pid = ? order by as_of desc, url", [pid])
    if not rows:
        return None
    project = rows[0]
    kpis = await _rows(
        db,
        "select distinct k.pid, k.title from project_kpis pk join kpis k on k.url = pk.kpi_url"
        " where pk.project_pid = ? order by k.pid",
        [pid],
    )
    return {
        "project": project,
        "editions": rows,
        "agency": await agency_name(db, project.get("agency_code")),
        "kpis": kpis,
        "versions": await versions(db, project["url"]),
    }


async def agency_page(db: Any, code: str) -> Row | None:
    """An agency's name, its indicators by fiscal year with on-target counts, recent changes."""
    kpis = await _rows(
        db,
        "select pid, title, fiscal_year, unit, target_text, result_text, on_target, page_kind"
        " from kpis where agency_code = ? order by fiscal_year is null, fiscal_year desc, pid",
        [code],
    )
    name = await agency_name(db, code)
    if not kpis and name is None:
        return None
    years: dict[Any, Row] = {}
    for kpi in kpis:
        year = years.setdefault(
            kpi["fiscal_year"],
            {"fiscal_year": kpi["fiscal_year"], "kpis": [], "scored": 0, "on": 0},
        )
        year["kpis"].append(kpi)
        if kpi["on_target"] is not None:
            year["scored"] += 1
            year["on"] += kpi["on_target"]
    changes = await _rows(
        db,
        "select v.pid, v.fetched_at, v.change_kind, k.title from kpi_versions v"
        " join kpis k on k.url = v.url where k.agency_code = ? and v.change_kind != 'new'"
        " order by v.fetched_at desc limit ?",
        [code, RECENT_CHANGES],
    )
    return {"code": code, "name": name, "years": list(years.values()), "changes": changes}


SEARCH_LIMIT = 50
# The trigram index cannot match a term under three characters; those fall back to a scan with
# instr() (LIKE on a trigram table returns no row for such a pattern on SQLite 3.40).
TRIGRAM_MIN = 3
# Rows taken from each table before they are ranked in Python (thai_rank costs Python time per
# row): KPIs whose title holds the term first, then the newest fiscal year; reports, the newest.
SEARCH_CANDIDATES = 100
# Candidates (rows holding every trigram of the term) rechecked per table, the latest written
# first: a common word is in most of a 30,000-page archive, and each recheck reads a row.
SEARCH_RECHECKED = 1000
_THAI_DIGITS = str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙")
_KPI_TEXT = "title, definition, calculation, data_sources, summary"
_KPI_COLUMNS = ", ".join(f"k.{c}" for c in _KPI_TEXT.split(", "))
_KPI_JOINED = " || char(10) || ".join(f"coalesce(k.{c}, '')" for c in _KPI_TEXT.split(", "))


async def search(db: Any, query: str) -> list[Row]:
    """Indicators and reports holding ``query`` (printed or folded); one row per pid, best first."""
    from kpi_archive.publish.plugin.functions import snippet, thai_rank

    folded = thai.fold(query)
    if not folded or not await db.table_exists("kpis_fts"):
        return []
    match = trigram_match(query)
    if match is not None:
        # The index's candidates, rechecked against the text as printed and as folded.
        picked = {
            table: candidates_sql(
                table, "t", match=":match", query=":query", newest=SEARCH_RECHECKED
            )
            for table in ("kpis", "reports")
        }
        kpi_where = (
            f"k.rowid in (select t.rowid from kpis t where {picked['kpis']}"
            f" order by {fast_holds(':query', ['t.title'])} desc, t.fiscal_year is null,"
            f" t.fiscal_year desc, t.rowid desc limit {SEARCH_CANDIDATES})"
        )
        report_where = (
            f"r.rowid in (select t.rowid from reports t where {picked['reports']}"
            f" order by t.date is null, t.date desc, t.rowid desc limit {SEARCH_CANDIDATES})"
        )
    else:
        # 1–2 letters: a scan of the text as printed, in its Arabic- and Thai-digit spellings.
        kpi_where = f"(instr(lower({_KPI_JOINED}), :folded) or instr(lower({_KPI_JOINED}), :thai))"
        report_where = "(instr(lower(r.text), :folded) or instr(lower(r.text), :thai))"
    params = {
        "match": match,
        "query": query,
        "folded": folded,
        "thai": folded.translate(_THAI_DIGITS),
    }
    # A KPI page prints the strategy lines it supports: a reader searches those words too.
    strategy = (
        "k.url in (select url from kpi_strategies where strategy_id in (select id from strategies"
        f" where instr(thai_fold(coalesce(text, title)), :folded)) limit {SEARCH_CANDIDATES})"
    )
    rows = await _rows(
        db,
        f"select 'kpi' as kind, k.url, null as position, null as report, {_KPI_COLUMNS},"
        " (select group_concat(line, char(10)) from (select coalesce(s.text, s.title) as line"
        "  from kpi_strategies ks join strategies s on s.id = ks.strategy_id"
        "  where ks.url = k.url order by ks.position)) as strategies,"
        " k.pid, k.fiscal_year, k.page_kind, null as date_text"
        f" from kpis k where {kpi_where} or {strategy}"
        " union all"
        " select 'report', r.url, r.position, r.text, k.title, null, null, null, null, null, k.pid,"
        " k.fiscal_year, k.page_kind, r.date_text"
        f" from reports r join kpis k on k.url = r.url where {report_where}"
        f" limit {3 * SEARCH_CANDIDATES}",
        params,
    )
    for row in rows:
        texts = [row[c] for c in (*_KPI_TEXT.split(", "), "strategies")]
        row["text"] = row["report"] or "\n".join(t for t in texts if t)
        row["score"] = thai_rank(row["text"], folded)
    rows.sort(key=lambda r: (-r["score"], -(r["fiscal_year"] or 0), r["pid"] or ""))
    merged: dict[str, Row] = {}
    for row in rows[:500]:
        hit = merged.get(row["pid"])
        if hit is None:
            before, match, after = snippet(row["text"], query)
            hit = merged[row["pid"]] = {
                **row, "before": before, "match": match, "after": after, "reports": 0
            }  # fmt: skip
        if row["kind"] == "report":
            hit["reports"] += 1
        if len(merged) >= SEARCH_LIMIT:
            break
    return list(merged.values())


def record_cell(row: Any, value: Any, database: str, datasette: Any) -> Markup | None:
    """A ``kpi_versions.record`` cell as its JSON text, cut as Datasette cuts long text.

    The column holds the record zstd-compressed (``archive.versions``): without this Datasette
    shows ``<Binary: N bytes>``. Datasette 0.65 does not tell a cell which page it is on, so the
    row page cuts it too, and a cut record links to the whole one as JSON.
    """
    if not isinstance(value, bytes):
        return None
    text = record_json(value) or ""
    limit = datasette.setting("truncate_cells_html")
    if not limit or len(text) <= limit:
        return Markup.escape(text)
    query = urlencode({"sql": WHOLE_RECORD_SQL, "id": row["id"], "_shape": "array"})
    href = f"{datasette.urls.database(database, format='json')}?{query}"
    return Markup('{}… <a href="{}">ทั้งฉบับ / whole record (JSON)</a>').format(text[:limit], href)
