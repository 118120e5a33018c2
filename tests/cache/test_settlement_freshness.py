"""Settlement and trade history stay fresh: after each kind of write, on both server processes.

Two `python app.py serve` processes share one Redis prefix (whole answers kept, as deployed).
A user's Claimable, Portfolio and TradeHistory are read on both, twice (so each is cached and
its answer kept), then a write runs on one of them (recordTrade, resolveMarkets,
redeemPositions, in turn on A and B) and every read after it, on both, must equal what the rows
say. The controls, in one process, take out a write's retiring of what it changed: the trade's
retiring of the trade pages, the resolution's of its markets; the old answer is served.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from cache.keys import Scope
from cache.store import CacheStore
from settings import Settings
from tests.cache.races import TIMEOUT
from tests.conftest import GraphQLClient, contract_documents, serving, unique_prefix
from tests.factories import insert_market
from tests.server_processes import Server, start_server, stop_server, wait_healthy

DOCUMENTS = contract_documents()


@pytest.fixture(scope="module")
def servers(
    seeded: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Server]]:
    env = {
        **os.environ,
        "DATABASE_URL": seeded,
        "REDIS_URL": redis_url,
        "APP_ENV": "test",
        "CACHE_PREFIX": unique_prefix(),
        "CACHE_WARM_MARKETS": "0",
        "CACHE_REFRESH_MARKETS": "false",
        "RATE_LIMIT": "false",
        "GRAPHIQL": "false",
        "POOL_MIN_SIZE": "1",
        "POOL_MAX_SIZE": "4",
        "LOG_LEVEL": "WARNING",
    }
    logs = tmp_path_factory.mktemp("servers")
    started: list[Server] = []
    try:
        for name in ("A", "B"):
            started.append(start_server(name, env, logs))
        wait_healthy(started)
        yield started
    finally:
        for server in started:
            stop_server(server)


@pytest.fixture
async def markets(db: asyncpg.Connection) -> AsyncIterator[list[str]]:
    """Two markets of the test's own (inactive: no list shows them), removed afterwards."""
    made = [
        await insert_market(db, outcomes=["Yes", "No"], prices=[Decimal("0.5")] * 2, active=False)
        for _ in range(2)
    ]
    yield made
    await db.execute("DELETE FROM position WHERE market_id = ANY($1::text[])", made)
    await db.execute("DELETE FROM market WHERE id = ANY($1::text[])", made)


async def ok(gql: GraphQLClient, operation: str, **variables: Any) -> dict[str, Any]:
    answer = await gql(DOCUMENTS, variables, operation)
    assert answer.errors == [], answer.errors
    data: dict[str, Any] = answer.data
    return data


def trade(telegram_id: str, market_id: str, outcome: str, side: str, shares: str) -> dict[str, Any]:
    return {
        "input": {
            "telegramId": telegram_id,
            "marketId": market_id,
            "outcome": outcome,
            "side": side,
            "shares": shares,
            "price": "0.5",
        }
    }


async def expected(db: asyncpg.Connection, telegram_id: str) -> dict[str, Any]:
    """What the three screens must show, from the rows."""
    user_id = await db.fetchval("SELECT id FROM app_user WHERE telegram_id = $1", int(telegram_id))
    claimable = await db.fetch(
        """
        SELECT p.id, CASE WHEN p.outcome = m.winning_outcome THEN p.shares ELSE 0 END AS payout
        FROM position p JOIN market m ON m.id = p.market_id
        WHERE p.user_id = $1 AND p.status = 'ACTIVE' AND m.resolved
        ORDER BY m.resolved_at DESC, p.id
        """,
        user_id,
    )
    active = await db.fetch(
        """
        SELECT p.id, p.shares * m.outcome_prices[array_position(m.outcomes, p.outcome)] AS value
        FROM position p JOIN market m ON m.id = p.market_id
        WHERE p.user_id = $1 AND p.status = 'ACTIVE'
        """,
        user_id,
    )
    trades = await db.fetch(
        "SELECT id, kind::text FROM trade WHERE user_id = $1 ORDER BY executed_at DESC, id DESC",
        user_id,
    )
    return {
        "claimable": [(str(r["id"]), r["payout"]) for r in claimable],
        "portfolio": sorted((str(r["id"]), r["value"]) for r in active),
        "trades": [(str(r["id"]), r["kind"]) for r in trades],
    }


async def shown(gql: GraphQLClient, telegram_id: str) -> dict[str, Any]:
    """The same three screens as the bot reads them."""
    claimable = (await ok(gql, "Claimable", telegramId=telegram_id))["user"]["claimable"]
    portfolio = (await ok(gql, "Portfolio", telegramId=telegram_id))["user"]["positions"]
    history = await ok(gql, "TradeHistory", telegramId=telegram_id, first=100)
    edges = history["user"]["trades"]["edges"]
    return {
        "claimable": [(p["id"], Decimal(p["payout"])) for p in claimable["positions"]],
        "portfolio": sorted((p["id"], Decimal(p["value"])) for p in portfolio),
        "trades": [(e["node"]["id"], e["node"]["kind"]) for e in edges],
    }


