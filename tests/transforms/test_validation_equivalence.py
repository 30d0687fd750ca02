"""The faster validation stage gives exactly what the previous implementation gave.

`_reference_*` below is the code of `transforms.submissions` / `transforms.validation` /
`observatoire.stages.validate` as it was before the speed work (per-cell parsing, joins on
the string keys, pivots, a Python loop over failure cases), kept as an oracle; where only
part of a step changed, the reference is the current step with the former part patched
in (`_reference_personnel_rows`, `_reference_validate_personnel`…). Both run on
campaigns drawn at random with every kind of damage: unreadable values of each kind,
blank cells, unknown and missing labels, fields given twice, personnel export columns,
unknown professions, duplicated professions, bad FINESS, submissions whose cells come back
after another submission's, and cells in many chunks as the readers' batches make them.
If a behaviour is changed on purpose, change the oracle with it (or drop this file).
"""
from __future__ import annotations

import datetime as dt
import random

import pandera.polars as pa
import polars as pl
import pytest

from observatoire import stages
from schemas.fields import FIELDS, SHEET_PERSONNEL
from schemas.registry import personnel_labels, template_for_year
from schemas.submission import SUBMISSION_MODELS, IdentificationWarnings
from transforms import submissions as subs, validation
from transforms.finess_key import finess_check_digit, valid_finess_expr
from transforms.labels import field_lookup, label_key_expr, profession_lookup
from transforms.finess_key import repair_finess
from transforms.values import EXPECTED_FORMAT, PARSERS, blank_to_null, parse_decimal, parse_int

pytestmark = pytest.mark.slow  # end to end: `pytest -m "not slow"` leaves it out

RUN_AT = dt.datetime(2025, 6, 30, 12, 0, tzinfo=dt.timezone.utc)


# ------------------------------------------------------------------ random campaigns
def _finess(rng: random.Random, valid: bool = True) -> str:
    first = f"{rng.choice(['01', '2A', '69', '97'])}{rng.randrange(10**6):06d}"
    key = finess_check_digit(first)
    return first + (key if valid else str((int(key) + 1) % 10))


def _value(rng: random.Random, field: str) -> str | None:
    kind = FIELDS[field].kind if field in FIELDS else "text"
    common = [None, "", "   ", "n/a"]
    pools = {
        "int": ["12", "1 234", "0", "-3", "12.0", "12,5", "beaucoup", "  7 ", "45678", "2024", "367", "1\u202f000"],
        "decimal": ["1 234,56", "12.5", "-73709.59", "4 %", "99,5 %", "abc", "1.234,56", "1,234.56", "−5", "0",
                    "170,5", "101 %", "12 €", "3,", ",5", "1e3"],
        "bool": ["oui", "NON", "x", "VRAI", "faux", "peut-être", "O", "1", "n"],
        "datetime": ["15/02/2025 10:00", "2025-02-15", "2025-02-15T10:00:00Z", "2025-02-15 10:00:00+01:00",
                     "2025-02-15 10:00+0100", "45700", "45700.5", "hier", "31/12/2024 10:00", "2025-03-30 02:30",
                     "2025-10-26 02:30", "02/06/2025 08:00", "15/02/2025 10:00:30", "2025-02-30"],
    }
    texts = {
        "type_centre": ["médical", "Medical", "MÉDICAL ", "polyvalent", "clinique", "Dentaire"],
        "type_gestionnaire": ["EPCI", "epci", "association", "Collectivite territoriale", "collectivité territoriale"],
        "commune_insee": ["69123", "1053", "2A004", "691234", "2a004"],
        "code_postal": ["1000", "69001", "ABCDE", "690010"],
        "finess_et": [_finess(rng), _finess(rng, False), "10003028", "1.0003028E7"],
        "finess_ej": [_finess(rng), _finess(rng, False), "10003028.0", "2a0000000"],
        "antennes": [f"{_finess(rng)};{_finess(rng, False)}", f"{_finess(rng)}, 123\n{_finess(rng)}", " ; ",
                     _finess(rng)],
        "contact_courriel": ["contact@cds.fr", "contact-at-cds", "a@b"],
        "contact_telephone": ["04 78 12 34 56", "04.78.12.34.56", "04 78 12 34"],
        "raison_sociale": ["CDS MUNICIPAL", "Centre de santé", "  "],
        "annee_exercice": ["2024", "2023", "2024.0"],
    }
    pool = texts.get(field) or pools.get(kind) or ["texte libre", "Autre chose"]
    return rng.choice(pool + common) if rng.random() < 0.35 else rng.choice(pool)


