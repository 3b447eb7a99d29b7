"""Percentages as config writes them: `2%`, `0.5%`, `99.9%` or a bare number."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import BeforeValidator


def parse_percent(value: object) -> Decimal:
    text = str(value).strip()
    if isinstance(value, bool) or not text:
        raise ValueError(f"{value!r} is not a percentage: write 2% or 0.5%")
    try:
        number = Decimal(text.removesuffix("%").strip())
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a percentage: write 2% or 0.5%") from None
    if not number.is_finite() or number < 0 or number > 100:
        raise ValueError(f"{value!r} must be between 0% and 100%")
    return number


Percent = Annotated[Decimal, BeforeValidator(parse_percent)]
