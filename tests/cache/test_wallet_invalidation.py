"""The shared feed and leaderboard: a wallet write retires them at once, and only what it changed.

Each test warms the feed and the leaderboard on an app with an empty cache of its own, writes
through the wallet tracker's mutations, then reads again: what the write changed is read fresh
(and equals what the rows say), what it did not change is still served without SQL. The
controls take out one write's retiring of a scope: the old feed or leaderboard is served.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

import writes.wallets
from cache.keys import Scope
from settings import Settings
from tests.conftest import Answer, GraphQLClient, contract_documents, serving, unique_prefix
from tests.test_contract_wallets import expected_feed, expected_leaderboard
from tests.wallet_inputs import new_address, real_tokens, stats, trade

DOCUMENTS = contract_documents()
NOWHERE = Scope("wallet", "retires-nothing")


@pytest.fixture(params=[True, False], ids=["answers", "loaders"])
def answer_cache(request: pytest.FixtureRequest) -> bool:
    enabled: bool = request.param
    return enabled


@pytest.fixture
async def fresh(
    settings: Settings, seeded: str, answer_cache: bool
) -> AsyncIterator[GraphQLClient]:
    changed = settings.replace(cache_prefix=unique_prefix(), answer_cache=answer_cache)
    async with serving(changed) as http:
        yield GraphQLClient(http)


async def ok(gql: GraphQLClient, operation: str, **variables: Any) -> Answer:
    answer = await gql(DOCUMENTS, variables, operation)
    assert answer.errors == [], answer.errors
    return answer


async def feed(gql: GraphQLClient) -> tuple[list[str], int]:
    """The ids of the feed's first page, and the SQL statements it took."""
    answer = await ok(gql, "SmartTrades", first=100)
    return [edge["node"]["id"] for edge in answer.data["smartTrades"]["edges"]], answer.sql


async def board(gql: GraphQLClient) -> tuple[list[tuple[int, str, Decimal]], int]:
    answer = await ok(gql, "Leaderboard", by="SMARTSCORE", first=100)
    entries = [
        (e["rank"], e["wallet"]["address"], Decimal(e["wallet"]["smartscore"]))
        for e in answer.data["leaderboard"]
    ]
    return entries, answer.sql


async def rows_feed(db: asyncpg.Connection) -> list[str]:
    return [e["id"] for e in await expected_feed(db, Decimal(300), Decimal("0.55"))][:100]


async def rows_board(db: asyncpg.Connection) -> list[tuple[int, str, Decimal]]:
    return [(e[0], e[1], e[2]) for e in await expected_leaderboard(db, "SMARTSCORE", 100)]


async def warmed(gql: GraphQLClient) -> None:
    """Both read twice: the second time from the cache alone."""
    for read in (feed, board):
        await read(gql)
        _, statements = await read(gql)
        assert statements == 0


def highest() -> str:
    """A smartscore above any other test's: the wallet leads the board."""
    return str(10**12 + time.monotonic_ns() // 1000)


async def a_watched_wallet(gql: GraphQLClient, **numbers: Any) -> str:
    address = new_address()
    await ok(gql, "UpdateWalletStats", wallets=[stats(address, **numbers)])
    return address


async def test_a_wallet_trade_shows_in_the_feed_at_once_and_leaves_the_leaderboard_cached(
    fresh: GraphQLClient, db: asyncpg.Connection
) -> None:
    wallet = await a_watched_wallet(fresh, win_rate="0.8")
    (token,) = await real_tokens(db, 1)
    await warmed(fresh)
    new = trade(wallet, token)  # now: the newest trade of the feed
    await ok(fresh, "RecordWalletTrades", trades=[new])
    ids, statements = await feed(fresh)
    assert ids[0] == new["id"]
    assert ids == await rows_feed(db)
    assert statements > 0
    entries, statements = await board(fresh)
    assert statements == 0  # a trade changes no statistic
    assert entries == await rows_board(db)


async def test_new_statistics_change_the_feed_and_the_leaderboard_at_once(
    fresh: GraphQLClient, db: asyncpg.Connection
) -> None:
    wallet = await a_watched_wallet(fresh, win_rate="0.8")
    (token,) = await real_tokens(db, 1)
    new = trade(wallet, token)
    await ok(fresh, "RecordWalletTrades", trades=[new])
    await warmed(fresh)
    assert (await feed(fresh))[0][0] == new["id"]

    # The wallet drops below the feed's win rate; another climbs to the top of the board.
    leader = new_address()
    await ok(
        fresh,
        "UpdateWalletStats",
        wallets=[stats(wallet, win_rate="0.5"), stats(leader, smartscore=highest())],
    )
    ids, _ = await feed(fresh)
    assert new["id"] not in ids
    assert ids == await rows_feed(db)
    entries, _ = await board(fresh)
    assert entries[0][1] == leader.lower()
    assert entries == await rows_board(db)


async def test_control_a_trade_that_retires_nothing_leaves_the_old_feed_served(
    fresh: GraphQLClient, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    wallet = await a_watched_wallet(fresh, win_rate="0.8")
    (token,) = await real_tokens(db, 1)
    await warmed(fresh)
    before, _ = await feed(fresh)
    monkeypatch.setattr(writes.wallets, "WALLET_FEED", NOWHERE)
    new = trade(wallet, token)
    await ok(fresh, "RecordWalletTrades", trades=[new])
    ids, statements = await feed(fresh)
    assert (await rows_feed(db))[0] == new["id"]
    assert ids == before  # stale: the trade is missing
    assert statements == 0


async def test_control_statistics_that_retire_nothing_leave_the_old_leaderboard_served(
    fresh: GraphQLClient, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    await warmed(fresh)
    before, _ = await board(fresh)
    monkeypatch.setattr(writes.wallets, "WALLET_STATS", NOWHERE)
    monkeypatch.setattr(writes.wallets, "WALLET_FEED", NOWHERE)
    leader = await a_watched_wallet(fresh, smartscore=highest())
    entries, statements = await board(fresh)
    assert (await rows_board(db))[0][1] == leader.lower()
    assert entries == before  # stale: the new leader is missing
    assert statements == 0
