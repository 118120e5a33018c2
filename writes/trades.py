"""recordTrade: a filled BUY or SELL applied to the user's ACTIVE position."""

from __future__ import annotations

from decimal import Decimal

import asyncpg

from database import Database


async def record_trade(
    database: Database,
    *,
    telegram_id: str,
    market_id: str,
    outcome: str,
    side: str,
    shares: Decimal,
    price: Decimal,
) -> asyncpg.Record:
    raise NotImplementedError
