"""recordTrade over HTTP: BUY opens or averages, SELL realizes and closes below 0.05 shares.

Expected values are computed here from the rows read before the trade.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import asyncpg
import pytest

from tests.conftest import Answer, GraphQLClient
from tests.writes.conftest import (
    DOCUMENTS,
    NewMarket,
    NewUser,
    User,
    code,
    refused,
    run,
    same,
    snapshot,
)

TWELVE_PLACES = Decimal("1e-12")
POSITIONS_OF = "SELECT * FROM position WHERE user_id = $1 ORDER BY id"
POSITION = "SELECT * FROM position WHERE id = $1"


def trade_input(
    user: User, market_id: str, outcome: str, side: str, shares: str, price: str
) -> dict[str, Any]:
    return {
        "telegramId": user.telegram_id,
        "marketId": market_id,
        "outcome": outcome,
        "side": side,
        "shares": shares,
        "price": price,
    }


async def trade(
    gql: GraphQLClient, user: User, market_id: str, outcome: str, side: str, shares: str, price: str
) -> Answer:
    return await run(
        gql, "RecordTrade", input=trade_input(user, market_id, outcome, side, shares, price)
    )


async def test_buy_opens_a_position_at_the_price(
    gql: GraphQLClient, db: asyncpg.Connection, new_user: NewUser, own_market: NewMarket
) -> None:
    user, market = await new_user(), await own_market()
    answer = await trade(gql, user, market.id, "Yes", "BUY", "12.5", "0.42")

    position = answer.data["recordTrade"]["position"]
    row = await db.fetchrow(POSITION, int(position["id"]))
    assert row is not None
    assert (row["user_id"], row["market_id"], row["outcome"]) == (user.id, market.id, "Yes")
    assert position["status"] == "ACTIVE"
    assert same(position["shares"], Decimal("12.5"))
    assert same(position["entryPrice"], Decimal("0.42"))
    assert same(position["realizedPnl"], Decimal(0))
    assert row["closed_at"] is None
    assert answer.sql == 1  # the user, the market and the upsert, in one statement


async def test_buy_adds_to_the_active_position_at_the_share_weighted_average(
    gql: GraphQLClient, db: asyncpg.Connection, new_user: NewUser, own_market: NewMarket
) -> None:
    user, market = await new_user(), await own_market()
    first = await trade(gql, user, market.id, "No", "BUY", "3", "0.2")
    before = await db.fetchrow(POSITION, int(first.data["recordTrade"]["position"]["id"]))
    assert before is not None

    second = await trade(gql, user, market.id, "No", "BUY", "7", "0.31")

    position = second.data["recordTrade"]["position"]
    expected_shares = before["shares"] + Decimal(7)
    expected_entry = (
        (before["entry_price"] * before["shares"] + Decimal("0.31") * Decimal(7)) / expected_shares
    ).quantize(TWELVE_PLACES, ROUND_HALF_EVEN)
    assert position["id"] == str(before["id"])
    assert same(position["shares"], expected_shares)
    assert same(position["entryPrice"], expected_entry)
    after = await db.fetchrow(POSITION, before["id"])
    assert after is not None
    assert after["opened_at"] == before["opened_at"]
    assert (
        await db.fetchval(
            "SELECT count(*) FROM position WHERE user_id = $1 AND status = 'ACTIVE'", user.id
        )
        == 1
    )


async def test_the_average_keeps_12_decimals_rounding_half_to_even(
    gql: GraphQLClient, new_user: NewUser, own_market: NewMarket
) -> None:
    user, market = await new_user(), await own_market()
    thirds = await trade(gql, user, market.id, "Yes", "BUY", "1", "0.000000000001")
    await trade(gql, user, market.id, "Yes", "BUY", "2", "0")
    # (1e-12 x 1 + 0 x 2) / 3 = 0.000000000000333...: rounds down to 0.
    assert same(thirds.data["recordTrade"]["position"]["entryPrice"], Decimal("1e-12"))

    other = await own_market()
    await trade(gql, user, other.id, "Yes", "BUY", "1", "0.000000000001")
    tie = await trade(gql, user, other.id, "Yes", "BUY", "1", "0.000000000004")
    # The exact average 0.0000000000025 is a tie: half-even gives ...002, half-up ...003.
    exact = (Decimal("0.000000000001") + Decimal("0.000000000004")) / 2
    expected = exact.quantize(TWELVE_PLACES, ROUND_HALF_EVEN)
    assert expected == Decimal("0.000000000002")
    assert same(tie.data["recordTrade"]["position"]["entryPrice"], expected)


async def test_outcome_in_any_case_is_stored_as_the_market_spells_it(
    gql: GraphQLClient, db: asyncpg.Connection, new_user: NewUser
) -> None:
    market = await db.fetchrow(
        "SELECT id, outcomes FROM market WHERE 'Celtics' = ANY(outcomes) "
        "AND 'Knicks' = ANY(outcomes) ORDER BY id LIMIT 1"
    )
    assert market is not None, "the snapshot has Knicks vs Celtics markets"
    user = await new_user()

    first = await trade(gql, user, market["id"], "cELTICS", "BUY", "4", "0.5")
    second = await trade(gql, user, market["id"], "Celtics", "BUY", "4", "0.5")
    # Another case costs a second statement with the market's spelling; its own, one.
    assert (first.sql, second.sql) == (2, 1)

    position_id = int(first.data["recordTrade"]["position"]["id"])
    assert second.data["recordTrade"]["position"]["id"] == str(position_id)
    row = await db.fetchrow(POSITION, position_id)
    assert row is not None
    assert row["outcome"] == "Celtics"
    assert same(second.data["recordTrade"]["position"]["shares"], Decimal(8))
    detail = await run(gql, "PositionDetail", id=str(position_id))
    assert detail.data["position"]["outcome"] == "Celtics"


async def test_an_outcome_the_market_lacks_is_refused_naming_the_valid_ones(
    gql: GraphQLClient, db: asyncpg.Connection, new_user: NewUser, own_market: NewMarket
) -> None:
    user, market = await new_user(), await own_market(("Celtics", "Knicks"))
    error = await refused(
        gql, "RecordTrade", input=trade_input(user, market.id, "Lakers", "BUY", "1", "0.5")
    )
    assert code(error) == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "outcome"
    assert "Lakers" in error["message"]
    assert "Celtics" in error["message"]
    assert "Knicks" in error["message"]
    assert await snapshot(db, POSITIONS_OF, user.id) == []


async def test_entry_price_0_and_1_are_prices(
    gql: GraphQLClient, new_user: NewUser, own_market: NewMarket
) -> None:
    user, market = await new_user(), await own_market()
    free = await trade(gql, user, market.id, "Yes", "BUY", "5", "0")
    assert same(free.data["recordTrade"]["position"]["entryPrice"], Decimal(0))
    certain = await trade(gql, user, market.id, "No", "BUY", "5", "1")
    assert same(certain.data["recordTrade"]["position"]["entryPrice"], Decimal(1))
    # Trailing zeros beyond the stored scale change nothing, so they are accepted.
    padded = await trade(gql, user, market.id, "No", "BUY", "5.0000000000", "1.00000000000000")
    assert same(padded.data["recordTrade"]["position"]["shares"], Decimal(10))


async def test_sell_realizes_pnl_and_keeps_the_rest_open(
    gql: GraphQLClient, db: asyncpg.Connection, new_user: NewUser, own_market: NewMarket
) -> None:
    user, market = await new_user(), await own_market()
    bought = await trade(gql, user, market.id, "Yes", "BUY", "10", "0.4")
    position_id = int(bought.data["recordTrade"]["position"]["id"])
    await db.execute(
        "UPDATE position SET take_profit_price = 0.9, stop_loss_price = 0.1 WHERE id = $1",
        position_id,
    )
    before = await db.fetchrow(POSITION, position_id)
    assert before is not None

    sold = await trade(gql, user, market.id, "yes", "SELL", "4", "0.55")

    position = sold.data["recordTrade"]["position"]
    assert position["id"] == str(position_id)
    assert position["status"] == "ACTIVE"
    assert same(position["shares"], before["shares"] - 4)
    expected_pnl = before["realized_pnl"] + (Decimal("0.55") - before["entry_price"]) * 4
    assert same(position["realizedPnl"], expected_pnl)
    assert same(position["entryPrice"], before["entry_price"])
    after = await db.fetchrow(POSITION, position_id)
    assert after is not None
    assert (after["take_profit_price"], after["stop_loss_price"]) == (
        before["take_profit_price"],
        before["stop_loss_price"],
    )
    assert sold.sql == 2

    # A second sell adds to what the first realized.
    again = await trade(gql, user, market.id, "Yes", "SELL", "1", "0.3")
    expected_pnl += (Decimal("0.3") - before["entry_price"]) * 1
    assert same(again.data["recordTrade"]["position"]["realizedPnl"], expected_pnl)


async def test_selling_to_below_005_shares_closes_and_clears_the_levels(
    gql: GraphQLClient, db: asyncpg.Connection, new_user: NewUser, own_market: NewMarket
) -> None:
    user, market = await new_user(), await own_market()
    bought = await trade(gql, user, market.id, "No", "BUY", "10", "0.6")
    position_id = int(bought.data["recordTrade"]["position"]["id"])
    await run(
        gql, "SetTpSl", positionId=str(position_id), takeProfitPrice="0.8", stopLossPrice="0.5"
    )
    before = await db.fetchrow(POSITION, position_id)
    assert before is not None

    sold = await trade(gql, user, market.id, "No", "SELL", "9.96", "0.7")

    position = sold.data["recordTrade"]["position"]
    assert position["status"] == "CLOSED"
    assert same(position["shares"], Decimal(0))
    expected_pnl = (Decimal("0.7") - before["entry_price"]) * Decimal("9.96")
    assert same(position["realizedPnl"], expected_pnl)
    detail = (await run(gql, "PositionDetail", id=str(position_id))).data["position"]
    assert detail["status"] == "CLOSED"
    assert detail["closedAt"] is not None
    assert detail["takeProfitPrice"] is None
    assert detail["stopLossPrice"] is None
    assert same(detail["realizedPnl"], expected_pnl)
    history = await run(gql, "PositionHistory", telegramId=user.telegram_id)
    assert [p["id"] for p in history.data["user"]["positions"]] == [str(position_id)]

    # The closed position stays closed: the next buy opens a new one.
    reopened = await trade(gql, user, market.id, "No", "BUY", "1", "0.6")
    assert reopened.data["recordTrade"]["position"]["id"] != str(position_id)


async def test_a_sell_leaving_exactly_005_shares_keeps_the_position_open(
    gql: GraphQLClient, new_user: NewUser, own_market: NewMarket
) -> None:
    user, market = await new_user(), await own_market()
    await trade(gql, user, market.id, "Yes", "BUY", "1", "0.5")
    sold = await trade(gql, user, market.id, "Yes", "SELL", "0.95", "0.5")
    assert sold.data["recordTrade"]["position"]["status"] == "ACTIVE"
    assert same(sold.data["recordTrade"]["position"]["shares"], Decimal("0.05"))
    # Selling all that is left closes it.
    last = await trade(gql, user, market.id, "Yes", "SELL", "0.05", "0.5")
    assert last.data["recordTrade"]["position"]["status"] == "CLOSED"


async def test_selling_more_than_held_is_refused_and_changes_nothing(
    gql: GraphQLClient, db: asyncpg.Connection, new_user: NewUser, own_market: NewMarket
) -> None:
    user, market = await new_user(), await own_market()
    await trade(gql, user, market.id, "Yes", "BUY", "3", "0.5")
    before = await snapshot(db, POSITIONS_OF, user.id)

    answer = await gql(
        *_document("RecordTrade", input=trade_input(user, market.id, "Yes", "SELL", "3.5", "0.6"))
    )

    assert answer.codes == ["BAD_USER_INPUT"]
    assert answer.errors[0]["extensions"]["field"] == "shares"
    assert "holds only 3" in answer.errors[0]["message"]
    assert answer.sql == 2  # the refused sell, then the read that says why
    assert await snapshot(db, POSITIONS_OF, user.id) == before


async def test_selling_with_no_active_position_is_refused(
    gql: GraphQLClient, db: asyncpg.Connection, new_user: NewUser, own_market: NewMarket
) -> None:
    user, market = await new_user(), await own_market()
    # A position on the other outcome, and a closed one on this outcome, do not count.
    await trade(gql, user, market.id, "No", "BUY", "3", "0.5")
    await trade(gql, user, market.id, "Yes", "BUY", "3", "0.5")
    await trade(gql, user, market.id, "Yes", "SELL", "3", "0.5")
    before = await snapshot(db, POSITIONS_OF, user.id)

    error = await refused(
        gql, "RecordTrade", input=trade_input(user, market.id, "Yes", "SELL", "1", "0.5")
    )

    assert code(error) == "BAD_USER_INPUT"
    assert "no ACTIVE position" in error["message"]
    assert await snapshot(db, POSITIONS_OF, user.id) == before


@pytest.mark.parametrize(
    ("field", "shares", "price", "message"),
    [
        ("price", "1", "1.5", "price: 1.5 is out of range; expected a price from 0 to 1."),
        ("price", "1", "-0.1", "price: -0.1 is out of range; expected a price from 0 to 1."),
        (
            "price",
            "1",
            "0.1234567890123",
            "price: 0.1234567890123 has 13 decimal places; expected at most 12.",
        ),
        ("price", "1", "NaN", "price: NaN is not a number; expected a price from 0 to 1."),
        ("price", "1", "sNaN", "price: sNaN is not a number; expected a price from 0 to 1."),
        (
            "price",
            "1",
            "Infinity",
            "price: Infinity is not a number; expected a price from 0 to 1.",
        ),
        ("shares", "0", "0.5", "shares: 0 is out of range; expected more than 0 shares."),
        ("shares", "-2", "0.5", "shares: -2 is out of range; expected more than 0 shares."),
        (
            "shares",
            "1.0000001",
            "0.5",
            "shares: 1.0000001 has 7 decimal places; expected at most 6.",
        ),
        (
            "shares",
            "1000000000000000000",
            "0.5",
            "shares: 1000000000000000000 is too large; expected fewer than 10^18 shares.",
        ),
        (
            "shares",
            "-Infinity",
            "0.5",
            "shares: -Infinity is not a number; expected more than 0 shares.",
        ),
    ],
)
@pytest.mark.parametrize("side", ["BUY", "SELL"])
async def test_numbers_that_do_not_fit_are_refused_not_rounded(
    gql: GraphQLClient,
    db: asyncpg.Connection,
    new_user: NewUser,
    own_market: NewMarket,
    side: str,
    field: str,
    shares: str,
    price: str,
    message: str,
) -> None:
    user, market = await new_user(), await own_market()
    await trade(gql, user, market.id, "Yes", "BUY", "2", "0.5")
    before = await snapshot(db, POSITIONS_OF, user.id)

    answer = await gql(
        *_document("RecordTrade", input=trade_input(user, market.id, "Yes", side, shares, price))
    )

    assert answer.codes == ["BAD_USER_INPUT"]
    assert answer.errors[0]["message"] == message
    assert answer.errors[0]["extensions"]["field"] == field
    assert answer.sql == 0  # refused before any statement
    assert await snapshot(db, POSITIONS_OF, user.id) == before


async def test_unknown_user_or_market_is_not_found(
    gql: GraphQLClient,
    db: asyncpg.Connection,
    new_user: NewUser,
    own_market: NewMarket,
    new_telegram_id: Callable[[], str],
) -> None:
    user, market = await new_user(), await own_market()
    stranger = User(new_telegram_id(), 0)
    positions_before = await db.fetchval("SELECT count(*) FROM position")

    nobody = await refused(
        gql, "RecordTrade", input=trade_input(stranger, market.id, "Yes", "BUY", "1", "0.5")
    )
    nowhere = await refused(
        gql, "RecordTrade", input=trade_input(user, "no-such-market", "Yes", "BUY", "1", "0.5")
    )
    malformed = await refused(
        gql,
        "RecordTrade",
        input={**trade_input(user, market.id, "Yes", "BUY", "1", "0.5"), "telegramId": "-1"},
    )

    assert (code(nobody), nobody["extensions"]["field"]) == ("NOT_FOUND", "telegramId")
    assert (code(nowhere), nowhere["extensions"]["field"]) == ("NOT_FOUND", "marketId")
    assert "no-such-market" in nowhere["message"]
    assert (code(malformed), malformed["extensions"]["field"]) == ("BAD_USER_INPUT", "telegramId")
    assert await db.fetchval("SELECT count(*) FROM position") == positions_before
    assert (
        await db.fetchval(
            "SELECT count(*) FROM app_user WHERE telegram_id = $1", int(stranger.telegram_id)
        )
        == 0
    )


async def test_concurrent_buys_share_one_position(
    gql: GraphQLClient, db: asyncpg.Connection, new_user: NewUser, own_market: NewMarket
) -> None:
    user, market = await new_user(), await own_market()
    answers = await asyncio.gather(
        *(trade(gql, user, market.id, "Yes", "BUY", "1", "0.5") for _ in range(4))
    )
    assert len({a.data["recordTrade"]["position"]["id"] for a in answers}) == 1
    rows = await db.fetch(POSITIONS_OF, user.id)
    assert len(rows) == 1
    assert rows[0]["shares"] == Decimal(4)


async def test_concurrent_sells_cannot_sell_more_than_held(
    gql: GraphQLClient, db: asyncpg.Connection, new_user: NewUser, own_market: NewMarket
) -> None:
    user, market = await new_user(), await own_market()
    await trade(gql, user, market.id, "Yes", "BUY", "10", "0.5")
    sell = _document("RecordTrade", input=trade_input(user, market.id, "Yes", "SELL", "6", "0.7"))

    answers = await asyncio.gather(gql(*sell), gql(*sell), gql(*sell))

    assert sorted(a.codes == [] for a in answers) == [False, False, True]
    rows = await db.fetch(POSITIONS_OF, user.id)
    assert len(rows) == 1
    assert rows[0]["shares"] == Decimal(4)
    assert rows[0]["realized_pnl"] == (Decimal("0.7") - Decimal("0.5")) * 6


def _document(operation: str, **variables: Any) -> tuple[str, dict[str, Any], str]:
    """Arguments for gql(...) when the test inspects the errors itself."""
    return DOCUMENTS, variables, operation


async def test_a_buy_that_would_overflow_the_position_is_refused(
    gql: GraphQLClient, db: asyncpg.Connection, new_user: NewUser, own_market: NewMarket
) -> None:
    user, market = await new_user(), await own_market()
    most = "999999999999999999.999999"  # the largest share count a position can hold
    await trade(gql, user, market.id, "Yes", "BUY", most, "0.5")
    before = await snapshot(db, POSITIONS_OF, user.id)

    error = await refused(
        gql, "RecordTrade", input=trade_input(user, market.id, "Yes", "BUY", "0.000001", "0.5")
    )

    assert code(error) == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "shares"
    assert await snapshot(db, POSITIONS_OF, user.id) == before
