"""The Datasette plugin package: metadata, Thai SQL functions, journalist pages, feeds, hardening.

Registered as the ``kpi_archive`` entry point of the ``datasette`` group, so ``kpi-archive serve``,
the tests' ``Datasette([path])`` and a plain ``datasette data/demo.db`` all get the same site:

- ``get_metadata``: the packaged ``metadata.yml``, keyed by the name of every served database
  that is an archive (no metadata file, no second configuration path);
- ``templates/`` and ``static/`` beside this file (Datasette finds them for a plugin package);
- ``filters_from_request``, ``asgi_wrapper``: the search box of tables with a trigram index, and
  a common term's page without its exact count and facets (``tablesearch``);
- ``register_routes``: ``/kpi/<pid>``, ``/citydb/<pid>``, ``/project/<pid>``, ``/agency/<code>``,
  ``/search``, ``/capture/<id>`` (and ``.raw``), and Atom feeds (``routes``, ``feeds``);
- ``prepare_connection``: the SQL functions of ``functions``, a memory-mapped file, and an
  authorizer that reads crawl bookkeeping (``runs``, ``fetch_log``, ``frontier``,
  ``crawl_lock``) and stored HTTP headers (``snapshots.headers``: cookies) as NULL on every
  connection, so neither ``?sql=`` nor a table page can show them; ``permission_allowed`` hides
  those tables too.

- ``prepare_jinja2_environment``: ``query_rows()`` and ``table_rows()``, result tables' rows
  (``rows``);
- ``startup``: the segmenter's dictionary loaded, each database's table counts taken without
  the full-text tables (``count_tables``), and datasette-render-markdown's per-cell lookup
  dropped (``drop_markdown_cells``).

Everything is inert on a database that is not a KPI archive.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import types
from collections.abc import Awaitable, Callable
from typing import Any

from datasette import hookimpl
from datasette.database import QueryInterrupted
from markupsafe import Markup

from archive import versions
from archive.schema import PRIVATE_TABLES
from archive.search import register as register_search
from kpi_archive.publish.plugin import feeds, pages, routes, rows, tablesearch
from kpi_archive.publish.plugin.functions import (
    register,
    thai_fold,
    thai_normalize,
    thai_rank,
    thai_segment,
    thai_snippet,
)
from kpi_archive.publish.plugin.metadata import metadata_for
from parsers import thai

__all__ = ["thai_fold", "thai_normalize", "thai_rank", "thai_segment", "thai_snippet"]

# Read connections map the file instead of copying each page into their own 2 MB cache: a search
# or facet on 30,000 KPIs reads tens of thousands of pages, and with a mapping the three connections
# share the operating system's cache of the file (SQLite caps the size at its build's maximum).
MMAP_BYTES = 2**31

# Crawl bookkeeping and raw HTTP headers: kept in the file for the operator, never served.
PRIVATE_COLUMNS = frozenset((("snapshots", "headers"),))


def _authorizer(action: int, arg1: str | None, arg2: str | None, *_: Any) -> int:
    if action == sqlite3.SQLITE_READ and (
        arg1 in PRIVATE_TABLES or (arg1, arg2) in PRIVATE_COLUMNS
    ):
        return sqlite3.SQLITE_IGNORE
    return sqlite3.SQLITE_OK


@hookimpl
def prepare_connection(conn: sqlite3.Connection) -> None:
    """Register the Thai SQL functions and the authorizer that blanks private columns."""
    register(conn)
    versions.register(conn)  # kpi_record(): kpi_versions.record as JSON text
    register_search(conn)  # trigram_match(), thai_holds(): the trigram search's two halves
    conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
    conn.set_authorizer(_authorizer)


@hookimpl
def get_metadata(datasette: Any, key: Any, database: Any, table: Any) -> dict[str, Any]:
    """The packaged metadata for every served database (Datasette merges it)."""
    names = [name for name in datasette.databases if not name.startswith("_")]
    return metadata_for(names)


async def _resolved(value: dict[str, Any]) -> dict[str, Any]:
    return value


@hookimpl
def asgi_wrapper(datasette: Any) -> Callable[[Any], Any]:
    """A common term's table page skips its exact count and facets (``tablesearch``)."""

    def wrap(app: Any) -> Any:
        async def skipping(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await app(await tablesearch.skip_totals(datasette, scope), receive, send)

        return skipping

    return wrap


# Last, so its ``supports_search`` outranks Datasette's own filter, which finds no index for the
# contentless full-text tables.
@hookimpl(trylast=True)
def filters_from_request(
    request: Any, database: str, table: str, datasette: Any
) -> Callable[[], Awaitable[Any]]:
    """The search box of ``kpis`` and ``reports`` (``tablesearch``)."""

    async def inner() -> Any:
        return await tablesearch.search_filter(request, database, table, datasette)

    return inner


@hookimpl
def permission_allowed(action: str, resource: Any) -> bool | None:
    """Refuse the private tables' pages (their data is blank anyway)."""
    if action == "view-table" and isinstance(resource, tuple) and resource[1] in PRIVATE_TABLES:
        return False
    return None


_KPI_PID = re.compile(r"[0-9]{4}-[0-9A-Za-z]+")
_PROJECT_PID = re.compile(r"[0-9]{8}-[0-9]+")


@hookimpl
def render_cell(
    row: Any, value: Any, column: str, table: str | None, database: str, datasette: Any
) -> Markup | None:
    """A ``pid`` cell, in any table or canned query, links to our page for it."""
    if table == "kpi_versions" and column == "record":
        return pages.record_cell(row, value, database, datasette)
    if column not in ("pid", "project_pid") or not isinstance(value, str):
        return None
    # The patterns admit only digits, letters and a hyphen, nothing to escape: Markup.format's
    # escaping formatter cost 8 µs a cell, 8 ms of a 1,000-row canned query's page (issue 12).
    if _PROJECT_PID.fullmatch(value):
        return Markup(f'<a href="/project/{value}">{value}</a>')
    if _KPI_PID.fullmatch(value):
        return Markup(f'<a href="/kpi/{value}">{value}</a>')
    return None


@hookimpl
def prepare_jinja2_environment(env: Any) -> None:
    """``query_rows()`` and ``table_rows()`` for our copies of ``query.html`` and
    ``_table.html``: the rows of a result table without Jinja's loop."""
    env.globals["query_rows"] = rows.query_rows
    env.globals["table_rows"] = rows.table_rows


@hookimpl
def register_routes() -> list[tuple[str, Callable[..., Awaitable[Any]]]]:
    """The journalist pages and feeds."""
    return [*feeds.ROUTES, *routes.ROUTES]


@hookimpl
def extra_template_vars(
    view_name: str, table: str | None, database: str | None, request: Any, datasette: Any
) -> Callable[[], Awaitable[dict[str, Any]]] | None:
    """On a ``kpis`` row page: its quarters and target, and the link to its indicator page. On
    a table page whose search skipped its totals: the form's fields and the link to them."""
    if view_name == "table" and request is not None and request.scope.get(tablesearch.SKIPPED_KEY):
        facets = datasette.table_metadata(database, table).get("facets", [])
        return lambda: _resolved(tablesearch.skipped_totals_vars(request, facets))
    if view_name != "row" or table != "kpis" or database is None or request is None:
        return None

    async def quarters() -> dict[str, Any]:
        from datasette.utils import tilde_decode

        db = datasette.get_database(database)
        url = tilde_decode(request.url_vars.get("pks", ""))
        rows = await db.execute(
            "select q.quarter, q.result, q.result_text, q.assessment, q.score_2_1, q.score_2_2,"
            " k.target_value, k.target_text, k.unit, k.pid, k.page_kind"
            " from kpis k left join quarters q on q.url = k.url where k.url = ? order by q.quarter",
            [url],
        )
        found = [dict(r) for r in rows.rows]
        return {
            "kpi_quarters": [r for r in found if r["quarter"] is not None],
            "kpi_page": f"/{found[0]['page_kind']}/{found[0]['pid']}" if found else None,
        }

    return quarters


_FTS_TABLES = "select name from sqlite_master where sql like 'CREATE VIRTUAL TABLE%USING FTS%'"
_FTS_SHADOWS = ("_data", "_idx", "_content", "_docsize", "_config")


def count_tables(db: Any) -> Callable[..., Awaitable[dict[str, int | None]]]:
    """``db.table_counts`` without counting the full-text tables and their shadow tables.

    The database page counts every table on every view (5 ms limit each), but SQLite counts a
    table in one step the time limit cannot stop: each trigram index's ``_content`` and ``_data``
    took 130–340 ms at 30,000 pages. Those tables are hidden and read "Many rows" instead.
    """

    async def table_counts(limit: int = 10) -> dict[str, int | None]:
        fts = {row[0] for row in (await db.execute(_FTS_TABLES)).rows}
        skipped = fts | {name + suffix for name in fts for suffix in _FTS_SHADOWS}
        counts: dict[str, int | None] = {}
        for table in await db.table_names():
            if table in skipped:
                counts[table] = None
                continue
            try:
                sql = f"select count(*) from [{table}]"
                counts[table] = (await db.execute(sql, custom_time_limit=limit)).rows[0][0]
            except (QueryInterrupted, sqlite3.DatabaseError):
                counts[table] = None
        return counts

    return table_counts


MARKDOWN_PLUGIN = "render_markdown"
MARKDOWN_HOOKS_KEPT = ("extra_template_vars", "prepare_jinja2_environment")


def drop_markdown_cells() -> None:
    """Unregister datasette-render-markdown's ``render_cell``, keeping its other hooks.

    datasette-dashboards needs the plugin for its markdown charts (``render_markdown()`` and the
    ``{% markdown %}`` tag, which stay), but its ``render_cell`` looks up its configuration for
    every text cell of every page, about 10 µs each, to find columns named ``*_markdown``, and an
    archive has none: 0.1 s of a 1,000-row canned query's page (issue 12).
    """
    # Imported here, not with the module: importing datasette.plugins loads every plugin's entry
    # point, this one included, and a module registered while half-imported has none of its hooks
    # (``from kpi_archive.publish.plugin.metadata import template`` before Datasette did that).
    from datasette.plugins import pm

    plugin = pm.get_plugin(MARKDOWN_PLUGIN)
    if plugin is None or not hasattr(plugin, "render_cell"):
        return
    kept = types.ModuleType(plugin.__name__, plugin.__doc__)
    for name in MARKDOWN_HOOKS_KEPT:
        if hasattr(plugin, name):
            setattr(kept, name, getattr(plugin, name))
    pm.unregister(plugin)
    pm.register(kept, name=MARKDOWN_PLUGIN)


@hookimpl
def startup(datasette: Any) -> Callable[[], Awaitable[None]]:
    """Load the segmenter's dictionary before the first search instead of during it; count
    tables without the full-text ones; drop the markdown plugin's cell renderer."""
    drop_markdown_cells()

    async def warm_up() -> None:
        for name, db in datasette.databases.items():
            if not name.startswith("_") and db.is_mutable and await db.table_exists("kpis"):
                db.table_counts = count_tables(db)
        await asyncio.get_running_loop().run_in_executor(None, thai.words, "ค้นหา")

    return warm_up
