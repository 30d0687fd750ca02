-- observatoire-cds warehouse, version 2: indexes for the analysts' usual filters and for
-- the joins of the views in sql/views/ (year, region, département, status, current
-- version). No new table: the grain and keys of each table are stated in 001.

-- centre_year_status: "every late centre since 2022", "statuses of one centre over the
-- years" (v_evolution_statut joins a year to the previous one on finess_et).
CREATE INDEX IF NOT EXISTS ix_status_status_year ON centre_year_status (status, campaign_year);
CREATE INDEX IF NOT EXISTS ix_status_departement_status ON centre_year_status (departement, campaign_year, status);
CREATE INDEX IF NOT EXISTS ix_status_submission ON centre_year_status (submission_id);

-- submission: the current version of each centre (v_indicateurs_centre), the versions of
-- one centre in a year (v_relance picks the latest one's e-mail).
CREATE INDEX IF NOT EXISTS ix_submission_current ON submission (campaign_year, is_current, region_code);
CREATE INDEX IF NOT EXISTS ix_submission_centre_version ON submission (campaign_year, finess_et, version_rank);

-- submission_issue: the issues of one submission (what to correct, for the relance).
CREATE INDEX IF NOT EXISTS ix_issue_submission ON submission_issue (submission_id, severity);

-- file_outcome: unreadable files of a campaign and region.
CREATE INDEX IF NOT EXISTS ix_file_outcome_region ON file_outcome (campaign_year, region_code, readable);

-- pipeline_run: the runs of a campaign, latest first.
CREATE INDEX IF NOT EXISTS ix_run_year ON pipeline_run (campaign_year, started_at);
