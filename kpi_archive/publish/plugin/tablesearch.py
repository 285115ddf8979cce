"""The search box of a table page over a contentless trigram index, planned for a big archive.

A table's ``plugins: kpi_archive: fts_table`` (``kpis_fts``, ``reports_fts``) gives the box its
index; this module's ``filters_from_request`` turns ``?_search=`` (and ``?_search_<column>=``,
``?_searchmode=raw``) into the ``where`` clause, description and search box Datasette's own
``fts_table`` gives, with two differences. The index keeps no positions (``detail=none``), so
each word is looked up as the AND of its trigrams (``archive.search.trigram_match``) and each row
found is rechecked against the text (``thai_holds_words``; one column's text for
``_search_<column>``, the index having no columns); a word under three letters is the recheck
alone, a scan. And how SQLite reads the rows the index found:

Datasette writes ``rowid in (select rowid from <fts> where <fts> match …)``, and SQLite, which
guesses that an index match returns about 25 rows, then fetches every matching row by rowid. The
page runs that clause once for its rows, once for the count and once per facet: for ``ร้อยละ`` on
30,000 KPIs that is 19,103 rows of about 4 KB fetched eight times (issue 12: 470 ms). When the
term is common, the clause is written ``+rowid in (…)``: the ``+`` stops SQLite using the rowid to
look rows up, so it reads the matches in the order of the index the page needs (``pid``, ``date``)
and stops at the page's size, and counts and facets come from covering indexes. A rare term keeps
the rowid look-ups, which are then the cheaper plan.

``skip_totals`` (the plugin's ``asgi_wrapper``) also spares a common term's HTML page its exact
count and facets, and ``skipped_totals_vars`` gives the template the note and the link to them.
"""

from __future__ import annotations

import re
import sqlite3
import urllib.parse
from typing import Any

from datasette.database import QueryInterrupted
from datasette.filters import FilterArguments
from datasette.utils import escape_sqlite, path_with_removed_args, tilde_decode
from datasette.utils.asgi import BadRequest

from archive.schema import TRIGRAM_FTS
from archive.search import fast_holds, text_columns, trigram_match

PLUGIN = "kpi_archive"
# Past this many matches a scan of an index (with the matches as a set) beats a look-up per match:
# a look-up reads a whole table page, a scan reads hundreds of index entries per page.
SCAN_FROM_MATCHES = 1000


def fts_table(datasette: Any, database: str, table: str) -> str | None:
    """The full-text table the plugin's metadata gives ``table``, if any."""
    config = datasette.plugin_config(PLUGIN, database=database, table=table, fallback=False)
    name = (config or {}).get("fts_table")
    return name if isinstance(name, str) else None


def _indexed(fts: str) -> list[str]:
    """The text columns of the table ``fts`` indexes (``kpis_fts`` -> kpis' texts)."""
    return text_columns(fts.removesuffix("_fts")) if fts.removesuffix("_fts") in TRIGRAM_FTS else []


def _match(fts: str, param: str, text: str, *, raw: bool) -> tuple[str | None, dict[str, Any]]:
    """The MATCH of the search ``text`` (SQL naming ``:param``) and its parameters: the text
    itself in raw mode, else the candidates of ``archive.search.trigram_match`` (each word);
    None when no word has three letters (the recheck alone: a scan)."""
    if raw:
        return f"{escape_sqlite(fts)} match :{param}", {param: text}
    match = trigram_match(text, words=True)
    if match is None:
        return None, {}
    return f"{escape_sqlite(fts)} match :{param}_match", {f"{param}_match": match}


