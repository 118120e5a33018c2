"""updateMarketPrices over HTTP: per-entry rejection, last valid entry wins, TP/SL fire once.

Only markets of the tests' own are repriced, so no other test sees a price move.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from tests.conftest import GraphQLClient
from tests.writes.conftest import (
    DOCUMENTS,
    NewMarket,
    NewUser,
    OwnMarket,
    User,
    run,
    same,
    snapshot,
)

MARKET = "SELECT * FROM market WHERE id = $1"
MARKETS = "SELECT * FROM market WHERE id = ANY($1::text[]) ORDER BY id"


def update(market_id: str, *prices: str) -> dict[str, Any]:
    return {"marketId": market_id, "outcomePrices": list(prices)}


async def prices_of(db: asyncpg.Connection, market_id: str) -> list[Decimal] | None:
    prices = await db.fetchval("SELECT outcome_prices FROM market WHERE id = $1", market_id)
    return None if prices is None else list(prices)


async def open_position(
    gql: GraphQLClient,
    user: User,
    market: OwnMarket,
    outcome: str,
    take_profit: str | None = None,
    stop_loss: str | None = None,
) -> int:
    bought = await run(
        gql,
        "RecordTrade",
        input={
            "telegramId": user.telegram_id,
            "marketId": market.id,
            "outcome": outcome,
            "side": "BUY",
            "shares": "10",
            "price": "0.5",
        },
    )
    position_id: str = bought.data["recordTrade"]["position"]["id"]
    await run(
        gql, "SetTpSl", positionId=position_id, takeProfitPrice=take_profit, stopLossPrice=stop_loss
    )
    return int(position_id)


async def test_sets_the_prices_of_each_market(
    gql: GraphQLClient, db: asyncpg.Connection, own_market: NewMarket
) -> None:
    unpriced = await own_market(("Yes", "No"))
    priced = await own_market(("A", "B", "C"), [Decimal("0.2"), Decimal("0.3"), Decimal("0.5")])

    answer = await run(
        gql,
        "UpdateMarketPrices",
        updates=[
            update(unpriced.id, "0.35", "0.65"),
            update(priced.id, "0", "1", "0.000000000001"),
        ],
    )

    assert answer.data["updateMarketPrices"] == {"updated": 2, "rejected": [], "triggered": []}
    assert await prices_of(db, unpriced.id) == [Decimal("0.35"), Decimal("0.65")]
    assert await prices_of(db, priced.id) == [Decimal(0), Decimal(1), Decimal("1e-12")]
    rows = await db.fetch(MARKETS, [unpriced.id, priced.id])
    assert all(r["prices_updated_at"] is not None for r in rows)
    # Readers see the new prices at once.
    read = await run(gql, "MarketsBatch", ids=[unpriced.id])
    assert [Decimal(p) for p in read.data["markets"][0]["outcomePrices"]] == [
        Decimal("0.35"),
        Decimal("0.65"),
    ]
    # The markets read, the prices written, the levels judged, the markets read back into the
    # cache; readers then find them there.
    assert answer.sql == 4
    assert read.sql == 0


async def test_bad_entries_are_rejected_with_a_reason_and_the_rest_applied(
    gql: GraphQLClient, db: asyncpg.Connection, own_market: NewMarket
) -> None:
    good = await own_market()
    bad = await own_market(prices=[Decimal("0.5"), Decimal("0.5")])
    bad_before = await snapshot(db, MARKET, bad.id)

    answer = await run(
        gql,
        "UpdateMarketPrices",
        updates=[
            update("no-such-market", "0.5", "0.5"),
            update(bad.id, "0.2", "0.3", "0.5"),
            update(bad.id, "1.2", "0.1"),
            update(good.id, "0.25", "0.75"),
            update(bad.id, "0.5", "0.1234567890123"),
            update(bad.id, "NaN", "0.5"),
        ],
    )

    result = answer.data["updateMarketPrices"]
    assert result["updated"] == 1
    reasons = [(r["marketId"], r["reason"]) for r in result["rejected"]]
    assert reasons == [
        ("no-such-market", "updates[0].marketId: 'no-such-market' is not a known market."),
        (
            bad.id,
            "updates[1].outcomePrices: 3 prices for 2 outcomes (Yes, No); "
            "expected one price per outcome.",
        ),
        (
            bad.id,
            "updates[2].outcomePrices[0]: 1.2 is out of range; expected a price from 0 to 1.",
        ),
        (
            bad.id,
            "updates[4].outcomePrices[1]: 0.1234567890123 has 13 decimal places; "
            "expected at most 12.",
        ),
        (
            bad.id,
            "updates[5].outcomePrices[0]: NaN is not a number; expected a price from 0 to 1.",
        ),
    ]
    assert await prices_of(db, good.id) == [Decimal("0.25"), Decimal("0.75")]
    assert await snapshot(db, MARKET, bad.id) == bad_before


async def test_a_market_sent_twice_ends_at_its_last_valid_entry(
    gql: GraphQLClient, db: asyncpg.Connection, own_market: NewMarket
) -> None:
    market = await own_market()
    answer = await run(
        gql,
        "UpdateMarketPrices",
        updates=[
            update(market.id, "0.2", "0.8"),
            update(market.id, "0.3", "0.7"),
            update(market.id, "1.5", "0.1"),
        ],
    )
    result = answer.data["updateMarketPrices"]
    assert result["updated"] == 2
    assert [r["marketId"] for r in result["rejected"]] == [market.id]
    assert await prices_of(db, market.id) == [Decimal("0.3"), Decimal("0.7")]


async def test_levels_fire_once_and_read_null_afterwards(
    gql: GraphQLClient, db: asyncpg.Connection, new_user: NewUser, own_market: NewMarket
) -> None:
    user, other_user = await new_user(), await new_user()
    market = await own_market(prices=[Decimal("0.5"), Decimal("0.5")])
    elsewhere = await own_market(prices=[Decimal("0.5"), Decimal("0.5")])
    take = await open_position(gql, user, market, "Yes", take_profit="0.6", stop_loss="0.4")
    untouched = await open_position(
        gql, other_user, market, "Yes", take_profit="0.9", stop_loss="0.2"
    )
    stop = await open_position(gql, user, market, "No", stop_loss="0.35")
    not_updated = await open_position(gql, user, elsewhere, "Yes", take_profit="0.51")
    levels_before = await snapshot(
        db,
        "SELECT id, take_profit_price, stop_loss_price FROM position WHERE id = ANY($1) "
        "ORDER BY id",
        [untouched, not_updated],
    )

    answer = await run(gql, "UpdateMarketPrices", updates=[update(market.id, "0.65", "0.35")])

    triggered = answer.data["updateMarketPrices"]["triggered"]
    # Take profit at price >= level, stop loss at price <= level (0.35 <= 0.35), by position id.
    assert [(t["positionId"], t["kind"]) for t in triggered] == [
        (str(take), "TAKE_PROFIT"),
        (str(stop), "STOP_LOSS"),
    ]
    assert same(triggered[0]["price"], Decimal("0.65"))
    assert same(triggered[1]["price"], Decimal("0.35"))
    take_detail = (await run(gql, "PositionDetail", id=str(take))).data["position"]
    assert take_detail["takeProfitPrice"] is None
    assert same(take_detail["stopLossPrice"], Decimal("0.4"))  # not crossed: kept
    stop_detail = (await run(gql, "PositionDetail", id=str(stop))).data["position"]
    assert stop_detail["stopLossPrice"] is None
    assert stop_detail["status"] == "ACTIVE"
    assert (
        await snapshot(
            db,
            "SELECT id, take_profit_price, stop_loss_price FROM position WHERE id = ANY($1) "
            "ORDER BY id",
            [untouched, not_updated],
        )
        == levels_before
    )

    # The same update again: the levels were consumed, nothing fires.
    again = await run(gql, "UpdateMarketPrices", updates=[update(market.id, "0.65", "0.35")])
    assert again.data["updateMarketPrices"]["triggered"] == []
    assert again.data["updateMarketPrices"]["updated"] == 1


async def test_levels_are_checked_even_when_the_price_did_not_move(
    gql: GraphQLClient, new_user: NewUser, own_market: NewMarket
) -> None:
    user = await new_user()
    market = await own_market(prices=[Decimal("0.7"), Decimal("0.3")])
    # A take profit already below the price fires on the next update, even an unchanged one.
    position = await open_position(gql, user, market, "Yes", take_profit="0.6")
    answer = await run(gql, "UpdateMarketPrices", updates=[update(market.id, "0.7", "0.3")])
    assert answer.data["updateMarketPrices"]["triggered"] == [
        {"positionId": str(position), "kind": "TAKE_PROFIT", "price": "0.7"}
    ]


async def test_a_rejected_entry_triggers_nothing(
    gql: GraphQLClient, db: asyncpg.Connection, new_user: NewUser, own_market: NewMarket
) -> None:
    user = await new_user()
    market = await own_market(prices=[Decimal("0.7"), Decimal("0.3")])
    position = await open_position(gql, user, market, "Yes", take_profit="0.6")
    before = await snapshot(db, "SELECT * FROM position WHERE id = $1", position)
    market_before = await snapshot(db, MARKET, market.id)

    answer = await run(gql, "UpdateMarketPrices", updates=[update(market.id, "0.7")])

    result = answer.data["updateMarketPrices"]
    assert (result["updated"], result["triggered"], len(result["rejected"])) == (0, [], 1)
    assert answer.sql == 1
    assert await snapshot(db, "SELECT * FROM position WHERE id = $1", position) == before
    assert await snapshot(db, MARKET, market.id) == market_before


@pytest.mark.parametrize("price", ["abc", None])
async def test_a_price_that_is_not_a_decimal_fails_the_call_and_writes_nothing(
    gql: GraphQLClient, db: asyncpg.Connection, own_market: NewMarket, price: str | None
) -> None:
    market = await own_market(prices=[Decimal("0.5"), Decimal("0.5")])
    other = await own_market(prices=[Decimal("0.5"), Decimal("0.5")])
    before = await snapshot(db, MARKETS, [market.id, other.id])

    answer = await gql(
        DOCUMENTS,
        {
            "updates": [
                update(other.id, "0.4", "0.6"),
                {"marketId": market.id, "outcomePrices": ["0.5", price]},
            ]
        },
        "UpdateMarketPrices",
    )

    assert answer.codes == ["BAD_USER_INPUT"]
    assert answer.data is None
    assert await snapshot(db, MARKETS, [market.id, other.id]) == before


async def test_an_empty_list_updates_nothing(gql: GraphQLClient) -> None:
    answer = await run(gql, "UpdateMarketPrices", updates=[])
    assert answer.data["updateMarketPrices"] == {"updated": 0, "rejected": [], "triggered": []}
    assert answer.sql == 0
