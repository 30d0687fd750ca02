-- v_evolution_statut: one row per expected centre and campaign year (key: campaign_year,
-- finess_et), beside its status of the previous campaign year when it was expected then.
-- trend: new (not expected the year before) | unchanged | improved | worsened | changed,
-- on the scale on_time = covered < late < invalid < missing (changed: on_time <-> covered).
-- Portable SQL (SQLite and PostgreSQL); re-created by `migrate` on every run.
CREATE VIEW v_evolution_statut AS
WITH ranked AS (
    SELECT campaign_year, region_code, departement, finess_et, raison_sociale, status, days_late,
           CASE status
               WHEN 'on_time' THEN 0 WHEN 'covered' THEN 0 WHEN 'late' THEN 1
               WHEN 'invalid' THEN 2 WHEN 'missing' THEN 3
           END AS severity
    FROM centre_year_status
    WHERE status <> 'unexpected' AND finess_et IS NOT NULL
)
SELECT
    cur.campaign_year,
    cur.region_code,
    cur.departement,
    cur.finess_et,
    cur.raison_sociale,
    prev.status AS previous_status,
    cur.status,
    prev.days_late AS previous_days_late,
    cur.days_late,
    CASE
        WHEN prev.status IS NULL THEN 'new'
        WHEN prev.status = cur.status THEN 'unchanged'
        WHEN cur.severity < prev.severity THEN 'improved'
        WHEN cur.severity > prev.severity THEN 'worsened'
        ELSE 'changed'
    END AS trend,
    CASE WHEN prev.status IS NOT NULL AND prev.status <> cur.status THEN 1 ELSE 0 END AS status_changed
FROM ranked cur
LEFT JOIN ranked prev
    ON prev.finess_et = cur.finess_et AND prev.campaign_year = cur.campaign_year - 1;
