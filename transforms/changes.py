"""What did a centre not tell the ARS? Its yearly report against its previous one and
against FINESS (campaign-rules.md, "What centres report (changes)").

For each centre with a current (latest valid) submission in the campaign, one row per
difference, shaped as `centre_change` (interfaces.md):
- against the previous exercise's current submission (`envoi_precedent`): gestionnaire
  (EJ, type de gestionnaire), adresse (commune INSEE, else code postal), raison sociale,
  type de centre, antennes no longer or newly declared, responsable légal and plateau
  technique — each only when both years' templates have the field;
- against the FINESS referential (`finess`), for what FINESS carries: the EJ, the commune
  and the postal code of `ligneacheminement` (not a CEDEX one), the raison sociale (`rs`
  or `rslongue`), and the declared antennes FINESS does not know or no longer lists. FINESS
  has neither the type de centre (category 124 covers them all) nor the type de
  gestionnaire: those are compared year over year only.

Precision first: a value missing on either side is no difference (optional fields left
blank say nothing), names are compared on their distinctive words once normalised the
way name matching does (`transforms.reconcile.name_tokens`), and a name that only gained
or lost words (a town appended, FINESS's 38-character cut) is the same name.
"""
from __future__ import annotations

import polars as pl

from transforms.finess_key import valid_finess_expr
from transforms.finess_key import repair_finess
from transforms.reconcile import distinctive_tokens, name_tokens
from transforms.referential import closed_before
from transforms.submissions import declared_antennes, split_list

KINDS = ("gestionnaire", "adresse", "raison_sociale", "type_centre", "antenne_retiree", "antenne_ajoutee",
         "responsable_legal", "plateau_technique")
SOURCES = ("envoi_precedent", "finess")
KIND_LABELS = {  # as people read them (summary, workbooks)
    "gestionnaire": "gestionnaire", "adresse": "adresse", "raison_sociale": "raison sociale",
    "type_centre": "type de centre", "antenne_retiree": "antenne retirée", "antenne_ajoutee": "antenne ajoutée",
    "responsable_legal": "responsable légal", "plateau_technique": "plateau technique",
}
SOURCE_LABELS = {"envoi_precedent": "exercice précédent", "finess": "FINESS"}
CHANGE_SCHEMA = {
    "campaign_year": pl.Int64, "region_code": pl.String, "finess_et": pl.String, "kind": pl.String,
    "source": pl.String, "field": pl.String, "previous_value": pl.String, "new_value": pl.String,
    "message": pl.String,
}
# what a declaration holds, for this campaign (`current`) and the previous one (`previous`)
DECLARATION_FIELDS = ("finess_ej", "type_gestionnaire", "commune_insee", "code_postal", "raison_sociale",
                      "type_centre", "antennes", "responsable_legal", "plateau_technique")


def empty_changes() -> pl.DataFrame:
    return pl.DataFrame(schema=CHANGE_SCHEMA)


def centre_changes(
    current: pl.DataFrame, previous: pl.DataFrame | None, history: pl.DataFrame, year: int,
    fields_now: set[str], fields_before: set[str] | None,
) -> pl.DataFrame:
    """`centre_change` rows (CHANGE_SCHEMA) of campaign `year`.

    `current`: one row per centre (finess_et, region_code and DECLARATION_FIELDS, text),
    its current submission of the campaign. `previous`: the same for exercise `year - 1`
    (None or empty: no previous exercise, FINESS comparisons only). `history`: the FINESS
    referential (`transforms.referential.establishment_history`). `fields_now` and
    `fields_before`: the fields of each year's template; a field one of them lacks is not
    compared."""
    current = _declarations(current.unique("finess_et", keep="first", maintain_order=True))
    parts = [_against_finess(current, history, year, fields_now)]
    if previous is not None and not previous.is_empty() and fields_before is not None:
        before = _declarations(previous.unique("finess_et", keep="first", maintain_order=True))
        parts.append(_against_previous(current, before, year, fields_now & fields_before))
    found = pl.concat([part for part in parts if not part.is_empty()] or [empty_changes()], how="vertical_relaxed")
    return (
        found.with_columns(pl.lit(year, pl.Int64).alias("campaign_year"))
        .select([pl.col(name).cast(dtype) for name, dtype in CHANGE_SCHEMA.items()])
        .unique(maintain_order=True)
        .sort("region_code", "finess_et", "source", "kind", "field", "previous_value", "new_value", nulls_last=True)
    )


