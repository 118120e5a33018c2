"""Resolvers of User's fields: the portfolio totals and the position lists."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry

from context import Info
from domain import valuation
from resolvers.positions import with_markets
from schema.enums import PositionStatus
from schema.portfolio import Portfolio

if TYPE_CHECKING:
    from schema.position import Position
    from schema.user import User


async def positions(
    user: strawberry.Parent[User], info: Info, status: PositionStatus | None = None
) -> list[Position]:
    found = await info.context.loaders.user_positions.load((int(user.id), status))
    return await with_markets(info, found)


async def portfolio(user: strawberry.Parent[User], info: Info) -> Portfolio:
    # The same loader key as positions(status: ACTIVE): one load serves both fields.
    active = await info.context.loaders.user_positions.load((int(user.id), PositionStatus.ACTIVE))
    markets = await info.context.loaders.market.load_many([p.market_id for p in active])
    sums = valuation.totals(
        valuation.Holding(
            shares=p.shares,
            entry_price=p.entry_price,
            current_price=None
            if m is None
            else valuation.outcome_price(m.outcomes, m.outcome_prices, p.outcome),
        )
        for p, m in zip(active, markets, strict=True)
    )
    return Portfolio(
        position_count=sums.position_count,
        invested=sums.invested,
        value=sums.value,
        pnl=sums.pnl,
        pnl_percent=sums.pnl_percent,
    )
