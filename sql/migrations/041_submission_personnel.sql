-- submission_personnel: one row per submission and profession declared (key:
-- submission_id, profession). Professions are data (schemas/templates.toml, [personnel]):
-- a new profession needs no DDL. is_health_profession and is_medecin are the registry's
-- groups at load time (sante, medecin), which the indicators count.
CREATE TABLE IF NOT EXISTS submission_personnel (
    submission_id          TEXT NOT NULL,
    campaign_year          INTEGER NOT NULL,
    region_code            TEXT,
    profession             TEXT NOT NULL,          -- code of the registry (medecin_generaliste, ...)
    effectif               BIGINT,                 -- personnes physiques
    etp                    DOUBLE PRECISION,
    is_health_profession   BOOLEAN NOT NULL,
    is_medecin             BOOLEAN NOT NULL,
    run_id                 TEXT NOT NULL,
    PRIMARY KEY (submission_id, profession)
);
CREATE INDEX IF NOT EXISTS ix_personnel_year_region ON submission_personnel (campaign_year, region_code);

-- The personnel the earlier versions kept as two columns per profession in submission.
INSERT INTO submission_personnel (submission_id, campaign_year, region_code, profession, effectif, etp,
    is_health_profession, is_medecin, run_id)
SELECT submission_id, campaign_year, region_code, 'medecin_generaliste', effectif_medecin_generaliste, etp_medecin_generaliste, TRUE, TRUE, run_id
FROM submission WHERE effectif_medecin_generaliste IS NOT NULL OR etp_medecin_generaliste IS NOT NULL;
INSERT INTO submission_personnel (submission_id, campaign_year, region_code, profession, effectif, etp,
    is_health_profession, is_medecin, run_id)
SELECT submission_id, campaign_year, region_code, 'medecin_specialiste', effectif_medecin_specialiste, etp_medecin_specialiste, TRUE, TRUE, run_id
FROM submission WHERE effectif_medecin_specialiste IS NOT NULL OR etp_medecin_specialiste IS NOT NULL;
INSERT INTO submission_personnel (submission_id, campaign_year, region_code, profession, effectif, etp,
    is_health_profession, is_medecin, run_id)
SELECT submission_id, campaign_year, region_code, 'chirurgien_dentiste', effectif_chirurgien_dentiste, etp_chirurgien_dentiste, TRUE, FALSE, run_id
FROM submission WHERE effectif_chirurgien_dentiste IS NOT NULL OR etp_chirurgien_dentiste IS NOT NULL;
INSERT INTO submission_personnel (submission_id, campaign_year, region_code, profession, effectif, etp,
    is_health_profession, is_medecin, run_id)
SELECT submission_id, campaign_year, region_code, 'sage_femme', effectif_sage_femme, etp_sage_femme, TRUE, FALSE, run_id
FROM submission WHERE effectif_sage_femme IS NOT NULL OR etp_sage_femme IS NOT NULL;
INSERT INTO submission_personnel (submission_id, campaign_year, region_code, profession, effectif, etp,
    is_health_profession, is_medecin, run_id)
SELECT submission_id, campaign_year, region_code, 'infirmier', effectif_infirmier, etp_infirmier, TRUE, FALSE, run_id
FROM submission WHERE effectif_infirmier IS NOT NULL OR etp_infirmier IS NOT NULL;
INSERT INTO submission_personnel (submission_id, campaign_year, region_code, profession, effectif, etp,
    is_health_profession, is_medecin, run_id)
SELECT submission_id, campaign_year, region_code, 'masseur_kinesitherapeute', effectif_masseur_kinesitherapeute, etp_masseur_kinesitherapeute, TRUE, FALSE, run_id
FROM submission WHERE effectif_masseur_kinesitherapeute IS NOT NULL OR etp_masseur_kinesitherapeute IS NOT NULL;
INSERT INTO submission_personnel (submission_id, campaign_year, region_code, profession, effectif, etp,
    is_health_profession, is_medecin, run_id)
SELECT submission_id, campaign_year, region_code, 'orthophoniste', effectif_orthophoniste, etp_orthophoniste, TRUE, FALSE, run_id
FROM submission WHERE effectif_orthophoniste IS NOT NULL OR etp_orthophoniste IS NOT NULL;
INSERT INTO submission_personnel (submission_id, campaign_year, region_code, profession, effectif, etp,
    is_health_profession, is_medecin, run_id)
SELECT submission_id, campaign_year, region_code, 'orthoptiste', effectif_orthoptiste, etp_orthoptiste, TRUE, FALSE, run_id
FROM submission WHERE effectif_orthoptiste IS NOT NULL OR etp_orthoptiste IS NOT NULL;
INSERT INTO submission_personnel (submission_id, campaign_year, region_code, profession, effectif, etp,
    is_health_profession, is_medecin, run_id)
SELECT submission_id, campaign_year, region_code, 'pedicure_podologue', effectif_pedicure_podologue, etp_pedicure_podologue, TRUE, FALSE, run_id
FROM submission WHERE effectif_pedicure_podologue IS NOT NULL OR etp_pedicure_podologue IS NOT NULL;
INSERT INTO submission_personnel (submission_id, campaign_year, region_code, profession, effectif, etp,
    is_health_profession, is_medecin, run_id)
