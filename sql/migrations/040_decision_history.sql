-- reconciliation_decision_history: one row per decision ever recorded (key: declared_key,
-- decided_at), the replaced ones included: who decided what, when, and why. The current
-- decision stays in reconciliation_decision.
CREATE TABLE IF NOT EXISTS reconciliation_decision_history (
    declared_key   TEXT NOT NULL,
    finess_et      TEXT,                           -- null = "no centre"
    decided_by     TEXT NOT NULL,
    decided_at     TIMESTAMPTZ NOT NULL,
    comment        TEXT,
    replaced_at    TIMESTAMPTZ                     -- when a later decision replaced it, null while current
);
CREATE INDEX IF NOT EXISTS ix_decision_history_key ON reconciliation_decision_history (declared_key);
INSERT INTO reconciliation_decision_history (declared_key, finess_et, decided_by, decided_at, comment)
SELECT declared_key, finess_et, decided_by, decided_at, comment FROM reconciliation_decision;
