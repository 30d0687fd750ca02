"""How good is the FINESS reconciliation on a labelled set of damaged and name-only submissions?

    .venv/bin/python benchmarks/reconciliation_quality.py [--seed N] [--n N] [--no-write]
        [--reconciler path/to/variant_of_reconcile.py]

Runs `transforms.reconcile.reconcile_finess` on `datasets.labelled` and prints,
per method, precision (automatic decisions that are right / automatic decisions made) and
recall (right automatic decisions / cases of that method whose truth is a centre), the
share of name-only cases matched automatically, in review and unmatched, every wrong
automatic match, and every case whose outcome is not the expected one. Writes the figures
to benchmarks/results/reconciliation_quality.json and benchmarks/RECONCILIATION.md.
Exit code 1 when there is a wrong automatic match.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import polars as pl

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.append(str(HERE.parent))  # datasets/ is not installed with the product

from datasets.labelled import evaluate, labelled_reconciliation_set  # noqa: E402
from observatoire.readers.reference_data import departement_regions  # noqa: E402
from transforms.reconcile import reconcile_finess  # noqa: E402
METHODS = ("exact", "repaired", "ej_to_et", "name_match")
TARGET_NAME_ONLY_AUTOMATIC = 0.90


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def figures(rows: pl.DataFrame, seed: int, n: int) -> dict:
    per_method = {}
    for method in METHODS:
        made = rows.filter(pl.col("reconciliation_method") == method)
        meant = rows.filter((pl.col("intended_method") == method) & pl.col("truth_is_centre"))
        right = int(made["right"].sum())
        per_method[method] = {
            "automatic_decisions": made.height, "right": right, "wrong": made.height - right,
            "precision": _ratio(right, made.height),
            "cases_meant": meant.height, "right_on_cases_meant": int(meant.filter(
                pl.col("right") & (pl.col("reconciliation_method") == method)).height),
            "recall": _ratio(int(meant.filter(pl.col("right") & (pl.col("reconciliation_method") == method)).height),
                             meant.height),
        }
    automatic = rows.filter(pl.col("outcome") == "automatic")
    centres = rows.filter(pl.col("truth_is_centre"))
    named = rows.filter(pl.col("name_only") & pl.col("truth_is_centre"))
    named_none = rows.filter(pl.col("name_only") & ~pl.col("truth_is_centre"))

    def shares(frame: pl.DataFrame) -> dict:
        return {
            "cases": frame.height,
            "automatic_right": _ratio(int(frame["right"].sum()), frame.height),
            "automatic_wrong": _ratio(int(frame["wrong"].sum()), frame.height),
            "review": _ratio(frame.filter(pl.col("outcome") == "review").height, frame.height),
            "unmatched": _ratio(frame.filter(pl.col("outcome") == "unmatched").height, frame.height),
        }

    per_case = (
        rows.group_by("case", "expected_outcome")
        .agg(pl.len().alias("cases"), pl.col("right").sum().alias("automatic_right"),
             pl.col("wrong").sum().alias("automatic_wrong"),
             (pl.col("outcome") == "review").sum().alias("review"),
             (pl.col("outcome") == "unmatched").sum().alias("unmatched"),
             pl.col("as_expected").sum().alias("as_expected"))
        .sort("case")
    )
    return {
        "seed": seed, "n_requested": n, "submissions": rows.height, "name_only": int(rows["name_only"].sum()),
        "overall": {
            "automatic_decisions": automatic.height, "wrong_automatic": int(automatic["wrong"].sum()),
            "precision": _ratio(int(automatic["right"].sum()), automatic.height),
            "cases_truth_is_centre": centres.height,
            "recall": _ratio(int(centres["right"].sum()), centres.height),
            "as_expected": _ratio(int(rows["as_expected"].sum()), rows.height),
        },
        "per_method": per_method,
        "name_only_truth_is_centre": shares(named),
        "name_only_no_centre": shares(named_none),
        "targets": {
            "no_wrong_automatic_match": int(automatic["wrong"].sum()) == 0,
            "name_only_automatic_at_least_90pct": (
                named.height > 0 and int(named["right"].sum()) / named.height >= TARGET_NAME_ONLY_AUTOMATIC),
            "name_only_rest_in_review": named.filter(~pl.col("right") & (pl.col("outcome") != "review")).height == 0,
            "every_number_damage_repaired": rows.filter(pl.col("case").str.starts_with("number:")
                                                        & ~pl.col("right")).height == 0,
        },
        "per_case": per_case.to_dicts(),
    }


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def _detail(frame: pl.DataFrame) -> list[str]:
    return [
        f"  {r['submission_key']} [{r['case']}] déclaré={r['finess_et']!r} nom={r['raison_sociale']!r} "
        f"commune={r['commune_insee']} cp={r['code_postal']} -> {r['reconciliation_method']} {r['matched_et']} "
        f"(vérité {r['true_finess_et']}, score {r['reconciliation_score']}, candidats {r['candidates']})"
        for r in frame.iter_rows(named=True)
    ]


def report_text(result: dict, rows: pl.DataFrame) -> str:
    lines = [f"Jeu étiqueté : graine {result['seed']}, {result['submissions']} envois, dont {result['name_only']} "
             f"sans numéro FINESS", ""]
    lines.append(f"{'méthode':<12} {'décisions':>9} {'justes':>7} {'fausses':>7} {'précision':>10} {'cas visés':>9} "
                 f"{'rappel':>8}")
    for method, m in result["per_method"].items():
        lines.append(f"{method:<12} {m['automatic_decisions']:>9} {m['right']:>7} {m['wrong']:>7} "
                     f"{_pct(m['precision']):>10} {m['cases_meant']:>9} {_pct(m['recall']):>8}")
    o = result["overall"]
    lines += ["", f"Toutes méthodes : {o['automatic_decisions']} décisions automatiques, "
              f"{o['wrong_automatic']} fausses, "
              f"précision {_pct(o['precision'])}, rappel {_pct(o['recall'])} sur {o['cases_truth_is_centre']} cas "
              f"dont la vérité est un centre ; résultat attendu atteint sur {_pct(o['as_expected'])} des envois."]
    for label, key in (("Sans numéro, vérité = un centre", "name_only_truth_is_centre"),
                       ("Sans numéro, vérité = aucun centre", "name_only_no_centre")):
        s = result[key]
        lines.append(f"{label} ({s['cases']}) : automatique juste {_pct(s['automatic_right'])}, automatique faux "
                     f"{_pct(s['automatic_wrong'])}, à revoir {_pct(s['review'])}, "
                     f"non rapproché {_pct(s['unmatched'])}")
    lines += ["", "Objectifs :"] + [f"  {'OK ' if ok else 'NON'} {name}" for name, ok in result["targets"].items()]
    lines += ["", "Par cas (attendu : cas / auto juste / auto faux / à revoir / non rapproché / conforme) :"]
    for c in result["per_case"]:
        lines.append(f"  {c['case']:<34} {c['expected_outcome']:<12} {c['cases']:>4} {c['automatic_right']:>4} "
                     f"{c['automatic_wrong']:>4} {c['review']:>4} {c['unmatched']:>4} {c['as_expected']:>4}")
    wrong = rows.filter(pl.col("wrong"))
    lines += ["", f"Rapprochements automatiques faux : {wrong.height}"] + _detail(wrong)
    missed = rows.filter(~pl.col("as_expected") & ~pl.col("wrong"))
    lines += ["", f"Autres écarts au résultat attendu : {missed.height}"] + _detail(missed)
    return "\n".join(lines)


def misses(rows: pl.DataFrame) -> list[dict]:
    """Cases whose outcome is not the expected one, grouped by case, with one example each."""
    grouped = (
        rows.filter(~pl.col("as_expected"))
        .group_by("case", "expected_outcome", "outcome", maintain_order=True)
        .agg(pl.len().alias("cases"), pl.col("raison_sociale").first().alias("example"),
             pl.col("commune_insee").first().alias("example_commune"),
             pl.col("code_postal").first().alias("example_cp"),
             pl.col("reconciliation_score").first().alias("example_score"))
        .sort("case", "outcome")
    )
    return grouped.to_dicts()


def _gap_row(miss: dict) -> str:
    score = "" if miss["example_score"] is None else f", score {miss['example_score']:.2f}"
    where = f"commune {miss['example_commune'] or '–'}, CP {miss['example_cp'] or '–'}{score}"
    return (f"| `{miss['case']}` | {miss['expected_outcome']} | {miss['outcome']} | {miss['cases']} "
            f"| « {miss['example']} » ({where}) |")


def markdown(result: dict) -> str:
    o, named = result["overall"], result["name_only_truth_is_centre"]
    rows = "\n".join(
        f"| {method} | {m['automatic_decisions']} | {m['wrong']} | {_pct(m['precision'])} | {m['cases_meant']} "
        f"| {_pct(m['recall'])} |" for method, m in result["per_method"].items()
    )
    cases = "\n".join(
        f"| `{c['case']}` | {c['expected_outcome']} | {c['cases']} | {c['automatic_right']} | {c['automatic_wrong']} "
        f"| {c['review']} | {c['unmatched']} |" for c in result["per_case"]
    )
    targets = "\n".join(f"- {'✅' if ok else '❌'} `{name}`" for name, ok in result["targets"].items())
    gaps = "\n".join(_gap_row(m) for m in result["misses"]) or "| – | | | 0 | |"
    return f"""## Qualité du rapprochement FINESS

