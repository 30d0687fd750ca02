"""Small builder of warehouse loads for the warehouse tests (no sample generator, no
files): a scenario of two campaigns whose every expected answer is written down below,
a big campaign for the kill and concurrency tests, and the entry point of the child
processes those tests start (`python tests/support/warehouse_builder.py …`)."""
from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl

if __name__ == "__main__":  # child process: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from observatoire.warehouse import CampaignLoad  # noqa: E402

PARIS = ZoneInfo("Europe/Paris")
LOADED_AT = dt.datetime(2025, 3, 10, 8, 0, tzinfo=dt.timezone.utc)
PROFESSIONS = (
    "medecin_generaliste", "medecin_specialiste", "chirurgien_dentiste", "sage_femme", "infirmier",
    "masseur_kinesitherapeute", "orthophoniste", "orthoptiste", "pedicure_podologue", "psychologue",
    "dieteticien", "assistant_medical", "secretaire_medical", "coordinateur", "personnel_administratif", "autre",
)

STATUS_SCHEMA = {
    "status_id": pl.String, "campaign_year": pl.Int64, "region_code": pl.String, "departement": pl.String,
    "finess_et": pl.String, "finess_ej": pl.String, "raison_sociale": pl.String, "status": pl.String,
    "status_reason": pl.String, "unexpected_reason": pl.String, "deadline": pl.Date,
    "first_valid_at": pl.Datetime("us", "Europe/Paris"), "days_late": pl.Int64, "submissions_received": pl.Int64,
    "reconciliation_method": pl.String, "submission_id": pl.String, "source_file": pl.String,
    "source_row": pl.Int64, "telephone": pl.String, "run_id": pl.String,
    "loaded_at": pl.Datetime("us", "UTC"),
}
SUBMISSION_SCHEMA = {
    "submission_id": pl.String, "campaign_year": pl.Int64, "region_code": pl.String, "source_file": pl.String,
    "source_row": pl.Int64, "source_sha256": pl.String, "declared_finess_et": pl.String, "finess_et": pl.String,
    "reconciliation_method": pl.String, "date_transmission": pl.Datetime("us", "Europe/Paris"),
    "is_valid": pl.Boolean, "is_current": pl.Boolean, "version_rank": pl.Int64, "n_errors": pl.Int64,
    "n_warnings": pl.Int64, "raison_sociale": pl.String, "type_centre": pl.String, "contact_courriel": pl.String,
    "contact_telephone": pl.String, "file_active": pl.Int64, "patients_medecin_traitant": pl.Int64,
    "nb_actes": pl.Int64, "jours_ouverture": pl.Int64, "amplitude_hebdo_h": pl.Float64,
    "tiers_payant_integral": pl.Boolean, "part_css_pct": pl.Float64, "part_ame_pct": pl.Float64,
    "actions_prevention": pl.Int64, "stagiaires": pl.Int64, "specialites_second_recours": pl.Int64,
    "total_charges": pl.Float64, "total_produits": pl.Float64, "resultat": pl.Float64,
    "remuneration_forfaitaire": pl.Float64,
    "run_id": pl.String, "loaded_at": pl.Datetime("us", "UTC"),
}
# Professions de santé (Code de la santé publique, 4e partie) and médecins, as the
# indicators count them
HEALTH = {"medecin_generaliste", "medecin_specialiste", "chirurgien_dentiste", "sage_femme", "infirmier",
          "masseur_kinesitherapeute", "orthophoniste", "orthoptiste", "pedicure_podologue", "dieteticien"}
MEDECINS = {"medecin_generaliste", "medecin_specialiste"}
PERSONNEL_SCHEMA = {
    "submission_id": pl.String, "campaign_year": pl.Int64, "region_code": pl.String, "profession": pl.String,
    "effectif": pl.Int64, "etp": pl.Float64, "is_health_profession": pl.Boolean, "is_medecin": pl.Boolean,
    "run_id": pl.String,
}
ISSUE_SCHEMA = {
    "issue_id": pl.String, "campaign_year": pl.Int64, "region_code": pl.String, "submission_id": pl.String,
    "source_file": pl.String, "sheet": pl.String, "location": pl.String, "field": pl.String, "label": pl.String,
    "value": pl.String, "severity": pl.String, "message": pl.String, "run_id": pl.String,
}
OUTCOME_SCHEMA = {
    "campaign_year": pl.Int64, "source_file": pl.String, "region_code": pl.String, "source_sha256": pl.String,
    "size_bytes": pl.Int64, "readable": pl.Boolean, "submissions": pl.Int64, "rows_set_aside": pl.Int64,
    "run_id": pl.String,
}

