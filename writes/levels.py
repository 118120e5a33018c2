"""setTpSl: take-profit and stop-loss levels of an ACTIVE position."""

from __future__ import annotations

from decimal import Decimal

import asyncpg

from database import Database


async def set_tp_sl(
    database: Database,
    *,
    position_id: str,
    take_profit_price: Decimal | None | object,
    stop_loss_price: Decimal | None | object,
) -> asyncpg.Record:
    raise NotImplementedError