# ------------------------------------------------------------------ normalised values
def _declarations(frame: pl.DataFrame) -> pl.DataFrame:
    """Declared values as compared: numbers repaired, codes trimmed and upper-cased, names
    and lists as keys (`_key` columns), alongside the values as declared."""
    text = {name: (pl.col(name).cast(pl.String) if name in frame.columns else pl.lit(None, pl.String)).alias(name)
            for name in DECLARATION_FIELDS}
    ej = repair_finess(pl.col("finess_ej"))
    return frame.select("finess_et", "region_code", *text.values()).with_columns(
        pl.when(valid_finess_expr(ej)).then(ej).alias("finess_ej"),
        _blank(pl.col("commune_insee").str.to_uppercase()).alias("commune_insee"),
        _blank(pl.col("code_postal")).alias("code_postal"),
        _blank(pl.col("type_gestionnaire")).alias("type_gestionnaire"),
        _blank(pl.col("type_centre")).alias("type_centre"),
        _blank(pl.col("raison_sociale")).alias("raison_sociale"),
        _blank(pl.col("responsable_legal")).alias("responsable_legal"),
        distinctive_tokens(name_tokens(pl.col("raison_sociale"))).alias("name_words"),
        name_tokens(pl.col("responsable_legal")).list.sort().list.join(" ").alias("responsable_key"),
        declared_antennes(pl.col("antennes")).list.eval(pl.element().filter(valid_finess_expr(pl.element())))
        .list.unique(maintain_order=True).fill_null([]).alias("antennes_set"),
        _plateau_items(pl.col("plateau_technique")).alias("plateau_items"),
    )


def _blank(expr: pl.Expr) -> pl.Expr:
    trimmed = expr.str.strip_chars()
    return pl.when(trimmed != "").then(trimmed)


def _plateau_items(expr: pl.Expr) -> pl.Expr:
    """Plateau technique items keyed like names (case, accents, punctuation, word order),
    sorted: `Échographe; radiologie` and `RADIOLOGIE, echographe` are the same list."""
    return split_list(expr).list.eval(name_tokens(pl.element()).list.sort().list.join(" ")) \
        .list.eval(pl.element().filter(pl.element() != "")).list.unique().list.sort()


def same_name(words: list[str] | None, other: list[str] | None) -> bool:
    """Two raison sociales name the same centre when the distinctive words of one are all
    in the other (a town or `MUTUALITE FRANCAISE` added is no new name), a last word cut
    short by FINESS's 38 characters counting as its whole; no distinctive word on one side
    says nothing, hence the same."""
    left, right = set(words or []), set(other or [])
    if not left or not right:
        return True
    small, large = (left, right) if len(left) <= len(right) else (right, left)
    return all(word in large or any(full.startswith(word) for full in large) for word in small)


def _same_name_expr(left: str, right: str) -> pl.Expr:
    return pl.struct(a=pl.col(left), b=pl.col(right)).map_elements(
        lambda pair: same_name(pair["a"], pair["b"]), return_dtype=pl.Boolean)


def _rows(frame: pl.DataFrame, condition: pl.Expr, kind: str, source: str, field: str, previous: pl.Expr,
          new: pl.Expr, message: pl.Expr) -> pl.DataFrame:
    return frame.filter(condition.fill_null(False)).select(
        "finess_et", "region_code", pl.lit(kind).alias("kind"), pl.lit(source).alias("source"),
        pl.lit(field).alias("field"), previous.cast(pl.String).alias("previous_value"),
        new.cast(pl.String).alias("new_value"), message.alias("message"),
    )


def _differ(left: str, right: str) -> pl.Expr:
    return pl.col(left).is_not_null() & pl.col(right).is_not_null() & (pl.col(left) != pl.col(right))


