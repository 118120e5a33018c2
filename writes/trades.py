"""recordTrade: a filled BUY or SELL applied to the user's ACTIVE position.

One statement: it finds the user by Telegram id and the market's outcomes, and writes when both
exist and the outcome is spelled as the market spells it; it always returns what it found, so
an unknown user or market is NOT_FOUND and nothing was written. BUY upserts on the partial
unique index of ACTIVE positions; SELL is an UPDATE guarded by `shares >= sold`, so concurrent
sells cannot take more than was held. An outcome sent in another case ("yes" for "Yes") costs a
second statement with the market's spelling; a refused SELL one more, to say why. The same
statement writes the trade (trade history), so a refused trade writes none; a resolved market
takes no trade at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import NoReturn

import asyncpg

import sql
from cache.keys import trades_scope
from cache.store import CacheStore
from errors import BadUserInput, NotFound
from sql.database import Database
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
    trade = _buy if side == "BUY" else _sell
    async with write_transaction(database, cache) as (tx, changed):
        row = await trade(tx, key, market_id, outcome, shares, price)
        if row["trader_id"] is None:
            raise NotFound(f"telegramId: no user has Telegram id {key}.", field="telegramId")
        if row["market_outcomes"] is None:
            raise NotFound(f"marketId: no market has id {market_id!r}.", field="marketId")
        if row["market_resolved"]:
            raise BadUserInput(
                f"marketId: market {market_id!r} is resolved; it takes no more trades "
                "(redeemPositions settles its positions).",
                field="marketId",
            )
        spelled = _market_spelling(outcome, row["market_outcomes"])
        if row["id"] is None and spelled != outcome:
            row = await trade(tx, key, market_id, spelled, shares, price)
        if row["id"] is None:
            await _sell_refused(tx, row["trader_id"], market_id, spelled, shares)
        changed.update(user_scopes(row["trader_id"], row["id"], closed=row["status"] == "CLOSED"))
        changed.add(trades_scope(row["trader_id"]))
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
    tx: Database, key: int, market_id: str, outcome: str, shares: Decimal, price: Decimal
) -> asyncpg.Record:
    try:
        row = await tx.fetchrow(sql.BUY_POSITION, key, market_id, outcome, shares, price)
    except asyncpg.NumericValueOutOfRangeError:
        # Each trade fits NUMERIC(24,6); the position's sum of them may not.
        raise BadUserInput(
            f"shares: {plain(shares)} would take the position to 10^18 shares or more; expected a "
            "smaller trade.",
            field="shares",
        ) from None
    assert row is not None  # what it found, joined with what it wrote: always one row
    return row


async def _sell(
    tx: Database, key: int, market_id: str, outcome: str, shares: Decimal, price: Decimal
) -> asyncpg.Record:
    row = await tx.fetchrow(sql.SELL_POSITION, key, market_id, outcome, shares, price, DUST)
    assert row is not None  # what it found, joined with what it sold: always one row
    return row


async def _sell_refused(
    tx: Database, user_id: int, market_id: str, outcome: str, shares: Decimal
) -> NoReturn:
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
