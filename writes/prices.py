"""updateMarketPrices: new outcome prices for many markets, then TP/SL on the new prices."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from database import Database


@dataclass(frozen=True)
class PriceUpdate:
    market_id: str
    outcome_prices: list[Decimal]


@dataclass(frozen=True)
class Rejected:
    market_id: str
    reason: str


@dataclass(frozen=True)
class Triggered:
    position_id: int
    kind: str  # "TAKE_PROFIT" | "STOP_LOSS"
    price: Decimal


@dataclass(frozen=True)
class PriceUpdateResult:
    updated: int
    rejected: list[Rejected]
    triggered: list[Triggered]


async def update_market_prices(database: Database, updates: list[PriceUpdate]) -> PriceUpdateResult:
    raise NotImplementedError
