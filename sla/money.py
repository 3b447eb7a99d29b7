"""Money arithmetic on Decimal: currency minor units, half-up rounding and exact percentages."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

# ISO 4217 exponents that differ from 2, plus the common 2-digit currencies spelled out so the
# table documents what was checked. Any other well-formed code is assumed to have 2 digits.
_TWO = "EUR USD GBP CHF SEK NOK DKK PLN CZK HUF RON CAD AUD NZD CNY HKD SGD INR BRL MXN ZAR TRY"
_ZERO = "JPY KRW ISK CLP VND PYG UGX RWF XAF XOF XPF BIF DJF GNF KMF VUV"
_THREE = "KWD BHD JOD OMR TND IQD LYD"
# Unidad de Fomento and Uruguay's Unidad Previsional are accounting units with 4 digits.
_FOUR = "CLF UYW"
_MINOR_UNITS: dict[str, int] = {
    code: digits
    for codes, digits in ((_TWO, 2), (_ZERO, 0), (_THREE, 3), (_FOUR, 4))
    for code in codes.split()
}


def minor_units(currency: str) -> int:
    """The ISO 4217 exponent of `currency`: 2 for EUR (cents), 0 for JPY, 3 for KWD."""
    code = currency.strip().upper()
    if len(code) != 3 or not (code.isascii() and code.isalpha()):
        raise ValueError(f"{currency!r} is not a currency code: write three letters like EUR")
    return _MINOR_UNITS.get(code, 2)


def round_money(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded half-up to the minor unit of `currency` (0.005 EUR -> 0.01)."""
    if not amount.is_finite():
        raise ValueError(f"{amount!r} is not an amount of money")
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP)


def percent_of(base: Decimal, percent: Decimal) -> Decimal:
    """`percent` % of `base`, unrounded: money is rounded once, at the end, by the caller."""
    # Shifting the decimal point is exact, where dividing by 100 could round in the context.
    return (base * percent).scaleb(-2)
