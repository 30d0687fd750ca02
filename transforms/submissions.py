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
from transforms.finess_key import repair_finess
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


def unreadable_file_issues(files: pl.DataFrame) -> pl.DataFrame:
    """One blocking issue (ISSUE_SCHEMA) per file that could not be read (`readable` false,
    why in `reason`): a file-outcome frame's unreadable files."""
    return issue_frame(files.filter(~pl.col("readable")), "error",
                       pl.format("fichier illisible : {}", pl.col("reason")))


def split_list(expr: pl.Expr) -> pl.Expr:
    """A list field as typed (`N° FINESS des antennes`, `Plateau technique`): items
    separated by `;`, `,` or new lines, trimmed, empty pieces dropped
    (submission-template.md)."""
    return (
        expr.str.replace_all(r"[;,\n\r]+", ";").str.split(";")
        .list.eval(pl.element().str.strip_chars().filter(pl.element().str.strip_chars() != ""))
    )


def split_antennes(expr: pl.Expr) -> pl.Expr:
    """`N° FINESS des antennes` as a list of the numbers as typed."""
    return split_list(expr)


def declared_antennes(expr: pl.Expr) -> pl.Expr:
    """The declared antennes, each number repaired like a declared FINESS."""
    return split_antennes(expr).list.eval(repair_finess(pl.element()))


def map_fields(cells: pl.DataFrame, template: Template) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Attach the canonical field to each cell; personnel export columns and unknown labels
    are left with a null field. Returns (cells with `field`, issues).

    The cells also get two working columns for `cast_fields`: `_sub`, the submission
    numbered from 0 in order of first appearance, and `_kind`, the number of the field's
    kind in `PARSERS` (null without a field)."""
    # the cells come in chunks (one per batch of files) but the columns computed here in
    # one: every later operation on the misaligned columns copied them all again (0.1 s
    # each at national scale), so they are made one chunk once
    cells = cells.rechunk()
    # a national campaign has a million cells but a few hundred distinct labels: what a
    # label stands for (field, kind, personnel export column) is worked out once per label,
    # then each cell takes its label's row by number (a join also copied every column)
    kind_code = {name: code for code, name in enumerate(PARSERS)}
    by_label = (
        cells.select(pl.col("label").unique().drop_nulls())
        .with_columns(label_key_expr("label").alias("label_key"))
        .join(field_lookup(template), on="label_key", how="left", maintain_order="left")
        .select(
            "field", pl.col("label_key").str.contains(_PERSONNEL_COLUMN).alias("is_personnel"),
            pl.when(pl.col("field").is_not_null()).then(pl.col("field").replace_strict(
                {name: kind_code[spec.kind] for name, spec in FIELDS.items()}, default=kind_code["text"],
                return_dtype=pl.UInt8)).alias("_kind"),
            pl.col("field").rank("dense").cast(pl.UInt64).alias("_field_code"),
            pl.col("label"),
        )
    )
    # a null label matches no row: null field, kind and is_personnel, as a null key does
    row = cells.get_column("label").replace_strict(
        by_label.get_column("label"), pl.int_range(by_label.height, eager=True, dtype=pl.UInt32), default=None,
        return_dtype=pl.UInt32)
    # first occurrence of a field in its submission, in file order
    first_of_field = submission_pair(pl.col("_field_code").fill_null(0)).is_first_distinct()
    described = [by_label.get_column(name).gather(row) for name in ("field", "is_personnel", "_kind", "_field_code")]
    mapped = (
        numbered_submissions(cells).with_columns(described).lazy()
        .with_columns(blank_to_null(pl.col("value")).alias("value"))
        .with_columns(pl.col("field").is_null().or_(first_of_field).alias("_kept"))
        .drop("_field_code")
        .collect(engine="in-memory")
    )
    duplicated = mapped.filter(~pl.col("_kept"))
    unknown = mapped.filter(pl.col("field").is_null() & ~pl.col("is_personnel") & pl.col("value").is_not_null())
    issues = pl.concat([
        issue_frame(unknown, "warning", pl.format(
            "libellé « {} » non reconnu dans le modèle {} : valeur ignorée", pl.col("label"), pl.lit(template.version)
        )),
        issue_frame(duplicated, "warning", pl.lit("champ renseigné plusieurs fois : seule la première valeur est retenue")),
    ])
    first = (mapped.filter(pl.col("_kept")) if duplicated.height else mapped).drop("_kept")
    return first.select(*[c for c in first.columns if c not in _WORKING], *_WORKING), issues


_WORKING = ("_sub", "_kind")  # working columns of mapped cells, last


def submission_pair(code: pl.Expr) -> pl.Expr:
    """(submission number `_sub`, `code` < 2**32) packed in one integer, to find, group or
    sum pairs such as (submission, field) by a number: hashing the two strings cost 3x more
    at national scale."""
    return pl.col("_sub").cast(pl.UInt64) * (1 << 32) + code.cast(pl.UInt64)


def numbered_submissions(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with `_sub` (UInt32): its `submission_key` numbered from 0 in order of first
    appearance, to group by a number rather than by a string. Rows arrive grouped by
    submission: a new number wherever the key changes (no hashing); when a key comes back
    after another one, numbered by a join instead."""
    keys = frame.get_column("submission_key")
    runs = keys.rle().struct.field("value")  # the key of each run of equal keys
    if runs.n_unique() == runs.len():
        return frame.with_columns(keys.rle_id().cast(pl.UInt32).alias("_sub"))
    numbers = frame.select(keys.unique(maintain_order=True)).with_row_index("_sub")
    return frame.join(numbers, on="submission_key", how="left", nulls_equal=True, maintain_order="left")


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


