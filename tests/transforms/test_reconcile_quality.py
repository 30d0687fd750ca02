"""FINESS reconciliation quality on the labelled set (issue 5): no wrong automatic match,
at least 90 % of the name-only submissions matched automatically and the rest in review,
every number damage of finess.md repaired. Figures: benchmarks/reconciliation_quality.py."""
import polars as pl
import pytest

from datasets.labelled import evaluate, labelled_reconciliation_set
from observatoire.readers.reference_data import departement_regions
from transforms.finess_key import is_valid_finess
from transforms.reconcile import reconcile_finess

pytestmark = pytest.mark.slow  # end to end: `pytest -m "not slow"` leaves it out

@pytest.fixture(scope="module")
def labelled():
    return labelled_reconciliation_set(seed=2025, n=400)


@pytest.fixture(scope="module")
def rows(labelled):
    history, submissions, truth = labelled
    resolved = reconcile_finess(submissions, history, departement_regions())
    return evaluate(submissions, truth, resolved)


# ---- the set itself
def test_set_is_large_and_mostly_name_only(labelled):
    history, submissions, truth = labelled
    assert submissions.height >= 300 and submissions["submission_key"].is_unique().all()
    assert submissions.filter(pl.col("finess_et").is_null()).height >= 150
    assert all(dtype == pl.String for dtype in submissions.schema.values())
    assert truth["submission_key"].to_list() == submissions["submission_key"].to_list()
    assert set(truth["expected_outcome"]) <= {"automatic", "review", "unmatched_ok"}


def test_set_covers_every_damage_and_trap(labelled):
    cases = set(labelled[2]["case"])
    for case in ["number:lost_leading_zero", "number:float", "number:scientific", "number:spaces", "number:dots",
                 "number:lower_case_corsica", "ej:single_centre", "ej:several_centres", "name:rslongue",
                 "name:accents", "name:accents_dropped", "name:cds_form", "name:municipal_forms", "name:stop_words",
                 "name:postal_code_only", "name:typo", "adversarial:twin_ambiguous", "adversarial:twin_named_fully",
                 "adversarial:other_commune", "adversarial:not_a_centre", "adversarial:valid_key_nobody",
                 "adversarial:wrong_key_no_name"]:
        assert case in cases, case


def test_set_spans_corsica_and_overseas(labelled):
    history, submissions, truth = labelled
    centres = truth.filter(pl.col("true_finess_et").is_not_null())["true_finess_et"]
    assert centres.str.starts_with("2A").any() and centres.str.starts_with("2B").any()
    assert centres.str.starts_with("97").any()
    assert history.filter(pl.col("is_centre_de_sante"))["region_code"].n_unique() >= 6


def test_labels_are_consistent_with_the_referential(labelled):
    """A centre-truth is a centre de santé of the history; numbers of nobody are nobody's."""
    history, submissions, truth = labelled
    known = history.filter(pl.col("is_centre_de_sante"))["finess_et"]
    centres = truth.filter(pl.col("true_finess_et").is_not_null())
    assert centres["true_finess_et"].is_in(known.implode()).all()
    nobody = submissions.join(truth, on="submission_key").filter(pl.col("case") == "adversarial:valid_key_nobody")
    assert all(is_valid_finess(n) for n in nobody["finess_et"])
    assert not nobody["finess_et"].is_in(history["finess_et"].implode()).any()
    assert not nobody["finess_et"].is_in(history["finess_ej"].implode()).any()


def test_same_seed_same_set():
    _, first, first_truth = labelled_reconciliation_set(seed=7, n=300)
    _, again, again_truth = labelled_reconciliation_set(seed=7, n=300)
    assert first.equals(again) and first_truth.equals(again_truth)


# ---- the reconciliation on it
def test_no_wrong_automatic_match(rows):
    wrong = rows.filter(pl.col("wrong"))
    assert wrong.height == 0, wrong.select("submission_key", "case", "raison_sociale", "matched_et", "true_finess_et")


def test_every_number_damage_repaired(rows):
    numbers = rows.filter(pl.col("case").str.starts_with("number:"))
    assert numbers.height >= 60 and numbers["right"].all()
    damaged = numbers.filter(~pl.col("case").is_in(["number:exact", "number:lower_case_corsica"]))
    assert (damaged["reconciliation_method"] == "repaired").all()


def test_ej_given_for_et(rows):
    ej = rows.filter(pl.col("case").str.starts_with("ej:"))
    assert ej.filter(pl.col("case").str.starts_with("ej:single"))["right"].all()
    assert (ej.filter(pl.col("case") == "ej:several_centres")["reconciliation_method"] == "review").all()


def test_name_only_mostly_automatic(rows):
    named = rows.filter(pl.col("name_only") & pl.col("truth_is_centre"))
    assert named.height >= 150
    assert named["right"].mean() >= 0.90


def test_name_only_rest_in_review(rows):
    """A name-only submission of a centre is matched automatically or kept for review, never
    dropped; with "no centre" as truth, unmatched is fine."""
    lost = rows.filter(pl.col("name_only") & pl.col("truth_is_centre") & ~pl.col("right")
                       & (pl.col("reconciliation_method") != "review"))
    assert lost.height == 0, lost.select("submission_key", "case", "raison_sociale", "commune_insee", "code_postal")
