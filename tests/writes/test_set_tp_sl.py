"""setTpSl over HTTP: omitted keeps, null clears, levels strictly inside (0, 1), stop < take."""

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
    code,
    refused,
    run,
    same,
    snapshot,
)

POSITION = "SELECT * FROM position WHERE id = $1"


@pytest.fixture
async def position_id(gql: GraphQLClient, new_user: NewUser, own_market: NewMarket) -> str:
    """An ACTIVE position of a new user on a market of the test's own."""
    user, market = await new_user(), await own_market()
    bought = await run(
        gql,
        "RecordTrade",
        input={
            "telegramId": user.telegram_id,
            "marketId": market.id,
            "outcome": "Yes",
            "side": "BUY",
            "shares": "10",
            "price": "0.5",
        },
    )
    identifier: str = bought.data["recordTrade"]["position"]["id"]
    return identifier


async def levels(db: asyncpg.Connection, position_id: str) -> tuple[Any, Any]:
    row = await db.fetchrow(POSITION, int(position_id))
    assert row is not None
    return row["take_profit_price"], row["stop_loss_price"]


async def test_sets_both_levels(
    gql: GraphQLClient, db: asyncpg.Connection, position_id: str
) -> None:
    answer = await run(
        gql, "SetTpSl", positionId=position_id, takeProfitPrice="0.75", stopLossPrice="0.25"
    )
    result = answer.data["setTpSl"]
    assert result["id"] == position_id
    assert same(result["takeProfitPrice"], Decimal("0.75"))
    assert same(result["stopLossPrice"], Decimal("0.25"))
    assert await levels(db, position_id) == (Decimal("0.75"), Decimal("0.25"))
    assert answer.sql == 1  # both sent: one guarded UPDATE is the whole write


async def test_an_omitted_level_is_kept_and_an_explicit_null_clears_it(
    gql: GraphQLClient, db: asyncpg.Connection, position_id: str
) -> None:
    await run(gql, "SetTpSl", positionId=position_id, takeProfitPrice="0.8", stopLossPrice="0.2")

    only_take = await run(gql, "SetTpSl", positionId=position_id, takeProfitPrice="0.9")
    assert same(only_take.data["setTpSl"]["takeProfitPrice"], Decimal("0.9"))
    assert same(only_take.data["setTpSl"]["stopLossPrice"], Decimal("0.2"))

    clear_stop = await run(gql, "SetTpSl", positionId=position_id, stopLossPrice=None)
    assert same(clear_stop.data["setTpSl"]["takeProfitPrice"], Decimal("0.9"))
    assert clear_stop.data["setTpSl"]["stopLossPrice"] is None
    assert await levels(db, position_id) == (Decimal("0.9"), None)

    nothing = await run(gql, "SetTpSl", positionId=position_id)
    assert same(nothing.data["setTpSl"]["takeProfitPrice"], Decimal("0.9"))
    assert nothing.data["setTpSl"]["stopLossPrice"] is None

    clear_both = await run(
        gql, "SetTpSl", positionId=position_id, takeProfitPrice=None, stopLossPrice=None
    )
    assert clear_both.data["setTpSl"]["takeProfitPrice"] is None
    assert await levels(db, position_id) == (None, None)


async def test_the_order_rule_applies_to_the_levels_after_the_call(
    gql: GraphQLClient, db: asyncpg.Connection, position_id: str
) -> None:
    await run(gql, "SetTpSl", positionId=position_id, takeProfitPrice="0.6", stopLossPrice="0.4")
    # A stop loss above the old take profit is fine when the same call clears the take profit.
    moved = await run(
        gql, "SetTpSl", positionId=position_id, takeProfitPrice=None, stopLossPrice="0.7"
    )
    assert moved.data["setTpSl"]["takeProfitPrice"] is None
    assert same(moved.data["setTpSl"]["stopLossPrice"], Decimal("0.7"))
    assert await levels(db, position_id) == (None, Decimal("0.7"))


