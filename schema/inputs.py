"""The contract's input types. Optional fields default to UNSET: omitted leaves, null clears."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from schema.enums import TradeSide


@strawberry.input
class UpsertUserInput:
    telegram_id: strawberry.ID
    username: str | None = strawberry.UNSET
    polygon_address: str | None = strawberry.UNSET


@strawberry.input
class RecordTradeInput:
    telegram_id: strawberry.ID
    market_id: strawberry.ID
    outcome: str
    side: TradeSide
    shares: Decimal
    price: Decimal


@strawberry.input
class PositionSnapshotInput:
    token_id: str
    shares: Decimal
    avg_price: Decimal


@strawberry.input
class MarketPriceInput:
    market_id: strawberry.ID
    outcome_prices: list[Decimal]


@strawberry.input
class MarketResolutionInput:
    market_id: strawberry.ID
    winning_outcome: str = strawberry.field(description="Matched case-insensitively.")


@strawberry.input
class WalletTradeInput:
    id: str = strawberry.field(description="The tracker's id; a trade sent again is a duplicate.")
    wallet: str
    token_id: str
    side: TradeSide
    shares: Decimal
    price: Decimal
    executed_at: datetime


@strawberry.input
class WalletStatsInput:
    address: str
    smartscore: Decimal
    win_rate: Decimal
    markets_traded: int
    realized_pnl: Decimal
