"""The rules a submission must follow, per section, with their severity
(submission-template.md): `*Errors` models hold the blocking rules (E), `*Warnings`
models the recorded ones (W). Data, not control flow: `transforms.validation` runs them.

Frames validated here are typed already (`transforms.submissions.cast_fields`), one row
per submission, plus context columns `campaign_year`, `campaign_opens_at`, `run_at`.
Dataframe-level checks name the field they are about in `error` as `field|message`.
"""
from __future__ import annotations

import datetime as dt
from typing import Optional

import pandera.polars as pa
import polars as pl

from schemas.fields import TYPES_CENTRE, TYPES_GESTIONNAIRE
from transforms.finess_key import valid_finess_expr
from transforms.finess_key import repair_finess

Paris = pl.Datetime("us", "Europe/Paris")
_COMMUNE = r"^(?:[0-9]{5}|2[AB][0-9]{3})$"
_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


_REPAIRED = "__finess_repaired"


def _repaired(frame: pl.LazyFrame, column: str) -> pl.LazyFrame:
    """`frame` with `column` repaired (`repair_finess`) as its own column: the key check
    reads the repaired number ten times, and inlining the repair in each read made the
    check 8x slower (the expression is not shared)."""
    return frame.with_columns(repair_finess(pl.col(column)).alias(_REPAIRED))


class _Lenient:
    strict = False  # other sections' columns and context columns pass through


class IdentificationErrors(pa.DataFrameModel):
    annee_exercice: Optional[int] = pa.Field(nullable=False)
    raison_sociale: Optional[str] = pa.Field(nullable=False, str_length={"min_value": 1})
    type_centre: Optional[str] = pa.Field(nullable=False, isin=list(TYPES_CENTRE))
    type_gestionnaire: Optional[str] = pa.Field(nullable=False, isin=list(TYPES_GESTIONNAIRE))
    commune_insee: Optional[str] = pa.Field(nullable=False, str_matches=_COMMUNE)
    date_transmission: Optional[Paris] = pa.Field(nullable=False)  # type: ignore[valid-type]

    class Config(_Lenient):
        pass

    @pa.dataframe_check(error="annee_exercice|l'année d'exercice doit être celle de la campagne")
    def annee_is_campaign(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("annee_exercice").is_null() | (pl.col("annee_exercice") == pl.col("campaign_year"))
        )

    @pa.dataframe_check(
        error="date_transmission|la date de transmission doit être postérieure au 1er janvier suivant l'exercice"
    )
    def transmitted_after_year(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("date_transmission").is_null() | (pl.col("date_transmission") >= pl.col("campaign_opens_at"))
        )

    @pa.dataframe_check(error="date_transmission|la date de transmission ne peut pas être dans le futur")
    def transmitted_not_in_future(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("date_transmission").is_null() | (pl.col("date_transmission") <= pl.col("run_at"))
        )


class IdentificationWarnings(pa.DataFrameModel):
    code_postal: Optional[str] = pa.Field(nullable=True, str_matches=r"^[0-9]{5}$")
    contact_courriel: Optional[str] = pa.Field(nullable=True, str_matches=_EMAIL)

    class Config(_Lenient):
        pass

    @pa.dataframe_check(
        error="finess_ej|attendu un n° FINESS de 9 caractères dont le dernier est une clé de contrôle valide"
    )
    def finess_ej_valid_key(cls, data: pa.PolarsData) -> pl.LazyFrame:
        # the damage a spreadsheet does (lost leading zero, `.0`) is repaired before judging
        return _repaired(data.lazyframe, "finess_ej").select(
            pl.col("finess_ej").is_null() | valid_finess_expr(_REPAIRED)
        )

    @pa.dataframe_check(error="contact_telephone|10 chiffres attendus (espaces et points acceptés)")
    def telephone_ten_digits(cls, data: pa.PolarsData) -> pl.LazyFrame:
        digits = pl.col("contact_telephone").str.replace_all(r"[\s.\-\u00a0]", "")
        return data.lazyframe.select(pl.col("contact_telephone").is_null() | digits.str.contains(r"^[0-9]{10}$"))


class ActiviteErrors(pa.DataFrameModel):
    file_active: Optional[int] = pa.Field(nullable=False, ge=0)
    patients_medecin_traitant: Optional[int] = pa.Field(nullable=False, ge=0)
    nb_actes: Optional[int] = pa.Field(nullable=False, ge=0)
    jours_ouverture: Optional[int] = pa.Field(nullable=False, in_range={"min_value": 0, "max_value": 366})
    amplitude_hebdo_h: Optional[float] = pa.Field(nullable=False, in_range={"min_value": 0, "max_value": 168})
    tiers_payant_integral: Optional[bool] = pa.Field(nullable=False)
    part_css_pct: Optional[float] = pa.Field(nullable=True, in_range={"min_value": 0, "max_value": 100})
    part_ame_pct: Optional[float] = pa.Field(nullable=True, in_range={"min_value": 0, "max_value": 100})
    actions_prevention: Optional[int] = pa.Field(nullable=True, ge=0)
    stagiaires: Optional[int] = pa.Field(nullable=True, ge=0)
    specialites_second_recours: Optional[int] = pa.Field(nullable=True, ge=0)

    class Config(_Lenient):
        pass

    @pa.dataframe_check(
        error="patients_medecin_traitant|ne peut pas dépasser la file active (nombre de patients)"
    )
    def medecin_traitant_within_file_active(cls, data: pa.PolarsData) -> pl.LazyFrame:
        # compared only when file_active itself is valid: its own error says what to fix
        return data.lazyframe.select(
            ((pl.col("patients_medecin_traitant") <= pl.col("file_active")) | (pl.col("file_active") < 0))
            .fill_null(True)
        )


