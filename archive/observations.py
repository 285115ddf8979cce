"""Tidy data for researchers: the ``observations`` table, one value per row.

One row per page × version × quarter × measure, read from the records in ``kpi_versions`` (through
``kpi_record()``, ``archive.versions``):

========== ============================================================ =========
measure    value                                                        quarter
========== ============================================================ =========
target     ค่าเป้าหมาย (``target_value`` / ``target_text``)               null
result     ผลงานที่ทำได้ for the year (``result_value`` / ``result_text``)   null
result     ผลงาน of one quarter (``quarters[].result``)                    1–4
assessment ผลประเมินตัวชี้วัด of one quarter                                   1–4
score_2_1  first number of the quarter's 2.1 / 2.2 pair                    1–4
score_2_2  second number of the pair                                       1–4
audit      สยป. audit score (``audit_score``) for ``audit_quarter``          1–4
========== ============================================================ =========

A cell the page leaves blank gives no row (blank is not zero). ``as_of`` is when the version was
fetched. The page is not repeated in every row: ``version_id`` names it (``kpi_versions.url``),
and ``pid``, ``indicator_id`` and ``fiscal_year`` say which indicator and year a row is (issue
#12: the url and its index were 82 MB of 1,236 at 32,500 pages). ``refresh_observations(db)``
adds the rows of versions it has not read yet, re-links all rows to their page's current
indicator and stamps ``quarters`` and ``reports`` rows with their page's ``pid`` and ``as_of``,
in one transaction; it is idempotent and runs after every load (``scoped``: for the pages
``archive.pending`` lists, as ``refresh_derived`` does nightly). Versions are read through
``VERSIONS``, so "only complete versions" (issue #8) is one condition there.
"""

from __future__ import annotations

import logging

from sqlite_utils import Database

from archive.pending import SCOPE
from archive.schema import create_observations_indexes, observations_ddl
from archive.series import ensure_series_tables
from archive.versions import register

log = logging.getLogger(__name__)

MEASURES = ("target", "result", "assessment", "score_2_1", "score_2_2", "audit")

# Every version that counts as evidence. Issue #8 adds its completeness test here.
VERSIONS = """
SELECT v.id, v.url, v.pid, v.fetched_at, kpi_record(v.record) AS record FROM kpi_versions v
WHERE v.page_kind IN ('kpi', 'citydb')
  AND v.change_kind != 'gone'  -- repeats the record the page had before it went
"""

# Each record is parsed twice (its fields in one json_extract, its quarters in json_each), not
# once a cell: the extraction was most of a refresh's time.
_INSERT = f"""
INSERT INTO observations (version_id, pid, indicator_id, agency_code, fiscal_year, quarter,
                          measure, value, value_text, as_of)
WITH v AS MATERIALIZED (
  SELECT n.id, n.url, n.pid, n.fetched_at, n.record,
         json_extract(n.record, '$.pid', '$.fiscal_year', '$.target_value', '$.target_text',
                      '$.result_value', '$.result_text', '$.audit_quarter', '$.audit_score',
                      '$.audit_score_text') AS f
  FROM ({VERSIONS}) n
  WHERE NOT EXISTS (SELECT 1 FROM observations o WHERE o.version_id = n.id) {{scope}}),
cells AS (
  SELECT v.id, v.url, v.pid, v.f, v.fetched_at, NULL AS quarter, 'target' AS measure,
         json_extract(v.f, '$[2]') AS value, json_extract(v.f, '$[3]') AS value_text
  FROM v
  UNION ALL
  SELECT v.id, v.url, v.pid, v.f, v.fetched_at, NULL, 'result',
         json_extract(v.f, '$[4]'), json_extract(v.f, '$[5]')
  FROM v
  UNION ALL
  SELECT v.id, v.url, v.pid, v.f, v.fetched_at, json_extract(v.f, '$[6]'),
         'audit', json_extract(v.f, '$[7]'), json_extract(v.f, '$[8]')
  FROM v
  UNION ALL
  SELECT v.id, v.url, v.pid, v.f, v.fetched_at, json_extract(q.value, '$.quarter'), m.measure,
         json_extract(q.value, '$.' || m.measure),
         CASE m.measure
           WHEN 'result' THEN json_extract(q.value, '$.result_text')
           WHEN 'assessment' THEN json_extract(q.value, '$.assessment_text')
           ELSE json_extract(q.value, '$.scores_text')
         END
  FROM v, json_each(v.record, '$.quarters') q,
       (SELECT 'result' AS measure UNION ALL SELECT 'assessment'
        UNION ALL SELECT 'score_2_1' UNION ALL SELECT 'score_2_2') m
)
SELECT c.id, coalesce(c.pid, json_extract(c.f, '$[0]')), k.indicator_id,
       k.agency_code, json_extract(c.f, '$[1]'), c.quarter, c.measure,
       c.value, nullif(trim(c.value_text), ''), c.fetched_at
FROM cells c LEFT JOIN kpis k ON k.url = c.url
WHERE c.value IS NOT NULL OR nullif(trim(c.value_text), '') IS NOT NULL
ORDER BY c.id, c.quarter IS NOT NULL, c.quarter,
         CASE c.measure WHEN 'target' THEN 0 WHEN 'result' THEN 1 WHEN 'assessment' THEN 2
           WHEN 'score_2_1' THEN 3 WHEN 'score_2_2' THEN 4 ELSE 5 END
"""