def _typed_text(cells: pl.DataFrame) -> pl.LazyFrame:
    """Text cells with `typed` as `normalise_text_fields` gives it. The expression only
    changes the values of the enumerated and zero-padded fields, so only their cells are
    worked on and the others keep their value (evaluating it on every text cell: 2x)."""
    changed = pl.col("field").is_in([*ENUMS, *ZERO_PADDED])
    worked = cells.filter(changed)
    return pl.concat([
        cells.lazy().filter(~changed | changed.is_null()).with_columns(pl.col("value").alias("typed")),
        worked.lazy().with_columns(normalise_text_fields(worked).alias("typed")),
    ])


def cast_fields(mapped: pl.DataFrame, template: Template) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One typed row per submission (every field of FIELDS as a column), and one issue
    per cell whose text could not be read as its field's kind: a bad cell never hides
    another, each is reported with its own location and value. `mapped` comes from
    `map_fields` (working columns `_sub` and `_kind`)."""
    # Each kind is parsed on its own cells, keeping only the typed value and whether it
    # failed; the failed cells are then taken by row number (materialising every column of
    # the cells of each kind cost +300 MB at 30,000 files). A national campaign types the
    # same few texts again and again (215,000 integer cells, 14,000 distinct texts): each
    # distinct text is parsed once and its result brought back by a join (the parsers are
    # row-wise expressions of the text, and of the decimal mark for numbers): 5x less.
    located = [name for name in ISSUE_SCHEMA if name in mapped.columns and name not in ("severity", "message")]
    has_mark = "decimal_mark" in mapped.columns
    point_decimal = pl.col("decimal_mark") == "." if has_mark else None
    # the first cell of each submission, in file order: cells arrive grouped by submission,
    # so comparing each number with the previous one leaves a few candidates, made unique
    # after (a group-by hashed all the cells: +250 MB at 30,000 files). As when keys were
    # compared, a first cell without a key does not start a submission.
    wide = (
        mapped.lazy().select("_sub", "submission_key", "source_file", "source_row")
        .filter(pl.col("_sub").ne_missing(pl.col("_sub").shift())
                & (pl.col("submission_key").is_not_null() | (pl.int_range(pl.len()) > 0)))
        .unique("_sub", keep="first", maintain_order=True)
        .collect(engine="in-memory")
    )
    numbered = mapped.lazy().with_row_index("_row")
    failures = []
    for code, (kind_name, parser) in enumerate(PARSERS.items()):
        numbers = kind_name in ("int", "decimal")
        inputs = ["value", "decimal_mark"] if numbers and has_mark else ["value"]
        cells = numbered.filter(pl.col("_kind") == code).select(
            "_row", "_sub", "field", *inputs).collect(engine="in-memory")
        # lazy, so that the parts a parser uses several times are computed once (2x less)
        if kind_name == "text":
            of_kind = _typed_text(cells)
        else:
            parsed = parser(pl.col("value"), point_decimal) if numbers else parser(pl.col("value"))
            distinct = cells.lazy().select(inputs).unique().with_columns(parsed.alias("typed"))
            of_kind = cells.lazy().join(distinct, on=inputs, how="left", nulls_equal=True, maintain_order="left")
        of_kind = of_kind.select(
            "_row", "_sub", "field", "typed",
            (pl.col("value").is_not_null() & pl.col("typed").is_null()).alias("_failed"),
        ).collect(engine="in-memory")
        del cells
        failed = mapped.select(located)[of_kind.filter(pl.col("_failed"))["_row"].sort()]  # in file order
        failures.append(issue_frame(failed, "error" if kind_name != "text" else "warning", pl.format(
            "valeur « {} » illisible : attendu {}", pl.col("value"), pl.lit(EXPECTED_FORMAT.get(kind_name, "du texte"))
        )))
        # the kind's fields as columns, one row per submission number (a field is given at
        # most once per submission: `map_fields` kept the first)
        dtype = KIND_DTYPES[kind_name]
        columns = of_kind.group_by("_sub").agg(
            pl.col("typed").filter(pl.col("field") == name).first().cast(dtype).alias(name)
            for name, spec in FIELDS.items() if spec.kind == kind_name
        )
        wide = wide.join(columns, on="_sub", how="left", maintain_order="left")
        del of_kind, failed, columns
    wide = wide.select("submission_key", "source_file", "source_row", *FIELDS)
    issues = pl.concat(failures).with_columns(_template_label(template))
    return wide, issues


def _template_label(template: Template) -> pl.Expr:
    return pl.col("field").replace_strict(template.labels, default=pl.col("label"), return_dtype=pl.String).alias("label")


def export_personnel(mapped: pl.DataFrame) -> pl.DataFrame:
    """Personnel rows from the flattened `effectif_<code>`/`etp_<code>` export columns, in
    the shape of the workbook reader's Personnel rows (profession given by its code).
    `mapped` comes from `map_fields` (working column `_sub`)."""
    cells = mapped.filter(pl.col("is_personnel"))
    if cells.is_empty():
        return pl.DataFrame(schema={"submission_key": pl.String, "source_file": pl.String, "sheet": pl.String,
                                    "location": pl.String, "profession_label": pl.String,
                                    "effectif": pl.String, "etp": pl.String})
    # 90,000 cells at national scale, 32 distinct column names: each name is split once;
    # rows are grouped by (submission number, profession number)
    key = label_key_expr("label")
    by_label = cells.select(pl.col("label").unique()).with_columns(
        key.str.extract(_PERSONNEL_COLUMN, 1).alias("measure"),
        key.str.extract(_PERSONNEL_COLUMN, 2).alias("profession_label"),
    ).with_columns(pl.col("profession_label").rank("dense").fill_null(0).cast(pl.UInt64).alias("_profession"))
    columns = cells.join(by_label, on="label", how="left", nulls_equal=True, maintain_order="left")
    return (
        columns.group_by(submission_pair(pl.col("_profession")), maintain_order=True)
        .agg(
            pl.col("submission_key").first(), pl.col("profession_label").first(),
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
    typed = _typed_personnel_rows(raw, labels)
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


def _typed_personnel_rows(raw: pl.DataFrame, labels: PersonnelLabels) -> pl.DataFrame:
    """`raw` with its profession's code, its numbers' texts (`effectif_text`, `etp_text`:
    null when blank) and values (`effectif`, `etp`: null when unreadable), and `sheet`."""
    # 150,000 rows at national scale but about fifty profession labels and a few thousand
    # distinct numbers: each distinct text is keyed or parsed once (row-wise rules) and
    # brought back by a join, the three joins in one query
    professions = (
        raw.lazy().select(pl.col("profession_label").unique())
        .with_columns(label_key_expr("profession_label").alias("label_key"))
        .join(profession_lookup(labels).lazy(), on="label_key", how="left")
        .drop("label_key")
    )
    effectif_text, etp_text = blank_to_null(pl.col("effectif")), blank_to_null(pl.col("etp"))
    effectifs = raw.lazy().select(pl.col("effectif").unique()).with_columns(effectif_text.alias("effectif_text")) \
        .with_columns(parse_int(pl.col("effectif_text")).alias("_effectif"))
    etps = raw.lazy().select(pl.col("etp").unique()).with_columns(etp_text.alias("etp_text")) \
        .with_columns(parse_decimal(pl.col("etp_text")).alias("_etp"))
    return (
        raw.lazy()
        .join(effectifs, on="effectif", how="left", nulls_equal=True, maintain_order="left")
        .join(etps, on="etp", how="left", nulls_equal=True, maintain_order="left")
        .join(professions, on="profession_label", how="left", nulls_equal=True, maintain_order="left")
        .with_columns(pl.col("_effectif").alias("effectif"), pl.col("_etp").alias("etp"),
                      pl.lit(SHEET_PERSONNEL).alias("sheet"))
        .drop("_effectif", "_etp")
        .collect(engine="in-memory")
    )
