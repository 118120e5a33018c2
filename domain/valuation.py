"""Derived values of positions and portfolios, computed when read from the market's prices.

Nothing here is stored: a price update is visible in every value at once. All arithmetic is
Decimal (28 significant digits, so quotients keep well over the contract's 12).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple, Protocol

HUNDRED = Decimal(100)


def outcome_price(
    outcomes: Sequence[str], prices: Sequence[Decimal] | None, outcome: str
) -> Decimal | None:
    """The price of `outcome` (names match case-insensitively); None when there is none."""
    if prices is None:
        return None
    wanted = outcome.casefold()
    # A position names its outcome as its market spells it: found by an exact match (a C loop),
    # then only the names before it are casefolded, in case an earlier one matches first.
    try:
        exact: int | None = outcomes.index(outcome)
    except ValueError:
        exact = None
    for index, name in enumerate(outcomes[:exact]):
        if name.casefold() == wanted:
            return prices[index] if index < len(prices) else None
    return prices[exact] if exact is not None and exact < len(prices) else None


class Priced(Protocol):
    """What valuation needs of a market: its outcomes and their prices, aligned."""

    @property
    def outcomes(self) -> Sequence[str]: ...

    @property
    def outcome_prices(self) -> Sequence[Decimal] | None: ...


def price_in(market: Priced | None, outcome: str) -> Decimal | None:
    """The current price of a position on `outcome` of `market`; None with no market."""
    return (
        None if market is None else outcome_price(market.outcomes, market.outcome_prices, outcome)
    )


def value(shares: Decimal, current_price: Decimal | None) -> Decimal | None:
    return None if current_price is None else shares * current_price


def pnl(shares: Decimal, entry_price: Decimal, current_price: Decimal | None) -> Decimal | None:
    return None if current_price is None else (current_price - entry_price) * shares


def pnl_percent(entry_price: Decimal, current_price: Decimal | None) -> Decimal | None:
    if current_price is None or entry_price == 0:
        return None
    return (current_price - entry_price) / entry_price * HUNDRED


class Valued(NamedTuple):
    """A position's values at one price: its current price, value, P&L and P&L percent."""

    price: Decimal | None
    value: Decimal | None
    pnl: Decimal | None
    pnl_percent: Decimal | None


UNPRICED = Valued(None, None, None, None)


def valued(shares: Decimal, entry_price: Decimal, current_price: Decimal | None) -> Valued:
    """Every value of a position at once: a Portfolio asks for all four."""
    if current_price is None:
        return UNPRICED
    return Valued(
        current_price,
        value(shares, current_price),
        pnl(shares, entry_price, current_price),
        pnl_percent(entry_price, current_price),
    )


@dataclass(frozen=True)
class Holding:
    """What the portfolio needs of one ACTIVE position."""

    shares: Decimal
    entry_price: Decimal
    current_price: Decimal | None


@dataclass(frozen=True)
class Totals:
    position_count: int
    invested: Decimal
    value: Decimal
    pnl: Decimal
    pnl_percent: Decimal | None


def totals(holdings: Iterable[Holding]) -> Totals:
    """Counts every holding; sums money only over those whose current price is known."""
    count = 0
    invested = current_value = Decimal(0)
    for holding in holdings:
        count += 1
        if holding.current_price is not None:
            invested += holding.entry_price * holding.shares
            current_value += holding.current_price * holding.shares
    profit = current_value - invested
    percent = None if invested == 0 else profit / invested * HUNDRED
    return Totals(count, invested, current_value, profit, percent)
