"""recordTrade: a filled BUY or SELL applied to the user's ACTIVE position.

Two statements: one reads the user and the market's outcomes (so an unknown one is NOT_FOUND
and the outcome is stored as the market spells it), one writes. BUY upserts on the partial
unique index of ACTIVE positions; SELL is an UPDATE guarded by `shares >= sold`, so concurrent
sells cannot take more than was held. Only a refused SELL costs a third statement, to say why.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import asyncpg

import sql
from cache.store import CacheStore
from database import Database
from errors import BadUserInput, NotFound
from writes.checks import DUST, check_price, check_shares, check_text, parse_telegram_id, plain
from writes.transaction import user_scopes, write_transaction


async def record_trade(
    database: Database,
    cache: CacheStore,
    *,
    telegram_id: str,
    market_id: str,
    outcome: str,
    side: str,
    shares: Decimal,
    price: Decimal,
) -> asyncpg.Record:
    key = parse_telegram_id("telegramId", telegram_id)
    check_text("marketId", market_id)
    shares = check_shares("shares", shares, positive=True)
    price = check_price("price", price)
    async with write_transaction(database, cache) as (tx, changed):
        found = await tx.fetchrow(sql.TRADE_USER_AND_MARKET, key, market_id)
        assert found is not None  # two scalar subqueries: always one row
        if found["user_id"] is None:
            raise NotFound(f"telegramId: no user has Telegram id {key}.", field="telegramId")
        if found["outcomes"] is None:
            raise NotFound(f"marketId: no market has id {market_id!r}.", field="marketId")
        user_id: int = found["user_id"]
        spelled = _market_spelling(outcome, found["outcomes"])
        if side == "BUY":
            row = await _buy(tx, user_id, market_id, spelled, shares, price)
        else:
            row = await _sell(tx, user_id, market_id, spelled, shares, price)
        changed.update(user_scopes(user_id, row["id"], closed=row["status"] == "CLOSED"))
    return row


def _market_spelling(outcome: str, outcomes: Sequence[str]) -> str:
    """The market's own spelling of `outcome`, matched case-insensitively."""
    for name in outcomes:
        if name.casefold() == outcome.casefold():
            return name
    raise BadUserInput(
        f"outcome: {outcome!r} is not an outcome of this market; expected one of "
        f"{', '.join(outcomes)}.",
        field="outcome",
    )


async def _buy(
    tx: Database, user_id: int, market_id: str, outcome: str, shares: Decimal, price: Decimal
) -> asyncpg.Record:
    try:
        row = await tx.fetchrow(sql.BUY_POSITION, user_id, market_id, outcome, shares, price)
    except asyncpg.NumericValueOutOfRangeError:
        # Each trade fits NUMERIC(24,6); the position's sum of them may not.
        raise BadUserInput(
            f"shares: {plain(shares)} would take the position to 10^18 shares or more; expected a "
            "smaller trade.",
            field="shares",
        ) from None
    assert row is not None  # INSERT ... ON CONFLICT DO UPDATE ... RETURNING always has a row
    return row


async def _sell(
    tx: Database, user_id: int, market_id: str, outcome: str, shares: Decimal, price: Decimal
) -> asyncpg.Record:
    row = await tx.fetchrow(sql.SELL_POSITION, user_id, market_id, outcome, shares, price, DUST)
    if row is not None:
        return row
    held = await tx.fetchval(sql.ACTIVE_POSITION_SHARES, user_id, market_id, outcome)
    if held is None:
        raise BadUserInput(
            f"shares: cannot sell {plain(shares)} shares of {outcome!r}; there is no ACTIVE "
            "position on this outcome.",
            field="shares",
        )
    raise BadUserInput(
        f"shares: cannot sell {plain(shares)} shares of {outcome!r}; the ACTIVE position "
        f"holds only {plain(held)}.",
        field="shares",
    )
