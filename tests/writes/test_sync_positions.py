"""syncPositions over HTTP: open, update (only when changed), close, skip unknown tokens.

Each test syncs a new user against markets of its own, so counts are exact.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from tests.conftest import GraphQLClient
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

POSITIONS_OF = "SELECT * FROM position WHERE user_id = $1 ORDER BY id"
ACTIVE_OF = (
    "SELECT market_id, outcome, shares, entry_price FROM position "
    "WHERE user_id = $1 AND status = 'ACTIVE' ORDER BY market_id, outcome"
)


def holding(token_id: str, shares: str, avg_price: str) -> dict[str, str]:
    return {"tokenId": token_id, "shares": shares, "avgPrice": avg_price}


async def sync(gql: GraphQLClient, user: User, *holdings: dict[str, str]) -> dict[str, Any]:
    answer = await run(gql, "SyncPositions", telegramId=user.telegram_id, positions=list(holdings))
    result: dict[str, Any] = answer.data["syncPositions"]
    return result


async def test_opens_updates_and_closes_to_match_the_chain(
    gql: GraphQLClient, db: asyncpg.Connection, new_user: NewUser, own_market: NewMarket
) -> None:
    user = await new_user()
    market = await own_market(("Yes", "No"))
    other = await own_market(("Up", "Down", "Flat"))

    first = await sync(
        gql,
        user,
        holding(market.token_ids[0], "10", "0.4"),
        holding("unknown-token-b", "2", "0.5"),
        holding(other.token_ids[2], "5", "0.25"),
        holding("unknown-token-a", "1", "0.5"),
    )
    assert first == {
        "opened": 2,
        "updated": 0,
        "closed": 0,
        "skippedTokenIds": ["unknown-token-b", "unknown-token-a"],
    }
    rows = await db.fetch(ACTIVE_OF, user.id)
    assert [(r["market_id"], r["outcome"]) for r in rows] == sorted(
        [(market.id, "Yes"), (other.id, "Flat")]
    )
    opened = {(r["market_id"], r["outcome"]): r for r in await db.fetch(POSITIONS_OF, user.id)}
    assert opened[(market.id, "Yes")]["shares"] == Decimal(10)
    assert opened[(market.id, "Yes")]["entry_price"] == Decimal("0.4")

    # The same numbers again ("10.0" is 10) change nothing, so nothing counts as updated.
    unchanged = await sync(
        gql,
        user,
        holding(market.token_ids[0], "10.0", "0.40"),
        holding(other.token_ids[2], "5", "0.25"),
    )
    assert unchanged == {"opened": 0, "updated": 0, "closed": 0, "skippedTokenIds": []}

    # New shares and price for one, the other unchanged, a third opened.
    second = await sync(
        gql,
        user,
        holding(market.token_ids[0], "12.5", "0.45"),
        holding(other.token_ids[2], "5", "0.25"),
        holding(market.token_ids[1], "3", "0.55"),
    )
    assert second == {"opened": 1, "updated": 1, "closed": 0, "skippedTokenIds": []}
    yes = await db.fetchrow(
        "SELECT * FROM position WHERE id = $1", opened[(market.id, "Yes")]["id"]
    )
    assert yes is not None
    assert (yes["status"], yes["shares"], yes["entry_price"]) == (
        "ACTIVE",
        Decimal("12.5"),
        Decimal("0.45"),
    )
    assert yes["opened_at"] == opened[(market.id, "Yes")]["opened_at"]

    # Missing from the snapshot, or below 0.05 shares: closed.
    third = await sync(gql, user, holding(market.token_ids[1], "0.04", "0.55"))
    assert third == {"opened": 0, "updated": 0, "closed": 3, "skippedTokenIds": []}
    assert await db.fetch(ACTIVE_OF, user.id) == []


async def test_closing_works_as_a_sell_to_dust_does(
    gql: GraphQLClient, db: asyncpg.Connection, new_user: NewUser, own_market: NewMarket
) -> None:
    user, market = await new_user(), await own_market()
    trade = {"telegramId": user.telegram_id, "marketId": market.id, "outcome": "No"}
    bought = await run(
        gql, "RecordTrade", input={**trade, "side": "BUY", "shares": "10", "price": "0.3"}
    )
    await run(gql, "RecordTrade", input={**trade, "side": "SELL", "shares": "4", "price": "0.5"})
    position_id = bought.data["recordTrade"]["position"]["id"]
    await run(gql, "SetTpSl", positionId=position_id, takeProfitPrice="0.9", stopLossPrice="0.1")
    before = await db.fetchrow("SELECT * FROM position WHERE id = $1", int(position_id))
    assert before is not None

    # The chain shows only dust of that token: the position closes.
    result = await sync(gql, user, holding(market.token_ids[1], "0.01", "0.3"))

    assert result == {"opened": 0, "updated": 0, "closed": 1, "skippedTokenIds": []}
    detail = (await run(gql, "PositionDetail", id=position_id)).data["position"]
    assert detail["status"] == "CLOSED"
    assert same(detail["shares"], Decimal(0))
    assert same(detail["realizedPnl"], before["realized_pnl"])
    assert before["realized_pnl"] == (Decimal("0.5") - Decimal("0.3")) * 4
    assert detail["takeProfitPrice"] is None
    assert detail["stopLossPrice"] is None
    assert detail["closedAt"] is not None
    assert same(detail["entryPrice"], before["entry_price"])


async def test_touches_only_the_users_active_positions(
    gql: GraphQLClient, db: asyncpg.Connection, new_user: NewUser, own_market: NewMarket
) -> None:
    user, neighbour, market = await new_user(), await new_user(), await own_market()
    await sync(gql, neighbour, holding(market.token_ids[0], "7", "0.5"))
    await sync(gql, user, holding(market.token_ids[0], "3", "0.5"))
    await sync(gql, user)  # closes the user's position
    closed_before = await snapshot(db, POSITIONS_OF, user.id)
    neighbour_before = await snapshot(db, POSITIONS_OF, neighbour.id)

    # Reopening opens a new position; the closed one and the neighbour's stay as they were.
    result = await sync(gql, user, holding(market.token_ids[0], "3", "0.5"))

    assert result == {"opened": 1, "updated": 0, "closed": 0, "skippedTokenIds": []}
    after = await snapshot(db, POSITIONS_OF, user.id)
    assert after[:1] == closed_before
    assert len(after) == 2
    assert await snapshot(db, POSITIONS_OF, neighbour.id) == neighbour_before


async def test_zero_shares_of_a_token_without_a_position_opens_nothing(
    gql: GraphQLClient, db: asyncpg.Connection, new_user: NewUser, own_market: NewMarket
) -> None:
    user, market = await new_user(), await own_market()
    result = await sync(gql, user, holding(market.token_ids[0], "0", "0"))
    assert result == {"opened": 0, "updated": 0, "closed": 0, "skippedTokenIds": []}
    assert await db.fetch(POSITIONS_OF, user.id) == []


@pytest.mark.parametrize(
    ("entry", "field", "problem"),
    [
        (holding("TOKEN", "-1", "0.5"), "positions[1].shares", "out of range"),
        (holding("TOKEN", "1", "1.01"), "positions[1].avgPrice", "out of range"),
        (holding("TOKEN", "1", "-0.5"), "positions[1].avgPrice", "out of range"),
        (holding("TOKEN", "1.1234567", "0.5"), "positions[1].shares", "7 decimal places"),
        (holding("TOKEN", "1", "0.1234567890123"), "positions[1].avgPrice", "13 decimal places"),
        (holding("TOKEN", "NaN", "0.5"), "positions[1].shares", "not a number"),
        (holding("TOKEN", "1", "Infinity"), "positions[1].avgPrice", "not a number"),
        (holding("FIRST", "2", "0.5"), "positions[1].tokenId", "listed twice"),
    ],
)
@pytest.mark.parametrize("known", [True, False])
async def test_a_bad_entry_refuses_the_whole_sync_known_token_or_not(
    gql: GraphQLClient,
    db: asyncpg.Connection,
    new_user: NewUser,
    own_market: NewMarket,
    entry: dict[str, str],
    field: str,
    problem: str,
    known: bool,
) -> None:
    user, market = await new_user(), await own_market()
    await sync(gql, user, holding(market.token_ids[0], "5", "0.5"))
    before = await snapshot(db, POSITIONS_OF, user.id)
    first = holding(market.token_ids[1], "4", "0.5")
    token = (
        market.token_ids[1]
        if entry["tokenId"] == "FIRST"
        else (market.token_ids[0] if known else "never-seen-token")
    )
    bad = {**entry, "tokenId": token}

    answer = await gql(
        DOCUMENTS,
        {"telegramId": user.telegram_id, "positions": [first, bad]},
        "SyncPositions",
    )

    assert answer.codes == ["BAD_USER_INPUT"]
    assert answer.errors[0]["extensions"]["field"] == field
    assert answer.errors[0]["message"].startswith(f"{field}: ")
    assert problem in answer.errors[0]["message"]
    assert answer.sql == 0
    assert await snapshot(db, POSITIONS_OF, user.id) == before


async def test_a_token_listed_twice_is_refused_even_when_unknown(
    gql: GraphQLClient, new_user: NewUser
) -> None:
    user = await new_user()
    error = await refused(
        gql,
        "SyncPositions",
        telegramId=user.telegram_id,
        positions=[holding("ghost", "1", "0.5"), holding("ghost", "1", "0.5")],
    )
    assert code(error) == "BAD_USER_INPUT"
    assert "'ghost' is listed twice" in error["message"]


async def test_an_unknown_user_is_not_found_and_nothing_is_written(
    gql: GraphQLClient,
    db: asyncpg.Connection,
    own_market: NewMarket,
    new_telegram_id: Callable[[], str],
) -> None:
    market = await own_market()
    count = "SELECT count(*) FROM position WHERE market_id = $1"
    error = await refused(
        gql,
        "SyncPositions",
        telegramId=new_telegram_id(),
        positions=[holding(market.token_ids[0], "1", "0.5")],
    )
    assert code(error) == "NOT_FOUND"
    assert error["extensions"]["field"] == "telegramId"
    assert await db.fetchval(count, market.id) == 0

    malformed = await refused(gql, "SyncPositions", telegramId="x1", positions=[])
    assert code(malformed) == "BAD_USER_INPUT"


@pytest.mark.parametrize("size", [1, 500])
async def test_a_sync_costs_the_same_statements_for_1_and_500_holdings(
    gql: GraphQLClient, db: asyncpg.Connection, new_user: NewUser, size: int
) -> None:
    user = await new_user()
    tokens = await db.fetch(
        "SELECT m.id, t.token FROM market AS m, unnest(m.clob_token_ids) AS t (token) "
        "WHERE m.id NOT LIKE 'test-%' ORDER BY m.id, t.token LIMIT $1",
        size,
    )
    holdings = [holding(r["token"], "2", "0.5") for r in tokens]

    opened = await run(gql, "SyncPositions", telegramId=user.telegram_id, positions=holdings)
    closed = await run(gql, "SyncPositions", telegramId=user.telegram_id, positions=[])

    assert opened.data["syncPositions"]["opened"] == size
    assert closed.data["syncPositions"]["closed"] == size
    # The user (locked), the tokens' markets and outcomes, the snapshot applied.
    assert (opened.sql, closed.sql) == (3, 3)
