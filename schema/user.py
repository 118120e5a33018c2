"""User: a bot user, keyed by Telegram id."""

from __future__ import annotations

from datetime import datetime

import strawberry

from resolvers import users
from schema.claimable import Claimable
from schema.portfolio import Portfolio
from schema.position import Position
from schema.rows import FromRow
from schema.trade import TradeConnection


@strawberry.type
class User:
    id: strawberry.ID
    telegram_id: strawberry.ID
    username: str | None
    polygon_address: str | None
    created_at: datetime

    portfolio: Portfolio = strawberry.field(resolver=users.portfolio)
    positions: list[Position] = strawberry.field(
        resolver=users.positions,
        description="Newest first (openedAt, then id). All of them when status is omitted.",
    )
    claimable: Claimable = strawberry.field(
        resolver=users.claimable,
        description="ACTIVE positions in resolved markets, until redeemed.",
    )
    trades: TradeConnection = strawberry.field(
        resolver=users.trades,
        description="Newest first (executedAt, then id). first: 1 to 100.",
    )


user_from_row = FromRow(User)
