-- v_conformite: the compliance figures of a campaign year at two levels (key: campaign_year,
-- niveau, region_code, departement): niveau 'region', one row per region (departement
-- empty), and 'departement', one row per region and département. The one home of the
-- rules; v_conformite_region and v_conformite_departement each show one level.
-- Expected centres counted by status; unexpected submissions are counted apart
-- (n_unexpected) and are in no denominator. compliance_rate_pct: share of expected centres
-- whose obligation is met (on_time, late or covered); on_time_rate_pct: share of the
-- centres that must report themselves (expected, not covered) that reported in time.
-- Portable SQL (SQLite and PostgreSQL); re-created by `migrate` on every run.
CREATE VIEW v_conformite AS
SELECT
    campaign_year,
    niveau,
    region_code,
    departement,
    SUM(CASE WHEN status <> 'unexpected' THEN 1 ELSE 0 END) AS n_expected,
    SUM(CASE WHEN status = 'on_time' THEN 1 ELSE 0 END) AS n_on_time,
    SUM(CASE WHEN status = 'late' THEN 1 ELSE 0 END) AS n_late,
    SUM(CASE WHEN status = 'invalid' THEN 1 ELSE 0 END) AS n_invalid,
    SUM(CASE WHEN status = 'missing' THEN 1 ELSE 0 END) AS n_missing,
    SUM(CASE WHEN status = 'covered' THEN 1 ELSE 0 END) AS n_covered,
    SUM(CASE WHEN status = 'unexpected' THEN 1 ELSE 0 END) AS n_unexpected,
    CAST(ROUND(100.0 * SUM(CASE WHEN status IN ('on_time', 'late', 'covered') THEN 1 ELSE 0 END)
        / NULLIF(SUM(CASE WHEN status <> 'unexpected' THEN 1 ELSE 0 END), 0), 1) AS DOUBLE PRECISION) AS compliance_rate_pct,
    CAST(ROUND(100.0 * SUM(CASE WHEN status = 'on_time' THEN 1 ELSE 0 END)
        / NULLIF(SUM(CASE WHEN status NOT IN ('unexpected', 'covered') THEN 1 ELSE 0 END), 0), 1) AS DOUBLE PRECISION) AS on_time_rate_pct,
    CAST(ROUND(AVG(CASE WHEN status = 'late' THEN days_late END), 1) AS DOUBLE PRECISION) AS avg_days_late
FROM (
    SELECT campaign_year, 'region' AS niveau, region_code, CAST(NULL AS TEXT) AS departement, status, days_late
    FROM centre_year_status
    UNION ALL
    SELECT campaign_year, 'departement' AS niveau, region_code, departement, status, days_late
    FROM centre_year_status
) AS par_niveau
GROUP BY campaign_year, niveau, region_code, departement;
