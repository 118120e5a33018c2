"""Trade: one BUY, SELL or REDEEM of a user, as written when it happened; its pages."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from resolvers import trades
from schema.connection import PageInfo
from schema.enums import TradeKind
from schema.market import Market
from schema.rows import FromRow


@strawberry.type
class Trade:
    id: strawberry.ID
    kind: TradeKind
    market_id: strawberry.ID
    position_id: strawberry.ID
    outcome: str = strawberry.field(description="Spelled as the market spells it.")
    shares: Decimal
    price: Decimal = strawberry.field(
        description="The trade's price; the payout price (1 or 0) of a REDEEM."
    )
    realized_pnl: Decimal = strawberry.field(
        description="What the trade added to its position's realizedPnl (0 for a BUY)."
    )
    executed_at: datetime

    market: Market | None = strawberry.field(resolver=trades.market)


@strawberry.type
class TradeEdge:
    cursor: str
    node: Trade


@strawberry.type
class TradeConnection:
    edges: list[TradeEdge]
    page_info: PageInfo


trade_from_row = FromRow(Trade)