def _campaign(seed: int, *, interleaved: bool, chunk: int | None, n: int = 40) -> stages.ReceivedFiles:
    rng = random.Random(seed)
    template, labels = template_for_year(2024), personnel_labels()
    cells, personnel, manifest, moved = [], [], [], []
    for number in range(n):
        export = rng.random() < 0.3
        source_file = f"{number % 7:02d}/envoi_{number}.{'csv' if export else 'xlsx'}"
        key = f"{source_file}#1" if export else source_file
        row, mark = (1, rng.choice([None, ".", ","])) if export else (None, None)
        submission = []

        def cell(sheet, location, label, value):
            submission.append((key, source_file, row, sheet, location, label, value, mark))

        cell(None if export else "Identification", "B1", "Rapport d'activité 2024", None)
        for i, (field, label) in enumerate(template.labels.items()):
            if rng.random() < 0.05:
                continue  # a missing field
            shown = field if export and rng.random() < 0.5 else label
            if rng.random() < 0.05:
                shown = rng.choice([shown.upper() + " :", f"  {shown}  ", "Libellé inconnu", None])
            sheet = None if export else FIELDS[field].sheet if field in FIELDS else "Identification"
            cell(sheet, f"B{i + 3}", shown, _value(rng, field))
            if rng.random() < 0.03:  # the same field given twice
                cell(sheet, f"D{i + 3}", shown, _value(rng, field))
        if export:
            for code in rng.sample(list(labels.professions) + ["inconnu"], 5):
                for measure in ("effectif", "etp"):
                    if rng.random() < 0.9:
                        cell(None, "ligne 2", f"{measure}_{code}", rng.choice(["2", "1,5", "", None, "x", "-1", "3"]))
            if rng.random() < 0.2:
                cell(None, "ligne 2", "effectif_infirmier", rng.choice(["1", None, ""]))
        else:
            names = list(labels.professions.values()) + ["Chauffeur", "infirmiere", "SAGE-FEMME", None, ""]
            for line in range(rng.randrange(0, 8)):
                personnel.append((key, source_file, SHEET_PERSONNEL, f"ligne {line + 4}", rng.choice(names),
                                  rng.choice(["2", "1", "0", "", None, "deux", "-1", "3.0"]),
                                  rng.choice(["1,5", "0.8", "", None, "x", "5", "0"])))
        if interleaved and len(submission) > 4 and rng.random() < 0.3:
            moved += submission[-3:]  # its last cells come after another submission's
            submission = submission[:-3]
        cells += submission
        if rng.random() < 0.5:
            manifest.append((source_file, rng.choice(["2025-02-01 09:00", "03/02/2025", "bientôt"])))
    cells += moved

    cells_frame = pl.DataFrame(cells, orient="row", schema={
        "submission_key": pl.String, "source_file": pl.String, "source_row": pl.Int64, "sheet": pl.String,
        "location": pl.String, "label": pl.String, "value": pl.String, "decimal_mark": pl.String})
    personnel_frame = pl.DataFrame(personnel, orient="row", schema={
        "submission_key": pl.String, "source_file": pl.String, "sheet": pl.String, "location": pl.String,
        "profession_label": pl.String, "effectif": pl.String, "etp": pl.String})
    if chunk:  # one chunk per batch of files, as `concat_batches` leaves them
        cells_frame = _chunked(cells_frame, chunk)
        personnel_frame = _chunked(personnel_frame, max(1, chunk // 10))
    return stages.ReceivedFiles(
        outcomes=[], cells=cells_frame, personnel=personnel_frame,
        manifest=pl.DataFrame(manifest, orient="row", schema={"source_file": pl.String, "date_reception": pl.String}),
        manifest_problems=[], reader_issues=subs.empty_issues(),
    )


def _chunked(frame: pl.DataFrame, size: int) -> pl.DataFrame:
    return pl.concat([frame.slice(i, size) for i in range(0, frame.height, size)] or [frame], rechunk=False)


# ------------------------------------------------------------------ the previous implementation
def _reference_map_fields(cells, template):
    lookup = field_lookup(template)
    keys = cells.select(pl.col("label").unique()).with_columns(label_key_expr("label").alias("label_key"))
    first_of_field = pl.struct("submission_key", "field").is_first_distinct()
    mapped = (
        cells.lazy().with_columns(blank_to_null(pl.col("value")).alias("value"))
        .join(keys.lazy(), on="label", how="left", nulls_equal=True, maintain_order="left")
        .join(lookup.lazy(), on="label_key", how="left", maintain_order="left")
        .with_columns(pl.col("label_key").str.contains(subs._PERSONNEL_COLUMN).alias("is_personnel"))
        .with_columns(pl.col("field").is_null().or_(first_of_field).alias("_kept"))
        .collect()
    )
    duplicated = mapped.filter(~pl.col("_kept"))
    unknown = mapped.filter(pl.col("field").is_null() & ~pl.col("is_personnel") & pl.col("value").is_not_null())
    issues = pl.concat([
        subs.issue_frame(unknown, "warning", pl.format(
            "libellé « {} » non reconnu dans le modèle {} : valeur ignorée", pl.col("label"), pl.lit(template.version)
        )),
        subs.issue_frame(duplicated, "warning",
                         pl.lit("champ renseigné plusieurs fois : seule la première valeur est retenue")),
    ])
    return mapped.filter(pl.col("_kept")).drop("label_key", "_kept"), issues


def _reference_cast_fields(mapped, template):
    located = [n for n in subs.ISSUE_SCHEMA if n in mapped.columns and n not in ("severity", "message")]
    kind = pl.col("field").replace_strict({name: spec.kind for name, spec in FIELDS.items()}, default="text")
    point_decimal = pl.col("decimal_mark") == "." if "decimal_mark" in mapped.columns else None
    numbered = mapped.lazy().with_row_index("_row").filter(pl.col("field").is_not_null())
    typed_columns, failures = {}, []
    for kind_name, parser in PARSERS.items():
        if kind_name in ("int", "decimal"):
            parsed = parser(pl.col("value"), point_decimal)
        elif kind_name == "text":
            parsed = subs.normalise_text_fields(mapped)
        else:
            parsed = parser(pl.col("value"))
        of_kind = (
            numbered.filter(kind == kind_name)
            .select("_row", "submission_key", "field", parsed.alias("typed"),
                    (pl.col("value").is_not_null() & parsed.is_null()).alias("_failed"))
            .collect()
        )
        failed = mapped.select(located)[of_kind.filter(pl.col("_failed"))["_row"]]
        failures.append(subs.issue_frame(failed, "error" if kind_name != "text" else "warning", pl.format(
            "valeur « {} » illisible : attendu {}", pl.col("value"), pl.lit(EXPECTED_FORMAT.get(kind_name, "du texte"))
        )))
        typed_columns[kind_name] = of_kind.select("submission_key", "field", "typed")
    keys = (
        mapped.lazy().select("submission_key", "source_file", "source_row")
        .filter(pl.col("submission_key").ne_missing(pl.col("submission_key").shift()))
        .unique("submission_key", keep="first", maintain_order=True)
        .collect()
    )
    wide = keys
    for kind_name, of_kind in typed_columns.items():
        names = [name for name, spec in FIELDS.items() if spec.kind == kind_name]
        if not names:
            continue
        dtype = subs.KIND_DTYPES[kind_name]
        present = of_kind.filter(pl.col("field").is_in(names))
        columns = (
            present.select("submission_key", "field", pl.col("typed").cast(dtype))
            .pivot(on="field", index="submission_key", values="typed", aggregate_function=None)
            if present.height else pl.DataFrame(schema={"submission_key": pl.String})
        )
        wide = wide.join(columns, on="submission_key", how="left", maintain_order="left").with_columns(
            pl.lit(None, dtype).alias(name) for name in names if name not in columns.columns
        )
    wide = wide.select("submission_key", "source_file", "source_row", *FIELDS)
    return wide, pl.concat(failures).with_columns(subs._template_label(template))


def _reference_export_personnel(mapped):
    columns = mapped.filter(pl.col("is_personnel")).with_columns(
        label_key_expr("label").str.extract(subs._PERSONNEL_COLUMN, 1).alias("measure"),
        label_key_expr("label").str.extract(subs._PERSONNEL_COLUMN, 2).alias("profession_label"),
    )
    if columns.is_empty():
        return pl.DataFrame(schema={"submission_key": pl.String, "source_file": pl.String, "sheet": pl.String,
                                    "location": pl.String, "profession_label": pl.String,
                                    "effectif": pl.String, "etp": pl.String})
    return (
        columns.group_by("submission_key", "profession_label", maintain_order=True)
        .agg(
            pl.col("source_file").first(), pl.col("sheet").first(), pl.col("location").first(),
            pl.col("value").filter(pl.col("measure") == "effectif").first().alias("effectif"),
            pl.col("value").filter(pl.col("measure") == "etp").first().alias("etp"),
        )
        .filter(pl.col("effectif").is_not_null() | pl.col("etp").is_not_null())
        .select("submission_key", "source_file", "sheet", "location", "profession_label", "effectif", "etp")
    )


def _reference_typed_personnel_rows(raw, labels):
    return (
        raw.with_columns(
            label_key_expr("profession_label").alias("label_key"),
            blank_to_null(pl.col("effectif")).alias("effectif_text"),
            blank_to_null(pl.col("etp")).alias("etp_text"),
        )
        .join(profession_lookup(labels), on="label_key", how="left")
        .with_columns(
            parse_int(pl.col("effectif_text")).alias("effectif"),
            parse_decimal(pl.col("etp_text")).alias("etp"),
            pl.lit(SHEET_PERSONNEL).alias("sheet"),
        )
    )


_PERSONNEL_ROWS = subs.personnel_rows  # unchanged but for how the rows are typed


def _reference_personnel_rows(raw, labels):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subs, "_typed_personnel_rows", _reference_typed_personnel_rows)
        return _PERSONNEL_ROWS(raw, labels)


def _reference_run_models(frame, models):
    found = []
    for severity, model in models:
        try:
            model.validate(frame, lazy=True)
        except pa.errors.SchemaErrors as errors:
            cases = errors.failure_cases.filter(pl.col("index").is_not_null())
            for column, check, index in cases.select("column", "check", "index").iter_rows():
                if validation._OWN_CHECK.match(check):
                    field, message = check.split("|", 1)
                else:
                    field, message = column, validation._expectation(check, column)
                found.append((int(index), field, severity, message))
    return pl.DataFrame(found, schema={"row_index": pl.Int64, "field": pl.String, "severity": pl.String,
                                       "message": pl.String}, orient="row")


def _reference_failed_cells(mapped, failed):
    return mapped.select("submission_key", "field", "sheet", "location", "value").join(
        failed.select("submission_key", "field").unique(), on=["submission_key", "field"], how="semi")


_VALIDATE_SUBMISSIONS = validation.validate_submissions  # unchanged but for run_models and how cells are found


def _reference_validate_submissions(typed, mapped, cast_issues, template, year, run_at):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(validation, "run_models", _reference_run_models)
        patch.setattr(validation, "_failed_cells", _reference_failed_cells)
        return _VALIDATE_SUBMISSIONS(typed, mapped, cast_issues, template, year, run_at)


_VALIDATE_ANTENNES = validation.validate_antennes  # unchanged but for run_models


def _reference_validate_antennes(typed, mapped, template):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(validation, "run_models", _reference_run_models)
        return _VALIDATE_ANTENNES(typed, mapped, template)


def _reference_duplicates_and_sums(kept):
    duplicated = kept.filter(pl.int_range(pl.len()).over("submission_key", "profession") > 0)
    summed = kept.group_by("submission_key", "profession").agg(pl.col("effectif").sum(), pl.col("etp").sum())
    return duplicated, summed


_VALIDATE_PERSONNEL = validation.validate_personnel  # unchanged but for run_models and the duplicates and sums


def _reference_validate_personnel(rows, submissions, labels):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(validation, "run_models", _reference_run_models)
        patch.setattr(validation, "_duplicates_and_sums", _reference_duplicates_and_sums)
        return _VALIDATE_PERSONNEL(rows, submissions, labels)


def _reference_validate(received, year, run_at):
    """`stages.validate` (its sequence of steps did not change) with the former steps."""
    former = {
        (subs, "map_fields"): _reference_map_fields, (subs, "cast_fields"): _reference_cast_fields,
        (subs, "export_personnel"): _reference_export_personnel, (subs, "personnel_rows"): _reference_personnel_rows,
        (validation, "validate_submissions"): _reference_validate_submissions,
        (validation, "validate_antennes"): _reference_validate_antennes,
        (validation, "validate_personnel"): _reference_validate_personnel,
    }
    with pytest.MonkeyPatch.context() as patch:
        for (module, name), step in former.items():
            patch.setattr(module, name, step)
        return stages.validate(received, year, run_at)


# ------------------------------------------------------------------ comparisons
def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(frame.columns, nulls_last=True)


def _assert_same(actual: pl.DataFrame, expected: pl.DataFrame, *, ordered: bool = False) -> None:
    assert actual.schema == expected.schema
    if ordered:
        assert actual.equals(expected)
    else:
        assert _sorted(actual).equals(_sorted(expected))


CAMPAIGNS = [
    pytest.param(dict(seed=1, interleaved=False, chunk=None), id="grouped"),
    pytest.param(dict(seed=2, interleaved=False, chunk=97), id="grouped-chunked"),
    pytest.param(dict(seed=3, interleaved=True, chunk=None), id="interleaved"),
    pytest.param(dict(seed=4, interleaved=True, chunk=61), id="interleaved-chunked"),
]


@pytest.mark.parametrize("spec", CAMPAIGNS)
def test_validate_gives_what_the_previous_implementation_gave(spec):
    received = _campaign(**spec)
    actual = stages.validate(received, 2024, RUN_AT)
    expected = _reference_validate(received, 2024, RUN_AT)
    assert expected.issues.height > 100  # the campaign does break many rules
    _assert_same(actual.typed, expected.typed, ordered=True)
    _assert_same(actual.issues, expected.issues, ordered=True)
    _assert_same(actual.rows_set_aside, expected.rows_set_aside)  # its order was never fixed
    assert actual.template_version == expected.template_version


@pytest.mark.parametrize("spec", CAMPAIGNS)
def test_each_step_gives_what_the_previous_one_gave(spec):
    received = _campaign(**spec)
    template, labels = template_for_year(2024), personnel_labels()
    mapped, mapping_issues = subs.map_fields(received.cells, template)
    ref_mapped, ref_mapping_issues = _reference_map_fields(received.cells, template)
    # the working columns come last, the others are the cells as before
    assert mapped.columns[-2:] == ["_sub", "_kind"]
    _assert_same(mapped.drop("_sub", "_kind"), ref_mapped, ordered=True)
    _assert_same(mapping_issues, ref_mapping_issues, ordered=True)
    assert mapping_issues.filter(pl.col("message").str.contains("plusieurs fois")).height > 0

    typed, cast_issues = subs.cast_fields(mapped, template)
    ref_typed, ref_cast_issues = _reference_cast_fields(ref_mapped, template)
    _assert_same(typed, ref_typed, ordered=True)
    _assert_same(cast_issues, ref_cast_issues, ordered=True)

    exported = subs.export_personnel(mapped)
    _assert_same(exported, _reference_export_personnel(ref_mapped), ordered=True)
    assert exported.height > 0

    raw = pl.concat([received.personnel, exported])
    rows, personnel_issues = subs.personnel_rows(raw, labels)
    ref_rows, ref_personnel_issues = _reference_personnel_rows(raw, labels)
    _assert_same(rows, ref_rows, ordered=True)
    _assert_same(personnel_issues, ref_personnel_issues, ordered=True)

    wide, rule_issues = validation.validate_personnel(rows, typed, labels)
    ref_wide, ref_rule_issues = _reference_validate_personnel(ref_rows, ref_typed, labels)
    _assert_same(wide, ref_wide)
    _assert_same(rule_issues, ref_rule_issues)


def test_failure_cases_are_described_as_before():
    received = _campaign(seed=5, interleaved=False, chunk=None)
    template = template_for_year(2024)
    mapped, _ = subs.map_fields(received.cells, template)
    typed, _ = subs.cast_fields(mapped, template)
    context = validation.with_campaign_context(typed, 2024, RUN_AT)
    failures = validation.run_models(context, SUBMISSION_MODELS)
    assert failures.height > 50
    _assert_same(failures, _reference_run_models(context, SUBMISSION_MODELS), ordered=True)
    nothing = validation.run_models(context.head(0), SUBMISSION_MODELS)
    _assert_same(nothing, _reference_run_models(context.head(0), SUBMISSION_MODELS), ordered=True)


def test_finess_key_checks_judge_as_the_inline_expression_did():
    values = ["010003028", "10003028", "10003028.0", "1.0003028E7", "010003029", "2A0000000", "2a0000000",
              "2B0000000", "01 000 302 8", "01.000.302.8", "0100030", "abc", "", None, "1000302.8E1", "970103784",
              "01000302812"]
    frame = pl.DataFrame({"finess_ej": values}, schema={"finess_ej": pl.String})
    inline = frame.select(pl.col("finess_ej").is_null() | valid_finess_expr(repair_finess(pl.col("finess_ej"))))
    judged = frame.with_row_index("index")
    try:
        IdentificationWarnings.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases.filter(pl.col("check").str.starts_with("finess_ej|"))
        failed = set(cases["index"].to_list())
    else:
        failed = set()
    assert [index not in failed for index in judged["index"]] == inline.to_series().to_list()
    assert 0 < len(failed) < len(values)


@pytest.mark.parametrize("keys, numbers", [
    ([], []),
    (["a", "a", "b"], [0, 0, 1]),
    (["a", "b", "a"], [0, 1, 0]),  # a key that comes back keeps its number
    (["b", "a", "a", "c", "b"], [0, 1, 1, 2, 0]),
    ([None, None, "a"], [0, 0, 1]),
    (["a", None, "a", None], [0, 1, 0, 1]),
])
def test_submissions_are_numbered_in_order_of_first_appearance(keys, numbers):
    frame = pl.DataFrame({"submission_key": keys, "n": range(len(keys))},
                         schema={"submission_key": pl.String, "n": pl.Int64})
    numbered = subs.numbered_submissions(frame)
    assert numbered["_sub"].to_list() == numbers
    assert numbered["n"].to_list() == list(range(len(keys)))  # rows stay in their order
