"""Market: one Polymarket market, with outcome names and prices aligned by position."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from sql.database import Row


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


def market_from_row(row: Row) -> Market:
    """Column names equal field names; only the id changes type (text -> ID)."""
    return Market(
        id=strawberry.ID(row["id"]),
        title=row["title"],
        slug=row["slug"],
        condition_id=row["condition_id"],
        outcomes=list(row["outcomes"]),
        outcome_prices=None if row["outcome_prices"] is None else list(row["outcome_prices"]),
        clob_token_ids=list(row["clob_token_ids"]),
        volume=row["volume"],
        liquidity=row["liquidity"],
        end_date=row["end_date"],
        active=row["active"],
        resolved=row["resolved"],
    )
