"""Decimals are written as plain numbers: no exponent, no trailing zeros, no "-0"."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from schema.scalars import serialize_decimal


def plain(value: Decimal) -> str:
    """The rule, the slow way: fixed-point, then the padding taken off."""
    if not value.is_finite():
        return str(value)
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


@given(st.decimals(allow_nan=True, allow_infinity=True) | st.decimals(places=30))
def test_written_as_the_plain_number(value: Decimal) -> None:
    assert serialize_decimal(value) == plain(value)


def test_examples() -> None:
    written = [serialize_decimal(Decimal(t)) for t in ("60.000", "1E+1", "-0.00", "1.2E-9", "0E+3")]
    assert written == ["60", "10", "0", "0.0000000012", "0"]
