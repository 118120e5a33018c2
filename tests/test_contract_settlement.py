"""The contract's settlement and trade-history documents over HTTP: Claimable, RedeemPositions,
ResolveMarkets, TradeHistory (README "Settlement" and "Trade history").

Expected payouts, realized P&L and page order are computed here from the rows, never taken from
the service. Markets are the tests' own (inactive, so no list shows them) and removed after.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from settings import Settings
from tests.conftest import GraphQLClient, serving, unique_prefix
from tests.factories import insert_market
from tests.writes.conftest import DOCUMENTS, OwnMarket, User, code, refused, run, same
from tests.writes.settling import buy, resolution, resolve, sell

NewMarket = Callable[..., Awaitable[OwnMarket]]
RESOLVED = "SELECT resolved FROM market WHERE id = $1"


@pytest.fixture
async def market(db: asyncpg.Connection) -> AsyncIterator[NewMarket]:
    made: list[str] = []

    async def create(outcomes: tuple[str, ...] = ("Yes", "No")) -> OwnMarket:
        prices = [Decimal(1) / len(outcomes)] * len(outcomes)
        prices = [p.quantize(Decimal("1e-12")) for p in prices]
        market_id = await insert_market(
            db, outcomes=list(outcomes), prices=prices, title="Settlement test", active=False
        )
        made.append(market_id)
        tokens = await db.fetchval("SELECT clob_token_ids FROM market WHERE id = $1", market_id)
        return OwnMarket(market_id, list(outcomes), list(tokens))

    yield create
    await db.execute("DELETE FROM position WHERE market_id = ANY($1::text[])", made)
    await db.execute("DELETE FROM market WHERE id = ANY($1::text[])", made)


@pytest.fixture
async def user(gql: GraphQLClient, new_telegram_id: Callable[[], str]) -> User:
    answer = await run(gql, "UpsertUser", input={"telegramId": new_telegram_id()})
    upserted = answer.data["upsertUser"]
    return User(upserted["telegramId"], int(upserted["id"]))


async def expected_claimable(db: asyncpg.Connection, user_id: int) -> dict[str, Any]:
    """Claimable from the rows: ACTIVE positions in resolved markets, latest resolution first,
    then id; each paying its shares on the winning outcome, else nothing."""
    rows = await db.fetch(
        """
        SELECT p.id, p.outcome, p.shares, m.winning_outcome, m.resolved_at
        FROM position p JOIN market m ON m.id = p.market_id
        WHERE p.user_id = $1 AND p.status = 'ACTIVE' AND m.resolved
        """,
        user_id,
    )
    ordered = sorted(rows, key=lambda r: r["id"])
    ordered.sort(key=lambda r: r["resolved_at"], reverse=True)
    payouts = [r["shares"] if r["outcome"] == r["winning_outcome"] else Decimal(0) for r in ordered]
    return {
        "ids": [str(r["id"]) for r in ordered],
        "payouts": payouts,
        "payout": sum(payouts, Decimal(0)),
    }


async def test_claimable_lists_winners_and_losers_latest_resolution_first(
    gql: GraphQLClient, db: asyncpg.Connection, user: User, market: NewMarket
) -> None:
    first, second, still_open = await market(), await market(("A", "B", "C")), await market()
    yes = await buy(gql, user, first, "Yes", "12.5", "0.4")
    no = await buy(gql, user, first, "No", "3", "0.6")
    b = await buy(gql, user, second, "B", "7.25", "0.2")
    c = await buy(gql, user, second, "C", "1", "0.3")
    await buy(gql, user, still_open, "Yes", "5", "0.5")
    await sell(gql, user, first, "Yes", "2.5", "0.5")
    nothing = await run(gql, "Claimable", telegramId=user.telegram_id)
    assert nothing.data["user"]["claimable"]["positions"] == []

    await resolve(gql, resolution(first.id, "Yes"))
    await resolve(gql, resolution(second.id, "b"))  # later: listed first

    answer = await run(gql, "Claimable", telegramId=user.telegram_id)
    claimable = answer.data["user"]["claimable"]
    expected = await expected_claimable(db, user.id)
    assert [p["id"] for p in claimable["positions"]] == expected["ids"]
    assert expected["ids"] == [str(b), str(c), str(yes), str(no)]
    assert claimable["positionCount"] == 4
    assert same(claimable["payout"], expected["payout"])
    assert expected["payout"] == Decimal("17.25")  # 10 Yes shares and 7.25 B
    for shown, payout in zip(claimable["positions"], expected["payouts"], strict=True):
        assert same(shown["payout"], payout)
        assert shown["market"]["resolved"] is True
    winners = {p["market"]["id"]: p["market"]["winningOutcome"] for p in claimable["positions"]}
    assert winners == {first.id: "Yes", second.id: "B"}
    times = {
        row["id"]: row["resolved_at"]
        for row in await db.fetch(
            "SELECT id, resolved_at FROM market WHERE id = ANY($1::text[])", [first.id, second.id]
        )
    }
    for shown in claimable["positions"]:
        assert datetime.fromisoformat(shown["market"]["resolvedAt"]) == times[shown["market"]["id"]]

    # Still ACTIVE, in the portfolio, valued at 1 or 0 until redeemed.
    portfolio = (await run(gql, "Portfolio", telegramId=user.telegram_id)).data["user"]
    assert portfolio["portfolio"]["positionCount"] == 5
    values = {p["id"]: Decimal(p["value"]) for p in portfolio["positions"]}
    assert values[str(yes)] == Decimal(10)
    assert values[str(no)] == values[str(c)] == 0
    assert values[str(b)] == Decimal("7.25")


async def test_redeem_then_the_history_shows_every_trade_newest_first(
    gql: GraphQLClient, db: asyncpg.Connection, user: User, market: NewMarket
) -> None:
    settled = await market()
    yes = await buy(gql, user, settled, "Yes", "4", "0.25")
    await buy(gql, user, settled, "Yes", "4", "0.75")
    await sell(gql, user, settled, "Yes", "2", "0.8")
    no = await buy(gql, user, settled, "No", "1.5", "0.1")
    payload = await resolve(gql, resolution(settled.id, "Yes"))
    assert payload == {"resolved": 1, "rejected": []}
    entry = await db.fetchval("SELECT entry_price FROM position WHERE id = $1", yes)

    redeemed = (
        await run(
            gql, "RedeemPositions", telegramId=user.telegram_id, positionIds=[str(no), str(yes)]
        )
    ).data["redeemPositions"]
    assert same(redeemed["payout"], Decimal(6))

    rows = await db.fetch(
        "SELECT * FROM trade WHERE user_id = $1 ORDER BY executed_at DESC, id DESC", user.id
    )
    walked: list[dict[str, Any]] = []
    after = None
    while True:
        answer = await run(gql, "TradeHistory", telegramId=user.telegram_id, first=2, after=after)
        page = answer.data["user"]["trades"]
        walked += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]
    assert [node["id"] for node in walked] == [str(row["id"]) for row in rows]
    assert len(walked) == 6
    by_kind = [(n["kind"], n["outcome"], Decimal(n["shares"]), Decimal(n["price"])) for n in walked]
    # The redemption's two trades share its time: newest id first.
    assert sorted(by_kind[:2]) == [
        ("REDEEM", "No", Decimal("1.5"), Decimal(0)),
        ("REDEEM", "Yes", Decimal(6), Decimal(1)),
    ]
    assert by_kind[2:] == [
        ("BUY", "No", Decimal("1.5"), Decimal("0.1")),
        ("SELL", "Yes", Decimal(2), Decimal("0.8")),
        ("BUY", "Yes", Decimal(4), Decimal("0.75")),
        ("BUY", "Yes", Decimal(4), Decimal("0.25")),
    ]
    realized = {(n["kind"], n["outcome"]): Decimal(n["realizedPnl"]) for n in walked}
    assert realized[("SELL", "Yes")] == (Decimal("0.8") - entry) * 2
    assert realized[("REDEEM", "Yes")] == (1 - entry) * 6
    assert realized[("REDEEM", "No")] == (0 - Decimal("0.1")) * Decimal("1.5")
    assert realized[("BUY", "No")] == 0
    assert all(n["market"] == {"id": settled.id, "title": "Settlement test"} for n in walked)
    assert [datetime.fromisoformat(n["executedAt"]) for n in walked] == [
        row["executed_at"] for row in rows
    ]


async def test_trade_pages_refuse_bad_sizes_and_cursors_they_did_not_issue(
    gql: GraphQLClient, user: User, market: NewMarket
) -> None:
    await buy(gql, user, await market(), "Yes", "1", "0.5")
    trending = await run(gql, "TrendingMarkets", first=1)
    foreign = trending.data["trendingMarkets"]["pageInfo"]["endCursor"]
    page = await run(gql, "TradeHistory", telegramId=user.telegram_id, first=1)
    ours = page.data["user"]["trades"]["edges"][0]["cursor"]
    raw = base64.urlsafe_b64decode(ours + "=" * (-len(ours) % 4))
    # Its last byte changed (to another digit: one already "9" edited to "9" was no edit).
    last = b"8" if raw.endswith(b"9") else b"9"
    edited = base64.urlsafe_b64encode(raw[:-1] + last).decode().rstrip("=")

    for first, after in ((0, None), (101, None), (1, foreign), (1, edited), (1, "garbage!")):
        answer = await gql(
            DOCUMENTS,
            {"telegramId": user.telegram_id, "first": first, "after": after},
            "TradeHistory",
        )
        assert answer.codes == ["BAD_USER_INPUT"], (first, after, answer.errors)
    full = await run(gql, "TradeHistory", telegramId=user.telegram_id, first=100)
    assert len(full.data["user"]["trades"]["edges"]) == 1
    assert full.data["user"]["trades"]["pageInfo"] == {
        "hasNextPage": False,
        "endCursor": ours,
    }


async def test_resolve_and_redeem_refuse_as_the_contract_says(
    gql: GraphQLClient, user: User, market: NewMarket
) -> None:
    open_market = await market()
    position = await buy(gql, user, open_market, "Yes", "1", "0.5")
    rejected = await resolve(gql, resolution(open_market.id, "Perhaps"))
    assert rejected["resolved"] == 0
    assert [r["marketId"] for r in rejected["rejected"]] == [open_market.id]
    error = await refused(
        gql, "RedeemPositions", telegramId=user.telegram_id, positionIds=[str(position)]
    )
    assert code(error) == "BAD_USER_INPUT"
    assert "has not resolved" in error["message"]


async def test_resolutions_are_the_workers_and_redemptions_the_bots(
    settings: Settings, seeded: str, db: asyncpg.Connection, market: NewMarket
) -> None:
    keys = (("bot", "b" * 32), ("ingest", "i" * 32), ("admin", "a" * 32))
    open_market = await market()
    resolve_variables = {"resolutions": [resolution(open_market.id, "Yes")]}
    redeem_variables = {"telegramId": "1", "positionIds": ["1"]}
    async with serving(settings.replace(cache_prefix=unique_prefix(), api_keys=keys)) as http:

        async def send(operation: str, variables: dict[str, Any], key: str) -> list[str]:
            body = {"query": DOCUMENTS, "variables": variables, "operationName": operation}
            response = await http.post(
                "/graphql", json=body, headers={"Authorization": f"Bearer {key}"}
            )
            return [e["extensions"]["code"] for e in response.json().get("errors") or []]

        bot, ingest, admin = (key for _, key in keys)
        assert await send("ResolveMarkets", resolve_variables, bot) == ["FORBIDDEN"]
        assert (
            await db.fetchval("SELECT resolved FROM market WHERE id = $1", open_market.id) is False
        )
        assert await send("RedeemPositions", redeem_variables, ingest) == ["FORBIDDEN"]
        # Allowed: the unknown user is the mutation's own answer, not the role check's.
        assert await send("RedeemPositions", redeem_variables, bot) == ["NOT_FOUND"]
        assert await send("ResolveMarkets", resolve_variables, ingest) == []
        assert await send("ResolveMarkets", resolve_variables, admin) == []  # again: no change
    assert await db.fetchval(RESOLVED, open_market.id) is True
