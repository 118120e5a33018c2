"""Market: one Polymarket market, with outcome names and prices aligned by position."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from schema.rows import FromRow


@strawberry.type(description="A Polymarket market. outcomePrices[i] is the price of outcomes[i].")
class Market:
    id: strawberry.ID
    title: str
    slug: str
    condition_id: str
    outcomes: list[str]
    outcome_prices: list[Decimal] | None = strawberry.field(
        description="Aligned with outcomes; null when the market has no prices."
    )
    clob_token_ids: list[str]
    volume: Decimal
    liquidity: Decimal
    end_date: datetime | None
    active: bool = strawberry.field(description="Open for trading (the snapshot's tradeable).")
    resolved: bool
    winning_outcome: str | None = strawberry.field(
        description="Spelled as the market spells it; null until the market resolves."
    )
    resolved_at: datetime | None = strawberry.field(description="Null until the market resolves.")


# Column names equal field names; only the id changes type (text -> ID).
market_from_row = FromRow(Market)
