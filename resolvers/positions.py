"""Resolvers of Position's fields that need its market: the market and the derived values."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import strawberry

import valuation
from context import Info

if TYPE_CHECKING:
    from schema.market import Market
    from schema.position import Position


async def market(position: strawberry.Parent[Position], info: Info) -> Market | None:
    return await info.context.loaders.market.load(position.market_id)


async def current_price(position: strawberry.Parent[Position], info: Info) -> Decimal | None:
    found = await info.context.loaders.market.load(position.market_id)
    if found is None:
        return None
    return valuation.outcome_price(found.outcomes, found.outcome_prices, position.outcome)


async def value(position: strawberry.Parent[Position], info: Info) -> Decimal | None:
    return valuation.value(position.shares, await current_price(position, info))


async def pnl(position: strawberry.Parent[Position], info: Info) -> Decimal | None:
    price = await current_price(position, info)
    return valuation.pnl(position.shares, position.entry_price, price)


async def pnl_percent(position: strawberry.Parent[Position], info: Info) -> Decimal | None:
    return valuation.pnl_percent(position.entry_price, await current_price(position, info))
