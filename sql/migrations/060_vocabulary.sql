-- The words users read for the warehouse's codes, for the views and for analysts' own
-- queries. Written by `migrate` from observatoire/vocabulary.py (their one home) on every
-- run, so that the command, the Prefect artifacts, the workbooks and the views say the same.

-- status_vocabulary: one row per status code of centre_year_status (key: status).
CREATE TABLE IF NOT EXISTS status_vocabulary (
    status        TEXT PRIMARY KEY,   -- on_time | late | invalid | missing | covered | unexpected
    label         TEXT NOT NULL,      -- the French label (« à l'heure », « manquant »…)
    list_order    INTEGER NOT NULL,   -- the order summaries list statuses in
    chase_order   INTEGER,            -- who to chase first (0 first), null when not chased
    chase_reason  TEXT,               -- why the centre is chased, in French, null when not chased
    colour        TEXT NOT NULL       -- fill colour (RGB hex) in the workbooks
);

-- severity_vocabulary: one row per severity code of submission_issue (key: severity).
CREATE TABLE IF NOT EXISTS severity_vocabulary (
    severity  TEXT PRIMARY KEY,   -- error | warning
    label     TEXT NOT NULL       -- bloquant | avertissement
);