Mesurée sur un jeu étiqueté produit par le générateur (`datasets/labelled.py`,
graine {result['seed']}) : {result['submissions']} envois, dont {result['name_only']} sans numéro FINESS, dans six
régions (Corse et outre-mer compris). Chaque cas est étiqueté d'après la façon dont il a été
construit, jamais d'après le rapprochement : numéros abîmés comme dans finess.md (zéro initial
perdu, `.0`, `1.0000024E7`, espaces, points, `2a`), EJ au lieu de l'ET (un ou plusieurs centres),
raisons sociales telles que les centres les tapent (casse, accents, `CDS`/`C.D.S.`/`Centre
municipal de santé`/`CMS`, mots vides, nom long, type de centre omis, ville ajoutée, `St`/`Saint`,
code postal seul, faute de frappe), et cas piégés : deux centres presque homonymes dans une
commune, nom d'un centre avec une autre commune, établissement qui n'est pas un centre de santé,
centre absent du FINESS, numéro à clé valide de personne, numéro à clé fausse.

Reproduire : `.venv/bin/python benchmarks/reconciliation_quality.py --seed {result['seed']} --n {result['n_requested']}`
(chiffres dans `benchmarks/results/reconciliation_quality.json`).

| méthode | décisions automatiques | fausses | précision | cas visés | rappel |
|---|---|---|---|---|---|
{rows}

