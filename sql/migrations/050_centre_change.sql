-- What centres did not tell: changes and discrepancies noticed in a campaign
-- (campaign-rules.md, "What centres report (changes)"), and the two fields the 2025
-- template adds to a submission (submission-template.md).

-- submission: the 2025 template's optional Identification fields (null before 2025).
ALTER TABLE submission ADD COLUMN responsable_legal TEXT;
ALTER TABLE submission ADD COLUMN plateau_technique TEXT;   -- the list as typed

-- centre_change: one row per change or discrepancy noticed for a centre in a campaign
-- (key: change_id, a stable hash of campaign_year, finess_et, kind, source, field and
-- the two values). Replaced with the campaign's other rows for the regions a run covers.
CREATE TABLE IF NOT EXISTS centre_change (
    change_id       TEXT PRIMARY KEY,
    campaign_year   INTEGER NOT NULL,
    region_code     TEXT,
    finess_et       TEXT NOT NULL,
    kind            TEXT NOT NULL,   -- gestionnaire | adresse | raison_sociale | type_centre | antenne_retiree | antenne_ajoutee | responsable_legal | plateau_technique
    source          TEXT NOT NULL,   -- envoi_precedent (the centre's previous exercise) | finess (the FINESS referential)
    field           TEXT NOT NULL,   -- the submission field compared (finess_ej, commune_insee, code_postal, antennes…)
    previous_value  TEXT,            -- the previous exercise's value, or FINESS's
    new_value       TEXT,            -- the value declared for the campaign
    message         TEXT NOT NULL,   -- French, ready for the ARS
    submission_id   TEXT,            -- the centre's current submission of the campaign
    run_id          TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_change_year_region ON centre_change (campaign_year, region_code, kind);
CREATE INDEX IF NOT EXISTS ix_change_finess ON centre_change (finess_et, campaign_year);
