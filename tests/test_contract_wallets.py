"""The contract's watched wallets, end to end: SmartTrades and Leaderboard over HTTP.

Expected answers are computed here from the rows (filters, order, values, ranks written out
again in Python), never copied from the service. The data comes through the wallet tracker's
own mutations (RecordWalletTrades, UpdateWalletStats), as in production, so the session's
cache sees every change; the mutations themselves are tested in tests/writes/test_wallets.py.
Other tests add wallets and trades too: every expectation is computed from all the rows. And
since the feed and the leaderboard are shared by everyone, each test reads through an app with a
cache of its own: a write by another test's app (another key prefix) retires nothing here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from settings import Settings
from tests.conftest import GraphQLClient, contract_documents, serving, unique_prefix
from tests.wallet_inputs import at, new_address, new_trade_id, real_tokens, stats, trade

DOCUMENTS = contract_documents()
DEFAULT_MIN_VALUE = Decimal(300)
DEFAULT_MIN_WIN_RATE = Decimal("0.55")
STATISTICS = {"SMARTSCORE": "smartscore", "WIN_RATE": "win_rate", "REALIZED_PNL": "realized_pnl"}


@pytest.fixture
async def gql(settings: Settings, seeded: str) -> AsyncIterator[GraphQLClient]:
    async with serving(settings.replace(cache_prefix=unique_prefix())) as http:
        yield GraphQLClient(http)


async def run(gql: GraphQLClient, operation: str, **variables: Any) -> Any:
    answer = await gql(DOCUMENTS, variables, operation)
    assert answer.errors == [], answer.errors
    return answer.data


async def expected_feed(
    db: asyncpg.Connection, min_value: Decimal, min_win_rate: Decimal
) -> list[dict[str, Any]]:
    """Every BUY of a watched wallet passing the filters, newest first, ties by id ascending,
    with what each node must show: the token's market and outcome, the wallet's statistics."""
    rows = await db.fetch(
        """
        SELECT t.*, w.win_rate, w.smartscore FROM wallet_trade t
        JOIN wallet w ON w.address = t.wallet
        """
    )
    markets = {
        token: row
        for row in await db.fetch(
            "SELECT id, title, outcomes, outcome_prices, clob_token_ids FROM market"
        )
        for token in row["clob_token_ids"]
    }
    kept = [
        r
        for r in rows
        if r["side"] == "BUY"
        and r["shares"] * r["price"] >= min_value
        and r["win_rate"] >= min_win_rate
    ]
    # Byte order of ids: Python compares code points, which UTF-8 bytes keep.
    kept.sort(key=lambda r: r["id"])
    kept.sort(key=lambda r: r["executed_at"], reverse=True)
    expected = []
    for r in kept:
        market = markets[r["token_id"]]
        expected.append(
            {
                "id": r["id"],
                "outcome": market["outcomes"][market["clob_token_ids"].index(r["token_id"])],
                "shares": r["shares"],
                "price": r["price"],
                "value": r["shares"] * r["price"],
                "executed_at": r["executed_at"],
                "wallet": (r["wallet"], r["win_rate"], r["smartscore"]),
                "market": (market["id"], market["title"], market["outcome_prices"]),
            }
        )
    return expected


async def walk(gql: GraphQLClient, first: int, **filters: Any) -> list[dict[str, Any]]:
    """Every node of the feed, page after page, checking each page's cursors on the way."""
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        page = (await run(gql, "SmartTrades", first=first, after=after, **filters))["smartTrades"]
        assert len(page["edges"]) <= first
        nodes.extend(edge["node"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        assert len(page["edges"]) == first
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        after = page["pageInfo"]["endCursor"]


def assert_nodes(nodes: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert [n["id"] for n in nodes] == [e["id"] for e in expected]
    for node, want in zip(nodes, expected, strict=True):
        assert node["outcome"] == want["outcome"]
        assert Decimal(node["shares"]) == want["shares"]
        assert Decimal(node["price"]) == want["price"]
        assert Decimal(node["value"]) == want["value"]
        assert datetime.fromisoformat(node["executedAt"]) == want["executed_at"]
        wallet = node["wallet"]
        assert (
            wallet["address"],
            Decimal(wallet["winRate"]),
            Decimal(wallet["smartscore"]),
        ) == want["wallet"]
        market = node["market"]
        prices = market["outcomePrices"]
        assert (
            market["id"],
            market["title"],
            None if prices is None else [Decimal(p) for p in prices],
        ) == want["market"]


async def feed_data(gql: GraphQLClient, db: asyncpg.Connection) -> dict[str, str]:
    """Trades on both sides of each default filter, a SELL, and three trades at one time."""
    strong, edge, weak = new_address(), new_address(), new_address()
    await run(
        gql,
        "UpdateWalletStats",
        wallets=[
            stats(strong, win_rate="0.9"),
            stats(edge, win_rate="0.55"),
            stats(weak, win_rate="0.549999999999999999"),
        ],
    )
    yes, no, other = await real_tokens(db, 3)
    same_time = at(30)
    tied = sorted(new_trade_id() for _ in range(3))
    trades = {
        "at_300": trade(strong, yes, shares="600", price="0.5", executed_at=at(10)),
        "under_300": trade(strong, yes, shares="599.999998", price="0.5", executed_at=at(11)),
        "edge_wallet": trade(edge, no, shares="2000", price="0.5", executed_at=at(12)),
        "weak_wallet": trade(weak, no, shares="10000", price="0.5", executed_at=at(13)),
        "sell": trade(strong, other, side="SELL", shares="10000", executed_at=at(14)),
        # Sent in another order than their ids': the feed orders them by id.
        "tied_c": trade(strong, other, id=tied[2], executed_at=same_time),
        "tied_a": trade(strong, other, id=tied[0], executed_at=same_time),
        "tied_b": trade(strong.lower(), yes, id=tied[1], executed_at=same_time),
    }
    answer = await run(gql, "RecordWalletTrades", trades=list(trades.values()))
    assert answer["recordWalletTrades"]["recorded"] == len(trades)
    return {name: entry["id"] for name, entry in trades.items()}


async def test_smart_trades_walk_every_big_buy_of_good_wallets_once_in_order(
    gql: GraphQLClient, db: asyncpg.Connection
) -> None:
    ids = await feed_data(gql, db)
    expected = await expected_feed(db, DEFAULT_MIN_VALUE, DEFAULT_MIN_WIN_RATE)
    listed = {e["id"] for e in expected}
    assert {ids["at_300"], ids["edge_wallet"], ids["tied_a"]} <= listed
    assert not {ids["under_300"], ids["weak_wallet"], ids["sell"]} & listed
    position = [e["id"] for e in expected].index
    assert position(ids["tied_a"]) + 1 == position(ids["tied_b"]) == position(ids["tied_c"]) - 1
    # Pages of 2 cut through the three tied trades, so a cursor lands between two of them.
    assert_nodes(await walk(gql, 2), expected)
    assert_nodes(await walk(gql, 100), expected)


async def test_filters_are_applied_and_null_means_the_default(
    gql: GraphQLClient, db: asyncpg.Connection
) -> None:
    ids = await feed_data(gql, db)
    defaults = await walk(gql, 50)
    assert await walk(gql, 50, minValue=None, minWinRate=None) == defaults
    assert await walk(gql, 50, minValue="300.000", minWinRate="0.5500") == defaults

    loose = await walk(gql, 100, minValue="0", minWinRate="0")
    assert_nodes(loose, await expected_feed(db, Decimal(0), Decimal(0)))
    assert {ids["under_300"], ids["weak_wallet"]} <= {n["id"] for n in loose}
    assert ids["sell"] not in {n["id"] for n in loose}  # the feed is buys only

    strict = await walk(gql, 100, minValue="1000", minWinRate="0.8")
    assert_nodes(strict, await expected_feed(db, Decimal(1000), Decimal("0.8")))
    assert ids["edge_wallet"] not in {n["id"] for n in strict}


async def test_smart_trades_refuse_bad_first_bad_filters_and_foreign_cursors(
    gql: GraphQLClient,
) -> None:
    trending = (await run(gql, "TrendingMarkets", first=1))["trendingMarkets"]
    page = (await run(gql, "SmartTrades", first=1, minValue="0", minWinRate="0"))["smartTrades"]
    cursor = page["pageInfo"]["endCursor"]
    assert cursor is not None
    forged = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    for variables, field in (
        ({"first": 0}, "first"),
        ({"first": 101}, "first"),
        ({"first": 5, "after": forged}, "after"),
        ({"first": 5, "after": "not a cursor"}, "after"),
        # Signed by this server, but a trending cursor, not one of the feed's.
        ({"first": 5, "after": trending["pageInfo"]["endCursor"]}, "after"),
        ({"first": 5, "minValue": "NaN"}, "minValue"),
        ({"first": 5, "minWinRate": "1e30"}, "minWinRate"),
    ):
        answer = await gql(DOCUMENTS, variables, "SmartTrades")
        assert answer.data is None
        assert answer.codes == ["BAD_USER_INPUT"], variables
        assert answer.errors[0]["extensions"]["field"] == field


async def expected_leaderboard(
    db: asyncpg.Connection, by: str, first: int
) -> list[tuple[int, str, Decimal, Decimal, int, Decimal]]:
    rows = await db.fetch("SELECT * FROM wallet")
    column = STATISTICS[by]
    ordered = sorted(rows, key=lambda r: r["address"])
    ordered.sort(key=lambda r: r[column], reverse=True)
    return [
        (
            rank,
            r["address"],
            r["smartscore"],
            r["win_rate"],
            r["markets_traded"],
            r["realized_pnl"],
        )
        for rank, r in enumerate(ordered[:first], start=1)
    ]


def entries(answer: Any) -> list[tuple[int, str, Decimal, Decimal, int, Decimal]]:
    return [
        (
            entry["rank"],
            entry["wallet"]["address"],
            Decimal(entry["wallet"]["smartscore"]),
            Decimal(entry["wallet"]["winRate"]),
            entry["wallet"]["marketsTraded"],
            Decimal(entry["wallet"]["realizedPnl"]),
        )
        for entry in answer["leaderboard"]
    ]


async def test_leaderboard_orders_by_each_statistic_with_ties_by_address(
    gql: GraphQLClient, db: asyncpg.Connection
) -> None:
    # Three wallets tied at the top of every statistic (sent in another order than their
    # addresses'), and one just below them.
    tied = sorted((new_address() for _ in range(3)), key=str.lower, reverse=True)
    top = {"smartscore": "1000000", "win_rate": "1", "realized_pnl": "999999999999"}
    await run(
        gql,
        "UpdateWalletStats",
        wallets=[
            *(
                stats(
                    a,
                    smartscore=top["smartscore"],
                    realized_pnl=top["realized_pnl"],
                    win_rate=top["win_rate"],
                )
                for a in tied
            ),
            stats(new_address(), smartscore="999999.99", realized_pnl="999999999998.5"),
        ],
    )
    for by in STATISTICS:
        for first in (1, 7, 100):
            answer = await run(gql, "Leaderboard", by=by, first=first)
            expected = await expected_leaderboard(db, by, first)
            assert entries(answer) == expected, (by, first)
        # Tied wallets: consecutive ranks, in address order (at win rate 1, seeded wallets
        # share the tie and take their places among ours by address; other tests' wallets
        # may rank above).
        board = entries(await run(gql, "Leaderboard", by=by, first=100))
        column, value = {
            "SMARTSCORE": (2, top["smartscore"]),
            "WIN_RATE": (3, top["win_rate"]),
            "REALIZED_PNL": (5, top["realized_pnl"]),
        }[by]
        level = [entry for entry in board if entry[column] == Decimal(value)]
        assert {a.lower() for a in tied} <= {entry[1] for entry in level}
        first_rank = level[0][0]
        assert [entry[0] for entry in level] == list(range(first_rank, first_rank + len(level)))
        assert [entry[1] for entry in level] == sorted(entry[1] for entry in level)


async def test_leaderboard_pages_of_100_match_the_rows(
    gql: GraphQLClient, db: asyncpg.Connection
) -> None:
    for by in STATISTICS:
        answer = await run(gql, "Leaderboard", by=by, first=100)
        assert entries(answer) == await expected_leaderboard(db, by, 100)


async def test_leaderboard_refuses_a_bad_first(gql: GraphQLClient) -> None:
    for first in (0, 101, -1):
        answer = await gql(DOCUMENTS, {"by": "SMARTSCORE", "first": first}, "Leaderboard")
        assert answer.data is None
        assert answer.codes == ["BAD_USER_INPUT"]
        assert answer.errors[0]["extensions"]["field"] == "first"