# ------------------------------------------------------------------ against FINESS
def _against_finess(current: pl.DataFrame, history: pl.DataFrame, year: int, fields: set[str]) -> pl.DataFrame:
    # the ETs of the campaign's centres only, before their names are tokenised (the
    # referential has 100,000 of them, a campaign a few thousand)
    finess = history.join(current.select("finess_et"), on="finess_et", how="semi").select(
        "finess_et", pl.col("finess_ej").alias("f_ej"), pl.col("commune_insee").str.to_uppercase().alias("f_commune"),
        pl.col("code_postal").alias("f_cp"),
        # a CEDEX code is the mail's, not the address's
        pl.col("commune_libelle").fill_null("").str.to_uppercase().str.contains(r"\bCEDEX\b").alias("f_cedex"),
        pl.col("raison_sociale").alias("f_rs"),
        distinctive_tokens(name_tokens(pl.col("raison_sociale").fill_null(""))).alias("f_rs_words"),
        distinctive_tokens(name_tokens(pl.col("raison_sociale_longue").fill_null(""))).alias("f_rsl_words"),
    )
    joined = current.join(finess, on="finess_et", how="inner")
    finess_says = pl.lit("FINESS indique")
    parts = []
    if "finess_ej" in fields:
        parts.append(_rows(
            joined, _differ("finess_ej", "f_ej"), "gestionnaire", "finess", "finess_ej", pl.col("f_ej"),
            pl.col("finess_ej"),
            pl.format("Le centre déclare l'EJ {}, {} {} : gestionnaire à mettre à jour dans FINESS ?",
                      pl.col("finess_ej"), finess_says, pl.col("f_ej"))))
    commune_differs = _differ("commune_insee", "f_commune")
    if "commune_insee" in fields:
        parts.append(_rows(
            joined, commune_differs, "adresse", "finess", "commune_insee", pl.col("f_commune"), pl.col("commune_insee"),
            pl.format("Le centre déclare la commune {}, {} {} : adresse à mettre à jour dans FINESS ?",
                      pl.col("commune_insee"), finess_says, pl.col("f_commune"))))
    if "code_postal" in fields:
        # a centre declared in another commune already has its row: the postal code goes with it
        parts.append(_rows(
            joined, _differ("code_postal", "f_cp") & ~commune_differs.fill_null(False) & ~pl.col("f_cedex"),
            "adresse", "finess", "code_postal", pl.col("f_cp"), pl.col("code_postal"),
            pl.format("Le centre déclare le code postal {}, {} {} : adresse à mettre à jour dans FINESS ?",
                      pl.col("code_postal"), finess_says, pl.col("f_cp"))))
    if "raison_sociale" in fields:
        named = joined.filter(pl.col("raison_sociale").is_not_null())
        # FINESS's long name, when it has one, is a second spelling of the same name
        renamed = ~_same_name_expr("name_words", "f_rs_words") & (
            (pl.col("f_rsl_words").list.len() == 0) | ~_same_name_expr("name_words", "f_rsl_words"))
        parts.append(_rows(
            named, renamed, "raison_sociale", "finess", "raison_sociale", pl.col("f_rs"), pl.col("raison_sociale"),
            pl.format("Le centre déclare la raison sociale « {} », {} « {} » : raison sociale à mettre à jour "
                      "dans FINESS ?", pl.col("raison_sociale"), finess_says, pl.col("f_rs"))))
    if "antennes" in fields:
        parts.append(_antennes_against_finess(current, history, year))
    return pl.concat([p for p in parts if not p.is_empty()] or [empty_changes().drop("campaign_year")],
                     how="vertical_relaxed")