@pytest.mark.parametrize(
    ("stored", "sent", "field"),
    [
        ({}, {"takeProfitPrice": "0.5", "stopLossPrice": "0.5"}, "stopLossPrice"),
        ({}, {"takeProfitPrice": "0.3", "stopLossPrice": "0.6"}, "stopLossPrice"),
        ({"takeProfitPrice": "0.6"}, {"stopLossPrice": "0.65"}, "stopLossPrice"),
        ({"stopLossPrice": "0.4"}, {"takeProfitPrice": "0.35"}, "takeProfitPrice"),
        ({"stopLossPrice": "0.4"}, {"takeProfitPrice": "0.4"}, "takeProfitPrice"),
    ],
)
async def test_a_stop_loss_not_below_the_take_profit_is_refused(
    gql: GraphQLClient,
    db: asyncpg.Connection,
    position_id: str,
    stored: dict[str, str],
    sent: dict[str, str],
    field: str,
) -> None:
    if stored:
        await run(gql, "SetTpSl", positionId=position_id, **stored)
    before = await snapshot(db, POSITION, int(position_id))

    error = await refused(gql, "SetTpSl", positionId=position_id, **sent)

    assert code(error) == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == field
    assert "stopLossPrice < takeProfitPrice" in error["message"]
    assert await snapshot(db, POSITION, int(position_id)) == before


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("0", "out of range"),
        ("1", "out of range"),
        ("1.2", "out of range"),
        ("-0.1", "out of range"),
        ("0.1234567890123", "13 decimal places"),
        ("NaN", "not a number"),
    ],
)
@pytest.mark.parametrize("field", ["takeProfitPrice", "stopLossPrice"])
async def test_a_level_must_lie_strictly_between_0_and_1_and_fit_12_decimals(
    gql: GraphQLClient,
    db: asyncpg.Connection,
    position_id: str,
    field: str,
    value: str,
    problem: str,
) -> None:
    before = await snapshot(db, POSITION, int(position_id))
    answer = await gql(DOCUMENTS, {"positionId": position_id, field: value}, "SetTpSl")
    assert answer.codes == ["BAD_USER_INPUT"]
    assert answer.errors[0]["extensions"]["field"] == field
    assert answer.errors[0]["message"].startswith(f"{field}: {value} ")
    assert problem in answer.errors[0]["message"]
    assert answer.sql == 0
    assert await snapshot(db, POSITION, int(position_id)) == before


async def test_a_closed_position_is_refused(
    gql: GraphQLClient, db: asyncpg.Connection, position_id: str
) -> None:
    await db.execute(
        "UPDATE position SET status = 'CLOSED', shares = 0, closed_at = now() WHERE id = $1",
        int(position_id),
    )
    before = await snapshot(db, POSITION, int(position_id))
    error = await refused(gql, "SetTpSl", positionId=position_id, takeProfitPrice="0.7")
    assert code(error) == "BAD_USER_INPUT"
    assert "CLOSED" in error["message"]
    assert await snapshot(db, POSITION, int(position_id)) == before


@pytest.mark.parametrize("unknown", ["999999999999", "abc", "-3", "0", str(2**63)])
async def test_an_unknown_or_malformed_position_id_is_not_found(
    gql: GraphQLClient, unknown: str
) -> None:
    error = await refused(gql, "SetTpSl", positionId=unknown, takeProfitPrice="0.7")
    assert code(error) == "NOT_FOUND"
    assert error["extensions"]["field"] == "positionId"


async def test_with_both_levels_sent_a_closed_or_unknown_position_is_refused_too(
    gql: GraphQLClient, db: asyncpg.Connection, position_id: str
) -> None:
    # Both levels take the one-statement path, whose refusal reads the row to say why.
    both = {"takeProfitPrice": "0.7", "stopLossPrice": "0.3"}
    error = await refused(gql, "SetTpSl", positionId="999999999999", **both)
    assert (code(error), error["extensions"]["field"]) == ("NOT_FOUND", "positionId")
    await db.execute(
        "UPDATE position SET status = 'CLOSED', shares = 0, closed_at = now() WHERE id = $1",
        int(position_id),
    )
    before = await snapshot(db, POSITION, int(position_id))
    error = await refused(gql, "SetTpSl", positionId=position_id, **both)
    assert code(error) == "BAD_USER_INPUT"
    assert "CLOSED" in error["message"]
    assert await snapshot(db, POSITION, int(position_id)) == before
