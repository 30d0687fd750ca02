"""What does a complete, reproducible sample campaign look like, and what is its answer?

`generate_sample` writes three dated FINESS extracts and the FINESS+ file of the last
one's date (the same referential, closures by date), the submissions of the 2023 and
2024 campaigns (workbooks, regional exports, unreadable files, reception manifest), each
campaign's calendar, and beside them the expected answer built from the cases
themselves (statuses, resolutions, unreadable files, and the changes centres did not
tell, `changes`). The same seed gives byte-identical files.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from observatoire.errors import SampleError  # lives there so that the CLI catches it without importing this
from observatoire.outputs import write_output
from observatoire.sample.campaign import Campaign, CampaignPlanner
from observatoire.sample.changes import CASE_LABELS as CHANGE_CASE_LABELS, ExpectedChange, plan_changes
from observatoire.sample.expected import (
    changes_csv, derive_statuses, mark_current_versions, review_csv, status_csv, submissions_csv, unreadable_csv,
)
from observatoire.sample.extract_writer import write_extracts
from observatoire.sample.finess_plus_writer import write_finess_plus
from observatoire.sample.geography import load_region_names
from observatoire.sample.referential import SNAPSHOTS, Referential, build_referential
from observatoire.sample.review import CASE_LABELS as REVIEW_CASE_LABELS, ReviewCase, plan_reviews
from observatoire.sample.writers import EXPORT_FORMATS, calendar_bytes, write_campaign

YEARS = (2023, 2024)
README_MARKER = "Jeu d'essai de l'observatoire des centres de santé"
_GENERATED = ("finess", *(str(year) for year in YEARS), "README.txt")


@dataclass(frozen=True)
class CampaignPaths:
    year: int
    submissions_dir: Path
    calendar: Path
    expected_dir: Path


@dataclass(frozen=True)
class SampleManifest:
    out_dir: Path
    seed: int
    extracts: list[Path]  # S0, S1, S2 in date order
    campaigns: dict[int, CampaignPaths]
    readme: Path
    finess_plus: Path | None = None  # FINESS+ file dated like the last extract: the same referential


def generate_sample(out_dir: Path, seed: int = 2025) -> SampleManifest:
    """Write the whole sample under `out_dir` (its earlier sample is replaced)."""
    out_dir = Path(out_dir)
    _clear_previous_sample(out_dir)
    referential = build_referential(seed)
    extracts = write_extracts(referential, SNAPSHOTS, out_dir / "finess", seed)
    finess_plus = write_finess_plus(referential, SNAPSHOTS[-1], out_dir / "finess", seed)
    campaigns: dict[int, CampaignPaths] = {}
    planned = {year: CampaignPlanner(year, referential, seed).plan() for year in YEARS}
    # what centres changed between their reports, and how reports and FINESS disagree
    changes = plan_changes(planned, referential, seed)
    # a few submissions an analyst must arbitrate, for `observatoire revue` and `decision`
    reviews = plan_reviews(planned, referential, seed, changes)
    for year in YEARS:
        campaigns[year] = _write_year(planned[year], referential, out_dir / str(year), seed, changes[year],
                                      reviews[year])
    readme = out_dir / "README.txt"
    write_output(out_dir, readme.name,
                 _readme(out_dir, seed, extracts, campaigns, planned, referential, finess_plus).encode("utf-8"))
    return SampleManifest(out_dir, seed, extracts, campaigns, readme, finess_plus)


def _write_year(campaign: Campaign, referential: Referential, folder: Path, seed: int,
                changes: list[ExpectedChange], reviews: list[ReviewCase]) -> CampaignPaths:
    paths = CampaignPaths(campaign.year, folder / "submissions", folder / "calendrier.csv", folder / "expected")
    write_campaign(campaign, paths.submissions_dir, seed)
    write_output(folder, paths.calendar.name, calendar_bytes(campaign))
    mark_current_versions(campaign)
    rows = derive_statuses(campaign, referential)
    write_output(folder, "expected/centre_year_status.csv", status_csv(campaign.year, rows))
    write_output(folder, "expected/submissions.csv", submissions_csv(campaign))
    write_output(folder, "expected/unreadable.csv", unreadable_csv(campaign))
    write_output(folder, "expected/changes.csv", changes_csv(changes))
    write_output(folder, "expected/review.csv", review_csv(reviews))
    return paths


def _clear_previous_sample(out_dir: Path) -> None:
    present = [name for name in _GENERATED if (out_dir / name).exists()]
    if not present:
        return
    readme = out_dir / "README.txt"
    if not readme.exists() or README_MARKER not in readme.read_text(encoding="utf-8", errors="replace"):
        raise SampleError(
            f"Le dossier {out_dir} contient déjà {', '.join(present)} sans être un jeu d'essai généré : "
            "choisir un dossier vide."
        )
    for name in present:
        path = out_dir / name
        # a link planted in place of a generated folder is removed, never followed
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()


# ------------------------------------------------------------------ README
_CASE_LABELS = {
    "exact": "dépôt ordinaire dans les délais, FINESS exact",
    "exact_also_in_manifest": "  dont fichiers aussi listés dans reception.csv (la date du fichier prime)",
    "antennes_principal": "centre principal déclarant ses antennes",
    "antennes_covered": "antennes couvertes par leur centre principal",
    "antenne_of_invalid_principal": "antenne d'un centre principal au dépôt invalide (reste manquante)",
    "repaired_lost_zero_numeric_cell": "FINESS réparé : zéro initial perdu (cellule numérique)",
    "repaired_lost_zero_text": "FINESS réparé : zéro initial perdu (texte)",
    "repaired_float": "FINESS réparé : nombre décimal « 10000024.0 »",
    "repaired_scientific": "FINESS réparé : notation scientifique « 1.0000024E7 »",
    "repaired_spaces": "FINESS réparé : espaces",
    "repaired_dots": "FINESS réparé : points",
    "repaired_lower_case_and_spaces": "FINESS réparé : « 2a 000 001 4 », minuscules et espaces (Corse)",
    "exact_lower_case": "FINESS exact écrit « 2a0000014 » (la casse est normalisée avant « exact »)",
    "ej_to_et": "FINESS juridique (EJ) donné à la place de l'ET",
    "name_match": "sans FINESS : rapprochement par raison sociale et commune",
    "late_1_days": "en retard d'un jour",
    "late_3_days": "en retard de 3 jours",
    "late_40_days": "en retard de 40 jours",
    "borderline_2359_on_time": "transmis le dernier jour à 23:59 (dans les délais)",
    "borderline_midnight_late": "transmis le lendemain à 00:00 (1 jour de retard)",
    "borderline_utc_late": "transmis le dernier jour à 23:30Z, déjà le lendemain à Paris (1 jour de retard)",
    "after_default_limit_on_time": "transmis le 1er mars, dans les délais grâce à la date limite reportée",
    "version_first_valid": "première version valide dans les délais",
    "version_later_correction": "correction valide envoyée après la date limite (version courante)",
    "version_invalid_first": "première version invalide",
    "version_valid_correction_late": "correction valide après la date limite (en retard)",
    "invalid_empty_raison_sociale": "invalide : raison sociale vide",
    "invalid_type_centre": "invalide : type de centre « clinique »",
    "invalid_patients_mt_over_file_active": "invalide : patients médecin traitant > file active",
    "invalid_jours_ouverture": "invalide : 400 jours d'ouverture",
    "invalid_missing_total_charges": "invalide : total des charges absent",
    "invalid_no_health_professional": "invalide : aucun professionnel de santé en ETP",
    "invalid_annee_exercice": "invalide : année d'exercice différente de la campagne",
    "invalid_file_active_not_a_number": "invalide : file active « beaucoup »",
    "invalid_no_date_not_in_manifest": "invalide : sans date de transmission ni ligne dans reception.csv",
    "warning_bad_email": "avertissement : courriel mal formé",
    "warning_phone_9_digits": "avertissement : téléphone à 9 chiffres",
    "warning_resultat_mismatch": "avertissement : résultat ≠ produits − charges",
    "warning_unknown_profession": "avertissement : profession inconnue",
    "warning_profession_twice": "avertissement : profession en double",
    "manifest_reception_date": "sans date de transmission, date prise dans reception.csv",
    "unreadable_empty": "fichier illisible : classeur vide (0 octet)",
    "unreadable_truncated": "fichier illisible : classeur tronqué",
    "unreadable_not_a_spreadsheet": "fichier illisible : PDF renommé en .xlsx",
    "unreadable_utf16_encoding": "fichier illisible : CSV en UTF-16",
    "resent_after_truncated_file": "dépôt renvoyé après un classeur tronqué",
    "extension_on_time": "dérogation au 31/03 utilisée dans les délais",
    "extension_overrun": "dérogation dépassée (retard compté depuis la dérogation)",
    "unexpected_unknown_finess": "inattendu : FINESS inconnu du référentiel",
    "unexpected_closed": "inattendu : centre fermé l'année précédente",
    "unexpected_not_centre_de_sante": "inattendu : établissement qui n'est pas un centre de santé",
    **REVIEW_CASE_LABELS,
    "missing": "centres attendus sans aucun dépôt",
    **CHANGE_CASE_LABELS,
}


_ENCODINGS = {"cp1252": "windows-1252", "utf-8-sig": "UTF-8 avec BOM", "utf-8": "UTF-8 sans BOM"}
_SEPARATORS = {";": "« ; »", ",": "« , »", "\t": "tabulation"}


def _readme(out_dir: Path, seed: int, extracts: list[Path], campaigns: dict[int, CampaignPaths],
            planned: dict[int, Campaign], referential: Referential, finess_plus: Path) -> str:
    regions = load_region_names()
    lines = [
        f"{README_MARKER} (graine {seed})",
        "=" * 60,
        "",
        "Données fictives générées par `observatoire sample` : mêmes fichiers à l'octet près pour une même",
        "graine. Aucune donnée réelle de centre de santé.",
        "",
        "Référentiel FINESS (format data.gouv, windows-1252) :",
    ]
    for snapshot, path in zip(SNAPSHOTS, extracts):
        count = len(referential.in_snapshot(snapshot.label))
        lines.append(f"  {snapshot.label} {snapshot.extract_date:%d/%m/%Y} : {path.relative_to(out_dir)} "
                     f"({count} établissements)")
    closed = sum(1 for e in referential.establishments if e.datefermeture is not None)
    lines += [
        f"  FINESS+ {SNAPSHOTS[-1].extract_date:%d/%m/%Y} : {finess_plus.relative_to(out_dir)} (JSON compressé, "
        f"{len(referential.establishments)} établissements dont {closed} fermés avec leur date de fermeture) :",
        "    le même référentiel que les trois extraits ; une campagne lancée avec ce seul fichier",
        "    (--finess finess/" + finess_plus.name + ") donne les mêmes statuts.",
    ]
    lines.append("")
    lines.append("Centres de santé par région (tous extraits confondus) :")
    counts: dict[str, int] = {}
    for centre in referential.centres:
        counts[centre.region_code] = counts.get(centre.region_code, 0) + 1
    for code in sorted(counts):
        lines.append(f"  {code} {regions.get(code, '')} : {counts[code]}")
    for year, paths in campaigns.items():
        campaign = planned[year]
        lines += ["", f"Campagne {year} (exercice {year}, date limite {campaign.date_limite:%d/%m/%Y})", "-" * 40]
        lines.append(f"  dépôts : {paths.submissions_dir.relative_to(out_dir)}/  (classeurs par département, "
                     "exports régionaux export_r<région>, reception.csv)")
        lines.append("  exports régionaux :")
        for region, fmt in EXPORT_FORMATS[year].items():
            detail = "classeur .xlsx à une feuille" if fmt.kind == "xlsx" else (
                f"CSV {_ENCODINGS[fmt.encoding]}, séparateur {_SEPARATORS[fmt.separator]}, décimales « {fmt.decimal_mark} »")
            header = "libellés français" if fmt.header == "labels" else "noms canoniques"
            lines.append(f"    export_r{region}.{fmt.extension} : {detail}, en-têtes en {header}")
        lines.append(f"  calendrier : {paths.calendar.relative_to(out_dir)}")
        lines.append(f"  réponse attendue : {paths.expected_dir.relative_to(out_dir)}/ "
                     "(centre_year_status.csv, submissions.csv, unreadable.csv, changes.csv, review.csv)")
        lines.append("  cas construits :")
        order = list(_CASE_LABELS)
        for case, count in sorted(campaign.cases.items(), key=lambda item: (order.index(item[0]) if item[0] in order else len(order), item[0])):
            lines.append(f"    {count:4d}  {_CASE_LABELS.get(case, case)}")
        finess_args = " ".join(f"--finess {path.relative_to(out_dir)}" for path in extracts)
        lines += ["  commande :",
                  f"    observatoire run --year {year} --submissions {paths.submissions_dir.relative_to(out_dir)} "
                  f"{finess_args} --calendar {paths.calendar.relative_to(out_dir)}"]
    lines += [
        "",
        "Réponse attendue (UTF-8, séparateur « ; »), construite à partir des cas, jamais du pipeline :",
        "  centre_year_status.csv : une ligne par centre attendu (statut on_time, late, invalid, missing ou",
        "    covered ; days_late renseigné pour late ; deadline = dernier jour dans les délais applicable), plus",
        "    une ligne par dépôt inattendu (status unexpected, source_file, source_row, unexpected_reason).",
        "  submissions.csv : une ligne par dépôt lisible (ligne d'export ou classeur) : FINESS déclaré tel",
        "    qu'écrit, ET attendu, méthode de rapprochement, validité, version courante (dernière version",
        "    valide d'un ET ; jamais pour un dépôt non rapproché), et le cas construit (colonne case).",
        "  unreadable.csv : les fichiers illisibles, la raison et le centre auquel ils étaient destinés.",
        "  changes.csv : une ligne par changement ou écart à signaler (table centre_change) : nature (kind),",
        "    comparé à l'envoi de l'exercice précédent (envoi_precedent) ou à FINESS (finess), champ, valeur",
        "    d'avant ou de FINESS, valeur déclarée, et le cas construit ; un centre qui n'a rien changé n'y",
        "    figure pas. Le type de centre et de gestionnaire d'un centre sont ceux de son envoi précédent.",
        "  review.csv : une ligne par dépôt à arbitrer (méthode review : statut unexpected, motif review, et son",
        "    centre manquant) : FINESS, raison sociale et commune déclarés, les centres entre lesquels il a été",
        "    construit pour hésiter (candidates), et la décision qui le règle (decision : l'ET à retenir, vide",
        "    pour « aucun centre ») ; après cette décision, l'exécution suivante le rapproche (méthode decision).",
        "",
        "Les commandes se lancent depuis ce dossier. Un centre attendu pour l'année N : catégorie centre de",
        "santé (124, 125, 130, 289), département d'une région, ouvert au plus tard le 31/12/N et présent dans",
        "un extrait daté du 01/01/N ou après (les trois extraits chargés).",
        "",
    ]
    return "\n".join(lines)
