"""Agency names for the ``agencies`` table, from the pages themselves and a bundled table.

``fill_names(db)`` gives every agency code the archive has seen (KPI, project and annual-report
pages) a row, and a name where the row has none: first a name a captured page printed (project
owner lines, saved by ``archive.tables``), else the bundled ``data/agency_names.tsv`` compiled
from the real BMA page texts by ``tools/agency_names.py``. A name a page printed is never
overwritten. Idempotent; ``archive.search.refresh_search`` calls it after every load.
"""

from __future__ import annotations

import csv
import functools
import io
import logging
from importlib.resources import files

from sqlite_utils import Database

log = logging.getLogger(__name__)

BUNDLED = "agency_names.tsv"


@functools.lru_cache(maxsize=1)
def bundled_names() -> dict[str, tuple[str, str]]:
    """``code -> (name, source_url)`` from the bundled table."""
    text = (files("archive") / "data" / BUNDLED).read_text(encoding="utf-8")
    return {
        row["code"]: (row["name"], row["source_url"])
        for row in csv.DictReader(io.StringIO(text), delimiter="\t")
    }


def fill_names(db: Database) -> int:
    """Add a row for every agency code seen, name the unnamed ones; return how many were named."""
    seen = [
        row[0]
        for row in db.execute(
            "SELECT agency_code FROM kpis UNION SELECT agency_code FROM projects "
            "UNION SELECT substr(agency_code, 1, 4) FROM agency_reports"
        ).fetchall()
        if row[0]
    ]
    named = 0
    with db.atomic():
        for code in seen:
            db.execute(
                "INSERT INTO agencies (code, dep_code) VALUES (?, ?) ON CONFLICT (code) DO NOTHING",
                [code, code + "0000"],
            )
        for code, (name, source_url) in bundled_names().items():
            named += db.execute(
                "UPDATE agencies SET name = ?, source_url = coalesce(source_url, ?) "
                "WHERE code = ? AND name IS NULL",
                [name, source_url, code],
            ).rowcount
    log.info("agency names: %d codes seen, %d named from the bundled table", len(seen), named)
    return named
