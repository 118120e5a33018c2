"""Input checks shared by the mutations: each returns the value to store or raises BadUserInput.

A value that does not fit its column is refused, never rounded: prices are NUMERIC(13,12)
(12 decimals, in [0, 1]) and shares NUMERIC(24,6) (6 decimals, below 10^18). Decimal places
are counted from the digits as sent, ignoring trailing zeros ("0.50" fits where "0.5" does),
and never through `normalize()`, which would round a value longer than the context's precision.
"""

from __future__ import annotations

import re
from decimal import Context, Decimal

from domain.identifiers import BIGINT_MAX, parse_bigint_id
from errors import BadUserInput

PRICE_DECIMALS = 12
SHARES_DECIMALS = 6
SHARES_LIMIT = Decimal(10) ** 18
# Fewer shares than this is dust: a position holding less closes (recordTrade, syncPositions).
DUST = Decimal("0.05")

_POLYGON_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def parse_telegram_id(field: str, raw: str) -> int:
    telegram_id = parse_bigint_id(raw)
    if telegram_id is None:
        raise BadUserInput(
            f"{field}: {raw!r} is not a Telegram id; expected a positive integer up to "
            f"{BIGINT_MAX}.",
            field=field,
        )
    return telegram_id


def check_price(field: str, value: Decimal) -> Decimal:
    """A price in [0, 1] with at most 12 decimals (an entry price, a trade, a market price)."""
    expected = "expected a price from 0 to 1"
    _check_finite(field, value, expected)
    if not 0 <= value <= 1:
        raise BadUserInput(f"{field}: {value} is out of range; {expected}.", field=field)
    return _fitted(field, value, PRICE_DECIMALS)


def check_level(field: str, value: Decimal) -> Decimal:
    """A take-profit or stop-loss level: strictly between 0 and 1, at most 12 decimals."""
    expected = "expected a level strictly between 0 and 1"
    _check_finite(field, value, expected)
    if not 0 < value < 1:
        raise BadUserInput(f"{field}: {value} is out of range; {expected}.", field=field)
    return _fitted(field, value, PRICE_DECIMALS)


def check_shares(field: str, value: Decimal, *, positive: bool) -> Decimal:
    """A share count below 10^18 with at most 6 decimals; above 0 when `positive`, else >= 0."""
    expected = "expected more than 0 shares" if positive else "expected 0 shares or more"
    _check_finite(field, value, expected)
    if value < 0 or (positive and value == 0):
        raise BadUserInput(f"{field}: {value} is out of range; {expected}.", field=field)
    if value >= SHARES_LIMIT:
        raise BadUserInput(
            f"{field}: {value} is too large; expected fewer than 10^18 shares.", field=field
        )
    return _fitted(field, value, SHARES_DECIMALS)


def check_polygon_address(field: str, value: str) -> str:
    if not _POLYGON_ADDRESS.fullmatch(value):
        raise BadUserInput(
            f"{field}: {value!r} is not a Polygon address; expected 0x and 40 hex digits.",
            field=field,
        )
    return value


def check_text(field: str, value: str) -> str:
    # PostgreSQL text cannot hold NUL: refused here rather than failing inside a statement.
    if "\x00" in value:
        raise BadUserInput(f"{field}: {value!r} contains a NUL character.", field=field)
    return value


def plain(value: Decimal) -> str:
    """A stored number as a person writes it: no trailing zeros, no exponent."""
    return format(value.normalize(), "f") if value else "0"


def decimal_places(value: Decimal) -> int:
    """How many decimals a finite `value` needs, trailing zeros aside ("0.50" needs 1)."""
    _, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):  # NaN and Infinity carry a letter here
        raise ValueError(f"{value} is not finite")
    if not any(digits):
        return 0
    zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(0, -(exponent + zeros))


def _check_finite(field: str, value: Decimal, expected: str) -> None:
    if not value.is_finite():
        raise BadUserInput(f"{field}: {value} is not a number; {expected}.", field=field)


def _fitted(field: str, value: Decimal, most: int) -> Decimal:
    """`value` at the column's scale: the same number, so nothing is rounded (checked first).

    Sent as given, "0E-99999" or a price with 20,000 trailing zeros would exceed what a
    PostgreSQL numeric can carry; copy_abs() turns -0 into 0 (callers pass values >= 0).
    """
    places = decimal_places(value)
    if places > most:
        raise BadUserInput(
            f"{field}: {value} has {places} decimal places; expected at most {most}.",
            field=field,
        )
    return value.copy_abs().quantize(Decimal(1).scaleb(-most))


# A watched wallet's statistics: NUMERIC(38,18) (win rate NUMERIC(19,18), in [0, 1]).
STATISTIC_DECIMALS = 18
STATISTIC_LIMIT = Decimal(10) ** 20
_WALLET_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def check_wallet_address(field: str, value: str) -> str:
    """A wallet address, lowercased: addresses compare case-insensitively, stored one way."""
    if not _WALLET_ADDRESS.fullmatch(value):
        raise BadUserInput(
            f"{field}: {value!r} is not a wallet address; expected 0x and 40 hex digits.",
            field=field,
        )
    return value.lower()


def check_statistic(
    field: str, value: Decimal, *, low: Decimal | None = None, high: Decimal | None = None
) -> Decimal:
    """A wallet statistic: finite, below 10^20 in size, at most 18 decimals, within [low, high]
    when given; any sign otherwise (a realized P&L may be a loss)."""
    expected = (
        f"expected a number from {low} to {high}"
        if low is not None and high is not None
        else "expected a number below 10^20 in size"
    )
    _check_finite(field, value, expected)
    if (low is not None and value < low) or (high is not None and value > high):
        raise BadUserInput(f"{field}: {value} is out of range; {expected}.", field=field)
    if abs(value) >= STATISTIC_LIMIT:
        raise BadUserInput(f"{field}: {value} is too large; {expected}.", field=field)
    places = decimal_places(value)
    if places > STATISTIC_DECIMALS:
        raise BadUserInput(
            f"{field}: {value} has {places} decimal places; expected at most {STATISTIC_DECIMALS}.",
            field=field,
        )
    # Wide enough never to round (38 digits); the scale of the column, as _fitted does.
    return value.quantize(Decimal(1).scaleb(-STATISTIC_DECIMALS), context=Context(prec=60))
