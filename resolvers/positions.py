"""Resolvers of Position's derived fields, and the one way positions get their markets.

Every resolver that returns positions passes them through `with_markets`: one `load_many` on
the market loader for all of them (one batch, cache first), each market attached to its
position. The derived values are then plain computations: no await per field of every
position, which was the largest cost of a warm Portfolio (graphql-core makes a task of each).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

import strawberry
from strawberry.types.nodes import SelectedField, Selection

from context import Info
from domain import valuation

if TYPE_CHECKING:
    from schema.position import Position


# The fields that need a position's market.
NEEDS_MARKET = frozenset({"market", "currentPrice", "value", "pnl", "pnlPercent"})


async def with_markets(info: Info, positions: list[Position]) -> list[Position]:
    if not _asks_for(NEEDS_MARKET, info.selected_fields):
        return positions  # e.g. recordTrade's payload as the bot reads it: no market to load
    markets = await info.context.loaders.market.load_many([p.market_id for p in positions])
    for position, market in zip(positions, markets, strict=True):
        position.market = market
    return positions


def _asks_for(names: frozenset[str], selections: Sequence[Selection]) -> bool:
    """Whether any of `names` is selected anywhere below (through fragments too)."""
    return any(
        (isinstance(s, SelectedField) and s.name in names) or _asks_for(names, s.selections)
        for s in selections
    )


def current_price(position: strawberry.Parent[Position]) -> Decimal | None:
    market = position.market
    if market is None:
        return None
    return valuation.outcome_price(market.outcomes, market.outcome_prices, position.outcome)


def value(position: strawberry.Parent[Position]) -> Decimal | None:
    return valuation.value(position.shares, current_price(position))


def pnl(position: strawberry.Parent[Position]) -> Decimal | None:
    return valuation.pnl(position.shares, position.entry_price, current_price(position))


def pnl_percent(position: strawberry.Parent[Position]) -> Decimal | None:
    return valuation.pnl_percent(position.entry_price, current_price(position))
