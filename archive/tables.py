"""Write one parsed record into the typed tables: the current state of each page.

Each page's rows are replaced as a whole when its record changes (children deleted and inserted
again); these tables are derived from the snapshots and can always be rebuilt by ``reparse``. Rows
go through ``archive.fastpath`` (cached statements; see there why not sqlite-utils' ``insert``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from archive.fastpath import insert, insert_many, upsert
from archive.schema import MODEL_TABLES, model_columns, strategy_number
from archive.search import unindex
from parsers.models import PARSER_VERSION, DepartmentPage, KpiPage, ProjectPage, Strategy
from parsers.thai import fiscal_quarter, fiscal_year

# Units that read "not more than …" make a lower result better. Units with ลดลง ("reduced") are
# not among them: the site measures the reduction itself (5017-832: target ลดลงร้อยละ 5, result 34).
LOWER_IS_BETTER_UNITS = ("ไม่เกิน", "ไม่มากกว่า")

_CHILD_TABLES = {
    "quarters": "url",
    "reports": "url",
    "kpi_strategies": "url",
    "project_kpis": "kpi_url",
    "agency_reports": "url",
    "agency_report_quarters": "url",
}


def agency_code(pid_or_dep: str | None) -> str | None:
    """The 4-digit owning unit: ``0411-2029`` → ``0411``, ``50240000-3561`` → ``5024``."""
    if not pid_or_dep:
        return None
    prefix = pid_or_dep.split("-", 1)[0].strip()
    if len(prefix) == 8 and prefix.isdigit():
        return prefix[:4]
    if "-" in pid_or_dep and len(prefix) == 4 and prefix.isdigit():
        return prefix
    return None


def on_target(unit: str | None, target: float | None, result: float | None) -> int | None:
    """1 if the result meets the target, 0 if not, None unless both are numbers."""
    if target is None or result is None:
        return None
    if unit and unit.strip().startswith(LOWER_IS_BETTER_UNITS):
        return int(result <= target)
    return int(result >= target)


def write_record(
    conn: sqlite3.Connection,
    url: str,
    record: KpiPage | ProjectPage | DepartmentPage,
    data: dict[str, Any],
    snapshot_id: int,
    as_of: str,
    code: str | None,
    *,
    first: bool = False,
) -> None:
    """Replace everything the typed tables hold for ``url`` with what ``record`` says.

    ``first``: the page has no rows here yet (its first body), so there is nothing to delete.
    """
    unindex(conn, url, first=first)
    if not first:
        for table, key in _CHILD_TABLES.items():
            conn.execute(f"DELETE FROM [{table}] WHERE [{key}] = ?", [url])
    page: dict[str, Any] = {
        "agency_code": code,
        "parser_version": PARSER_VERSION,
        "as_of": as_of,
        "snapshot_id": snapshot_id,
    }
    if isinstance(record, DepartmentPage):
        _write_department(conn, url, record, data, page, first)
        return
    if isinstance(record, KpiPage):
        row = _model_row("kpis", data, url, page)
        row["on_target"] = on_target(record.unit, record.target_value, record.result_value)
        if code:  # kpis.agency_code is a foreign key: the agency gets its row (named later)
            conn.execute(
                "INSERT INTO agencies (code, dep_code) VALUES (?, ?) ON CONFLICT (code) DO NOTHING",
                [code, code + "0000"],
            )
        _write_row(conn, "kpis", row, first)
        _write_links(conn, url, record.strategies, data)
    else:
        _write_row(conn, "projects", _model_row("projects", data, url, page), first)
        if code and record.owner_unit:
            conn.execute(
                "INSERT INTO agencies (code, dep_code, name, source_url) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (code) DO UPDATE SET name = excluded.name, "
                "source_url = excluded.source_url WHERE name IS NOT excluded.name",
                [code, code + "0000", record.owner_unit, url],
            )
    stamp = (data.get("pid"), as_of)
    quarters = data["quarters"]
    _insert_rows(conn, "quarters", quarters, url, ("pid", "as_of"), [stamp] * len(quarters))
    reports = data["reports"]
    if reports:
        extra = []
        for position, report in enumerate(record.reports):
            day = report.date
            fiscal = (fiscal_year(day), fiscal_quarter(day)) if day else (None, None)
            extra.append((position, *fiscal, *stamp))
        _insert_rows(
            conn,
            "reports",
            reports,
            url,
            ("position", "date_fiscal_year", "date_fiscal_quarter", "pid", "as_of"),
            extra,
        )


def _write_links(
    conn: sqlite3.Connection, url: str, strategies: Sequence[Strategy], data: dict[str, Any]
) -> None:
    links, rows = [], []
    for position, strategy in enumerate(strategies):
        sid = strategy_number(" ".join(p for p in (strategy.code, strategy.title) if p))
        rows.append((sid, strategy.code, strategy.title, strategy.level, strategy.text))
        links.append({"url": url, "position": position, "strategy_id": sid})
    if rows:
        conn.executemany(
            "INSERT INTO strategies (id, code, title, level, text) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO NOTHING",
            rows,
        )
    # Keyed by (url, position): distinct within the page, and none stored (see write_record).
    insert_many(conn, "kpi_strategies", links, distinct=True)
    insert_many(
        conn,
        "project_kpis",
        [
            {
                "kpi_url": url,
                "position": position,
                "project_pid": ref.get("pid"),
                "project_name": ref.get("name"),
                "project_url": ref.get("url"),
            }
            for position, ref in enumerate(data["projects"])
        ],
        distinct=True,
    )


def _write_department(
    conn: sqlite3.Connection,
    url: str,
    record: DepartmentPage,
    data: dict[str, Any],
    page: dict[str, Any],
    first: bool,
) -> None:
    row = _model_row("department_pages", data, url, page)
    row["entry_count"] = len(record.entries)
    _write_row(conn, "department_pages", row, first)
    code = page["agency_code"]
    if code:
        conn.execute(
            "INSERT INTO agencies (code, dep_code, source_url) VALUES (?, ?, ?) "
            "ON CONFLICT (code) DO NOTHING",
            [code, record.agency_code, url],
        )
    entries, quarters = [], []
    for entry, raw in zip(record.entries, data["entries"], strict=True):
        entries.append(
            _model_row("agency_reports", raw, url, {})
            | {
                "agency_code": code,
                "fiscal_year": record.fiscal_year,
                "kpi_url": entry.url,
                "on_target": on_target(entry.unit, entry.target_value, entry.result_value),
            }
        )
        quarters += [(q, entry.seq) for q in raw["quarters"]]
    insert_many(conn, "agency_reports", entries)
    if quarters:
        _insert_rows(
            conn,
            "agency_report_quarters",
            [q for q, _ in quarters],
            url,
            ("seq",),
            [(seq,) for _, seq in quarters],
        )


def _write_row(conn: sqlite3.Connection, table: str, row: dict[str, Any], first: bool) -> None:
    """The page's own row: a first body has none yet, so a plain INSERT (cheaper than upsert)."""
    if first:
        insert(conn, table, row)
    else:
        upsert(conn, table, row, ("url",))


