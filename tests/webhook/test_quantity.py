"""Kubernetes quantities parse to exact values: what the storageSize rule compares."""

from __future__ import annotations

import re
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from odoo_operator.api.base import QUANTITY_PATTERN
from odoo_operator.api.quantity import parse_quantity

BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
DECIMAL = {"m": Fraction(1, 1000), "": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2Gi", 2 * 2**30),
        ("10240Mi", 10 * 2**30),
        ("1.5Ki", 1536),
        ("500M", 500 * 10**6),
        ("1E", 10**18),  # exa, not an exponent
        ("1E3", 1000),
        ("1e-3", Fraction(1, 1000)),
        ("100m", Fraction(1, 10)),
        (".5", Fraction(1, 2)),
        ("+1.", 1),
        ("-2k", -2000),
    ],
)
def test_known_values(text: str, value: Fraction) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    "text", ["", "Gi", "2GB", "2 Gi", "1e", "1e1.5", "0x10", "1Gi ", "1e65", "1" * 65]
)
def test_not_quantities_raise_naming_the_text(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(text)[:20])):
        parse_quantity(text)


digits = st.integers(min_value=0, max_value=10**12)


@given(digits, st.sampled_from(sorted(BINARY)))
def test_binary_suffixes_multiply_by_powers_of_1024(number: int, suffix: str) -> None:
    assert parse_quantity(f"{number}{suffix}") == number * BINARY[suffix]


@given(digits, st.sampled_from(sorted(DECIMAL)))
def test_decimal_suffixes_multiply_by_powers_of_1000(number: int, suffix: str) -> None:
    assert parse_quantity(f"{number}{suffix}") == number * DECIMAL[suffix]


@given(digits, st.integers(min_value=0, max_value=6), st.integers(min_value=-20, max_value=20))
def test_decimal_point_and_exponent_are_exact(number: int, places: int, exponent: int) -> None:
    text = f"{number}"
    if places:
        text = text.rjust(places + 1, "0")
        text = f"{text[:-places]}.{text[-places:]}"
    assert (
        parse_quantity(f"{text}e{exponent}")
        == Fraction(number, 10**places) * Fraction(10) ** exponent
    )


@given(st.from_regex(QUANTITY_PATTERN.removesuffix("$").removeprefix("^"), fullmatch=True))
def test_everything_the_crd_pattern_admits_parses_or_is_refused_clearly(text: str) -> None:
    try:
        outcome: Fraction | str = parse_quantity(text)
    except ValueError as error:
        outcome = str(error)
    if isinstance(outcome, str):
        assert repr(text)[:20] in outcome
    else:
        assert isinstance(outcome, Fraction)


@given(digits, digits, st.sampled_from(sorted(BINARY)), st.sampled_from(sorted(BINARY)))
def test_order_follows_bytes_across_suffixes(a: int, b: int, unit_a: str, unit_b: str) -> None:
    left, right = parse_quantity(f"{a}{unit_a}"), parse_quantity(f"{b}{unit_b}")
    assert (left < right) == (a * BINARY[unit_a] < b * BINARY[unit_b])