SELECT submission_id, campaign_year, region_code, 'psychologue', effectif_psychologue, etp_psychologue, FALSE, FALSE, run_id
FROM submission WHERE effectif_psychologue IS NOT NULL OR etp_psychologue IS NOT NULL;
INSERT INTO submission_personnel (submission_id, campaign_year, region_code, profession, effectif, etp,
    is_health_profession, is_medecin, run_id)
SELECT submission_id, campaign_year, region_code, 'dieteticien', effectif_dieteticien, etp_dieteticien, TRUE, FALSE, run_id
FROM submission WHERE effectif_dieteticien IS NOT NULL OR etp_dieteticien IS NOT NULL;
INSERT INTO submission_personnel (submission_id, campaign_year, region_code, profession, effectif, etp,
    is_health_profession, is_medecin, run_id)
SELECT submission_id, campaign_year, region_code, 'assistant_medical', effectif_assistant_medical, etp_assistant_medical, FALSE, FALSE, run_id
FROM submission WHERE effectif_assistant_medical IS NOT NULL OR etp_assistant_medical IS NOT NULL;
INSERT INTO submission_personnel (submission_id, campaign_year, region_code, profession, effectif, etp,
    is_health_profession, is_medecin, run_id)
SELECT submission_id, campaign_year, region_code, 'secretaire_medical', effectif_secretaire_medical, etp_secretaire_medical, FALSE, FALSE, run_id
FROM submission WHERE effectif_secretaire_medical IS NOT NULL OR etp_secretaire_medical IS NOT NULL;
INSERT INTO submission_personnel (submission_id, campaign_year, region_code, profession, effectif, etp,
    is_health_profession, is_medecin, run_id)
SELECT submission_id, campaign_year, region_code, 'coordinateur', effectif_coordinateur, etp_coordinateur, FALSE, FALSE, run_id
FROM submission WHERE effectif_coordinateur IS NOT NULL OR etp_coordinateur IS NOT NULL;
INSERT INTO submission_personnel (submission_id, campaign_year, region_code, profession, effectif, etp,
    is_health_profession, is_medecin, run_id)
SELECT submission_id, campaign_year, region_code, 'personnel_administratif', effectif_personnel_administratif, etp_personnel_administratif, FALSE, FALSE, run_id
FROM submission WHERE effectif_personnel_administratif IS NOT NULL OR etp_personnel_administratif IS NOT NULL;
INSERT INTO submission_personnel (submission_id, campaign_year, region_code, profession, effectif, etp,
    is_health_profession, is_medecin, run_id)
SELECT submission_id, campaign_year, region_code, 'autre', effectif_autre, etp_autre, FALSE, FALSE, run_id
FROM submission WHERE effectif_autre IS NOT NULL OR etp_autre IS NOT NULL;
ALTER TABLE submission DROP COLUMN effectif_medecin_generaliste;
ALTER TABLE submission DROP COLUMN etp_medecin_generaliste;
ALTER TABLE submission DROP COLUMN effectif_medecin_specialiste;
ALTER TABLE submission DROP COLUMN etp_medecin_specialiste;
ALTER TABLE submission DROP COLUMN effectif_chirurgien_dentiste;
ALTER TABLE submission DROP COLUMN etp_chirurgien_dentiste;
ALTER TABLE submission DROP COLUMN effectif_sage_femme;
ALTER TABLE submission DROP COLUMN etp_sage_femme;
ALTER TABLE submission DROP COLUMN effectif_infirmier;
ALTER TABLE submission DROP COLUMN etp_infirmier;
ALTER TABLE submission DROP COLUMN effectif_masseur_kinesitherapeute;
ALTER TABLE submission DROP COLUMN etp_masseur_kinesitherapeute;
ALTER TABLE submission DROP COLUMN effectif_orthophoniste;
ALTER TABLE submission DROP COLUMN etp_orthophoniste;
ALTER TABLE submission DROP COLUMN effectif_orthoptiste;
ALTER TABLE submission DROP COLUMN etp_orthoptiste;
ALTER TABLE submission DROP COLUMN effectif_pedicure_podologue;
ALTER TABLE submission DROP COLUMN etp_pedicure_podologue;
ALTER TABLE submission DROP COLUMN effectif_psychologue;
ALTER TABLE submission DROP COLUMN etp_psychologue;
ALTER TABLE submission DROP COLUMN effectif_dieteticien;
ALTER TABLE submission DROP COLUMN etp_dieteticien;
ALTER TABLE submission DROP COLUMN effectif_assistant_medical;
ALTER TABLE submission DROP COLUMN etp_assistant_medical;
ALTER TABLE submission DROP COLUMN effectif_secretaire_medical;
ALTER TABLE submission DROP COLUMN etp_secretaire_medical;
ALTER TABLE submission DROP COLUMN effectif_coordinateur;
ALTER TABLE submission DROP COLUMN etp_coordinateur;
ALTER TABLE submission DROP COLUMN effectif_personnel_administratif;
ALTER TABLE submission DROP COLUMN etp_personnel_administratif;
ALTER TABLE submission DROP COLUMN effectif_autre;
ALTER TABLE submission DROP COLUMN etp_autre;
