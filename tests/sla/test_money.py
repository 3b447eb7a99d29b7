"""Money: currency minor units, half-up rounding to them, and exact percentages."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sla.money import minor_units, percent_of, round_money


@pytest.mark.parametrize(
    ("currency", "digits"),
    [
        ("EUR", 2),
        ("USD", 2),
        ("CHF", 2),
        ("SEK", 2),
        ("CZK", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("KWD", 3),
        ("BHD", 3),
        ("TND", 3),
        ("eur", 2),
        ("XYZ", 2),
    ],
)
def test_minor_units_follow_iso_4217_and_default_to_two(currency: str, digits: int) -> None:
    assert minor_units(currency) == digits


@pytest.mark.parametrize("code", ["", "EU", "EURO", "E1R", "€€€"])
def test_minor_units_reject_what_is_not_a_three_letter_code(code: str) -> None:
    with pytest.raises(ValueError, match="not a currency code"):
        minor_units(code)


@pytest.mark.parametrize(
    ("amount", "currency", "rounded"),
    [
        ("0.005", "EUR", "0.01"),
        ("0.125", "EUR", "0.13"),
        ("0.124999", "EUR", "0.12"),
        ("-0.125", "EUR", "-0.13"),
        ("1700", "EUR", "1700.00"),
        ("2.5", "JPY", "3"),
        ("2.4999", "JPY", "2"),
        ("1.0005", "KWD", "1.001"),
    ],
)
def test_round_money_rounds_half_up_to_the_minor_unit(
    amount: str, currency: str, rounded: str
) -> None:
    result = round_money(Decimal(amount), currency)
    # Compared as strings so the exponent (the number of decimals shown) is pinned too.
    assert str(result) == rounded


def test_round_money_refuses_a_non_finite_amount() -> None:
    with pytest.raises(ValueError, match="not an amount"):
        round_money(Decimal("NaN"), "EUR")


def test_percent_of_is_exact_and_unrounded() -> None:
    assert percent_of(Decimal(10000), Decimal(2)) == Decimal(200)
    assert percent_of(Decimal("333.33"), Decimal("0.5")) == Decimal("1.66665")
    assert percent_of(Decimal(1), Decimal("33.333333")) == Decimal("0.33333333")
