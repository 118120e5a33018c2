"""Position: shares of one outcome; derived values are computed at read time from the market."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from resolvers import positions
from schema.enums import PositionStatus
from schema.market import Market
from sql.database import Row


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

    # Attached by resolvers.positions.with_markets (one market loader batch per request).
    market: Market | None = None
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


def position_from_row(row: Row) -> Position:
    return Position(
        id=strawberry.ID(str(row["id"])),
        market_id=strawberry.ID(row["market_id"]),
        outcome=row["outcome"],
        status=PositionStatus(row["status"]),
        shares=row["shares"],
        entry_price=row["entry_price"],
        realized_pnl=row["realized_pnl"],
        take_profit_price=row["take_profit_price"],
        stop_loss_price=row["stop_loss_price"],
        opened_at=row["opened_at"],
        closed_at=row["closed_at"],
    )
