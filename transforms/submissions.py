"""From the cells found in a file to one typed row per submission.

`map_fields` says which canonical field each label stands for (template of the campaign
year); `cast_fields` reads each value the way a person typed it and reports every cell
that could not be read, one by one; `personnel_rows` does the same for the Personnel
table (workbook sheet, or `effectif_<code>`/`etp_<code>` columns of an export).
Issue frames share `ISSUE_SCHEMA`.
"""
from __future__ import annotations

import polars as pl

from schemas.fields import ENUMS, FIELDS, SHEET_PERSONNEL, ZERO_PADDED
from schemas.registry import PersonnelLabels, Template
from transforms.labels import field_lookup, label_key, label_key_expr, label_key_expr_of, profession_lookup
from transforms.values import EXPECTED_FORMAT, PARSERS, blank_to_null, parse_decimal, parse_int

ISSUE_SCHEMA = {
    "submission_key": pl.String, "source_file": pl.String, "sheet": pl.String,
    "location": pl.String, "field": pl.String, "label": pl.String, "value": pl.String,
    "severity": pl.String, "message": pl.String,
}
_PERSONNEL_COLUMN = r"^(effectif|etp)_([a-z_]+)$"
KIND_DTYPES = {"text": pl.String, "int": pl.Int64, "decimal": pl.Float64, "bool": pl.Boolean,
               "datetime": pl.Datetime("us", "Europe/Paris")}


def empty_issues() -> pl.DataFrame:
    return pl.DataFrame(schema=ISSUE_SCHEMA)


def issue_frame(frame: pl.DataFrame, severity: str, message: pl.Expr) -> pl.DataFrame:
    """Shape any frame holding the location columns into ISSUE_SCHEMA rows."""
    return frame.select(
        *[pl.col(name) if name in frame.columns else pl.lit(None, dtype).alias(name)
          for name, dtype in ISSUE_SCHEMA.items() if name not in ("severity", "message")],
        pl.lit(severity).alias("severity"),
        message.alias("message"),
    )


def split_antennes(expr: pl.Expr) -> pl.Expr:
    """`N° FINESS des antennes` as a list: separated by `;`, `,` or new lines, trimmed,
    empty pieces dropped (submission-template.md)."""
    return (
        expr.str.replace_all(r"[;,\n\r]+", ";").str.split(";")
        .list.eval(pl.element().str.strip_chars().filter(pl.element().str.strip_chars() != ""))
    )


def map_fields(cells: pl.DataFrame, template: Template) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Attach the canonical field to each cell; personnel export columns and unknown labels
    are left with a null field. Returns (cells with `field`, issues)."""
    lookup = field_lookup(template)
    # a national campaign has a million cells but a few hundred distinct labels
    keys = cells.select(pl.col("label").unique()).with_columns(label_key_expr("label").alias("label_key"))
    # first occurrence of a field in its submission, in file order (a window over the two
    # string keys cost 6x more at national scale); one lazy query: no intermediate copies
    first_of_field = pl.struct("submission_key", "field").is_first_distinct()
    mapped = (
        cells.lazy().with_columns(blank_to_null(pl.col("value")).alias("value"))
        .join(keys.lazy(), on="label", how="left", nulls_equal=True, maintain_order="left")
        .join(lookup.lazy(), on="label_key", how="left", maintain_order="left")
        .with_columns(pl.col("label_key").str.contains(_PERSONNEL_COLUMN).alias("is_personnel"))
        .with_columns(pl.col("field").is_null().or_(first_of_field).alias("_kept"))
        .collect()
    )
    duplicated = mapped.filter(~pl.col("_kept"))
    unknown = mapped.filter(pl.col("field").is_null() & ~pl.col("is_personnel") & pl.col("value").is_not_null())
    issues = pl.concat([
        issue_frame(unknown, "warning", pl.format(
            "libellé « {} » non reconnu dans le modèle {} : valeur ignorée", pl.col("label"), pl.lit(template.version)
        )),
        issue_frame(duplicated, "warning", pl.lit("champ renseigné plusieurs fois : seule la première valeur est retenue")),
    ])
    first = mapped.filter(pl.col("_kept"))
    return first.drop("label_key", "_kept"), issues


def normalise_text_fields(frame: pl.DataFrame) -> pl.Expr:
    """Text fields as the rules expect them: an enumerated value matched to its option
    ignoring case, accents and spaces; an identifier whose leading zero a spreadsheet
    dropped padded back (`1000` -> `01000`). `frame` holds the `field` and `value` columns
    the expression applies to: enumerated values are keyed once per distinct value."""
    value, field = pl.col("value"), pl.col("field")
    enum_of = {label_key(option): option for options in ENUMS.values() for option in options}
    typed = (
        frame.filter(field.is_in(list(ENUMS)) & value.is_not_null()).select(value.unique())
        .with_columns(label_key_expr_of(value).replace_strict(enum_of, default=None, return_dtype=pl.String)
                      .alias("option"))
        .filter(pl.col("option").is_not_null())
    )
    matched = value.replace_strict(typed["value"], typed["option"], default=None, return_dtype=pl.String)
    result = pl.when(field.is_in(list(ENUMS)) & matched.is_not_null()).then(matched).otherwise(value)
    for name, width in ZERO_PADDED.items():
        short = value.str.contains(rf"^[0-9]{{{width - 1}}}$")
        result = pl.when((field == name) & short.fill_null(False)).then(value.str.zfill(width)).otherwise(result)
    return result


def cast_fields(mapped: pl.DataFrame, template: Template) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One typed row per submission (every field of FIELDS as a column), and one issue
    per cell whose text could not be read as its field's kind: a bad cell never hides
    another, each is reported with its own location and value."""
    # Each kind is parsed in one lazy query over the cells that keeps only the typed value
    # and whether it failed; the failed cells are then taken by row number. Materialising
    # the cells of each kind first cost +300 MB at 30,000 files.
    located = [name for name in ISSUE_SCHEMA if name in mapped.columns and name not in ("severity", "message")]
    kind = pl.col("field").replace_strict({name: spec.kind for name, spec in FIELDS.items()}, default="text")
    point_decimal = pl.col("decimal_mark") == "." if "decimal_mark" in mapped.columns else None
    numbered = mapped.lazy().with_row_index("_row").filter(pl.col("field").is_not_null())
    typed_columns, failures = {}, []
    for kind_name, parser in PARSERS.items():
        if kind_name in ("int", "decimal"):
            parsed = parser(pl.col("value"), point_decimal)
        elif kind_name == "text":
            parsed = normalise_text_fields(mapped)
        else:
            parsed = parser(pl.col("value"))
        of_kind = (
            numbered.filter(kind == kind_name)
            .select("_row", "submission_key", "field", parsed.alias("typed"),
                    (pl.col("value").is_not_null() & parsed.is_null()).alias("_failed"))
            .collect()
        )
        failed = mapped.select(located)[of_kind.filter(pl.col("_failed"))["_row"]]
        failures.append(issue_frame(failed, "error" if kind_name != "text" else "warning", pl.format(
            "valeur « {} » illisible : attendu {}", pl.col("value"), pl.lit(EXPECTED_FORMAT.get(kind_name, "du texte"))
        )))
        typed_columns[kind_name] = of_kind.select("submission_key", "field", "typed")
        del of_kind, failed
    # the first cell of each submission, in file order: cells arrive grouped by submission,
    # so comparing each key with the previous one leaves a few candidates, made unique
    # after (a group-by hashed all the cells: +250 MB at 30,000 files)
    keys = (
        mapped.lazy().select("submission_key", "source_file", "source_row")
        .filter(pl.col("submission_key").ne_missing(pl.col("submission_key").shift()))
        .unique("submission_key", keep="first", maintain_order=True)
        .collect()
    )
    wide = keys
    for kind_name, of_kind in typed_columns.items():  # one pivot and one join per kind, not per field
        names = [name for name, spec in FIELDS.items() if spec.kind == kind_name]
        if not names:
            continue
        dtype = KIND_DTYPES[kind_name]
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
    issues = pl.concat(failures).with_columns(_template_label(template))
    return wide, issues


