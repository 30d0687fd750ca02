-- observatoire-cds warehouse, version 1. Portable DDL: the same names and meaning on
-- SQLite and PostgreSQL. Applied in order by `observatoire` (observatoire/warehouse.py),
-- each file once, recorded in schema_migration. Never edit an applied file: add the next.

-- pipeline_run: one row per run of `observatoire run` (key: run_id).
CREATE TABLE IF NOT EXISTS pipeline_run (
    run_id              TEXT PRIMARY KEY,
    campaign_year       INTEGER NOT NULL,
    regions             TEXT NOT NULL,            -- comma-separated COG region codes
    parameters          TEXT NOT NULL,            -- JSON of the run parameters
    finess_extract_date DATE,                     -- date of the latest extract used
    finess_extracts     TEXT,                     -- JSON: file, date, sha256 of each extract
    input_checksums     TEXT,                     -- JSON: submission file -> sha256
    files_read          INTEGER,
    files_unreadable    INTEGER,
    submissions         INTEGER,
    n_on_time           INTEGER,
    n_late              INTEGER,
    n_invalid           INTEGER,
    n_missing           INTEGER,
    n_covered           INTEGER,
    n_unexpected        INTEGER,
    started_at          TIMESTAMPTZ NOT NULL,
    finished_at         TIMESTAMPTZ,
    outcome             TEXT NOT NULL,            -- running | succeeded | failed | interrupted
    message             TEXT
);