class ActiviteWarnings(pa.DataFrameModel):
    class Config(_Lenient):
        pass

    @pa.dataframe_check(error="part_ame_pct|la part CSS + la part AME ne peut pas dépasser 100 %")
    def css_plus_ame_within_100(cls, data: pa.PolarsData) -> pl.LazyFrame:
        in_range = pl.col("part_css_pct").is_between(0, 100) & pl.col("part_ame_pct").is_between(0, 100)
        return data.lazyframe.select(
            (((pl.col("part_css_pct") + pl.col("part_ame_pct")) <= 100) | ~in_range).fill_null(True)
        )


class FinancesErrors(pa.DataFrameModel):
    total_charges: Optional[float] = pa.Field(nullable=False, ge=0)
    total_produits: Optional[float] = pa.Field(nullable=False, ge=0)
    resultat: Optional[float] = pa.Field(nullable=False)
    recettes_assurance_maladie: Optional[float] = pa.Field(nullable=True, ge=0)
    remuneration_forfaitaire: Optional[float] = pa.Field(nullable=True, ge=0)
    subventions: Optional[float] = pa.Field(nullable=True, ge=0)
    masse_salariale: Optional[float] = pa.Field(nullable=True, ge=0)

    class Config(_Lenient):
        pass


class FinancesWarnings(pa.DataFrameModel):
    class Config(_Lenient):
        pass

    @pa.dataframe_check(error="resultat|doit être égal à total des produits − total des charges (à 1 € près)")
    def resultat_is_produits_minus_charges(cls, data: pa.PolarsData) -> pl.LazyFrame:
        gap = (pl.col("resultat") - (pl.col("total_produits") - pl.col("total_charges"))).abs()
        totals_valid = (pl.col("total_produits") >= 0) & (pl.col("total_charges") >= 0)
        return data.lazyframe.select(((gap <= 1) | ~totals_valid).fill_null(True))

    @pa.dataframe_check(error="masse_salariale|ne peut pas dépasser le total des charges")
    def masse_salariale_within_charges(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            ((pl.col("masse_salariale") <= pl.col("total_charges")) | (pl.col("total_charges") < 0)).fill_null(True)
        )


# Bounds of one profession line. The largest centres de santé employ a few hundred people
# in all; 5,000 people (or full-time equivalents) of one profession in one centre is ten
# times anything real, so a value past it is a typing or export error (499,999.5 ETP, a
# FINESS number in the wrong column), never data: the line is set aside like a negative one.
MAX_EFFECTIF_PER_PROFESSION = 5_000
MAX_ETP_PER_PROFESSION = 5_000


class PersonnelRowErrors(pa.DataFrameModel):
    """One row per profession line; a failing row is set aside (W on the submission)."""

    profession: Optional[str] = pa.Field(nullable=False)
    effectif: Optional[int] = pa.Field(nullable=False, ge=0, le=MAX_EFFECTIF_PER_PROFESSION)
    etp: Optional[float] = pa.Field(nullable=True, ge=0, le=MAX_ETP_PER_PROFESSION)

    class Config(_Lenient):
        pass


class PersonnelRowWarnings(pa.DataFrameModel):
    class Config(_Lenient):
        pass

    @pa.dataframe_check(error="etp|l'ETP ne devrait pas dépasser l'effectif (personnes physiques)")
    def etp_within_effectif(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select((pl.col("etp") <= pl.col("effectif")).fill_null(True))


class AntenneWarnings(pa.DataFrameModel):
    """One row per FINESS listed in `N° FINESS des antennes`: each bad one is its own warning."""

    antenne: str = pa.Field(nullable=False)

    class Config(_Lenient):
        pass

    @pa.dataframe_check(
        error="antennes|attendu une liste de n° FINESS de 9 caractères avec clé valide, séparés par « ; », "
        "« , » ou un retour à la ligne"
    )
    def antenne_valid_key(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return _repaired(data.lazyframe, "antenne").select(valid_finess_expr(_REPAIRED))


SUBMISSION_MODELS = (
    ("error", IdentificationErrors), ("warning", IdentificationWarnings),
    ("error", ActiviteErrors), ("warning", ActiviteWarnings),
    ("error", FinancesErrors), ("warning", FinancesWarnings),
)
PERSONNEL_MODELS = (("error", PersonnelRowErrors), ("warning", PersonnelRowWarnings))
ANTENNE_MODELS = (("warning", AntenneWarnings),)
