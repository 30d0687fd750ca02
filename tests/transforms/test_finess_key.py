"""The FINESS key (finess.md) on the 3,975 real ET/EJ pairs of DREES SAE 2023."""
import polars as pl
import pytest

from tests.conftest import shared_data
from transforms.finess_key import finess_check_digit, is_valid_finess, valid_finess_expr

VALID = ["010000024", "010780054", "750100125", "2A0000014", "2B0000012", "970100400", "980600027"]
INVALID = ["010000025", "2A0000015", "01000002", "0100000244", "", "A10000024", "2C0000014"]


@pytest.fixture(scope="module")
def sae() -> pl.DataFrame:
    return pl.read_csv(shared_data("finess/sae_2023_finess_ids.csv"), separator=";", infer_schema=False)


@pytest.mark.parametrize("number", VALID)
def test_spec_valid_numbers(number):
    assert is_valid_finess(number)
    assert finess_check_digit(number[:8]) == number[8]


@pytest.mark.parametrize("number", INVALID)
def test_spec_invalid_numbers(number):
    assert not is_valid_finess(number)


def test_every_real_et_and_ej_passes(sae):
    numbers = pl.concat([sae["finess_et"], sae["finess_ej"]]).to_list()
    assert len(numbers) == 2 * 3975
    assert all(is_valid_finess(n) for n in numbers)
    assert sae.select(valid_finess_expr("finess_et").all(), valid_finess_expr("finess_ej").all()).row(0) == (True, True)
    corsican = [n for n in sae["finess_et"] if n[:2] in ("2A", "2B")]
    assert len(corsican) == 37


def test_corsica_is_not_20(sae):
    corsican = [n for n in sae["finess_et"] if n[:2] in ("2A", "2B")]
    # the often-quoted "2A/2B -> 20" rule would reject most of these real numbers
    assert sum(_luhn_with_20(n) for n in corsican) < len(corsican) // 2


def _luhn_with_20(number: str) -> bool:
    digits = "20" + number[2:]
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def test_every_single_character_mutation_is_rejected(sae):
    numbers = pl.concat([sae["finess_et"], sae["finess_ej"]]).unique().to_list()
    mutants = []
    for number in numbers:
        for index, original in enumerate(number):
            alphabet = "0123456789AB" if index == 1 else "0123456789"
            mutants.extend(number[:index] + char + number[index + 1:] for char in alphabet if char != original)
    frame = pl.DataFrame({"n": mutants})
    accepted = set(frame.filter(valid_finess_expr("n"))["n"].to_list())
    # The key cannot see 2A<->21 and 2B<->22 at position 2: both give the same Luhn digits
    # by construction (finess.md). Those are the only mutations it accepts.
    swap = {"A": "1", "B": "2", "1": "A", "2": "B"}
    invisible = {n[0] + swap[n[1]] + n[2:] for n in numbers if n[0] == "2" and n[1] in swap}
    assert accepted == invisible
    assert len(mutants) > 300_000


def test_vectorised_and_scalar_agree():
    values = VALID + INVALID + [None]
    frame = pl.DataFrame({"n": values}).with_columns(valid_finess_expr("n").alias("ok"))
    assert frame["ok"].to_list() == [is_valid_finess(v) for v in values]