def _model_row(table: str, data: dict[str, Any], url: str, extra: dict[str, Any]) -> dict[str, Any]:
    columns = _columns(table)
    row: dict[str, Any] = {}
    for name, value in data.items():
        if name not in columns:
            continue
        kind = type(value)
        if kind is list or kind is dict:
            value = json.dumps(value, ensure_ascii=False) if value else _EMPTY[kind]
        elif kind is bool:
            value = int(value)
        row[name] = value
    row["url"] = url
    row.update(extra)
    return row


_EMPTY = {list: "[]", dict: "{}"}


def _insert_rows(
    conn: sqlite3.Connection,
    table: str,
    items: list[dict[str, Any]],
    url: str,
    extra_names: tuple[str, ...] = (),
    extra_values: Sequence[tuple[Any, ...]] | None = None,
) -> None:
    """``_model_row`` for a page's child rows, straight to one ``executemany``.

    The rows of a table are built as tuples (no dict per row): a page writes ~10 of them.
    """
    if not items:
        return
    plan = _child_plan(table, tuple(items[0]), extra_names)
    rows = []
    for position, item in enumerate(items):
        row = [_cell(item.get(name)) for name in plan.names]
        row.append(url)
        if extra_values is not None:
            row += extra_values[position]
        rows.append(row)
    # The page's rows were deleted (or never written) first, so only a key repeated within the
    # page (a quarter printed twice) needs REPLACE, the later row winning; a plain INSERT is
    # about a third cheaper a row with foreign keys on.
    keys = {tuple(row[i] for i in plan.key) for row in rows}
    conn.executemany(plan.insert if len(keys) == len(rows) else plan.replace, rows)


def _cell(value: Any) -> Any:
    kind = type(value)
    if kind is list or kind is dict:
        return json.dumps(value, ensure_ascii=False) if value else _EMPTY[kind]
    if kind is bool:
        return int(value)
    return value


@dataclass(frozen=True)
class _ChildPlan:
    names: tuple[str, ...]  # the model columns, in row order; then url and the extras
    key: tuple[int, ...]  # where the primary key's columns sit in a row
    insert: str
    replace: str


@lru_cache(maxsize=64)
def _child_plan(table: str, keys: tuple[str, ...], extra_names: tuple[str, ...]) -> _ChildPlan:
    """How a child table's rows are written from records with the fields ``keys``."""
    columns = _columns(table)
    names = tuple(k for k in keys if k in columns and k != "url" and k not in extra_names)
    every = (*names, "url", *extra_names)
    pk = MODEL_TABLES[table][1]
    key = tuple(every.index(c) for c in ((pk,) if isinstance(pk, str) else pk))
    insert = (
        f"INSERT INTO [{table}] ({', '.join(f'[{c}]' for c in every)}) "
        f"VALUES ({', '.join('?' for _ in every)})"
    )
    return _ChildPlan(names, key, insert, insert.replace("INSERT", "INSERT OR REPLACE", 1))


@lru_cache(maxsize=32)
def _columns(table: str) -> frozenset[str]:
    return frozenset(model_columns(table))