CHANGE_SCHEMA = {
    "change_id": pl.String, "campaign_year": pl.Int64, "region_code": pl.String, "finess_et": pl.String,
    "kind": pl.String, "source": pl.String, "field": pl.String, "previous_value": pl.String,
    "new_value": pl.String, "message": pl.String, "submission_id": pl.String, "run_id": pl.String,
}


def change(year, finess, region, kind, source, field, previous, new, submission_id) -> dict:
    return {"change_id": f"{year}-{finess}-{kind}-{source}", "campaign_year": year, "region_code": region,
            "finess_et": finess, "kind": kind, "source": source, "field": field, "previous_value": previous,
            "new_value": new, "message": f"{field} : {previous} -> {new}", "submission_id": submission_id}


def deadline(year: int) -> dt.date:
    return dt.date(year + 1, 3, 1) - dt.timedelta(days=1)


def status(year, finess, region, dep, state, *, days_late=None, submission_id=None, received=0,
           telephone=None, name=None) -> dict:
    first_valid = None
    if state in ("on_time", "late"):
        first_valid = dt.datetime.combine(deadline(year) + dt.timedelta(days=days_late or -5), dt.time(10),
                                          tzinfo=PARIS)
    return {
        "status_id": f"{year}:{finess}" if state != "unexpected" else f"{year}:unexpected:{submission_id}",
        "campaign_year": year, "region_code": region, "departement": dep,
        "finess_et": finess if state != "unexpected" else None, "finess_ej": None,
        "raison_sociale": name or (f"CENTRE DE SANTE {finess}" if finess else "CENTRE NON IDENTIFIE"), "status": state,
        "status_reason": f"motif {state}", "unexpected_reason": "unknown_finess" if state == "unexpected" else None,
        "deadline": deadline(year), "first_valid_at": first_valid, "days_late": days_late,
        "submissions_received": received, "reconciliation_method": "exact" if received else None,
        "submission_id": submission_id, "source_file": f"{submission_id}.xlsx" if submission_id else None,
        "source_row": None, "telephone": telephone,
    }


def submission(year, submission_id, finess, region, *, valid=True, current=True, rank=1, email=None,
               errors=0, **fields) -> dict:
    return {
        "submission_id": submission_id, "campaign_year": year, "region_code": region,
        "source_file": f"{submission_id}.xlsx", "source_row": None, "source_sha256": f"sha-{submission_id}",
        "declared_finess_et": finess, "finess_et": finess, "reconciliation_method": "exact" if finess else "unmatched",
        "date_transmission": dt.datetime(year + 1, 2, 1, 9, 30, tzinfo=PARIS) + dt.timedelta(days=rank),
        "is_valid": valid, "is_current": current, "version_rank": rank, "n_errors": errors, "n_warnings": 0,
        "contact_courriel": email, **fields,
    }