-- centre_year_status: one row per expected centre and campaign year (key: campaign_year,
-- finess_et), plus one row per unexpected submission (key: campaign_year, submission_id).
CREATE TABLE IF NOT EXISTS centre_year_status (
    status_id              TEXT PRIMARY KEY,      -- '<year>:<finess_et>' or '<year>:unexpected:<submission_id>'
    campaign_year          INTEGER NOT NULL,
    region_code            TEXT,
    departement            TEXT,                  -- FINESS code (01..95, 2A, 2B, 9A..9F)
    finess_et              TEXT,
    finess_ej              TEXT,
    raison_sociale         TEXT,
    status                 TEXT NOT NULL,         -- on_time | late | invalid | missing | covered | unexpected
    status_reason          TEXT NOT NULL,
    unexpected_reason      TEXT,                  -- unknown_finess | review | closed | not_centre_de_sante | other_region
    deadline               DATE NOT NULL,         -- applicable date limite (last on-time day, Paris)
    first_valid_at         TIMESTAMPTZ,
    days_late              INTEGER,
    submissions_received   INTEGER NOT NULL,
    reconciliation_method  TEXT,
    submission_id          TEXT,                  -- current submission (or the unexpected one)
    source_file            TEXT,
    source_row             INTEGER,
    telephone              TEXT,                  -- from FINESS, for the relance
    run_id                 TEXT NOT NULL,
    loaded_at              TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_status_year_region ON centre_year_status (campaign_year, region_code, status);
CREATE INDEX IF NOT EXISTS ix_status_departement ON centre_year_status (campaign_year, departement);
CREATE INDEX IF NOT EXISTS ix_status_finess ON centre_year_status (finess_et, campaign_year);

-- submission: one row per received submission, each version (key: submission_id).
CREATE TABLE IF NOT EXISTS submission (
    submission_id               TEXT PRIMARY KEY,  -- stable: year, file and row
    campaign_year               INTEGER NOT NULL,
    region_code                 TEXT,
    source_file                 TEXT NOT NULL,
    source_row                  INTEGER,           -- data row of a regional export, null for a workbook
    source_sha256               TEXT NOT NULL,
    container                   TEXT,
    template_version            TEXT,
    declared_finess_et          TEXT,
    finess_et                   TEXT,              -- resolved, null if unmatched
    reconciliation_method       TEXT,              -- exact | repaired | ej_to_et | name_match | review | unmatched
    reconciliation_score        DOUBLE PRECISION,
    reconciliation_candidates   TEXT,
    date_transmission           TIMESTAMPTZ,
    transmission_source         TEXT,              -- fichier | manifeste
    is_valid                    BOOLEAN NOT NULL,
    is_current                  BOOLEAN NOT NULL,  -- latest valid version of its centre
    version_rank                INTEGER,
    n_errors                    INTEGER NOT NULL,
    n_warnings                  INTEGER NOT NULL,
    annee_exercice              INTEGER,
    finess_ej                   TEXT,
    raison_sociale              TEXT,
    type_centre                 TEXT,
    type_gestionnaire           TEXT,
    commune_insee               TEXT,
    code_postal                 TEXT,
    antennes                    TEXT,
    contact_courriel            TEXT,
    contact_telephone           TEXT,
    file_active                 BIGINT,
    patients_medecin_traitant   BIGINT,
    nb_actes                    BIGINT,
    jours_ouverture             INTEGER,
    amplitude_hebdo_h           DOUBLE PRECISION,
    tiers_payant_integral       BOOLEAN,
    part_css_pct                DOUBLE PRECISION,
    part_ame_pct                DOUBLE PRECISION,
    actions_prevention          BIGINT,
    permanence_soins            BOOLEAN,
    stagiaires                  BIGINT,
    specialites_second_recours  BIGINT,
    total_charges               DOUBLE PRECISION,
    total_produits              DOUBLE PRECISION,
    resultat                    DOUBLE PRECISION,
    recettes_assurance_maladie  DOUBLE PRECISION,
    remuneration_forfaitaire    DOUBLE PRECISION,
    subventions                 DOUBLE PRECISION,
    masse_salariale             DOUBLE PRECISION,
    effectif_medecin_generaliste BIGINT, etp_medecin_generaliste DOUBLE PRECISION,
    effectif_medecin_specialiste BIGINT, etp_medecin_specialiste DOUBLE PRECISION,
    effectif_chirurgien_dentiste BIGINT, etp_chirurgien_dentiste DOUBLE PRECISION,
    effectif_sage_femme BIGINT, etp_sage_femme DOUBLE PRECISION,
    effectif_infirmier BIGINT, etp_infirmier DOUBLE PRECISION,
    effectif_masseur_kinesitherapeute BIGINT, etp_masseur_kinesitherapeute DOUBLE PRECISION,
    effectif_orthophoniste BIGINT, etp_orthophoniste DOUBLE PRECISION,
    effectif_orthoptiste BIGINT, etp_orthoptiste DOUBLE PRECISION,
    effectif_pedicure_podologue BIGINT, etp_pedicure_podologue DOUBLE PRECISION,
    effectif_psychologue BIGINT, etp_psychologue DOUBLE PRECISION,
    effectif_dieteticien BIGINT, etp_dieteticien DOUBLE PRECISION,
    effectif_assistant_medical BIGINT, etp_assistant_medical DOUBLE PRECISION,
    effectif_secretaire_medical BIGINT, etp_secretaire_medical DOUBLE PRECISION,
    effectif_coordinateur BIGINT, etp_coordinateur DOUBLE PRECISION,
    effectif_personnel_administratif BIGINT, etp_personnel_administratif DOUBLE PRECISION,
    effectif_autre BIGINT, etp_autre DOUBLE PRECISION,
    run_id                      TEXT NOT NULL,
    loaded_at                   TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_submission_year_region ON submission (campaign_year, region_code);
CREATE INDEX IF NOT EXISTS ix_submission_finess ON submission (finess_et, campaign_year);

-- submission_issue: one row per error or warning found in a received file (no natural
-- key: a file may break the same rule in several cells; issue_id is a stable hash).
CREATE TABLE IF NOT EXISTS submission_issue (
    issue_id        TEXT PRIMARY KEY,
    campaign_year   INTEGER NOT NULL,
    region_code     TEXT,
    submission_id   TEXT,                          -- null when the file could not be read
    source_file     TEXT NOT NULL,
    sheet           TEXT,
    location        TEXT,                          -- cell (B7) or row (ligne 12)
    field           TEXT,
    label           TEXT,                          -- the template's French label
    value           TEXT,                          -- as received
    severity        TEXT NOT NULL,                 -- error | warning
    message         TEXT NOT NULL,                 -- French, ready to send to the centre
    run_id          TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_issue_year_region ON submission_issue (campaign_year, region_code, severity);

-- file_outcome: one row per file found in the submissions folder (key: campaign_year,
-- source_file): read or not and why; nothing silently vanishes.
CREATE TABLE IF NOT EXISTS file_outcome (
    campaign_year   INTEGER NOT NULL,
    source_file     TEXT NOT NULL,
    region_code     TEXT,
    source_sha256   TEXT NOT NULL,
    size_bytes      BIGINT NOT NULL,
    readable        BOOLEAN NOT NULL,
    container       TEXT,                          -- classeur | export_csv | export_tableur
    encoding        TEXT,
    separator       TEXT,
    sheets          TEXT,
    submissions     INTEGER NOT NULL,
    rows_set_aside  INTEGER NOT NULL,
    reason          TEXT,                          -- French, when not readable
    run_id          TEXT NOT NULL,
    PRIMARY KEY (campaign_year, source_file)
);
