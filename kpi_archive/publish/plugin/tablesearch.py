"""The search box of a table page over a contentless trigram index, planned for a big archive.

A table's ``plugins: kpi_archive: fts_table`` (``kpis_fts``, ``reports_fts``) gives the box its
index; this module's ``filters_from_request`` turns ``?_search=`` (and ``?_search_<column>=``,
``?_searchmode=raw``) into the same ``where`` clause, description and search box Datasette's own
``fts_table`` gives, with one difference: how SQLite reads the rows the index found.

Datasette writes ``rowid in (select rowid from <fts> where <fts> match …)``, and SQLite, which
guesses that an index match returns about 25 rows, then fetches every matching row by rowid. The
page runs that clause once for its rows, once for the count and once per facet: for ``ร้อยละ`` on
30,000 KPIs that is 19,103 rows of about 4 KB fetched eight times (issue 12: 470 ms). When the
term is common, the clause is written ``+rowid in (…)``: the ``+`` stops SQLite using the rowid to
look rows up, so it reads the matches in the order of the index the page needs (``pid``, ``date``)
and stops at the page's size, and counts and facets come from covering indexes. A rare term keeps
the rowid look-ups, which are then the cheaper plan.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from datasette.database import QueryInterrupted
from datasette.filters import FilterArguments
from datasette.utils import escape_sqlite
from datasette.utils.asgi import BadRequest

PLUGIN = "kpi_archive"
# Past this many matches a scan of an index (with the matches as a set) beats a look-up per match:
# a look-up reads a whole table page, a scan reads hundreds of index entries per page.
SCAN_FROM_MATCHES = 1000


def fts_table(datasette: Any, database: str, table: str) -> str | None:
    """The full-text table the plugin's metadata gives ``table``, if any."""
    config = datasette.plugin_config(PLUGIN, database=database, table=table, fallback=False)
    name = (config or {}).get("fts_table")
    return name if isinstance(name, str) else None


async def common(db: Any, fts: str, match: str, params: dict[str, Any]) -> bool:
    """Whether ``match`` finds at least ``SCAN_FROM_MATCHES`` rows (it stops counting there)."""
    sql = (
        f"select count(*) from (select rowid from {escape_sqlite(fts)}"
        f" where {match} limit {SCAN_FROM_MATCHES})"
    )
    try:
        count = (await db.execute(sql, params)).rows[0][0]
    except (QueryInterrupted, sqlite3.DatabaseError):  # the table's own query reports it
        return False
    return bool(count >= SCAN_FROM_MATCHES)


async def search_filter(
    request: Any, database: str, table: str, datasette: Any
) -> FilterArguments | None:
    """The ``where`` clause, description and template context of a table's search box."""
    fts = fts_table(datasette, database, table)
    if fts is None:
        return None
    db = datasette.get_database(database)
    raw = datasette.table_metadata(database, table).get("searchmode") == "raw"
    mode = request.args.get("_searchmode")
    raw = raw if mode not in ("raw", "escaped") else mode == "raw"
    searches = {
        key: request.args[key]
        for key in request.args
        if key.startswith("_search") and key != "_searchmode"
    }
    context: dict[str, Any] = {"supports_search": True}
    if not searches:
        return FilterArguments([], extra_context=context)
    if "_search" in searches:
        terms = [("search", None, searches["_search"])]
    else:
        columns = await db.table_columns(fts)
        terms = []
        for i, (key, text) in enumerate(searches.items()):
            column = key.split("_search_", 1)[1]
            if column not in columns:
                raise BadRequest("Cannot search by that column")
            terms.append((f"search_{i}", column, text))
    clauses, params, descriptions = [], {}, []
    for param, column, text in terms:
        target = escape_sqlite(fts) if column is None else escape_sqlite(column)
        match = f"{target} match " + (f":{param}" if raw else f"escape_fts(:{param})")
        plus = "+" if await common(db, fts, match, {param: text}) else ""
        clauses.append(f"{plus}rowid in (select rowid from {escape_sqlite(fts)} where {match})")
        params[param] = text
        descriptions.append(
            f'search matches "{text}"'
            if column is None
            else f'search column "{column}" matches "{text}"'
        )
        context["search"] = text
    return FilterArguments(clauses, params, descriptions, context)