async def test_each_write_is_seen_by_every_later_read_on_both_servers(
    servers: list[Server],
    db: asyncpg.Connection,
    markets: list[str],
    new_telegram_id: Callable[[], str],
) -> None:
    telegram_id = new_telegram_id()
    first, second = markets
    async with (
        httpx.AsyncClient(base_url=servers[0].url, timeout=TIMEOUT) as on_a,
        httpx.AsyncClient(base_url=servers[1].url, timeout=TIMEOUT) as on_b,
    ):
        a, b = GraphQLClient(on_a), GraphQLClient(on_b)
        await ok(a, "UpsertUser", input={"telegramId": telegram_id})
        await ok(a, "RecordTrade", **trade(telegram_id, first, "Yes", "BUY", "10"))
        bought = await ok(a, "RecordTrade", **trade(telegram_id, first, "No", "BUY", "4"))
        losing = bought["recordTrade"]["position"]["id"]

        async def check_both() -> dict[str, Any]:
            want = await expected(db, telegram_id)
            for gql in (a, b, a, b):  # twice each: the second read is a cached one
                assert await shown(gql, telegram_id) == want
            return want

        await check_both()
        # A trade on B: both servers' histories show it.
        await ok(b, "RecordTrade", **trade(telegram_id, second, "Yes", "BUY", "2"))
        assert len((await check_both())["trades"]) == 3
        # A resolution on A: every screen of the holder changes on both.
        await ok(a, "ResolveMarkets", resolutions=[{"marketId": first, "winningOutcome": "yes"}])
        settled = await check_both()
        assert [payout for _, payout in settled["claimable"]] == [Decimal(10), Decimal(0)]
        # A redemption on B.
        await ok(b, "RedeemPositions", telegramId=telegram_id, positionIds=[losing])
        redeemed = await check_both()
        assert len(redeemed["claimable"]) == 1
        assert redeemed["trades"][0][1] == "REDEEM"


# Controls: in one process, a write that forgets to retire what it changed.


def bump_leaving_out(leave_out: Callable[[Scope], bool]) -> Any:
    real_bump = CacheStore.bump

    async def bump(self: CacheStore, scopes: Iterable[Scope]) -> None:
        await real_bump(self, [s for s in scopes if not leave_out(s)])

    return bump


@pytest.fixture
async def one_server(settings: Settings, seeded: str) -> AsyncIterator[GraphQLClient]:
    async with serving(settings.replace(cache_prefix=unique_prefix())) as http:
        yield GraphQLClient(http)


async def test_control_a_trade_that_left_the_pages_alone_would_hide_itself(
    one_server: GraphQLClient,
    markets: list[str],
    new_telegram_id: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    telegram_id = new_telegram_id()
    await ok(one_server, "UpsertUser", input={"telegramId": telegram_id})
    await ok(one_server, "RecordTrade", **trade(telegram_id, markets[0], "Yes", "BUY", "1"))
    before = await ok(one_server, "TradeHistory", telegramId=telegram_id, first=10)
    monkeypatch.setattr(CacheStore, "bump", bump_leaving_out(lambda s: s.id.endswith(":TRADES")))

    await ok(one_server, "RecordTrade", **trade(telegram_id, markets[0], "Yes", "BUY", "1"))

    after = await ok(one_server, "TradeHistory", telegramId=telegram_id, first=10)
    assert after == before  # two trades in the rows, one shown


async def test_control_a_resolution_that_left_its_markets_alone_would_hide_the_winnings(
    one_server: GraphQLClient,
    markets: list[str],
    new_telegram_id: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    telegram_id = new_telegram_id()
    await ok(one_server, "UpsertUser", input={"telegramId": telegram_id})
    await ok(one_server, "RecordTrade", **trade(telegram_id, markets[0], "Yes", "BUY", "1"))
    before = await ok(one_server, "Claimable", telegramId=telegram_id)
    assert before["user"]["claimable"]["positions"] == []
    monkeypatch.setattr(CacheStore, "bump", bump_leaving_out(lambda s: s.family == "market"))
    # Nor read back into the cache by the writer (that would hide the missing bump).
    monkeypatch.setattr("writes.resolutions.refill_markets", _no_refill)

    await ok(
        one_server,
        "ResolveMarkets",
        resolutions=[{"marketId": markets[0], "winningOutcome": "Yes"}],
    )

    after = await ok(one_server, "Claimable", telegramId=telegram_id)
    assert after == before  # resolved in the rows, nothing to claim on screen


async def _no_refill(*_: Any) -> None:
    return None
