"""Which canonical field does a label typed in a file stand for?

Matching ignores case, accents, repeated spaces, a trailing `:` and the unit in
parentheses (submission-template.md). Canonical names are accepted as labels too, as
regional exports often use them as headers.
"""
from __future__ import annotations

import functools
import re
import unicodedata

import polars as pl

from schemas.registry import PersonnelLabels, Template

_UNIT_RE = re.compile(r"\s*\([^()]*\)\s*$")


def label_key(label: str | None) -> str | None:
    """The comparison key of a label: lower-case, no accents, single spaces, no trailing
    `:` and no trailing unit in parentheses."""
    if label is None:
        return None
    return _label_key(str(label))


@functools.lru_cache(maxsize=65_536)  # the same few hundred labels recur in every file
def _label_key(label: str) -> str | None:
    text = unicodedata.normalize("NFKD", label)
    text = "".join(char for char in text if not unicodedata.combining(char))
    text = text.replace("’", "'").replace("‘", "'").replace("\u00a0", " ").replace("\u202f", " ").lower()
    text = re.sub(r"\s+", " ", text).strip().rstrip(":").strip()
    return _UNIT_RE.sub("", text).strip() or None


def label_key_expr_of(expr: pl.Expr) -> pl.Expr:
    """`label_key` as a vectorised expression (same rules, no Python call per cell)."""
    text = (
        expr.str.normalize("NFKD").str.replace_all(r"\p{Mn}", "")
        .str.replace_all("[’‘]", "'").str.to_lowercase()
        .str.replace_all(r"[\s\u00a0\u202f\u2009]+", " ").str.strip_chars()
        .str.strip_chars_end(":").str.strip_chars()
        .str.replace(r"\s*\([^()]*\)\s*$", "").str.strip_chars()
    )
    return pl.when(text.str.len_chars() > 0).then(text)


def label_key_expr(column: str) -> pl.Expr:
    return label_key_expr_of(pl.col(column))


def field_lookup(template: Template) -> pl.DataFrame:
    """label_key -> field for one template, canonical names included."""
    pairs = {label_key(label): field for field, label in template.labels.items()}
    pairs.update({field: field for field in template.labels})
    return pl.DataFrame({"label_key": list(pairs), "field": list(pairs.values())})


def profession_lookup(personnel: PersonnelLabels) -> pl.DataFrame:
    """label_key -> profession code (French label or the code itself)."""
    pairs = {label_key(label): code for code, label in personnel.professions.items()}
    pairs.update({code: code for code in personnel.professions})
    return pl.DataFrame({"label_key": list(pairs), "profession": list(pairs.values())})
