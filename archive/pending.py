"""Which pages the derived tables (indicators, measures, observations, child-row stamps) lag.

Triggers (``ensure_pending``, created by migration m013) put a page's url in ``derived_pending``
whenever what the derived tables read of it is written: its ``kpis`` or ``projects`` row (the
columns grouping and stamping read), or a new ``kpi_versions`` row; a deleted ``kpis`` row leaves
the indicator it was in. ``archive.refresh_derived`` reads the set, brings those pages up to date
and empties it in the same transaction, so a nightly finish costs what changed, not what the
archive holds.

It rebuilds everything instead (``needs_full``) when that is cheaper, more than ``FULL_SHARE`` of
the pages pending (a first load, an import, a reparse), or when the matching rules changed since
the last refresh (``rules_fingerprint``: the overrides file and the code that makes name keys).
"""

from __future__ import annotations

import hashlib
import sqlite3
from functools import lru_cache
from pathlib import Path

from sqlite_utils import Database

# Pending share of the archive's pages above which one set-based rebuild is chosen. At 32,500
# pages, CPU: 5 % pending 0.7 s, 25 % 1.9 s, 60 % 4.3 s, a rebuild 5.1 s; the scoped refresh's
# scattered reads make its wall time catch up sooner, so the line is drawn low.
FULL_SHARE = 0.25
SCOPE = "temp.derived_scope"
_HERE = Path(__file__).resolve().parent
RULES = (
    _HERE / "series.py",
    _HERE / "data" / "indicator_overrides.csv",
    _HERE.parent / "parsers" / "thai.py",
)
# The columns each source table's derived rows read; writing any of them makes the page pending.
WATCHED = {
    "kpis": ("pid", "agency_code", "title", "name", "unit", "fiscal_year", "as_of"),
    "projects": ("pid", "as_of"),
    "kpi_versions": (),
}


def ensure_pending(db: Database) -> None:
    """Create ``derived_pending``, ``derived_state`` and the triggers that fill the first."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS derived_pending (url TEXT PRIMARY KEY, indicator_id INTEGER) "
        "WITHOUT ROWID"
    )
    db.execute(
        "CREATE TABLE IF NOT EXISTS derived_state (name TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID"
    )
    # Not INSERT OR IGNORE: an outer statement's conflict clause (an upsert) overrides it.
    add = (
        "INSERT INTO derived_pending (url) SELECT {0}.url "
        "WHERE NOT EXISTS (SELECT 1 FROM derived_pending WHERE url = {0}.url)"
    )
    for table, columns in WATCHED.items():
        events = {"ai": f"INSERT ON [{table}] BEGIN {add.format('new')}; END"}
        if columns:
            events["au"] = (
                f"UPDATE OF {', '.join(columns)} ON [{table}] BEGIN {add.format('new')}; END"
            )
        for suffix, event in events.items():
            db.execute(f"CREATE TRIGGER IF NOT EXISTS [{table}_pending_{suffix}] AFTER {event}")
    if "indicator_id" in db.table("kpis").columns_dict:
        # A deleted page leaves the indicator it counted in, whose facts change or which goes.
        db.execute(
            "CREATE TRIGGER IF NOT EXISTS [kpis_pending_ad] AFTER DELETE ON [kpis] BEGIN "
            f"{add.format('old')}; UPDATE derived_pending SET indicator_id = old.indicator_id "
            "WHERE url = old.url AND indicator_id IS NULL; END"
        )


@lru_cache(maxsize=1)
def rules_fingerprint() -> str:
    """A digest of what decides which indicator a page belongs to."""
    digest = hashlib.sha256()
    for path in RULES:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def needs_full(conn: sqlite3.Connection) -> bool:
    """Whether the derived tables must be rebuilt from every page rather than the pending ones."""
    stored = conn.execute("SELECT value FROM derived_state WHERE name = 'rules'").fetchone()
    if stored is None or stored[0] != rules_fingerprint():
        return True
    (pending,) = conn.execute("SELECT count(*) FROM derived_pending").fetchone()
    return bool(pending) and past_full_share(conn, pending)


def past_full_share(conn: sqlite3.Connection, pending: int) -> bool:
    """Whether ``pending`` pages are more than ``FULL_SHARE`` of the archive's KPIs and projects:
    then one rebuild is cheaper than working through them (the derived tables, the search index)."""
    (pages,) = conn.execute(
        "SELECT (SELECT count(*) FROM kpis) + (SELECT count(*) FROM projects)"
    ).fetchone()
    return bool(pending > FULL_SHARE * pages)


def open_scope(conn: sqlite3.Connection) -> None:
    """``SCOPE``: the pending urls, which the refresh adds the pages they affect to."""
    conn.execute(f"DROP TABLE IF EXISTS {SCOPE}")
    conn.execute(f"CREATE TABLE {SCOPE} (url TEXT PRIMARY KEY) WITHOUT ROWID")
    conn.execute(f"INSERT INTO {SCOPE} SELECT url FROM derived_pending")


def caught_up(conn: sqlite3.Connection) -> None:
    """Empty the pending set and record the rules the derived tables now follow."""
    conn.execute("DELETE FROM derived_pending")
    conn.execute(
        "INSERT INTO derived_state (name, value) VALUES ('rules', ?) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        [rules_fingerprint()],
    )
    conn.execute(f"DROP TABLE IF EXISTS {SCOPE}")