def _antennes_against_finess(current: pl.DataFrame, history: pl.DataFrame, year: int) -> pl.DataFrame:
    """Declared antennes FINESS does not know, or knows as closed before the exercise."""
    declared = current.select("finess_et", "region_code", pl.col("antennes_set").alias("antenne")).explode("antenne") \
        .filter(pl.col("antenne").is_not_null())
    closing = pl.col("datefermeture") if "datefermeture" in history.columns else pl.lit(None, pl.Date)
    known = history.select(pl.col("finess_et").alias("antenne"), "closed_before", "last_seen", "dateouv",
                           closing.alias("datefermeture"), pl.lit(True).alias("known"))
    antennes = declared.join(known, on="antenne", how="left")
    unknown = _rows(
        antennes, pl.col("known").is_null(), "antenne_ajoutee", "finess", "antennes", pl.lit(None, pl.String),
        pl.col("antenne"),
        pl.format("Le centre déclare l'antenne {}, que FINESS ne connaît pas : antenne à créer dans FINESS "
                  "(ou numéro erroné) ?", pl.col("antenne")))
    # closed before the exercise: its FINESS+ closing date, else the extracts stopped
    # listing it before 1 January N (and a later one says so: not just an old referential)
    closed_condition = pl.col("known").is_not_null() & closed_before(year) & (
        pl.col("datefermeture").is_not_null() | pl.col("closed_before").is_not_null())
    by_date = pl.col("datefermeture").is_not_null()
    closed_on = pl.col("datefermeture").dt.strftime("%d/%m/%Y")
    absent_since = pl.col("closed_before").dt.strftime("%d/%m/%Y")
    closed = _rows(
        antennes, closed_condition, "antenne_retiree", "finess", "antennes",
        pl.when(by_date).then(pl.format("fermée le {} (date de fermeture FINESS)", closed_on))
        .otherwise(pl.format("fermée (absente de FINESS depuis le {})", absent_since)),
        pl.col("antenne"),
        pl.when(by_date).then(pl.format(
            "Le centre déclare l'antenne {}, que FINESS donne fermée le {} : antenne fermée à retirer de la "
            "déclaration, ou à rouvrir dans FINESS ?", pl.col("antenne"), closed_on))
        .otherwise(pl.format(
            "Le centre déclare l'antenne {}, que FINESS donne fermée (absente des extraits depuis le {}) : "
            "antenne fermée à retirer de la déclaration, ou à rouvrir dans FINESS ?", pl.col("antenne"),
            absent_since)))
    return pl.concat([unknown, closed])


