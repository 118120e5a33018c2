"""Inputs of the wallet tracker's mutations that tests send: fresh addresses, trade ids,
statistics and trades, and token ids of real (seeded) markets.

Trades use the seeded markets' tokens only: tests' own markets are deleted afterwards, and a
trade on a deleted market's token would make the feed's expected answers depend on test order.
"""

from __future__ import annotations

import itertools
import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

_trade_numbers = itertools.count()
_RUN = secrets.token_hex(4)


def new_address() -> str:
    """A wallet address nobody else uses, in mixed case as a tracker may send it."""
    digits = secrets.token_hex(20)
    return "0x" + digits[:20].upper() + digits[20:]


def new_trade_id() -> str:
    return f"test-{_RUN}-{next(_trade_numbers)}"


def stats(
    address: str,
    *,
    smartscore: str = "5.5",
    win_rate: str = "0.6",
    markets_traded: int = 12,
    realized_pnl: str = "1000.25",
) -> dict[str, Any]:
    return {
        "address": address,
        "smartscore": smartscore,
        "winRate": win_rate,
        "marketsTraded": markets_traded,
        "realizedPnl": realized_pnl,
    }


def at(minutes_ago: float, base: datetime | None = None) -> datetime:
    return (base or datetime.now(UTC)) - timedelta(minutes=minutes_ago)


def trade(
    wallet: str,
    token_id: str,
    *,
    id: str | None = None,
    side: str = "BUY",
    shares: str = "1000",
    price: str = "0.5",
    executed_at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "id": id or new_trade_id(),
        "wallet": wallet,
        "tokenId": token_id,
        "side": side,
        "shares": shares,
        "price": price,
        "executedAt": (executed_at or datetime.now(UTC)).isoformat(),
    }


async def real_tokens(db: asyncpg.Connection, count: int) -> list[str]:
    """Token ids of `count` seeded markets (one token each, from both outcomes in turn)."""
    rows = await db.fetch(
        "SELECT clob_token_ids FROM market WHERE id NOT LIKE 'test-%' ORDER BY id LIMIT $1", count
    )
    return [row["clob_token_ids"][i % 2] for i, row in enumerate(rows)]


def value(shares: str, price: str) -> Decimal:
    return Decimal(shares) * Decimal(price)