def campaign(year: int, regions: list[str], statuses: list[dict], submissions: list[dict], run_id: str,
             issues: list[dict] | None = None, changes: list[dict] | None = None) -> CampaignLoad:
    stamp = {"run_id": run_id, "loaded_at": LOADED_AT}
    status_frame = pl.DataFrame([{**row, **stamp} for row in statuses], schema=STATUS_SCHEMA, orient="row") \
        if statuses else pl.DataFrame(schema=STATUS_SCHEMA)
    # the team is given as effectif_<code>/etp_<code> fields; the warehouse keeps a row per profession
    personnel = [
        {"submission_id": row["submission_id"], "campaign_year": year, "region_code": row["region_code"],
         "profession": code, "effectif": row.get(f"effectif_{code}"), "etp": row.get(f"etp_{code}"),
         "is_health_profession": code in HEALTH, "is_medecin": code in MEDECINS, "run_id": run_id}
        for row in submissions for code in PROFESSIONS
        if row.get(f"effectif_{code}") is not None or row.get(f"etp_{code}") is not None
    ]
    sub_frame = pl.DataFrame([{**{k: None for k in SUBMISSION_SCHEMA},
                               **{k: v for k, v in row.items() if k in SUBMISSION_SCHEMA}, **stamp}
                              for row in submissions],
                             schema=SUBMISSION_SCHEMA) if submissions else pl.DataFrame(schema=SUBMISSION_SCHEMA)
    issue_rows = issues if issues is not None else [
        {"issue_id": f"issue-{row['submission_id']}", "campaign_year": year, "region_code": row["region_code"],
         "submission_id": row["submission_id"], "source_file": row["source_file"], "sheet": "Finances",
         "location": "B7", "field": "total_charges", "label": "Total des charges (€)", "value": "-1",
         "severity": "error", "message": "valeur négative", "run_id": run_id}
        for row in submissions if row["n_errors"]
    ]
    outcomes = [{"campaign_year": year, "source_file": row["source_file"], "region_code": row["region_code"],
                 "source_sha256": row["source_sha256"], "size_bytes": 1000, "readable": True, "submissions": 1,
                 "rows_set_aside": 0, "run_id": run_id} for row in submissions]
    return CampaignLoad(
        year=year, regions=regions, source_files=[row["source_file"] for row in submissions],
        statuses=status_frame, submissions=sub_frame,
        issues=pl.DataFrame(issue_rows, schema=ISSUE_SCHEMA),
        outcomes=pl.DataFrame(outcomes, schema=OUTCOME_SCHEMA), run={},
        personnel=pl.DataFrame(personnel, schema=PERSONNEL_SCHEMA),
        changes=pl.DataFrame([{**row, "run_id": run_id} for row in changes or []], schema=CHANGE_SCHEMA),
    )


# ------------------------------------------------------------------ the scenario
# Region 84: départements 69 (A, B, C, D and one unexpected submission U) and 01 (E, F, G);
# region 11: département 75 (H, I). Two campaigns, 2023 and 2024.
A, B, C, D = "690000001", "690000002", "690000003", "690000004"
E, F, G = "010000005", "010000006", "010000007"
H, I = "750000008", "750000009"
TEAM_A = {"effectif_medecin_generaliste": 3, "etp_medecin_generaliste": 2.0, "effectif_infirmier": 2,
          "etp_infirmier": 1.5, "effectif_psychologue": 1, "etp_psychologue": 0.5,
          "effectif_secretaire_medical": 1, "etp_secretaire_medical": 1.0}


def scenario_2024(run_id: str = "run-2024") -> CampaignLoad:
    statuses = [
        status(2024, A, "84", "69", "on_time", submission_id="s24-a", received=1, telephone="0478000001"),
        status(2024, B, "84", "69", "late", days_late=3, submission_id="s24-b2", received=2,
               telephone="0478000002"),
        status(2024, C, "84", "69", "missing", telephone="0478000003"),
        status(2024, D, "84", "69", "invalid", received=1, telephone="0478000004"),
        status(2024, None, "84", "69", "unexpected", submission_id="s24-u", received=1),
        status(2024, E, "84", "01", "on_time", submission_id="s24-e", received=1, telephone="0474000005"),
        status(2024, F, "84", "01", "covered", telephone="0474000006"),
        status(2024, G, "84", "01", "missing", telephone="0474000007"),
        status(2024, H, "11", "75", "missing", telephone="0140000008"),
        status(2024, I, "11", "75", "on_time", submission_id="s24-i", received=1, telephone="0140000009"),
    ]
    submissions = [
        submission(2024, "s24-a", A, "84", email="a@cds-a.fr", file_active=1000, patients_medecin_traitant=600,
                   jours_ouverture=250, amplitude_hebdo_h=50.0, tiers_payant_integral=True, part_css_pct=12.5,
                   part_ame_pct=2.5, actions_prevention=4, stagiaires=2, specialites_second_recours=3,
                   total_charges=105000.0, total_produits=100000.0, resultat=-5000.0,
                   remuneration_forfaitaire=20000.0, **TEAM_A),
        submission(2024, "s24-b1", B, "84", valid=False, current=False, rank=1, email="ancien@cds-b.fr", errors=1),
        submission(2024, "s24-b2", B, "84", rank=2, email="b@cds-b.fr", total_charges=48000.0,
                   total_produits=50000.0, resultat=2000.0),
        submission(2024, "s24-d", D, "84", valid=False, current=False, email="d@cds-d.fr", errors=2),
        submission(2024, "s24-u", None, "84", email="u@inconnu.fr", total_produits=1000.0, resultat=0.0),
        submission(2024, "s24-e", E, "84", email="e@cds-e.fr", total_charges=10100.0, total_produits=10000.0,
                   resultat=-100.0),
        submission(2024, "s24-i", I, "11", email="i@cds-i.fr", total_charges=1.0, total_produits=1.0,
                   resultat=-1.0),
    ]
    changes = [  # A declares another commune than FINESS; E changed its type; I its gestionnaire
        change(2024, A, "84", "adresse", "finess", "commune_insee", "69123", "69266", "s24-a"),
        change(2024, E, "84", "type_centre", "envoi_precedent", "type_centre", "médical", "polyvalent", "s24-e"),
        change(2024, I, "11", "gestionnaire", "finess", "finess_ej", "750000505", "750000513", "s24-i"),
    ]
    return campaign(2024, ["11", "84"], statuses, submissions, run_id, changes=changes)


