"""Tidy data for researchers: the ``observations`` table, one value per row.

One row per page × version × quarter × measure, as the version's record (``kpi_versions``) gives
it: from the page's ``kpis`` and ``quarters`` rows when they were written from that very record,
else from the stored record itself (through ``kpi_record()``, ``archive.versions``):

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
adds the rows of versions it has not read yet and re-links all rows to their page's current
indicator, in one transaction (``quarters`` and ``reports`` rows get their page's ``pid`` and
``as_of`` when they are written, ``archive.tables``); it is idempotent and runs after every
load (``scoped``: for the pages ``archive.pending`` lists, as ``refresh_derived`` does
nightly). Versions are read through ``VERSIONS``, so "only complete versions" (issue #8) is one
condition there.
"""

from __future__ import annotations

import logging

from sqlite_utils import Database

from archive.pending import SCOPE
from archive.schema import OBSERVATIONS_INDEXES, create_observations_indexes, observations_ddl
from archive.series import ensure_series_tables
from archive.versions import register

log = logging.getLogger(__name__)

MEASURES = ("target", "result", "assessment", "score_2_1", "score_2_2", "audit")

# Every version that counts as evidence. Issue #8 adds its completeness test here.
VERSIONS = """
SELECT v.id, v.url, v.pid, v.fetched_at, v.snapshot_id FROM kpi_versions v
WHERE v.page_kind IN ('kpi', 'citydb')
  AND v.change_kind != 'gone'  -- repeats the record the page had before it went
"""

# What every row of a version repeats; then its quarter, measure, value and text.
_HEAD = "{0}.id, {0}.pid, {0}.indicator_id, {0}.agency_code, {0}.fiscal_year, {0}.fetched_at"
_T, _W = _HEAD.format("t"), _HEAD.format("w")
_RANK = (
    "CASE measure WHEN 'target' THEN 0 WHEN 'result' THEN 1 WHEN 'assessment' THEN 2 "
    "WHEN 'score_2_1' THEN 3 WHEN 'score_2_2' THEN 4 ELSE 5 END"
)
_QUARTER_MEASURES = (
    "(SELECT 'result' AS measure UNION ALL SELECT 'assessment' "
    "UNION ALL SELECT 'score_2_1' UNION ALL SELECT 'score_2_2') m"
)

