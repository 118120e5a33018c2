"""Resolvers of User's fields: the portfolio totals, the position lists, the winnings to claim
and the trade history."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import strawberry

from cache.kinds import TradePage
from context import Info
from domain import settlement, valuation
from domain.cursors import decode_time_cursor, encode_time_cursor
from errors import check_first
from schema.claimable import Claimable
from schema.connection import PageInfo
from schema.enums import PositionStatus
from schema.portfolio import Portfolio, portfolio_of
from schema.trade import TradeConnection, TradeEdge

if TYPE_CHECKING:
    from schema.position import Position
    from schema.user import User

TRADES_MAX = 100
# The name signed into trade cursors: another list's cursor is refused here.
TRADE_WALK = "trades"


async def positions(
    user: strawberry.Parent[User], info: Info, status: PositionStatus | None = None
) -> list[Position]:
    key = (int(user.id), None if status is None else status.value)
    return await info.context.loaders.user_positions.load(key)


async def portfolio(user: strawberry.Parent[User], info: Info) -> Portfolio:
    # The same loader keys as positions(status: ACTIVE) and its markets: loaded once for both.
    loaders = info.context.loaders
    active = await loaders.user_positions.load((int(user.id), PositionStatus.ACTIVE.value))
    values = await loaders.position_values.all_of(active)
    return portfolio_of(
        valuation.totals(
            valuation.Holding(p.shares, p.entry_price, v.price)
            for p, v in zip(active, values, strict=True)
        )
    )


async def claimable(user: strawberry.Parent[User], info: Info) -> Claimable:
    # The ACTIVE list and its markets, as Portfolio reads them (one load for both): a
    # resolution retires its markets' scopes and every holder's Claimable changes with them.
    loaders = info.context.loaders
    active = await loaders.user_positions.load((int(user.id), PositionStatus.ACTIVE.value))
    markets = await loaders.market.load_all([p.market_id for p in active])
    settled = [
        (position, market.resolved_at, payout)
        for position, market in zip(active, markets, strict=True)
        if market is not None
        and market.resolved_at is not None
        and (payout := settlement.payout(position.shares, position.outcome, market.winning_outcome))
        is not None
    ]
    # Latest resolution first, then position id ascending (two stable sorts).
    settled.sort(key=lambda entry: int(entry[0].id))
    settled.sort(key=lambda entry: entry[1], reverse=True)
    return Claimable(
        position_count=len(settled),
        payout=sum((payout for _, _, payout in settled), Decimal(0)),
        positions=[position for position, _, _ in settled],
    )


async def trades(
    user: strawberry.Parent[User], info: Info, first: int, after: str | None = None
) -> TradeConnection:
    check_first("first", first, TRADES_MAX)
    secret = info.context.settings.cursor_secret
    after_at, after_id = (
        decode_time_cursor(TRADE_WALK, after, secret) if after is not None else (None, None)
    )
    # One more than asked tells whether a next page exists without a count query.
    page = await info.context.loaders.user_trades.load(
        TradePage(int(user.id), after_at, after_id, first + 1)
    )
    edges = [
        TradeEdge(cursor=encode_time_cursor(TRADE_WALK, t.executed_at, int(t.id), secret), node=t)
        for t in page[:first]
    ]
    return TradeConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(page) > first, end_cursor=edges[-1].cursor if edges else None
        ),
    )
