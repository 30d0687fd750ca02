"""The small campaign of the flow tests (and of the deployment e2e test and the guard
tests): a FINESS extract of five centres in the data.gouv layout and three submission
files, in the data layout of deploy/prefect.yaml."""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

# The campaign: five centres of the referential, four in region 84 (Rhône), one in 11.
#   A 690000013 sends on 15/02/2025            -> on_time
#   B 690000039 sends "beaucoup" as file active -> invalid
#   C 690000054 sends nothing                   -> missing
#   D 690000070 sends on 03/03/2025             -> late, 3 days after 28/02/2025
#   E 750000010 (Paris) is outside region 84    -> no row when regions = ["84"]
# plus a PDF renamed bad.xlsx, unreadable.
EXPECTED_STATUSES = {
    "690000013": ("on_time", None), "690000039": ("invalid", None),
    "690000054": ("missing", None), "690000070": ("late", 3),
}
EXPECTED_CHASE = [("690000054", "manquant"), ("690000039", "invalide"), ("690000070", "en retard")]

_CENTRES = [  # et, ej, raison sociale, commune (3 digits), département, libellé, cp ville
    ("690000013", "690000021", "CDS MUNICIPAL VILLEURBANNE", "266", "69", "RHONE", "69100 VILLEURBANNE"),
    ("690000039", "690000047", "CENTRE DE SANTE DENTAIRE MUTUALISTE", "266", "69", "RHONE", "69100 VILLEURBANNE"),
    ("690000054", "690000062", "CENTRE DE SANTE DES MINGUETTES", "259", "69", "RHONE", "69200 VENISSIEUX"),
    ("690000070", "690000104", "CENTRE DE SANTE INFIRMIER BRON", "029", "69", "RHONE", "69500 BRON"),
    ("750000010", "750000028", "CENTRE DE SANTE BELLEVILLE", "120", "75", "PARIS", "75020 PARIS"),
]
EXPORT_HEADER = (
    "finess_et;raison_sociale;type_centre;type_gestionnaire;commune_insee;date_transmission;annee_exercice;"
    "file_active;patients_medecin_traitant;nb_actes;jours_ouverture;amplitude_hebdo_h;tiers_payant_integral;"
    "total_charges;total_produits;resultat;effectif_infirmier;etp_infirmier"
)


def export_row(finess, name, commune, sent, file_active="100"):
    return (f"{finess};{name};médical;organisme à but non lucratif;{commune};{sent};2024;{file_active};10;100;200;"
            f"40;non;100;100;0;1;1")


def extract_line(et, ej, name, commune, dep, dep_name, city, long_name=None) -> str:
    """A centre de santé's structureet line of a data.gouv FINESS extract (finess.md)."""
    return (f"structureet;{et};{ej};{name};{long_name or name};;;1;R;DE LA PAIX;;;{commune};{dep};{dep_name};{city};"
            f"0478000000;;124;Centre de Santé;2206;Centres de Santé;;;;;;;2000-01-01;2000-01-01;2024-01-01;")


def write_extract(path: Path, extract_date: str, lines: list[str]) -> Path:
    """An extract of `lines` dated `extract_date` (AAAA-MM-JJ), in windows-1252 as data.gouv ships it."""
    path.write_bytes(("\n".join([f"finess;etalab;111;{extract_date}", *lines]) + "\n").encode("cp1252"))
    return path


@dataclass(frozen=True)
class SmallCampaign:
    root: Path
    submissions: Path
    finess: Path


def write_small_campaign(root: Path) -> SmallCampaign:
    """The data layout of deploy/prefect.yaml: `finess/` with one extract (data.gouv
    layout, windows-1252) and `envois/2024/` with three submission files."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "finess").mkdir()
    finess = write_extract(root / "finess" / "finess_2025-01-12.csv", "2025-01-12",
                           [extract_line(*centre) for centre in _CENTRES])
    subs = root / "envois" / "2024"
    subs.mkdir(parents=True)
    export = [EXPORT_HEADER,
              export_row("690000013", "CDS Municipal Villeurbanne", "69266", "15/02/2025 10:00"),
              export_row("690000039", "Centre de santé dentaire", "69266", "20/02/2025 11:00", "beaucoup")]
    (subs / "export.csv").write_bytes(("\n".join(export) + "\n").encode("cp1252"))
    late = [EXPORT_HEADER, export_row("690000070", "Centre de santé infirmier", "69029", "03/03/2025 09:00")]
    (subs / "retard.csv").write_bytes(("\n".join(late) + "\n").encode("cp1252"))
    (subs / "bad.xlsx").write_bytes(b"%PDF-1.4 hello")
    return SmallCampaign(root, subs, finess)


def warehouse_statuses(db: Path, year: int = 2024) -> dict[str, tuple[str, int | None]]:
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "SELECT finess_et, status, days_late FROM centre_year_status WHERE campaign_year = ?", (year,)
        ).fetchall()
    return {et: (status, days) for et, status, days in rows}


def run_artifacts(flow_run_id) -> dict[str, object]:
    """Artifacts of a flow run and of its subflows, by key."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, FlowRunFilter
    from prefect.client.schemas.filters import FlowRunFilterParentFlowRunId

    with get_client(sync_client=True) as client:
        children = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[flow_run_id])))
        ids = [flow_run_id, *(run.id for run in children)]
        found = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=ids)))
    return {artifact.key: artifact for artifact in found}
