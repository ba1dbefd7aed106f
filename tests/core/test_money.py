from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prm.core.money import MINOR_UNITS, UnknownCurrency, parse_decimal, round_money


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("0.005", "USD", "0.01"),  # half rounds up, not to even
        ("0.015", "USD", "0.02"),
        ("-0.005", "USD", "-0.01"),  # half away from zero
        ("2.5", "JPY", "3"),
        ("1.0005", "KWD", "1.001"),
        ("12.344999", "EUR", "12.34"),
    ],
)
def test_round_money_half_up_to_the_minor_unit(amount, currency, expected):
    assert round_money(Decimal(amount), currency) == Decimal(expected)
    assert str(round_money(Decimal(amount), currency)) == expected


def test_round_money_refuses_floats_and_unknown_currencies():
    with pytest.raises(TypeError):
        round_money(0.1, "USD")
    with pytest.raises(UnknownCurrency):
        round_money(Decimal("1"), "XXX")


@given(
    amount=st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), allow_nan=False, allow_infinity=False),
    currency=st.sampled_from(sorted(MINOR_UNITS)),
)
def test_rounding_moves_an_amount_by_at_most_half_a_minor_unit(amount, currency):
    rounded = round_money(amount, currency)
    half_unit = Decimal(1).scaleb(-MINOR_UNITS[currency]) / 2
    assert abs(rounded - amount) <= half_unit
    assert -rounded.as_tuple().exponent <= MINOR_UNITS[currency]
    assert round_money(rounded, currency) == rounded  # idempotent


@pytest.mark.parametrize("value", ["abc", "NaN", "Infinity", "-inf", "", None, [1], 1.5, True])
def test_parse_decimal_refuses_what_is_not_a_finite_exact_number(value):
    with pytest.raises(ValueError):
        parse_decimal(value)


def test_parse_decimal_accepts_strings_ints_and_decimals():
    assert parse_decimal("12.50") == Decimal("12.50")
    assert parse_decimal(7) == Decimal(7)
    assert parse_decimal(Decimal("-1")) == Decimal(-1)
