"""resolveMarkets over HTTP: judged entry by entry, final, prices 1 and 0, levels cleared.

Afterwards the market takes no price, no trade and no level, and syncPositions leaves its
positions alone. Only markets of the tests' own are resolved, so no other test sees one.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

import sql
from cache.store import connect
from settings import Settings
from sql.database import Database
from tests.conftest import GraphQLClient
from tests.writes.conftest import (
    DOCUMENTS,
    NewMarket,
    NewUser,
    OwnMarket,
    User,
    code,
    refused,
    run,
    same,
    snapshot,
)
from tests.writes.settling import buy, resolution, resolve, set_levels
from writes.resolutions import Resolution, resolve_markets

MARKETS = "SELECT * FROM market WHERE id = ANY($1::text[]) ORDER BY id"
POSITION = "SELECT * FROM position WHERE id = $1"
TRADES = "SELECT * FROM trade WHERE user_id = $1 ORDER BY id"


async def test_a_resolution_sets_the_winner_one_time_and_prices_of_1_and_0(
    gql: GraphQLClient, db: asyncpg.Connection, own_market: NewMarket
) -> None:
    binary = await own_market(("Yes", "No"), [Decimal("0.97"), Decimal("0.03")])
    three = await own_market(("Red", "Green", "Blue"))  # no prices yet
    before = datetime.now(UTC)

    answer = await run(
        gql,
        "ResolveMarkets",
        # The outcomes in another case: matched case-insensitively, stored as the market spells.
        resolutions=[resolution(binary.id, "yes"), resolution(three.id, "GREEN")],
    )

    after = datetime.now(UTC)
    assert answer.data["resolveMarkets"] == {"resolved": 2, "rejected": []}
    rows = {row["id"]: row for row in await db.fetch(MARKETS, [binary.id, three.id])}
    assert rows[binary.id]["winning_outcome"] == "Yes"
    assert rows[three.id]["winning_outcome"] == "Green"
    assert list(rows[binary.id]["outcome_prices"]) == [1, 0]
    assert list(rows[three.id]["outcome_prices"]) == [0, 1, 0]
    assert all(row["resolved"] for row in rows.values())
    # One time for every market of the call, the time of the call.
    assert rows[binary.id]["resolved_at"] == rows[three.id]["resolved_at"]
    assert before <= rows[binary.id]["resolved_at"] <= after

    read = await run(gql, "MarketsBatch", ids=[binary.id, three.id])
    shown = read.data["markets"]
    assert [[Decimal(p) for p in m["outcomePrices"]] for m in shown] == [[1, 0], [0, 1, 0]]
    fields = await gql(
        "query ($ids: [ID!]!) { markets(ids: $ids) { resolved winningOutcome resolvedAt } }",
        {"ids": [binary.id, three.id]},
    )
    assert [
        (m["resolved"], m["winningOutcome"], datetime.fromisoformat(m["resolvedAt"]))
        for m in fields.data["markets"]
    ] == [
        (True, "Yes", rows[binary.id]["resolved_at"]),
        (True, "Green", rows[three.id]["resolved_at"]),
    ]


async def test_bad_entries_are_rejected_with_a_reason_and_the_rest_applied(
    gql: GraphQLClient, db: asyncpg.Connection, own_market: NewMarket
) -> None:
    settled = await own_market()
    await resolve(gql, resolution(settled.id, "No"))
    good, twice = await own_market(), await own_market()
    settled_before = await snapshot(db, MARKETS, [settled.id])

    payload = await resolve(
        gql,
        resolution("no-such-market", "Yes"),
        resolution(good.id, "Maybe"),
        resolution(settled.id, "Yes"),  # already resolved to another outcome
        resolution(settled.id, "no"),  # the same outcome again: accepted, not counted
        resolution(good.id, "Yes"),
        resolution(twice.id, "No"),
        resolution(twice.id, "Yes"),  # judged after the entry before it: resolved to No
        resolution(twice.id, "No"),
    )

    assert payload["resolved"] == 2
    reasons = {(r["marketId"], r["reason"]) for r in payload["rejected"]}
    assert [r["marketId"] for r in payload["rejected"]] == [
        "no-such-market",
        good.id,
        settled.id,
        twice.id,
    ]
    assert any("not a known market" in reason for _, reason in reasons)
    assert any("'Maybe'" in reason and "Yes, No" in reason for _, reason in reasons)
    assert any(m == settled.id and "already resolved to 'No'" in r for m, r in reasons)
    assert any(m == twice.id and "already resolved to 'No'" in r for m, r in reasons)
    rows = {row["id"]: row for row in await db.fetch(MARKETS, [good.id, twice.id])}
    assert (rows[good.id]["winning_outcome"], rows[twice.id]["winning_outcome"]) == ("Yes", "No")
    # The market resolved before is exactly as it was: its time did not move.
    assert await snapshot(db, MARKETS, [settled.id]) == settled_before


async def test_levels_of_active_positions_are_cleared_and_none_fires(
    gql: GraphQLClient, db: asyncpg.Connection, new_user: NewUser, own_market: NewMarket
) -> None:
    user, market = await new_user(), await own_market(prices=[Decimal("0.5")] * 2)
    winner = await buy(gql, user, market, "Yes", "10", "0.5")
    loser = await buy(gql, user, market, "No", "4", "0.5")
    # Each crossed by the resolution's prices if levels were judged: 1 >= 0.9, 0 <= 0.2.
    await set_levels(gql, winner, "0.9", "0.1")
    await set_levels(gql, loser, "0.8", "0.2")
    outbox_before = await db.fetchval("SELECT count(*) FROM trigger_outbox")

    await resolve(gql, resolution(market.id, "Yes"))

    for position_id in (winner, loser):
        row = await db.fetchrow(POSITION, position_id)
        assert row is not None
        assert (row["status"], row["take_profit_price"], row["stop_loss_price"]) == (
            "ACTIVE",
            None,
            None,
        )
    assert await db.fetchval("SELECT count(*) FROM trigger_outbox") == outbox_before
    # Readers see the cleared levels and the new prices at once.
    detail = await run(gql, "PositionDetail", id=str(winner))
    position = detail.data["position"]
    assert (position["takeProfitPrice"], position["stopLossPrice"]) == (None, None)
    assert same(position["currentPrice"], Decimal(1))


async def test_a_resolved_market_takes_no_price_trade_or_level(
    gql: GraphQLClient, db: asyncpg.Connection, new_user: NewUser, own_market: NewMarket
) -> None:
    user, market = await new_user(), await own_market(prices=[Decimal("0.5")] * 2)
    other = await own_market()
    position_id = await buy(gql, user, market, "Yes", "10", "0.5")
    await resolve(gql, resolution(market.id, "No"))
    market_before = await snapshot(db, MARKETS, [market.id])
    position_before = await snapshot(db, POSITION, position_id)
    trades_before = await snapshot(db, TRADES, user.id)

    priced = await run(
        gql,
        "UpdateMarketPrices",
        updates=[
            {"marketId": market.id, "outcomePrices": ["0.4", "0.6"]},
            {"marketId": other.id, "outcomePrices": ["0.4", "0.6"]},
        ],
    )
    assert priced.data["updateMarketPrices"]["updated"] == 1
    [rejected] = priced.data["updateMarketPrices"]["rejected"]
    assert rejected["marketId"] == market.id
    assert "resolved" in rejected["reason"]

    for side in ("BUY", "SELL"):
        error = await refused(
            gql,
            "RecordTrade",
            input={
                "telegramId": user.telegram_id,
                "marketId": market.id,
                "outcome": "yes",
                "side": side,
                "shares": "1",
                "price": "0.5",
            },
        )
        assert code(error) == "BAD_USER_INPUT"
        assert "resolved" in error["message"]
    # Both levels sent (one statement), and one omitted (the row read first).
    both = await refused(
        gql, "SetTpSl", positionId=str(position_id), takeProfitPrice="0.9", stopLossPrice="0.1"
    )
    one = await refused(gql, "SetTpSl", positionId=str(position_id), takeProfitPrice="0.9")
    for error in (both, one):
        assert code(error) == "BAD_USER_INPUT"
        assert "resolved" in error["message"]

    assert await snapshot(db, MARKETS, [market.id]) == market_before
    assert await snapshot(db, POSITION, position_id) == position_before
    assert await snapshot(db, TRADES, user.id) == trades_before


async def test_sync_leaves_positions_in_resolved_markets_alone(
    gql: GraphQLClient, db: asyncpg.Connection, new_user: NewUser, own_market: NewMarket
) -> None:
    user = await new_user()
    settled, kept, open_market = await own_market(), await own_market(), await own_market()
    lacking = await buy(gql, user, settled, "Yes", "10", "0.5")
    listed = await buy(gql, user, kept, "No", "3", "0.25")
    closing = await buy(gql, user, open_market, "Yes", "2", "0.5")
    await resolve(gql, resolution(settled.id, "Yes"), resolution(kept.id, "Yes"))
    before = {p: await snapshot(db, POSITION, p) for p in (lacking, listed)}

    answer = await run(
        gql,
        "SyncPositions",
        telegramId=user.telegram_id,
        positions=[
            # A resolved market's token, with other numbers: neither applied nor skipped.
            {"tokenId": kept.token_ids[1], "shares": "7", "avgPrice": "0.4"},
            # A resolved market's other outcome: no position opens on it.
            {"tokenId": kept.token_ids[0], "shares": "5", "avgPrice": "0.4"},
            {"tokenId": "unknown-token", "shares": "1", "avgPrice": "0.5"},
        ],
    )

    assert answer.data["syncPositions"] == {
        "opened": 0,
        "updated": 0,
        "closed": 1,
        "skippedTokenIds": ["unknown-token"],
    }
    for position_id, row in before.items():
        assert await snapshot(db, POSITION, position_id) == row
    closed = await db.fetchrow(POSITION, closing)
    assert closed is not None
    assert closed["status"] == "CLOSED"
    active = await db.fetch(
        "SELECT id FROM position WHERE user_id = $1 AND status = 'ACTIVE' ORDER BY id", user.id
    )
    assert [row["id"] for row in active] == [lacking, listed]


async def test_snapshot_checks_still_cover_a_resolved_markets_tokens(
    gql: GraphQLClient, db: asyncpg.Connection, new_user: NewUser, own_market: NewMarket
) -> None:
    user, settled = await new_user(), await own_market()
    position_id = await buy(gql, user, settled, "Yes", "10", "0.5")
    await resolve(gql, resolution(settled.id, "Yes"))
    before = await snapshot(db, POSITION, position_id)

    error = await refused(
        gql,
        "SyncPositions",
        telegramId=user.telegram_id,
        positions=[{"tokenId": settled.token_ids[0], "shares": "-1", "avgPrice": "0.5"}],
    )

    assert code(error) == "BAD_USER_INPUT"
    assert await snapshot(db, POSITION, position_id) == before


async def test_the_workers_call_resolves_as_the_mutation_does_and_readers_see_it(
    gql: GraphQLClient,
    db: asyncpg.Connection,
    settings: Settings,
    new_user: NewUser,
    own_market: NewMarket,
) -> None:
    # The ingestion worker calls writes.resolutions.resolve_markets with its own pool and
    # store (on the app's prefix), not through GraphQL.
    user, market = await new_user(), await own_market()
    await buy(gql, user, market, "Yes", "3", "0.5")
    before = await run(gql, "Claimable", telegramId=user.telegram_id)  # cached, answer kept
    assert before.data["user"]["claimable"]["positions"] == []
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    store = connect(settings, settings.redis_url or "")
    try:
        result = await resolve_markets(
            Database(pool),
            store,
            [Resolution(market.id, "YES"), Resolution("no-such-market", "Yes")],
        )
    finally:
        await store.close()
        await pool.close()

    assert result.resolved == 1
    assert [r.market_id for r in result.rejected] == ["no-such-market"]
    after = await run(gql, "Claimable", telegramId=user.telegram_id)
    assert same(after.data["user"]["claimable"]["payout"], Decimal(3))


async def trade_while_a_resolution_holds_the_market(
    gql: GraphQLClient, database_url: str, user: User, market: OwnMarket
) -> tuple[dict[str, Any], bool]:
    """A resolution of the market, written and not yet committed on a connection of its own,
    while the bot buys on it; then it commits. (The trade's answer, and whether the trade
    answered before the resolution committed.)"""
    resolver = await asyncpg.connect(database_url)
    try:
        async with resolver.transaction():
            await resolver.execute(sql.MARKETS_FOR_RESOLUTION, [market.id])
            await resolver.fetch(sql.RESOLVE_MARKETS, [market.id], ["No"])
            trading = asyncio.create_task(
                gql(
                    DOCUMENTS,
                    {
                        "input": {
                            "telegramId": user.telegram_id,
                            "marketId": market.id,
                            "outcome": "Yes",
                            "side": "BUY",
                            "shares": "1",
                            "price": "0.5",
                        }
                    },
                    "RecordTrade",
                )
            )
            await asyncio.wait({trading}, timeout=0.5)
            answered_first = trading.done()
        answer = await trading
    finally:
        await resolver.close()
    return {"data": answer.data, "codes": answer.codes}, answered_first


async def test_a_trade_racing_a_resolution_waits_for_it_and_is_refused(
    gql: GraphQLClient,
    db: asyncpg.Connection,
    database_url: str,
    new_user: NewUser,
    own_market: NewMarket,
) -> None:
    user, market = await new_user(), await own_market()
    answer, answered_first = await trade_while_a_resolution_holds_the_market(
        gql, database_url, user, market
    )
    assert not answered_first  # it waited for the market's lock
    assert answer["codes"] == ["BAD_USER_INPUT"]
    assert await db.fetch("SELECT * FROM position WHERE market_id = $1", market.id) == []
    assert await db.fetch("SELECT * FROM trade WHERE market_id = $1", market.id) == []


async def test_control_a_trade_reading_the_market_unlocked_lands_in_a_resolved_market(
    gql: GraphQLClient,
    db: asyncpg.Connection,
    database_url: str,
    new_user: NewUser,
    own_market: NewMarket,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    unlocked = sql.BUY_POSITION.replace(" FOR SHARE)", ")")
    assert unlocked != sql.BUY_POSITION
    monkeypatch.setattr(sql, "BUY_POSITION", unlocked)
    user, market = await new_user(), await own_market()
    answer, answered_first = await trade_while_a_resolution_holds_the_market(
        gql, database_url, user, market
    )
    assert answered_first
    assert answer["codes"] == []
    assert await db.fetchval("SELECT resolved FROM market WHERE id = $1", market.id) is True
    assert (
        await db.fetchval(
            "SELECT count(*) FROM position WHERE market_id = $1 AND status = 'ACTIVE'", market.id
        )
        == 1
    )
