"""Position: shares of one outcome; its market and derived values are read through the market
loader when asked for (resolvers/positions.py)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from resolvers import positions
from schema.enums import PositionStatus
from schema.market import Market
from schema.rows import FromRow


@strawberry.type
class Position:
    id: strawberry.ID
    market_id: strawberry.ID
    outcome: str = strawberry.field(description="Spelled as the market spells it.")
    status: PositionStatus
    shares: Decimal
    entry_price: Decimal
    realized_pnl: Decimal
    take_profit_price: Decimal | None
    stop_loss_price: Decimal | None
    opened_at: datetime
    closed_at: datetime | None

    # Through the market loader, whoever returned the position (one batch per request).
    market: Market | None = strawberry.field(resolver=positions.market)
    current_price: Decimal | None = strawberry.field(
        resolver=positions.current_price,
        description="The market's price for this outcome; null when it has none.",
    )
    value: Decimal | None = strawberry.field(
        resolver=positions.value, description="shares x currentPrice."
    )
    pnl: Decimal | None = strawberry.field(
        resolver=positions.pnl, description="(currentPrice - entryPrice) x shares."
    )
    pnl_percent: Decimal | None = strawberry.field(
        resolver=positions.pnl_percent,
        description="(currentPrice - entryPrice) / entryPrice x 100; null when entryPrice is 0.",
    )
    payout: Decimal | None = strawberry.field(
        resolver=positions.payout,
        description="What redeeming pays once the market resolved: shares for the winning "
        "outcome, 0 otherwise; null before.",
    )


position_from_row = FromRow(Position)
