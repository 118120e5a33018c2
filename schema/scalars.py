"""Decimal, as the contract names it, written without padding or exponents.

NUMERIC columns come back with their full scale ("60.000000000000000000"); the bot shows these
strings, so they are written as the number they are ("60", "0.065"), never in exponent form
("1E+1"). Parsing stays Strawberry's (any decimal string or number; range and precision are
checked by the write that uses the value).
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from strawberry.schema.types.base_scalars import DecimalDefinition
from strawberry.types.scalar import ScalarDefinition


def serialize_decimal(value: Decimal) -> str:
    # str() is plain notation unless the exponent is positive or the number very small; it
    # costs half of format(value, "f"), and a Portfolio writes some 250 Decimals.
    text = str(value)
    if "E" in text:
        if not value.is_finite():
            return text
        text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


DecimalScalar: ScalarDefinition = dataclasses.replace(
    DecimalDefinition, serialize=serialize_decimal
)