# A version whose page's kpis row was written by the very capture that wrote the version (same
# snapshot, same time: ``archive.admit`` writes both from one record) reads its measures from that
# row and its ``quarters`` rows: a first load's every version, a night's changed ones. Any other
# (an older version, read again after a reparse emptied the table) decompresses its record and
# parses it twice (its fields in one json_extract, its quarters in json_each), not once a cell.
# A first load's refresh at 32,500 pages: 12.7 -> 6.7 s CPU, 2,000 pages: 0.57 -> 0.16 s.
_INSERT = f"""
INSERT INTO observations (version_id, pid, indicator_id, agency_code, fiscal_year, quarter,
                          measure, value, value_text, as_of)
WITH n AS MATERIALIZED (
  SELECT n.id, n.url, n.pid, n.fetched_at, n.snapshot_id FROM ({VERSIONS}) n
  WHERE NOT EXISTS (SELECT 1 FROM observations o WHERE o.version_id = n.id) {{scope}}),
t AS MATERIALIZED (
  SELECT n.id, n.url, coalesce(n.pid, k.pid) AS pid, k.indicator_id, k.agency_code,
         k.fiscal_year, n.fetched_at, k.target_value, k.target_text, k.result_value,
         k.result_text, k.audit_quarter, k.audit_score, k.audit_score_text
  FROM n JOIN kpis k ON k.url = n.url AND k.snapshot_id = n.snapshot_id
                        AND k.as_of = n.fetched_at{{typed}}),
r AS MATERIALIZED (
  SELECT n.id, n.pid, k.indicator_id, k.agency_code, n.fetched_at,
         kpi_record(x.record) AS record
  FROM n JOIN kpi_versions x ON x.id = n.id LEFT JOIN kpis k ON k.url = n.url
  WHERE n.id NOT IN (SELECT id FROM t)),
v AS MATERIALIZED (
  SELECT r.*, json_extract(r.record, '$.pid', '$.fiscal_year', '$.target_value', '$.target_text',
                           '$.result_value', '$.result_text', '$.audit_quarter', '$.audit_score',
                           '$.audit_score_text') AS f
  FROM r),
w AS (
  SELECT v.id, coalesce(v.pid, json_extract(v.f, '$[0]')) AS pid, v.indicator_id,
         v.agency_code, json_extract(v.f, '$[1]') AS fiscal_year, v.fetched_at, v.f, v.record
  FROM v),
cells AS (
  SELECT {_T}, NULL AS quarter, 'target' AS measure, target_value AS value,
         target_text AS value_text FROM t
  UNION ALL
  SELECT {_T}, NULL, 'result', result_value, result_text FROM t
  UNION ALL
  SELECT {_T}, audit_quarter, 'audit', audit_score, audit_score_text FROM t
  UNION ALL
  SELECT {_T}, q.quarter, m.measure,
         CASE m.measure WHEN 'result' THEN q.result WHEN 'assessment' THEN q.assessment
           WHEN 'score_2_1' THEN q.score_2_1 ELSE q.score_2_2 END,
         CASE m.measure WHEN 'result' THEN q.result_text
           WHEN 'assessment' THEN q.assessment_text ELSE q.scores_text END
  FROM t JOIN quarters q ON q.url = t.url, {_QUARTER_MEASURES}
  UNION ALL
  SELECT {_W}, NULL, 'target', json_extract(f, '$[2]'), json_extract(f, '$[3]') FROM w
  UNION ALL
  SELECT {_W}, NULL, 'result', json_extract(f, '$[4]'), json_extract(f, '$[5]') FROM w
  UNION ALL
  SELECT {_W}, json_extract(f, '$[6]'), 'audit', json_extract(f, '$[7]'),
         json_extract(f, '$[8]') FROM w
  UNION ALL
  SELECT {_W}, json_extract(q.value, '$.quarter'), m.measure,
         json_extract(q.value, '$.' || m.measure),
         CASE m.measure
           WHEN 'result' THEN json_extract(q.value, '$.result_text')
           WHEN 'assessment' THEN json_extract(q.value, '$.assessment_text')
           ELSE json_extract(q.value, '$.scores_text')
         END
  FROM w, json_each(w.record, '$.quarters') q, {_QUARTER_MEASURES}
)
SELECT id, pid, indicator_id, agency_code, fiscal_year, quarter, measure, value,
       nullif(trim(value_text), ''), fetched_at
FROM cells
WHERE value IS NOT NULL OR nullif(trim(value_text), '') IS NOT NULL
ORDER BY id, quarter IS NOT NULL, quarter, {_RANK}
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


def refresh_observations(db: Database, *, scoped: bool = False, from_tables: bool = True) -> int:
    """Add the rows of versions not read yet and re-link all to their indicators; return rows.

    ``scoped``: only for the pages in ``archive.pending.SCOPE`` (the rest are up to date).
    ``from_tables=False``: every version from its stored record (the reference the typed-table
    path is tested against)."""
    ensure_observations_table(db)
    register(db.conn)
    where = f"AND n.url IN (SELECT url FROM {SCOPE})" if scoped else ""
    typed = "" if from_tables else " AND 0"
    # Scoped, the rows are found from the pages' versions (by url, then version_id), not by
    # reading every row.
    relink = (
        "AND observations.version_id IN (SELECT id FROM kpi_versions "
        f"WHERE url IN (SELECT url FROM {SCOPE}))"
        if scoped
        else ""
    )
    with db.atomic():
        # New rows take their page's indicator as they are written: only older ones are re-linked.
        (last,) = db.execute("SELECT coalesce(max(rowid), 0) FROM observations").fetchone()
        # An empty table (a first load, a reparse) gets its indexes built once, sorted, after the
        # rows, rather than kept up row by row: at 32,500 pages (541,000 rows) 1.9 -> 1.7 s CPU.
        bulk = last == 0
        if bulk:
            for columns in OBSERVATIONS_INDEXES:
                db.execute(f"DROP INDEX IF EXISTS [idx_observations_{'_'.join(columns)}]")
        # Versions never change once written (a reparse deletes them, and their rows cascade).
        db.execute(_INSERT.format(scope=where, typed=typed))
        if bulk:
            create_observations_indexes(db)
        db.execute(
            f"""UPDATE observations SET indicator_id = k.indicator_id, agency_code = k.agency_code
            FROM kpi_versions v JOIN kpis k ON k.url = v.url
            WHERE observations.rowid <= ? AND v.id = observations.version_id {relink}
              AND (observations.indicator_id IS NOT k.indicator_id
                   OR observations.agency_code IS NOT k.agency_code)""",
            [last],
        )
    count = db.table("observations").count
    log.info("observations: %d rows", count)
    return count
