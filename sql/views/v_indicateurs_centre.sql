-- v_indicateurs_centre: one row per current submission (the latest valid version of a
-- centre) and campaign year (key: campaign_year, submission_id; campaign_year, finess_et
-- for the resolved ones), with indicators after ANAP's missions of a centre de santé:
-- accessibility, team, precarity, prevention, second recours, médecin traitant, teaching,
-- financial balance. The team figures are a GROUP BY over submission_personnel: health
-- professions (etp_health_professions) and médecins (etp_medecins) are the registry's
-- groups `sante` and `medecin` (schemas/templates.toml); every profession counts in
-- etp_total.
-- Portable SQL (SQLite and PostgreSQL); re-created by `migrate` on every run.
CREATE VIEW v_indicateurs_centre AS
SELECT
    s.campaign_year,
    s.region_code,
    st.departement,
    s.finess_et,
    s.submission_id,
    COALESCE(st.raison_sociale, s.raison_sociale) AS raison_sociale,
    s.type_centre,
    s.type_gestionnaire,
    st.status,
    -- accessibility
    s.jours_ouverture,
    s.amplitude_hebdo_h,
    s.tiers_payant_integral,
    s.permanence_soins,
    -- team (submission_personnel: one row per profession declared)
    COALESCE(t.n_professions, 0) AS n_professions,
    COALESCE(t.effectif_total, 0) AS effectif_total,
    COALESCE(t.etp_total, 0) AS etp_total,
    COALESCE(t.etp_health_professions, 0) AS etp_health_professions,
    COALESCE(t.etp_medecins, 0) AS etp_medecins,
    -- precarity
    s.part_css_pct,
    s.part_ame_pct,
    -- prevention, second recours, teaching
    s.actions_prevention,
    s.specialites_second_recours,
    s.stagiaires,
    -- médecin traitant
    s.file_active,
    s.patients_medecin_traitant,
    CAST(ROUND(100.0 * s.patients_medecin_traitant / NULLIF(s.file_active, 0), 1) AS DOUBLE PRECISION)
        AS medecin_traitant_pct,
    s.nb_actes,
    -- financial balance
    s.total_charges,
    s.total_produits,
    s.resultat,
    CAST(ROUND(CAST(100.0 * s.resultat / NULLIF(s.total_produits, 0) AS NUMERIC), 1) AS DOUBLE PRECISION)
        AS result_margin_pct,
    s.remuneration_forfaitaire,
    CAST(ROUND(CAST(100.0 * s.remuneration_forfaitaire / NULLIF(s.total_produits, 0) AS NUMERIC), 1)
        AS DOUBLE PRECISION) AS forfait_share_pct,
    CASE WHEN s.resultat < 0 THEN 1 ELSE 0 END AS in_deficit
FROM submission s
LEFT JOIN (
    SELECT submission_id,
           CAST(SUM(CASE WHEN COALESCE(effectif, 0) > 0 OR COALESCE(etp, 0) > 0 THEN 1 ELSE 0 END) AS BIGINT)
               AS n_professions,
           CAST(SUM(COALESCE(effectif, 0)) AS BIGINT) AS effectif_total,
           CAST(SUM(COALESCE(etp, 0)) AS DOUBLE PRECISION) AS etp_total,
           CAST(SUM(CASE WHEN is_health_profession THEN COALESCE(etp, 0) ELSE 0 END) AS DOUBLE PRECISION)
               AS etp_health_professions,
           CAST(SUM(CASE WHEN is_medecin THEN COALESCE(etp, 0) ELSE 0 END) AS DOUBLE PRECISION) AS etp_medecins
    FROM submission_personnel
    GROUP BY submission_id
) t ON t.submission_id = s.submission_id
LEFT JOIN centre_year_status st
    ON st.campaign_year = s.campaign_year AND st.submission_id = s.submission_id
WHERE s.is_current;
