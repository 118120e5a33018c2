"""Resolvers of Position's fields that need its market: the market, its price, value and P&L.

Each asks the market loader for the position's market, whichever resolver returned the
position: nothing has to attach a market first, so nothing can forget to, and the loader makes
one batch of every position's market in the request (one round of Redis reads, one statement
for the misses), memoised, so the five fields of a position share one load. The four values
come from one computation per position and request (loaders/position_values.py).

When the market is already loaded (the position loaders load their positions' markets in the
same batch, loaders/positions.py) a field answers at once instead of returning an awaitable:
graphql-core makes a task of every awaitable field, and five per position made a warm
Portfolio of 18 positions 30% slower (docs/benchmarks.md, "Optimisation steps").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, ParamSpec, TypeVar, cast

import strawberry

from context import Info
from domain import settlement
from domain.valuation import Valued

if TYPE_CHECKING:
    from schema.market import Market
    from schema.position import Position

P = ParamSpec("P")
T = TypeVar("T")


def at_once_or_later(resolver: Callable[P, T | Awaitable[T]]) -> Callable[P, T]:
    """Typed as graphql-core takes it: a resolver may return its value or an awaitable of it."""
    return cast(Callable[P, T], resolver)


@at_once_or_later
def market(
    position: strawberry.Parent[Position], info: Info
) -> Market | Awaitable[Market | None] | None:
    return _from_market(position, info, lambda found: found)


@at_once_or_later
def current_price(
    position: strawberry.Parent[Position], info: Info
) -> Decimal | Awaitable[Decimal | None] | None:
    return _from_values(position, info, _PRICE)


@at_once_or_later
def value(
    position: strawberry.Parent[Position], info: Info
) -> Decimal | Awaitable[Decimal | None] | None:
    return _from_values(position, info, _VALUE)


@at_once_or_later
def pnl(
    position: strawberry.Parent[Position], info: Info
) -> Decimal | Awaitable[Decimal | None] | None:
    return _from_values(position, info, _PNL)


@at_once_or_later
def pnl_percent(
    position: strawberry.Parent[Position], info: Info
) -> Decimal | Awaitable[Decimal | None] | None:
    return _from_values(position, info, _PNL_PERCENT)


_PRICE, _VALUE, _PNL, _PNL_PERCENT = range(4)  # fields of valuation.Valued


def _from_values(
    position: Position, info: Info, index: int
) -> Decimal | Awaitable[Decimal | None] | None:
    """One of the position's values (computed once per request with the others)."""
    values = info.context.loaders.position_values.of(position)
    if isinstance(values, Valued):
        return values[index]
    return _picked(values, index)


async def _picked(values: Awaitable[Valued], index: int) -> Decimal | None:
    return (await values)[index]


def _from_market(
    position: Position, info: Info, compute: Callable[[Market | None], T]
) -> T | Awaitable[T]:
    """`compute` of the position's market: at once if loaded, else once the loader has it."""
    loaded = info.context.loaders.market.load(position.market_id)
    if loaded.done():
        return compute(loaded.result())  # raises, for this field, if its batch failed
    return _when_loaded(loaded, compute)


async def _when_loaded(
    loaded: Awaitable[Market | None], compute: Callable[[Market | None], T]
) -> T:
    return compute(await loaded)


@at_once_or_later
def payout(
    position: strawberry.Parent[Position], info: Info
) -> Decimal | Awaitable[Decimal | None] | None:
    return _from_market(
        position,
        info,
        lambda found: settlement.payout(
            position.shares, position.outcome, None if found is None else found.winning_outcome
        ),
    )
