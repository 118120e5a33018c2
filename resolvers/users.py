"""Resolvers of User's fields: the portfolio totals and the position lists."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry

from context import Info
from domain import valuation
from schema.enums import PositionStatus
from schema.portfolio import Portfolio, portfolio_of

if TYPE_CHECKING:
    from schema.position import Position
    from schema.user import User


async def positions(
    user: strawberry.Parent[User], info: Info, status: PositionStatus | None = None
) -> list[Position]:
    key = (int(user.id), None if status is None else status.value)
    return await info.context.loaders.user_positions.load(key)


async def portfolio(user: strawberry.Parent[User], info: Info) -> Portfolio:
    # The same loader keys as positions(status: ACTIVE) and its markets: loaded once for both.
    loaders = info.context.loaders
    active = await loaders.user_positions.load((int(user.id), PositionStatus.ACTIVE.value))
    markets = await loaders.market.load_all([p.market_id for p in active])
    return portfolio_of(
        valuation.totals(
            valuation.Holding(p.shares, p.entry_price, valuation.price_in(m, p.outcome))
            for p, m in zip(active, markets, strict=True)
        )
    )