async def common(db: Any, fts: str, match: str | None, params: dict[str, Any]) -> bool:
    """Whether ``match`` finds at least ``SCAN_FROM_MATCHES`` candidates (it stops counting
    there); a scan (no ``match``) counts as common: its rows come in the page's order."""
    if match is None:
        return True
    sql = (
        f"select count(*) from (select rowid from {escape_sqlite(fts)}"
        f" where {match} limit {SCAN_FROM_MATCHES})"
    )
    try:
        count = (await db.execute(sql, params, log_sql_errors=False)).rows[0][0]
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
        # a blank box searches for nothing: every row, as Datasette's own box does
        if key.startswith("_search") and key != "_searchmode" and request.args[key].strip()
    }
    context: dict[str, Any] = {"supports_search": True}
    if not searches:
        return FilterArguments([], extra_context=context)
    texts = _indexed(fts)
    if "_search" in searches:
        terms = [("search", None, searches["_search"])]
    else:
        terms = []
        for i, (key, text) in enumerate(searches.items()):
            column = key.split("_search_", 1)[1]
            if column not in texts:
                raise BadRequest("Cannot search by that column")
            terms.append((f"search_{i}", column, text))
    clauses, params, descriptions = [], {}, []
    for param, column, text in terms:
        match, match_params = _match(fts, param, text, raw=raw)
        # skip_totals already found the page's own term common (and counted it once).
        known = column is None and request.scope.get(SKIPPED_KEY, False)
        plus = "+" if known or await common(db, fts, match, match_params) else ""
        # Every word must be in the row's texts (or, for one column, in that column's text).
        checked = [escape_sqlite(c) for c in ([column] if column else texts)]
        recheck = (
            fast_holds(f":{param}", checked)  # one word: instr() first, Python where it fails
            if len(text.split()) == 1
            else f"thai_holds_words(:{param}, {', '.join(checked)})"
        )
        if raw and column is None:
            clause = f"{plus}rowid in (select rowid from {escape_sqlite(fts)} where {match})"
        elif match is None:
            clause = recheck
        else:
            index = f"{plus}rowid in (select rowid from {escape_sqlite(fts)} where {match})"
            clause = f"{index} and {recheck}"
        clauses.append(clause)
        params.update({param: text, **match_params})
        descriptions.append(
            f'search matches "{text}"'
            if column is None
            else f'search column "{column}" matches "{text}"'
        )
        context["search"] = text
    return FilterArguments(clauses, params, descriptions, context)


# A common term's page skips the exact count and the facets: each would repeat the index match
# over every matching row (for ดำเนินการ in 116,000 reports: 60–90 ms each, three quarters of the
# page). The page says so and links to them (``?_totals=on``), as Datasette says "more than 1,000
# rows" of a long query. The JSON and CSV views are left whole.
SKIP_TOTALS = (("_nofacet", "1"), ("_nocount", "1"))
TOTALS_ARG = "_totals"
SKIPPED_KEY = "kpi_archive.totals_skipped"
_TABLE_PAGE = re.compile(r"/(?P<database>[^/]+)/(?P<table>[^/.]+)")


async def skip_totals(datasette: Any, scope: dict[str, Any]) -> dict[str, Any]:
    """``scope`` with ``_nofacet`` and ``_nocount`` added when it asks a table page (HTML) to
    search for a common term and names no facet; else ``scope`` itself."""
    page = _TABLE_PAGE.fullmatch(scope.get("path", ""))
    if scope.get("type") != "http" or scope.get("method") != "GET" or page is None:
        return scope
    args = urllib.parse.parse_qsl(
        scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True
    )
    names = {name for name, _ in args}
    asked = {name: value for name, value in args if name.startswith("_search")}
    if (
        not any(value.strip() for name, value in asked.items() if name != "_searchmode")
        or names & {TOTALS_ARG, "_facet", "_nofacet", "_nocount"}
        or any(name.startswith("_facet_") for name in names)
    ):
        return scope
    database, table = tilde_decode(page["database"]), tilde_decode(page["table"])
    if database not in datasette.databases:
        return scope
    fts = fts_table(datasette, database, table)
    term = asked.get("_search")
    if fts is None or not term or not term.strip():
        return scope
    match, params = _match(fts, "search", term, raw=asked.get("_searchmode") == "raw")
    if not await common(datasette.get_database(database), fts, match, params):
        return scope
    query = urllib.parse.urlencode([*args, *SKIP_TOTALS]).encode("latin-1")
    return {**scope, "query_string": query, SKIPPED_KEY: True}


def skipped_totals_vars(request: Any, facets: list[str]) -> dict[str, Any]:
    """Template variables of a page whose totals ``skip_totals`` skipped: the search form's hidden
    fields without the two it added, and the link that asks for them."""
    hidden = [
        (key, value)
        for key in request.args
        if key.startswith("_")
        and key not in ("_sort", "_sort_desc", "_search", "_next", *dict(SKIP_TOTALS))
        and "__" not in key
        for value in request.args.getlist(key)
    ]
    totals = path_with_removed_args(request, dict(SKIP_TOTALS))
    totals += ("&" if "?" in totals else "?") + f"{TOTALS_ARG}=on"
    return {
        "form_hidden_args": hidden,
        "totals_skipped": SCAN_FROM_MATCHES,
        "totals_url": totals,
        "totals_facets": facets,
    }
