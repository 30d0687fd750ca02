-- v_indicateurs_centre: one row per current submission (the latest valid version of a
-- centre) and campaign year (key: campaign_year, submission_id; campaign_year, finess_et
-- for the resolved ones), with indicators after ANAP's missions of a centre de santé:
-- accessibility, team, precarity, prevention, second recours, médecin traitant, teaching,
-- financial balance. Health professions (etp_health_professions) are those of
-- schemas/fields.py HEALTH_PROFESSIONS; psychologists, medical assistants, secretaries,
-- coordinators, administrative staff and "autre" count in etp_total only.
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
    -- team
    CASE WHEN COALESCE(s.effectif_medecin_generaliste, 0) > 0 OR COALESCE(s.etp_medecin_generaliste, 0) > 0 THEN 1 ELSE 0 END
        + CASE WHEN COALESCE(s.effectif_medecin_specialiste, 0) > 0 OR COALESCE(s.etp_medecin_specialiste, 0) > 0 THEN 1 ELSE 0 END
        + CASE WHEN COALESCE(s.effectif_chirurgien_dentiste, 0) > 0 OR COALESCE(s.etp_chirurgien_dentiste, 0) > 0 THEN 1 ELSE 0 END
        + CASE WHEN COALESCE(s.effectif_sage_femme, 0) > 0 OR COALESCE(s.etp_sage_femme, 0) > 0 THEN 1 ELSE 0 END
        + CASE WHEN COALESCE(s.effectif_infirmier, 0) > 0 OR COALESCE(s.etp_infirmier, 0) > 0 THEN 1 ELSE 0 END
        + CASE WHEN COALESCE(s.effectif_masseur_kinesitherapeute, 0) > 0 OR COALESCE(s.etp_masseur_kinesitherapeute, 0) > 0 THEN 1 ELSE 0 END
        + CASE WHEN COALESCE(s.effectif_orthophoniste, 0) > 0 OR COALESCE(s.etp_orthophoniste, 0) > 0 THEN 1 ELSE 0 END
        + CASE WHEN COALESCE(s.effectif_orthoptiste, 0) > 0 OR COALESCE(s.etp_orthoptiste, 0) > 0 THEN 1 ELSE 0 END
        + CASE WHEN COALESCE(s.effectif_pedicure_podologue, 0) > 0 OR COALESCE(s.etp_pedicure_podologue, 0) > 0 THEN 1 ELSE 0 END
        + CASE WHEN COALESCE(s.effectif_psychologue, 0) > 0 OR COALESCE(s.etp_psychologue, 0) > 0 THEN 1 ELSE 0 END
        + CASE WHEN COALESCE(s.effectif_dieteticien, 0) > 0 OR COALESCE(s.etp_dieteticien, 0) > 0 THEN 1 ELSE 0 END
        + CASE WHEN COALESCE(s.effectif_assistant_medical, 0) > 0 OR COALESCE(s.etp_assistant_medical, 0) > 0 THEN 1 ELSE 0 END
        + CASE WHEN COALESCE(s.effectif_secretaire_medical, 0) > 0 OR COALESCE(s.etp_secretaire_medical, 0) > 0 THEN 1 ELSE 0 END
        + CASE WHEN COALESCE(s.effectif_coordinateur, 0) > 0 OR COALESCE(s.etp_coordinateur, 0) > 0 THEN 1 ELSE 0 END
        + CASE WHEN COALESCE(s.effectif_personnel_administratif, 0) > 0 OR COALESCE(s.etp_personnel_administratif, 0) > 0 THEN 1 ELSE 0 END
        + CASE WHEN COALESCE(s.effectif_autre, 0) > 0 OR COALESCE(s.etp_autre, 0) > 0 THEN 1 ELSE 0 END AS n_professions,
    COALESCE(s.effectif_medecin_generaliste, 0)
        + COALESCE(s.effectif_medecin_specialiste, 0)
        + COALESCE(s.effectif_chirurgien_dentiste, 0)
        + COALESCE(s.effectif_sage_femme, 0)
        + COALESCE(s.effectif_infirmier, 0)
        + COALESCE(s.effectif_masseur_kinesitherapeute, 0)
        + COALESCE(s.effectif_orthophoniste, 0)
        + COALESCE(s.effectif_orthoptiste, 0)
        + COALESCE(s.effectif_pedicure_podologue, 0)
        + COALESCE(s.effectif_psychologue, 0)
        + COALESCE(s.effectif_dieteticien, 0)
        + COALESCE(s.effectif_assistant_medical, 0)
        + COALESCE(s.effectif_secretaire_medical, 0)
        + COALESCE(s.effectif_coordinateur, 0)
        + COALESCE(s.effectif_personnel_administratif, 0)
        + COALESCE(s.effectif_autre, 0) AS effectif_total,
    COALESCE(s.etp_medecin_generaliste, 0)
        + COALESCE(s.etp_medecin_specialiste, 0)
        + COALESCE(s.etp_chirurgien_dentiste, 0)
        + COALESCE(s.etp_sage_femme, 0)
        + COALESCE(s.etp_infirmier, 0)
        + COALESCE(s.etp_masseur_kinesitherapeute, 0)
        + COALESCE(s.etp_orthophoniste, 0)
        + COALESCE(s.etp_orthoptiste, 0)
        + COALESCE(s.etp_pedicure_podologue, 0)
        + COALESCE(s.etp_psychologue, 0)
        + COALESCE(s.etp_dieteticien, 0)
        + COALESCE(s.etp_assistant_medical, 0)
        + COALESCE(s.etp_secretaire_medical, 0)
        + COALESCE(s.etp_coordinateur, 0)
        + COALESCE(s.etp_personnel_administratif, 0)
        + COALESCE(s.etp_autre, 0) AS etp_total,
    COALESCE(s.etp_medecin_generaliste, 0)
        + COALESCE(s.etp_medecin_specialiste, 0)
        + COALESCE(s.etp_chirurgien_dentiste, 0)
        + COALESCE(s.etp_sage_femme, 0)
        + COALESCE(s.etp_infirmier, 0)
        + COALESCE(s.etp_masseur_kinesitherapeute, 0)
        + COALESCE(s.etp_orthophoniste, 0)
        + COALESCE(s.etp_orthoptiste, 0)
        + COALESCE(s.etp_pedicure_podologue, 0)
        + COALESCE(s.etp_dieteticien, 0) AS etp_health_professions,
    COALESCE(s.etp_medecin_generaliste, 0) + COALESCE(s.etp_medecin_specialiste, 0) AS etp_medecins,
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
LEFT JOIN centre_year_status st
    ON st.campaign_year = s.campaign_year AND st.submission_id = s.submission_id
WHERE s.is_current;
