-- v_relance: one row per expected centre to chase in a campaign (key: campaign_year,
-- finess_et): nothing received (missing), nothing valid (invalid) or received after the
-- date limite (late). The telephone comes from FINESS; the e-mail, declared telephone and
-- error count from the centre's latest submission, of that campaign or, failing that, of
-- the latest earlier campaign (a missing centre has none this year).
-- One window over the chased centres joined to their submissions: filtering the view by year
-- stays one pass (a CTE of submissions joined back made SQLite rescan it per centre).
-- The chase reason is status_vocabulary's (observatoire/vocabulary.py's words).
-- Portable SQL (SQLite and PostgreSQL); re-created by `migrate` when this file changes.
CREATE VIEW v_relance AS
WITH ranked AS (
    SELECT c.campaign_year, c.region_code, c.departement, c.finess_et, c.finess_ej, c.raison_sociale, c.status,
           c.status_reason, c.deadline, c.first_valid_at, c.days_late, c.submissions_received, c.telephone,
           s.campaign_year AS submission_year, s.contact_courriel, s.contact_telephone, s.date_transmission,
           s.n_errors, s.source_file, s.submission_id,
           ROW_NUMBER() OVER (
               PARTITION BY c.campaign_year, c.finess_et
               ORDER BY s.campaign_year DESC, s.version_rank DESC, s.submission_id DESC
           ) AS recency
    FROM centre_year_status c
    LEFT JOIN submission s ON s.finess_et = c.finess_et AND s.campaign_year <= c.campaign_year
    WHERE c.status IN ('missing', 'invalid', 'late') AND c.finess_et IS NOT NULL
)
SELECT
    campaign_year, region_code, departement, finess_et, finess_ej, raison_sociale, status,
    (SELECT v.chase_reason FROM status_vocabulary v WHERE v.status = ranked.status) AS chase_reason,
    status_reason, deadline, first_valid_at, days_late, submissions_received, telephone,
    contact_courriel AS email, contact_telephone AS declared_telephone, submission_year AS latest_submission_year,
    date_transmission AS latest_transmission_at, n_errors AS latest_submission_errors, source_file AS latest_source_file,
    submission_id AS latest_submission_id
FROM ranked
WHERE recency = 1;
