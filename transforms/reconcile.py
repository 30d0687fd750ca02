"""Which referential ET is each submission about, and how sure are we?

The methods of campaign-rules.md, in order, each one only for what the previous ones
left: exact, repaired (finess.md damages undone, valid key, exists), ej_to_et (an EJ with
exactly one centre-de-santé ET in the region), name_match (normalised raison sociale in
the same commune, blocked by département, with a score), review (candidates kept for an
analyst), unmatched. Precision first: a wrong automatic match puts a centre's money at
risk, so anything ambiguous goes to review.
"""
from __future__ import annotations

import polars as pl

from transforms.finess_key import normalise_finess_text, repair_finess, valid_finess_expr
from transforms.geography import commune_departement

NAME_MATCH_THRESHOLD = 0.75  # Jaccard of name tokens, same commune required
REVIEW_THRESHOLD = 0.4
FUZZY_REVIEW_THRESHOLD = 0.5  # distinctive words up to one typo apart: review only
NAME_MATCH_MARGIN = 0.15  # best candidate must beat the runner-up by this much

_STOP_WORDS = ["DE", "DU", "DES", "LA", "LE", "LES", "L", "D", "ET", "A", "AU", "AUX", "EN", "SUR", "SOUS"]
_CDS_FORMS = r"\b(?:C\s?D\s?S|CENTRE\s+(?:MUNICIPAL\s+)?DE\s+SANTE|CENTRE\s+SANTE|CTRE\s+DE\s+SANTE)\b"

RESOLUTION_SCHEMA = {
    "submission_key": pl.String, "declared_finess_et": pl.String, "finess_et": pl.String,
    "reconciliation_method": pl.String, "reconciliation_score": pl.Float64, "candidates": pl.String,
}


_KINDS = ["MUNICIPAL", "MUTUALISTE", "ASSOCIATIF", "DENTAIRE", "INFIRMIER", "OPHTALMO", "MEDICAL", "POLYVALENT"]
_GENERIC = ["CDS", "CENTRE", "SANTE", "ANTENNE", "SITE", "PRINCIPAL", *_KINDS]
# words naming another kind of establishment: a submission using one is never matched automatically
_OTHER_ESTABLISHMENTS = ["CPTS", "MSP", "MAISON", "EHPAD", "PMI", "PHARMACIE", "LBM", "LABORATOIRE", "CH", "CHU",
                         "HOPITAL", "CLINIQUE", "CMPP", "CMP", "UAD", "DIALYSE", "AUTODIALYSE", "SSIAD", "RESIDENCE"]


def _one_edit_apart(a: str, b: str) -> bool:
    """Same word but for one letter dropped, added, changed or two neighbours swapped."""
    if a == b:
        return True
    if min(len(a), len(b)) < 4 or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1:] == short for i in range(len(long)))


def _fuzzy_word_similarity(pair: dict) -> float:
    """Jaccard of distinctive words where a word one typo away counts as the same (review only)."""
    left, right = list(pair["a"] or []), list(pair["b"] or [])
    if not left or not right:
        return 0.0
    same = sum(1 for word in left if any(_one_edit_apart(word, other) for other in right))
    return same / (len(left) + len(right) - same)


def name_tokens(expr: pl.Expr) -> pl.Expr:
    """Raison sociale as a list of tokens: no accents or punctuation, `CDS` for every way of
    writing centre de santé, no stop-words."""
    text = (
        expr.str.to_uppercase()
        .str.replace_all("Œ", "OE").str.replace_all("Æ", "AE")
        .str.normalize("NFKD").str.replace_all(r"\p{Mn}", "")
        .str.replace_all(r"\b([A-Z])\.", "$1")  # C.D.S. -> CDS
        .str.replace_all(r"[^A-Z0-9]+", " ")
        .str.replace_all(r"\bCENTRE\s+MUNICIPAL\s+DE\s+SANTE\b|\bCMS\b", "CDS MUNICIPAL")
        .str.replace_all(r"\bCENTRE\s+DE\s+SOINS\s+INFIRMIERS?\b|\bCSI\b", "CDS INFIRMIER")
        .str.replace_all(_CDS_FORMS, "CDS")
        .str.replace_all(r"\bINFIRMIERS\b", "INFIRMIER").str.replace_all(r"\bOPHTALMOLOGIQUE\b", "OPHTALMO")
        .str.replace_all(r"\bST\b", "SAINT").str.replace_all(r"\bSTE\b", "SAINTE")
        .str.strip_chars()
    )
    return text.str.split(" ").list.eval(pl.element().filter(~pl.element().is_in(_STOP_WORDS) & (pl.element() != ""))).list.unique()


