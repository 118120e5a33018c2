"""redeemPositions over HTTP: each position closes as a sale at its payout price, all or nothing.

Expected payouts and realized P&L are computed here from the rows read before the call.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
import pytest

from tests.conftest import GraphQLClient
from tests.writes.conftest import NewMarket, NewUser, User, code, refused, run, same, snapshot
from tests.writes.settling import buy, resolution, resolve, sell

POSITIONS = "SELECT * FROM position WHERE id = ANY($1::bigint[]) ORDER BY id"
TRADES = "SELECT * FROM trade WHERE user_id = $1 ORDER BY id"


async def test_winners_pay_their_shares_and_losers_nothing(
    gql: GraphQLClient, db: asyncpg.Connection, new_user: NewUser, own_market: NewMarket
) -> None:
    user = await new_user()
    first, second = await own_market(), await own_market(("Red", "Green", "Blue"))
    winner = await buy(gql, user, first, "Yes", "10", "0.3")
    await buy(gql, user, first, "Yes", "5", "0.6")  # entry price now the weighted average
    await sell(gql, user, first, "Yes", "3", "0.7")  # some realized P&L already
    loser = await buy(gql, user, first, "No", "4.5", "0.55")
    green = await buy(gql, user, second, "Green", "2.25", "0.125")
    await resolve(gql, resolution(first.id, "Yes"), resolution(second.id, "green"))
    before = {row["id"]: row for row in await db.fetch(POSITIONS, [winner, loser, green])}
    trades_before = len(await db.fetch(TRADES, user.id))
    price_of = {winner: Decimal(1), loser: Decimal(0), green: Decimal(1)}
    started = datetime.now(UTC)

    order = [loser, green, winner]
    answer = await run(
        gql,
        "RedeemPositions",
        telegramId=user.telegram_id,
        positionIds=[str(p) for p in order],
    )

    redeemed = answer.data["redeemPositions"]
    expected_payout = sum(before[p]["shares"] * price_of[p] for p in order)
    assert same(redeemed["payout"], expected_payout)
    assert expected_payout == Decimal("14.25")  # 12 winning Yes shares and 2.25 Green
    assert [int(p["id"]) for p in redeemed["positions"]] == order
    for shown in redeemed["positions"]:
        row = before[int(shown["id"])]
        gained = (price_of[row["id"]] - row["entry_price"]) * row["shares"]
        assert shown["status"] == "CLOSED"
        assert same(shown["shares"], Decimal(0))
        assert same(shown["realizedPnl"], row["realized_pnl"] + gained)
        assert started <= datetime.fromisoformat(shown["closedAt"]) <= datetime.now(UTC)
    after = {row["id"]: row for row in await db.fetch(POSITIONS, order)}
    assert all(row["status"] == "CLOSED" and row["shares"] == 0 for row in after.values())

    # One REDEEM trade per position: its shares, the payout price, the P&L it added.
    trades = (await db.fetch(TRADES, user.id))[trades_before:]
    assert sorted(
        (t["position_id"], t["kind"], t["shares"], t["price"], t["realized_pnl"]) for t in trades
    ) == sorted(
        (
            p,
            "REDEEM",
            before[p]["shares"],
            price_of[p],
            (price_of[p] - before[p]["entry_price"]) * before[p]["shares"],
        )
        for p in order
    )
    assert {t["outcome"] for t in trades} == {"Yes", "No", "Green"}

    # Nothing left to claim.
    claimable = await run(gql, "Claimable", telegramId=user.telegram_id)
    left = claimable.data["user"]["claimable"]
    assert (left["positionCount"], left["positions"]) == (0, [])
    assert same(left["payout"], Decimal(0))


async def state(db: asyncpg.Connection, user: User, ids: list[int]) -> tuple[object, object]:
    return await snapshot(db, POSITIONS, ids), await snapshot(db, TRADES, user.id)


@pytest.mark.parametrize(
    ("case", "expected_code"),
    [
        ("unknown user", "NOT_FOUND"),
        ("another user's position", "NOT_FOUND"),
        ("unknown position", "NOT_FOUND"),
        ("malformed id", "NOT_FOUND"),
        ("empty list", "BAD_USER_INPUT"),
        ("listed twice", "BAD_USER_INPUT"),
        ("closed position", "BAD_USER_INPUT"),
        ("market not resolved", "BAD_USER_INPUT"),
    ],
)
async def test_a_bad_id_refuses_the_whole_call_and_writes_nothing(
    gql: GraphQLClient,
    db: asyncpg.Connection,
    new_user: NewUser,
    own_market: NewMarket,
    case: str,
    expected_code: str,
) -> None:
    user, other = await new_user(), await new_user()
    settled, open_market = await own_market(), await own_market()
    good = await buy(gql, user, settled, "Yes", "10", "0.5")
    theirs = await buy(gql, other, settled, "Yes", "1", "0.5")
    closed = await buy(gql, user, settled, "No", "1", "0.5")
    await sell(gql, user, settled, "No", "1", "0.5")
    unsettled = await buy(gql, user, open_market, "Yes", "1", "0.5")
    await resolve(gql, resolution(settled.id, "Yes"))
    telegram_id = user.telegram_id
    ids = {
        "unknown user": [str(good)],
        "another user's position": [str(good), str(theirs)],
        "unknown position": [str(good), str(10**15)],
        "malformed id": [str(good), "not-an-id"],
        "empty list": [],
        "listed twice": [str(good), str(good)],
        "closed position": [str(good), str(closed)],
        "market not resolved": [str(good), str(unsettled)],
    }[case]
    if case == "unknown user":
        telegram_id = str(10**17 + int(user.telegram_id))
    watched = [good, theirs, closed, unsettled]
    before = await state(db, user, watched)
    other_trades = await snapshot(db, TRADES, other.id)

    error = await refused(gql, "RedeemPositions", telegramId=telegram_id, positionIds=ids)

    assert code(error) == expected_code
    if case == "another user's position":
        # Not revealed: the same answer as for an id no one has.
        assert "not one of this user's positions" in error["message"]
    assert await state(db, user, watched) == before
    assert await snapshot(db, TRADES, other.id) == other_trades