def ensure_observations_table(db: Database) -> None:
    """Create ``observations`` (with its foreign keys and indexes) if it is not there."""
    ensure_series_tables(db)  # the indicators it points at, and kpis.indicator_id
    keys = db.execute("PRAGMA foreign_key_list(observations)").fetchall()
    if any(key[3] == "version_id" and key[6] == "CASCADE" for key in keys):
        return
    db.execute("DROP TABLE IF EXISTS observations")
    db.execute(observations_ddl())
    create_observations_indexes(db)


def stamp_child_rows(db: Database, *, scoped: bool = False) -> None:
    """Give ``quarters`` and ``reports`` rows the ``pid`` and ``as_of`` of their page's record
    (``scoped``: of the pages in ``archive.pending.SCOPE`` only)."""
    pages = "SELECT url, pid, as_of FROM kpis UNION ALL SELECT url, pid, as_of FROM projects"
    if scoped:
        # CROSS JOIN keeps the few scoped urls outermost (the planner, with no statistics on a
        # temporary table, would scan every page instead).
        pages = (
            f"SELECT k.url, k.pid, k.as_of FROM {SCOPE} d CROSS JOIN kpis k ON k.url = d.url "
            f"UNION ALL SELECT p.url, p.pid, p.as_of FROM {SCOPE} d "
            "CROSS JOIN projects p ON p.url = d.url"
        )
    for table in ("quarters", "reports"):
        columns = db.table(table).columns_dict
        for column in ("pid", "as_of"):
            if column not in columns:
                db.table(table).add_column(column, str)
        # Only rows whose page changed since the last load are written.
        db.execute(
            f"""UPDATE [{table}] SET pid = s.pid, as_of = s.as_of FROM ({pages}) s
            WHERE s.url = [{table}].url
              AND ([{table}].pid IS NOT s.pid OR [{table}].as_of IS NOT s.as_of)"""
        )


def refresh_observations(db: Database, *, scoped: bool = False) -> int:
    """Add the rows of versions not read yet and re-link all to their indicators; return rows.

    ``scoped``: only for the pages in ``archive.pending.SCOPE`` (the rest are up to date)."""
    ensure_observations_table(db)
    register(db.conn)
    where = f"AND n.url IN (SELECT url FROM {SCOPE})" if scoped else ""
    # Scoped, the rows are found from the pages' versions (by url, then version_id), not by
    # reading every row.
    relink = (
        "AND observations.version_id IN (SELECT id FROM kpi_versions "
        f"WHERE url IN (SELECT url FROM {SCOPE}))"
        if scoped
        else ""
    )
    with db.atomic():
        stamp_child_rows(db, scoped=scoped)
        # Versions never change once written (a reparse deletes them, and their rows cascade).
        db.execute(_INSERT.format(scope=where))
        db.execute(
            f"""UPDATE observations SET indicator_id = k.indicator_id, agency_code = k.agency_code
            FROM kpi_versions v JOIN kpis k ON k.url = v.url
            WHERE v.id = observations.version_id {relink}
              AND (observations.indicator_id IS NOT k.indicator_id
                   OR observations.agency_code IS NOT k.agency_code)"""
        )
    count = db.table("observations").count
    log.info("observations: %d rows", count)
    return count
