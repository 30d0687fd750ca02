-- v_changements: one row per change or discrepancy noticed for a centre in a campaign
-- (key: change_id; campaign-rules.md, "What centres report (changes)"), with what an ARS
-- agent needs to act on it: the centre's raison sociale and département (its status row of
-- the campaign, else its current submission), its region, and the nature in French.
-- Portable SQL (SQLite and PostgreSQL); re-created by `migrate` on every run.
CREATE VIEW v_changements AS
SELECT
    ch.change_id, ch.campaign_year, ch.region_code, COALESCE(c.departement, s_dep.departement) AS departement,
    ch.finess_et, COALESCE(c.raison_sociale, s.raison_sociale) AS raison_sociale,
    ch.kind,
    CASE ch.kind
        WHEN 'gestionnaire' THEN 'gestionnaire'
        WHEN 'adresse' THEN 'adresse'
        WHEN 'raison_sociale' THEN 'raison sociale'
        WHEN 'type_centre' THEN 'type de centre'
        WHEN 'antenne_retiree' THEN 'antenne retirée'
        WHEN 'antenne_ajoutee' THEN 'antenne ajoutée'
        WHEN 'responsable_legal' THEN 'responsable légal'
        WHEN 'plateau_technique' THEN 'plateau technique'
    END AS kind_label,
    ch.source,
    CASE ch.source WHEN 'envoi_precedent' THEN 'exercice précédent' WHEN 'finess' THEN 'FINESS' END AS source_label,
    ch.field, ch.previous_value, ch.new_value, ch.message, ch.submission_id, s.source_file, ch.run_id
FROM centre_change ch
LEFT JOIN centre_year_status c
    ON c.campaign_year = ch.campaign_year AND c.finess_et = ch.finess_et AND c.status <> 'unexpected'
LEFT JOIN submission s ON s.submission_id = ch.submission_id
LEFT JOIN (
    SELECT campaign_year, finess_et, MIN(departement) AS departement FROM centre_year_status
    WHERE finess_et IS NOT NULL GROUP BY campaign_year, finess_et
) s_dep ON s_dep.campaign_year = ch.campaign_year AND s_dep.finess_et = ch.finess_et;