def _template_label(template: Template) -> pl.Expr:
    return pl.col("field").replace_strict(template.labels, default=pl.col("label"), return_dtype=pl.String).alias("label")


def export_personnel(mapped: pl.DataFrame) -> pl.DataFrame:
    """Personnel rows from the flattened `effectif_<code>`/`etp_<code>` export columns, in
    the shape of the workbook reader's Personnel rows (profession given by its code)."""
    columns = mapped.filter(pl.col("is_personnel")).with_columns(
        label_key_expr("label").str.extract(_PERSONNEL_COLUMN, 1).alias("measure"),
        label_key_expr("label").str.extract(_PERSONNEL_COLUMN, 2).alias("profession_label"),
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


def personnel_rows(raw: pl.DataFrame, labels: PersonnelLabels) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Typed personnel rows (profession code, effectif, etp, location) and the issues of
    rows whose profession is unknown or whose numbers cannot be read (row set aside, W)."""
    typed = (
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
    # a template line whose numbers were left blank declares nobody: not a row to judge
    typed = typed.filter(pl.col("effectif_text").is_not_null() | pl.col("etp_text").is_not_null())
    unknown = typed.filter(pl.col("profession").is_null())
    bad_effectif = typed.filter(pl.col("profession").is_not_null() & pl.col("effectif_text").is_not_null()
                                & pl.col("effectif").is_null())
    bad_etp = typed.filter(pl.col("profession").is_not_null() & pl.col("etp_text").is_not_null()
                           & pl.col("etp").is_null())
    issues = pl.concat([
        issue_frame(unknown.with_columns(pl.lit("profession").alias("field"), pl.col("profession_label").alias("value"),
                                         pl.lit(labels.profession).alias("label")),
                    "warning", pl.lit("profession inconnue : ligne écartée (professions du modèle attendues)")),
        issue_frame(bad_effectif.with_columns(pl.lit("effectif").alias("field"), pl.col("effectif_text").alias("value"),
                                              pl.lit(labels.effectif).alias("label")),
                    "warning", pl.lit("effectif illisible : attendu un nombre entier de personnes ; ligne écartée")),
        issue_frame(bad_etp.with_columns(pl.lit("etp").alias("field"), pl.col("etp_text").alias("value"),
                                         pl.lit(labels.etp).alias("label")),
                    "warning", pl.lit("ETP illisible : attendu un nombre (ex. 2,5) ; ligne écartée")),
    ])
    kept = typed.filter(
        pl.col("profession").is_not_null()
        & ~(pl.col("effectif_text").is_not_null() & pl.col("effectif").is_null())
        & ~(pl.col("etp_text").is_not_null() & pl.col("etp").is_null())
    )
    return kept.select("submission_key", "source_file", "sheet", "location", "profession", "effectif", "etp",
                       "effectif_text", "etp_text"), issues
