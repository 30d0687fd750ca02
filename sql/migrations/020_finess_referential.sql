-- FINESS referential kept as dated snapshots, so that the centres open during any past
-- year are known (closures show only as an ET disappearing from the next extract).

-- finess_snapshot: one row per FINESS extract loaded (key: extract_date).
CREATE TABLE IF NOT EXISTS finess_snapshot (
    extract_date    DATE PRIMARY KEY,              -- the extract's own date (its first line)
    source_file     TEXT NOT NULL,
    source_sha256   TEXT NOT NULL,
    establishments  INTEGER NOT NULL,              -- structureet lines
    loaded_at       TIMESTAMPTZ NOT NULL
);

-- finess_et_history: one row per ET and period of unchanged attributes (key: finess_et,
-- valid_from). valid_from = first snapshot of the period; valid_to = first later snapshot
-- where the ET is absent or changed, null while it is current (SCD type 2).
CREATE TABLE IF NOT EXISTS finess_et_history (
    finess_et              TEXT NOT NULL,
    valid_from             DATE NOT NULL,
    valid_to               DATE,
    finess_ej              TEXT,
    raison_sociale         TEXT,
    raison_sociale_longue  TEXT,
    departement            TEXT,                   -- FINESS code (01..95, 2A, 2B, 9A..9J)
    cog_departement        TEXT,
    region_code            TEXT,
    commune_insee          TEXT,
    code_postal            TEXT,
    commune_libelle        TEXT,
    telephone              TEXT,
    categetab              TEXT,
    libcategetab           TEXT,
    is_centre_de_sante     BOOLEAN NOT NULL,
    dateouv                DATE,
    PRIMARY KEY (finess_et, valid_from)
);
CREATE INDEX IF NOT EXISTS ix_finess_history_region ON finess_et_history (region_code, is_centre_de_sante);
CREATE INDEX IF NOT EXISTS ix_finess_history_ej ON finess_et_history (finess_ej);

-- reconciliation_review: one row per submission whose FINESS could not be decided by the
-- machine in a campaign (key: campaign_year, submission_id), with its candidates.
CREATE TABLE IF NOT EXISTS reconciliation_review (
    campaign_year         INTEGER NOT NULL,
    submission_id         TEXT NOT NULL,
    region_code           TEXT,
    declared_key          TEXT NOT NULL,           -- what a decision is keyed on (see reconciliation_decision)
    declared_finess_et    TEXT,
    raison_sociale        TEXT,
    commune_insee         TEXT,
    candidates            TEXT,                    -- 'ET (score), ...'
    source_file           TEXT NOT NULL,
    run_id                TEXT NOT NULL,
    PRIMARY KEY (campaign_year, submission_id)
);

-- reconciliation_decision: one row per analyst decision (key: declared_key). Applied to
-- every later run and year for the same declared value; finess_et null = "no centre".
CREATE TABLE IF NOT EXISTS reconciliation_decision (
    declared_key   TEXT PRIMARY KEY,               -- 'FINESS:<normalised number>' or 'NOM:<tokens>|<commune>'
    finess_et      TEXT,
    decided_by     TEXT NOT NULL,
    decided_at     TIMESTAMPTZ NOT NULL,
    comment        TEXT
);