def distinctive_tokens(tokens: pl.Expr) -> pl.Expr:
    """The words of a `name_tokens` list that tell a centre apart: without `CDS`, `CENTRE`,
    `SANTE`, the kind of centre (`MUNICIPAL`, `DENTAIRE`…) or `ANTENNE`/`SITE PRINCIPAL`."""
    return tokens.list.set_difference(pl.lit(_GENERIC))


def declared_key(finess: pl.Expr, name: pl.Expr, commune: pl.Expr, postal_code: pl.Expr | None = None) -> pl.Expr:
    """What an analyst's decision is keyed on: the declared number once repaired, else the
    normalised name and the commune. The same declared value gets the same decision in
    every later run and year."""
    tokens = name_tokens(name.fill_null("")).list.sort().list.join(" ")
    place = commune.str.to_uppercase()
    if postal_code is not None:  # a name given with only a postal code is keyed on it
        place = pl.coalesce(place, pl.format("CP{}", postal_code.str.strip_chars()))
    by_name = pl.format("NOM:{}|{}", tokens, place.fill_null(""))
    return pl.when(repair_finess(finess).is_not_null() & (repair_finess(finess) != ""))\
        .then(pl.format("FINESS:{}", repair_finess(finess))).otherwise(by_name)


def reconcile_finess(
    submissions: pl.DataFrame, history: pl.DataFrame, departement_regions: pl.DataFrame,
    decisions: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per submission (RESOLUTION_SCHEMA + declared_key). `submissions`:
    submission_key, finess_et (declared text), raison_sociale, commune_insee, code_postal.
    `history`: every ET ever seen (transforms.referential.establishment_history).
    `decisions`: declared_key, finess_et: analysts' decisions, applied before any method
    (method `decision`; a null finess_et means "no centre")."""
    declared = submissions.select(
        "submission_key",
        pl.col("finess_et").alias("declared_finess_et"),
        normalise_finess_text(pl.col("finess_et")).alias("normalised"),
        repair_finess(pl.col("finess_et")).alias("repaired"),
        "raison_sociale", "commune_insee", "code_postal",
        declared_key(pl.col("finess_et"), pl.col("raison_sociale"), pl.col("commune_insee"),
                     pl.col("code_postal")).alias("declared_key"),
    )
    if decisions is None:
        decisions = pl.DataFrame(schema={"declared_key": pl.String, "finess_et": pl.String})
    decided_keys = decisions.select("declared_key", pl.col("finess_et").alias("decided_et"), pl.lit(True).alias("decided"))
    with_decision = declared.join(decided_keys, on="declared_key", how="left")
    decided = with_decision.filter(pl.col("decided").fill_null(False))
    declared = with_decision.filter(~pl.col("decided").fill_null(False)).drop("decided_et", "decided")
    ets = history.select(pl.col("finess_et").alias("candidate"), pl.lit(True).alias("known"))
    step = declared.join(ets, left_on="normalised", right_on="candidate", how="left")
    exact = step.filter(pl.col("known").fill_null(False))
    rest = step.filter(~pl.col("known").fill_null(False)).drop("known")

    step = rest.join(ets, left_on="repaired", right_on="candidate", how="left")
    repaired = step.filter(pl.col("known").fill_null(False) & valid_finess_expr("repaired"))
    rest = step.filter(~(pl.col("known").fill_null(False) & valid_finess_expr("repaired"))).drop("known")

    ej_resolved, ej_review, rest = _ej_to_et(rest, history, departement_regions)
    named, name_review, unmatched = _name_match(rest, history)

    resolved = pl.concat([
        decided.select("submission_key", "declared_finess_et", pl.col("decided_et").alias("finess_et"),
                       pl.lit("decision").alias("reconciliation_method"), pl.lit(1.0).alias("reconciliation_score"),
                       pl.lit(None, pl.String).alias("candidates")),
        exact.select("submission_key", "declared_finess_et", pl.col("normalised").alias("finess_et"),
                     pl.lit("exact").alias("reconciliation_method"), pl.lit(1.0).alias("reconciliation_score"),
                     pl.lit(None, pl.String).alias("candidates")),
        repaired.select("submission_key", "declared_finess_et", pl.col("repaired").alias("finess_et"),
                        pl.lit("repaired").alias("reconciliation_method"), pl.lit(1.0).alias("reconciliation_score"),
                        pl.lit(None, pl.String).alias("candidates")),
        ej_resolved, ej_review, named, name_review,
        unmatched.select("submission_key", "declared_finess_et", pl.lit(None, pl.String).alias("finess_et"),
                         pl.lit("unmatched").alias("reconciliation_method"),
                         pl.lit(None, pl.Float64).alias("reconciliation_score"),
                         pl.lit(None, pl.String).alias("candidates")),
    ], how="vertical_relaxed")
    return (
        submissions.select("submission_key")
        .join(resolved, on="submission_key", how="left")
        .join(with_decision.select("submission_key", "declared_key"), on="submission_key", how="left")
        .select(*[pl.col(name).cast(dtype) for name, dtype in RESOLUTION_SCHEMA.items()], "declared_key")
    )


def _submission_region(frame: pl.DataFrame, departement_regions: pl.DataFrame) -> pl.DataFrame:
    cog = commune_departement(pl.col("commune_insee"))
    regions = departement_regions.select(pl.col("code_departement").alias("submission_departement"),
                                         pl.col("code_region").alias("submission_region"))
    return frame.with_columns(cog.alias("submission_departement")).join(
        regions, on="submission_departement", how="left"
    )


def _ej_to_et(rest: pl.DataFrame, history: pl.DataFrame, departement_regions: pl.DataFrame):
    centres = history.filter(pl.col("is_centre_de_sante")).select(
        pl.col("finess_ej").alias("ej"), pl.col("finess_et").alias("candidate_et"), "region_code"
    )
    keyed = _submission_region(
        rest.with_columns(
            pl.when(pl.col("normalised").is_in(centres["ej"].implode())).then(pl.col("normalised"))
            .when(valid_finess_expr("repaired") & pl.col("repaired").is_in(centres["ej"].implode()))
            .then(pl.col("repaired")).alias("ej")
        ),
        departement_regions,
    )
    candidates = (
        keyed.filter(pl.col("ej").is_not_null())
        .join(centres, on="ej")
        .filter(pl.col("submission_region").is_null() | (pl.col("region_code") == pl.col("submission_region")))
        .group_by("submission_key")
        .agg(pl.col("candidate_et").sort().alias("ets"))
    )
    single = candidates.filter(pl.col("ets").list.len() == 1)
    several = candidates.filter(pl.col("ets").list.len() > 1)
    base = keyed.select("submission_key", "declared_finess_et")
    resolved = base.join(single, on="submission_key").select(
        "submission_key", "declared_finess_et", pl.col("ets").list.first().alias("finess_et"),
        pl.lit("ej_to_et").alias("reconciliation_method"), pl.lit(1.0).alias("reconciliation_score"),
        pl.lit(None, pl.String).alias("candidates"),
    )
    review = base.join(several, on="submission_key").select(
        "submission_key", "declared_finess_et", pl.lit(None, pl.String).alias("finess_et"),
        pl.lit("review").alias("reconciliation_method"), pl.lit(None, pl.Float64).alias("reconciliation_score"),
        pl.format("EJ {} : {}", pl.col("declared_finess_et"), pl.col("ets").list.join(", ")).alias("candidates"),
    )
    left = keyed.join(candidates.select("submission_key"), on="submission_key", how="anti").drop(
        "ej", "submission_departement", "submission_region"
    )
    return resolved, review, left


def _name_match(rest: pl.DataFrame, history: pl.DataFrame):
    """Score every centre de santé of the same département on name tokens; same commune
    (INSEE code, or postal code) is required for an automatic match."""
    centres = history.filter(pl.col("is_centre_de_sante")).select(
        pl.col("finess_et").alias("candidate_et"),
        pl.col("commune_insee").alias("candidate_commune"),
        pl.col("code_postal").alias("candidate_cp"),
        pl.col("commune_insee").str.slice(0, 2).alias("block"),
        name_tokens(pl.col("raison_sociale")).alias("candidate_tokens"),
        name_tokens(pl.col("raison_sociale_longue").fill_null("")).alias("candidate_long_tokens"),
    )
    if "commune_libelle" in history.columns:
        town = history.filter(pl.col("is_centre_de_sante")).select(
            pl.col("finess_et").alias("candidate_et"), name_tokens(pl.col("commune_libelle").fill_null("")).alias("town"))
        centres = centres.join(town, on="candidate_et", how="left")
    else:
        centres = centres.with_columns(pl.lit([], pl.List(pl.String)).alias("town"))
    # département block: from the INSEE code, else from the postal code (20xxx: both Corsicas)
    cp = pl.col("code_postal").str.strip_chars()
    block = (
        pl.when(pl.col("commune_insee").is_not_null()).then(pl.concat_list(pl.col("commune_insee").str.to_uppercase().str.slice(0, 2)))
        .when(cp.str.starts_with("20")).then(pl.lit(["2A", "2B"]))
        .when(cp.str.contains(r"^\d{5}$")).then(pl.concat_list(cp.str.slice(0, 2)))
    )
    named = rest.filter(pl.col("raison_sociale").is_not_null()
                        & (pl.col("commune_insee").is_not_null() | pl.col("code_postal").is_not_null())).select(
        "submission_key", "declared_finess_et", "commune_insee", "code_postal",
        block.alias("block"),
        name_tokens(pl.col("raison_sociale")).alias("raw_tokens"),
    ).explode("block").filter(pl.col("block").is_not_null())

    def jaccard(left: pl.Expr, right: pl.Expr) -> pl.Expr:
        inter = left.list.set_intersection(right).list.len()
        union = left.list.set_union(right).list.len()
        return pl.when(union > 0).then(inter / union).otherwise(0.0)

    distinctive = distinctive_tokens

    def score(other: str) -> pl.Expr:
        # Jaccard of the distinctive words ("centre de santé" and kind words left out), halved
        # when the submission names a kind of centre the candidate is not (a kind left out is fine)
        kinds = pl.col("tokens").list.set_intersection(pl.lit(_KINDS))
        kept = kinds.list.set_intersection(pl.col(other)).list.len()
        factor = pl.when(kinds.list.len() == 0).then(1.0).otherwise(0.5 + 0.5 * kept / kinds.list.len())
        foreign = pl.col("tokens").list.set_intersection(pl.lit(_OTHER_ESTABLISHMENTS)).list.set_difference(pl.col(other))
        veto = pl.when(foreign.list.len() > 0).then(0.7).otherwise(1.0)  # below the automatic threshold
        return jaccard(distinctive(pl.col("tokens")), distinctive(pl.col(other))) * factor * veto

    def fuzzy(other: str) -> pl.Expr:
        return pl.struct(a=distinctive(pl.col("tokens")), b=distinctive(pl.col(other))).map_elements(
            _fuzzy_word_similarity, return_dtype=pl.Float64)

    scored = (
        named.join(centres, on="block")
        # the candidate's town appended to the name ("… - Aix les Bains") is not part of it
        .with_columns(pl.col("raw_tokens").list.set_difference(
            pl.col("town").list.set_difference(pl.col("candidate_tokens").list.concat(pl.col("candidate_long_tokens")))
        ).alias("tokens"))
        .with_columns(pl.max_horizontal(score("candidate_tokens"), score("candidate_long_tokens")).alias("score"),
                      pl.max_horizontal(fuzzy("candidate_tokens"), fuzzy("candidate_long_tokens")).alias("fuzzy"))
        .with_columns(
            ((pl.col("candidate_commune") == pl.col("commune_insee").str.to_uppercase())
             | (pl.col("candidate_cp") == pl.col("code_postal"))).fill_null(False).alias("same_commune")
        )
        .filter((pl.col("score") >= REVIEW_THRESHOLD) | (pl.col("fuzzy") >= FUZZY_REVIEW_THRESHOLD))
        .sort(["submission_key", "same_commune", "score", "fuzzy", "candidate_et"], descending=[False, True, True, True, False])
    )
    best = scored.group_by("submission_key", maintain_order=True).agg(
        pl.col("candidate_et").first().alias("best_et"),
        pl.col("score").first().alias("best_score"),
        pl.col("same_commune").first().alias("best_same_commune"),
        pl.col("score").filter(pl.col("same_commune")).slice(1, 1).first().alias("runner_up"),
        pl.format("{} ({})", pl.col("candidate_et"), pl.col("score").round(2)).head(5).str.join(", ").alias("candidates"),
        pl.col("declared_finess_et").first(),
    )
    automatic = (
        pl.col("best_same_commune") & (pl.col("best_score") >= NAME_MATCH_THRESHOLD)
        & (pl.col("runner_up").is_null() | (pl.col("best_score") - pl.col("runner_up") >= NAME_MATCH_MARGIN))
    )
    matched = best.filter(automatic).select(
        "submission_key", "declared_finess_et", pl.col("best_et").alias("finess_et"),
        pl.lit("name_match").alias("reconciliation_method"), pl.col("best_score").alias("reconciliation_score"),
        "candidates",
    )
    review = best.filter(~automatic).select(
        "submission_key", "declared_finess_et", pl.lit(None, pl.String).alias("finess_et"),
        pl.lit("review").alias("reconciliation_method"), pl.col("best_score").alias("reconciliation_score"),
        "candidates",
    )
    unmatched = rest.join(best.select("submission_key"), on="submission_key", how="anti")
    return matched, review, unmatched