def scenario_2023(run_id: str = "run-2023") -> CampaignLoad:
    statuses = [
        status(2023, A, "84", "69", "on_time", submission_id="s23-a", received=1),
        status(2023, B, "84", "69", "late", days_late=10, submission_id="s23-b", received=1),
        status(2023, C, "84", "69", "on_time", submission_id="s23-c", received=1),
        status(2023, D, "84", "69", "missing"),
        status(2023, E, "84", "01", "late", days_late=5, submission_id="s23-e", received=1),
        status(2023, F, "84", "01", "covered"),
        status(2023, G, "84", "01", "missing"),
        status(2023, H, "11", "75", "late", days_late=1, submission_id="s23-h", received=1),
        status(2023, I, "11", "75", "on_time", submission_id="s23-i", received=1),
    ]
    submissions = [
        submission(2023, "s23-a", A, "84", email="a@cds-a.fr", resultat=-1.0, total_produits=10.0),
        submission(2023, "s23-b", B, "84", email="b@cds-b.fr"),
        submission(2023, "s23-c", C, "84", email="c-2023@cds-c.fr"),
        submission(2023, "s23-e", E, "84", email="e@cds-e.fr"),
        submission(2023, "s23-h", H, "11", email="h@cds-h.fr"),
        submission(2023, "s23-i", I, "11", email="i@cds-i.fr"),
    ]
    return campaign(2023, ["11", "84"], statuses, submissions, run_id)


# ------------------------------------------------------------------ a big campaign
def big_campaign(year: int, region: str, centres: int, run_id: str) -> CampaignLoad:
    """`centres` expected centres of one region, each with a full current submission: enough
    rows for a load to last while a test kills it or starts a second one."""
    states = ("on_time", "late", "invalid", "missing")
    statuses, submissions = [], []
    for n in range(centres):
        finess = f"{region}{n:07d}"
        state = states[n % 4]
        sub_id = f"big-{year}-{n}" if state != "missing" else None
        statuses.append(status(year, finess, region, region, state, days_late=2 if state == "late" else None,
                               submission_id=sub_id, received=int(sub_id is not None), telephone="0100000000"))
        if sub_id:
            submissions.append(submission(
                year, sub_id, finess, region, valid=state != "invalid", current=state != "invalid",
                email=f"contact{n}@centre.fr", errors=int(state == "invalid"), file_active=n, nb_actes=10 * n,
                total_produits=1000.0 + n, total_charges=900.0, resultat=100.0 + n,
                **{f"effectif_{p}": 1 for p in PROFESSIONS}, **{f"etp_{p}": 0.5 for p in PROFESSIONS},
            ))
    return campaign(year, [region], statuses, submissions, run_id)


def child_main(argv: list[str]) -> int:
    """`load URL YEAR REGION CENTRES RUN_ID [GO_FILE]`: build a big campaign, wait for
    GO_FILE if given (so that two children start together), load it, print timings."""
    from observatoire import warehouse

    url, year, region, centres, run_id = argv[1], int(argv[2]), argv[3], int(argv[4]), argv[5]
    load = big_campaign(year, region, centres, run_id)
    engine = warehouse.connect(url)
    print("ready", flush=True)
    if len(argv) > 6:
        while not Path(argv[6]).exists():
            time.sleep(0.005)
    started = time.time()
    warehouse.load_campaign(engine, load)
    print(f"done {started} {time.time()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
