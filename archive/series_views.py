"""Views over indicators, measures and observations: series, league tables, audit gaps, revisions.

``ensure_series_views(db)`` (re)creates them; ``refresh_derived`` calls it after the tables they
read exist. The canned queries in ``kpi_archive/publish/metadata.yml`` select from these views,
so the SQL lives here once and is tested here.

Conventions: ``fiscal_year`` is Buddhist Era; Q1 of fiscal year Y is October–December of
Y − 544 (CE), so "after Q1" means fetched on or after 1 January of Y − 543. An audit score (สยป.)
is on a 0–100 scale; "the audit says otherwise" means a score under 100 for a result the page
calls on target, or a full 100 for one it calls missed.
"""

from __future__ import annotations

from sqlite_utils import Database

VIEWS: dict[str, str] = {
    # One row per page of an indicator: its year's target, result and audit.
    "indicator_series": """
SELECT i.id AS indicator_id, i.name AS indicator, i.agency_code, a.name AS agency,
       k.fiscal_year, k.pid, k.unit, k.target_value AS target, k.result_value AS result,
       k.on_target, k.audit_quarter, k.audit_score, k.as_of, i.measure_id, k.url
FROM indicators i
JOIN kpis k ON k.indicator_id = i.id
LEFT JOIN agencies a ON a.code = i.agency_code
""",
    # One row per quarter of each page of an indicator.
    "indicator_quarters": """
SELECT k.indicator_id, k.fiscal_year, k.pid, q.quarter, q.result, q.assessment,
       q.score_2_1, q.score_2_2, k.target_value AS target, k.as_of, k.url
FROM kpis k JOIN quarters q ON q.url = k.url
WHERE k.indicator_id IS NOT NULL
""",
    # Each agency's latest page per measure and fiscal year, ranked; lower-is-better units
    # (ไม่เกิน / ไม่มากกว่า, as archive.tables.on_target reads them) rank ascending.
    "measure_league": """
WITH latest AS (
  SELECT i.measure_id, k.fiscal_year, i.agency_code, i.id AS indicator_id, k.pid,
         k.unit, k.target_value AS target, k.result_value AS result, k.on_target, k.as_of, k.url,
         row_number() OVER (PARTITION BY i.measure_id, k.fiscal_year, i.agency_code
                            ORDER BY k.as_of DESC, k.url) AS pick
  FROM kpis k JOIN indicators i ON i.id = k.indicator_id
  WHERE i.measure_id IS NOT NULL AND k.result_value IS NOT NULL
),
ranked AS (
  SELECT l.*,
         rank() OVER (PARTITION BY l.measure_id, l.fiscal_year ORDER BY
           CASE WHEN ltrim(coalesce(m.unit, '')) LIKE 'ไม่เกิน%'
                  OR ltrim(coalesce(m.unit, '')) LIKE 'ไม่มากกว่า%'
                THEN l.result ELSE -l.result END) AS rank,
         row_number() OVER (PARTITION BY l.measure_id, l.fiscal_year ORDER BY l.result) AS pos,
         count(*) OVER (PARTITION BY l.measure_id, l.fiscal_year) AS agencies,
         sum(l.on_target) OVER (PARTITION BY l.measure_id, l.fiscal_year) AS agencies_on_target
  FROM latest l JOIN measures m ON m.id = l.measure_id
  WHERE l.pick = 1
)
SELECT r.measure_id, m.name AS measure, m.unit AS measure_unit, r.fiscal_year, r.rank,
       r.agency_code, a.name AS agency, r.result, r.target, r.on_target, r.agencies,
       r.agencies_on_target,
       (SELECT avg(x.result) FROM ranked x
        WHERE x.measure_id = r.measure_id AND x.fiscal_year IS r.fiscal_year
          AND x.pos IN ((r.agencies + 1) / 2, (r.agencies + 2) / 2)) AS median,
       r.indicator_id, r.pid, r.as_of, r.url
FROM ranked r JOIN measures m ON m.id = r.measure_id
LEFT JOIN agencies a ON a.code = r.agency_code
""",
    "audit_gap": """
SELECT CASE WHEN k.on_target = 1 THEN 'self-report on target, audit below 100'
            ELSE 'self-report missed, audit 100' END AS gap,
       k.pid, k.indicator_id, k.agency_code, k.fiscal_year, k.title, k.unit,
       k.target_value AS target, k.result_value AS result, k.on_target,
       k.audit_quarter, k.audit_score, k.as_of, k.url
FROM kpis k
WHERE k.audit_score IS NOT NULL AND k.on_target IS NOT NULL
  AND ((k.on_target = 1 AND k.audit_score < 100) OR (k.on_target = 0 AND k.audit_score >= 100))
""",
    # Consecutive versions of one page compared, measure by measure, with both capture dates.
    # A disappeared indicator's evidence: its last capture, and the first capture of a later
    # fiscal year of its agency that no longer has it.
    "revisions": """
WITH pairs AS NOT MATERIALIZED (
  SELECT (SELECT u.url FROM kpi_versions u WHERE u.id = o.version_id) AS url, o.pid,
         o.indicator_id, o.agency_code, o.fiscal_year, o.quarter, o.measure,
         p.value AS old_value, o.value AS new_value, p.as_of AS old_as_of, o.as_of AS new_as_of,
         p.version_id AS old_version_id, o.version_id AS new_version_id
  FROM observations o
  JOIN kpi_versions v ON v.id = o.version_id
  JOIN observations p ON p.version_id = v.previous_id AND p.measure = o.measure
                     AND p.quarter IS o.quarter
  -- Said outright, so SQLite reads only versions that have a previous one from its index on
  -- previous_id instead of every version's observations (issue 12: 32,500 first captures).
  -- The url is looked up for the pairs found: read from v, it made SQLite scan every version.
  WHERE v.previous_id IS NOT NULL AND p.value IS NOT o.value
),
-- A disappeared indicator's agency's later years, read from three small grouped tables: looked up
-- per indicator, each read one range of every later KPI of its agency (issue 12: 28,020
-- indicators, 0.6-1.9 s for the view's page at 32,500 pages).
first_capture AS MATERIALIZED (
  SELECT agency_code, fiscal_year, min(as_of) AS as_of FROM kpis
  WHERE agency_code IS NOT NULL AND fiscal_year IS NOT NULL
  GROUP BY agency_code, fiscal_year
),
last_year AS MATERIALIZED (
  SELECT agency_code, max(last_fiscal_year) AS fiscal_year FROM indicators
  WHERE agency_code IS NOT NULL
  GROUP BY agency_code
),
next_capture AS MATERIALIZED (
  SELECT i.agency_code, i.last_fiscal_year, min(f.as_of) AS as_of
  FROM (SELECT DISTINCT agency_code, last_fiscal_year FROM indicators) i
  JOIN first_capture f ON f.agency_code = i.agency_code AND f.fiscal_year > i.last_fiscal_year
  GROUP BY i.agency_code, i.last_fiscal_year
)
SELECT 'target changed after Q1' AS revision, pairs.* FROM pairs
WHERE measure = 'target' AND quarter IS NULL AND fiscal_year IS NOT NULL
  AND new_as_of >= printf('%04d-01-01', fiscal_year - 543)
UNION ALL
SELECT 'past quarter rewritten', pairs.* FROM pairs
WHERE measure = 'result' AND quarter IS NOT NULL AND old_value IS NOT NULL
UNION ALL
SELECT 'indicator disappeared', NULL, NULL, i.id, i.agency_code, i.last_fiscal_year, NULL,
       NULL, NULL, NULL,
       (SELECT max(k.as_of) FROM kpis k WHERE k.indicator_id = i.id), n.as_of, NULL, NULL
FROM indicators i JOIN last_year y ON y.agency_code = i.agency_code
LEFT JOIN next_capture n ON n.agency_code = i.agency_code
                        AND n.last_fiscal_year = i.last_fiscal_year
WHERE i.last_fiscal_year < y.fiscal_year
""",
}


def ensure_series_views(db: Database) -> None:
    """Create or replace the series views when their SQL changed."""
    for name, sql in VIEWS.items():
        current = db.execute("SELECT sql FROM sqlite_master WHERE name = ?", [name]).fetchone()
        if current is None or not current[0].rstrip().endswith(sql.rstrip()):
            db.create_view(name, sql, replace=True)
