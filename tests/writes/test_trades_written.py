"""The trades recordTrade writes: one per trade, BUY or SELL, with the P&L a SELL added.

syncPositions writes none, and a refused trade none. Expected values are computed here from the
position as it was before each trade.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import asyncpg

from tests.conftest import GraphQLClient
from tests.writes.conftest import NewMarket, NewUser, code, refused, run
from tests.writes.settling import buy, sell

TRADES = "SELECT * FROM trade WHERE user_id = $1 ORDER BY id"
POSITION = "SELECT * FROM position WHERE id = $1"


async def test_each_trade_is_written_with_what_it_realized(
    gql: GraphQLClient, db: asyncpg.Connection, new_user: NewUser, own_market: NewMarket
) -> None:
    user, market = await new_user(), await own_market()
    started = datetime.now(UTC)
    position_id = await buy(gql, user, market, "yes", "10", "0.4")  # spelled "Yes" by the market
    await buy(gql, user, market, "Yes", "6", "0.52")
    before_sale = await db.fetchrow(POSITION, position_id)
    assert before_sale is not None
    await sell(gql, user, market, "YES", "7.5", "0.61")
    before_close = await db.fetchrow(POSITION, position_id)
    assert before_close is not None
    await sell(gql, user, market, "Yes", "8.5", "0.35")  # closes the position

    trades = await db.fetch(TRADES, user.id)
    assert [
        (t["kind"], t["outcome"], t["shares"], t["price"], t["position_id"], t["market_id"])
        for t in trades
    ] == [
        ("BUY", "Yes", Decimal("10"), Decimal("0.4"), position_id, market.id),
        ("BUY", "Yes", Decimal("6"), Decimal("0.52"), position_id, market.id),
        ("SELL", "Yes", Decimal("7.5"), Decimal("0.61"), position_id, market.id),
        ("SELL", "Yes", Decimal("8.5"), Decimal("0.35"), position_id, market.id),
    ]
    sold_first = (Decimal("0.61") - before_sale["entry_price"]) * Decimal("7.5")
    sold_last = (Decimal("0.35") - before_close["entry_price"]) * Decimal("8.5")
    assert [t["realized_pnl"] for t in trades] == [0, 0, sold_first, sold_last]
    closed = await db.fetchrow(POSITION, position_id)
    assert closed is not None
    assert closed["status"] == "CLOSED"
    # Each SELL's trade holds what it added: together, the position's realized P&L.
    assert closed["realized_pnl"] == sold_first + sold_last
    assert all(started <= t["executed_at"] <= datetime.now(UTC) for t in trades)
    assert [t["executed_at"] for t in trades] == sorted(t["executed_at"] for t in trades)


async def test_refused_trades_and_syncs_write_none(
    gql: GraphQLClient, db: asyncpg.Connection, new_user: NewUser, own_market: NewMarket
) -> None:
    user, market = await new_user(), await own_market()
    await buy(gql, user, market, "Yes", "2", "0.5")
    before = await db.fetch(TRADES, user.id)

    for side, shares, outcome in (("SELL", "5", "Yes"), ("SELL", "1", "No"), ("BUY", "1", "Maybe")):
        error = await refused(
            gql,
            "RecordTrade",
            input={
                "telegramId": user.telegram_id,
                "marketId": market.id,
                "outcome": outcome,
                "side": side,
                "shares": shares,
                "price": "0.5",
            },
        )
        assert code(error) == "BAD_USER_INPUT"
    synced = await run(
        gql,
        "SyncPositions",
        telegramId=user.telegram_id,
        positions=[
            {"tokenId": market.token_ids[0], "shares": "9", "avgPrice": "0.45"},
            {"tokenId": market.token_ids[1], "shares": "3", "avgPrice": "0.5"},
        ],
    )
    assert synced.data["syncPositions"]["opened"] == 1

    assert await db.fetch(TRADES, user.id) == before