# ------------------------------------------------------------------ against the previous exercise
def _against_previous(current: pl.DataFrame, before: pl.DataFrame, year: int, fields: set[str]) -> pl.DataFrame:
    joined = current.join(before.drop("region_code"), on="finess_et", how="inner", suffix="_prev")
    n, p = pl.lit(str(year)), pl.lit(str(year - 1))
    parts = []

    def simple(field: str, kind: str, what: str, then: str, quoted: bool = True) -> None:
        if field not in fields:
            return
        q = ("« {} »", "« {} »") if quoted else ("{}", "{}")
        parts.append(_rows(
            joined, _differ(field, f"{field}_prev"), kind, "envoi_precedent", field, pl.col(f"{field}_prev"),
            pl.col(field),
            pl.format(f"{what} {q[0]} pour l'exercice {{}}, {q[1]} pour {{}} : {then}",
                      pl.col(f"{field}_prev"), p, pl.col(field), n)))

    simple("finess_ej", "gestionnaire", "EJ", "changement de gestionnaire non signalé à l'ARS ?", quoted=False)
    simple("type_gestionnaire", "gestionnaire", "Type de gestionnaire",
           "changement de gestionnaire non signalé à l'ARS ?")
    commune_moved = _differ("commune_insee", "commune_insee_prev")
    simple("commune_insee", "adresse", "Commune", "déménagement non signalé à l'ARS ?", quoted=False)
    if "code_postal" in fields:
        parts.append(_rows(
            joined, _differ("code_postal", "code_postal_prev") & ~commune_moved.fill_null(False), "adresse",
            "envoi_precedent", "code_postal", pl.col("code_postal_prev"), pl.col("code_postal"),
            pl.format("Code postal {} pour l'exercice {}, {} pour {} : changement d'adresse non signalé à l'ARS ?",
                      pl.col("code_postal_prev"), p, pl.col("code_postal"), n)))
    if "raison_sociale" in fields:
        named = joined.filter(pl.col("raison_sociale").is_not_null() & pl.col("raison_sociale_prev").is_not_null())
        parts.append(_rows(
            named, ~_same_name_expr("name_words", "name_words_prev"), "raison_sociale", "envoi_precedent",
            "raison_sociale", pl.col("raison_sociale_prev"), pl.col("raison_sociale"),
            pl.format("Raison sociale « {} » pour l'exercice {}, « {} » pour {} : changement de nom non signalé "
                      "à l'ARS ?", pl.col("raison_sociale_prev"), p, pl.col("raison_sociale"), n)))
    simple("type_centre", "type_centre", "Type de centre", "changement d'activité non signalé à l'ARS ?")
    if "responsable_legal" in fields:
        parts.append(_rows(
            joined, _differ("responsable_key", "responsable_key_prev") & (pl.col("responsable_key") != "")
            & (pl.col("responsable_key_prev") != ""), "responsable_legal", "envoi_precedent", "responsable_legal",
            pl.col("responsable_legal_prev"), pl.col("responsable_legal"),
            pl.format("Responsable légal « {} » pour l'exercice {}, « {} » pour {} : changement de représentant "
                      "légal non signalé à l'ARS ?", pl.col("responsable_legal_prev"), p,
                      pl.col("responsable_legal"), n)))
    if "plateau_technique" in fields:
        both = joined.filter((pl.col("plateau_items").list.len() > 0) & (pl.col("plateau_items_prev").list.len() > 0))
        added = pl.col("plateau_items").list.set_difference(pl.col("plateau_items_prev")).list.sort()
        removed = pl.col("plateau_items_prev").list.set_difference(pl.col("plateau_items")).list.sort()
        described = both.with_columns(
            added.list.join(", ").alias("_added"), removed.list.join(", ").alias("_removed"),
            (added.list.len() + removed.list.len()).alias("_n"),
        ).with_columns(
            pl.concat_str(
                pl.when(pl.col("_added") != "").then(pl.format("ajouté : {}", pl.col("_added"))),
                pl.when(pl.col("_removed") != "").then(pl.format("retiré : {}", pl.col("_removed"))),
                separator=" ; ", ignore_nulls=True).alias("_what"))
        parts.append(_rows(
            described, pl.col("_n") > 0, "plateau_technique", "envoi_precedent", "plateau_technique",
            pl.col("plateau_technique_prev"), pl.col("plateau_technique"),
            pl.format("Plateau technique modifié entre l'exercice {} et {} ({}) : changement non signalé à l'ARS ?",
                      p, n, pl.col("_what"))))
    if "antennes" in fields:
        retired = joined.select(
            "finess_et", "region_code",
            pl.col("antennes_set_prev").list.set_difference(pl.col("antennes_set")).alias("antenne"),
        ).explode("antenne").filter(pl.col("antenne").is_not_null())
        added = joined.select(
            "finess_et", "region_code",
            pl.col("antennes_set").list.set_difference(pl.col("antennes_set_prev")).alias("antenne"),
        ).explode("antenne").filter(pl.col("antenne").is_not_null())
        parts.append(_rows(
            retired, pl.lit(True), "antenne_retiree", "envoi_precedent", "antennes", pl.col("antenne"),
            pl.lit(None, pl.String),
            pl.format("L'antenne {} déclarée pour l'exercice {} ne l'est plus pour {} : fermeture d'antenne non "
                      "signalée à l'ARS (à fermer dans FINESS) ?", pl.col("antenne"), p, n)))
        parts.append(_rows(
            added, pl.lit(True), "antenne_ajoutee", "envoi_precedent", "antennes", pl.lit(None, pl.String),
            pl.col("antenne"),
            pl.format("L'antenne {} est déclarée pour l'exercice {} et ne l'était pas pour {} : ouverture "
                      "d'antenne non signalée à l'ARS ?", pl.col("antenne"), n, p)))
    return pl.concat([part for part in parts if not part.is_empty()] or [empty_changes().drop("campaign_year")],
                     how="vertical_relaxed")