Toutes méthodes : {o['automatic_decisions']} décisions automatiques, **{o['wrong_automatic']} fausses**
(précision {_pct(o['precision'])}), rappel {_pct(o['recall'])} sur les {o['cases_truth_is_centre']} envois dont la
vérité est un centre (les cas ambigus vont à dessein en revue).
Envois sans numéro dont la vérité est un centre ({named['cases']}) : **{_pct(named['automatic_right'])}
rapprochés automatiquement**, {_pct(named['review'])} à revoir, {_pct(named['unmatched'])} non rapprochés.

Objectifs (issue 5) :
{targets}

Écarts au résultat attendu (à corriger dans `transforms/reconcile.py`, jamais en changeant
les étiquettes) :

| cas | attendu | obtenu | envois | exemple |
|---|---|---|---|---|
{gaps}

Détail par cas (auto = rapprochement automatique juste) :

| cas | attendu | envois | auto | auto faux | à revoir | non rapproché |
|---|---|---|---|---|---|---|
{cases}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Précision et rappel du rapprochement FINESS sur un jeu étiqueté.")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--no-write", action="store_true", help="ne pas écrire les fichiers de résultats")
    parser.add_argument("--reconciler", type=Path, default=None,
                        help="fichier .py d'une variante de transforms/reconcile.py à mesurer (implique --no-write)")
    args = parser.parse_args(argv)
    reconcile = reconcile_finess
    if args.reconciler is not None:
        spec = importlib.util.spec_from_file_location("reconcile_variant", args.reconciler)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        reconcile, args.no_write = module.reconcile_finess, True
    history, submissions, truth = labelled_reconciliation_set(args.seed, args.n)
    resolved = reconcile(submissions, history, departement_regions())
    rows = evaluate(submissions, truth, resolved)
    result = figures(rows, args.seed, args.n)
    result["misses"] = misses(rows)
    print(report_text(result, rows))
    if not args.no_write:
        (HERE / "results").mkdir(exist_ok=True)
        (HERE / "results" / "reconciliation_quality.json").write_text(
            json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        (HERE / "RECONCILIATION.md").write_text(markdown(result), encoding="utf-8")
    return 1 if result["overall"]["wrong_automatic"] else 0


if __name__ == "__main__":
    sys.exit(main())
