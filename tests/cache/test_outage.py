"""Redis going away, coming back empty, or hanging while it keeps its data: never a wrong answer.

Each test owns a Redis server (tests/cache/redis_servers.py) and an app with a short timeout
and breaker pause, so an outage costs the tests a fraction of a second. While Redis is away
every request is answered from PostgreSQL; once it answers again, the cache fills and serves
again. The hard case is a hang that keeps the data (CLIENT PAUSE): a write's version bump is
lost while the stale entry survives, so only the cache epoch, moved by the store when Redis
answers again, stands between readers and the old value. The last tests take a Redis Cluster
down, a node or all of them: an outage like any other, costing a request no more than the
timeout (redis-py's own retries would make it seconds).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from cache.keys import KeyNames, positions_scope
from settings import Settings
from tests.cache.redis_servers import RedisServer, running_cluster, running_server
from tests.conftest import (
    Answer,
    GraphQLClient,
    active_shares,
    contract_documents,
    forbidden_calls,
    serving,
    shares_by_position,
    unique_prefix,
)
from tests.factories import Holder, insert_holder

DOCUMENTS = contract_documents()
TIMEOUT = 0.2  # redis_timeout and redis_retry_after of the apps here
REQUEST_LIMIT = 5.0  # a request slower than this is a hang, not an outage handled


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with running_server(tmp_path / "redis") as server:
        yield server
        if server.process is not None:  # counted since its last start
            assert not any(forbidden_calls(server.url).values()), "KEYS, SCAN or FLUSH was sent"


@pytest.fixture
async def holder(seeded: str, db: asyncpg.Connection, new_telegram_id: Callable[[], str]) -> Holder:
    return await insert_holder(db, new_telegram_id(), 20)


@pytest.fixture
def app_settings(settings: Settings, redis_server: RedisServer) -> Settings:
    return settings.replace(
        redis_url=redis_server.url,
        cache_prefix=unique_prefix(),
        redis_timeout=TIMEOUT,
        redis_retry_after=TIMEOUT,
    )


@pytest.fixture
async def gql(app_settings: Settings, seeded: str) -> AsyncIterator[GraphQLClient]:
    async with serving(app_settings) as http:
        yield GraphQLClient(http)


def counter(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def redis_errors() -> float:
    return sum(
        counter("polycool_redis_errors_total", {"operation": operation})
        for operation in ("answer", "read", "fill", "invalidate")
    )


def lost_invalidations() -> float:
    return counter("polycool_cache_lost_invalidations_total")


async def ok(gql: GraphQLClient, operation: str, **variables: Any) -> Answer:
    """A contract document answered in time, with status 200 and no errors."""
    async with asyncio.timeout(REQUEST_LIMIT):
        answer = await gql(DOCUMENTS, variables, operation)
    assert answer.status == 200
    assert answer.errors == [], answer.errors
    return answer


async def buy_more(
    gql: GraphQLClient, db: asyncpg.Connection, user: Holder, shares: str
) -> tuple[str, Decimal]:
    """BUY `shares` more of the user's oldest position; its id and its shares afterwards."""
    row = await db.fetchrow(
        "SELECT market_id, outcome FROM position WHERE user_id = $1 AND status = 'ACTIVE' "
        "ORDER BY id LIMIT 1",
        user.id,
    )
    assert row is not None
    answer = await ok(
        gql,
        "RecordTrade",
        input={
            "telegramId": user.telegram_id,
            "marketId": row["market_id"],
            "outcome": row["outcome"],
            "side": "BUY",
            "shares": shares,
            "price": "0.5",
        },
    )
    position = answer.data["recordTrade"]["position"]
    return position["id"], Decimal(position["shares"])


async def cold_then_warm(gql: GraphQLClient, operation: str, **variables: Any) -> Answer:
    """Read twice; the second answer must come from the cache. Returns it."""
    cold = await ok(gql, operation, **variables)
    warm = await ok(gql, operation, **variables)
    assert warm.data == cold.data
    assert warm.sql == 0, f"{operation} warm sent {warm.sql} SQL statements"
    return warm


async def test_reads_and_trades_are_answered_from_postgresql_while_redis_is_down(
    gql: GraphQLClient, redis_server: RedisServer, db: asyncpg.Connection, holder: Holder
) -> None:
    markets = await db.fetch(
        "SELECT id, title, outcome_prices FROM market "
        "WHERE id NOT LIKE 'test-%' AND outcome_prices IS NOT NULL ORDER BY id LIMIT 50"
    )
    ids = [row["id"] for row in markets]
    cached = await cold_then_warm(gql, "Portfolio", telegramId=holder.telegram_id)
    await cold_then_warm(gql, "MarketsBatch", ids=ids)
    errors = redis_errors()

    redis_server.stop()
    portfolio = await ok(gql, "Portfolio", telegramId=holder.telegram_id)
    batch = await ok(gql, "MarketsBatch", ids=ids)
    position_id, shares = await buy_more(gql, db, holder, "5")
    after_trade = await ok(gql, "Portfolio", telegramId=holder.telegram_id)

    assert portfolio.data == cached.data  # nothing changed: the same answer, from PostgreSQL
    assert portfolio.sql == 3
    assert [
        (m["id"], m["title"], [Decimal(p) for p in m["outcomePrices"]])
        for m in batch.data["markets"]
    ] == [(row["id"], row["title"], row["outcome_prices"]) for row in markets]
    assert batch.sql == 1
    expected = await active_shares(db, holder.id)
    assert expected[position_id] == shares
    assert shares_by_position(after_trade) == expected
    assert redis_errors() > errors  # the operator sees the outage


async def reads_until_cached(
    gql: GraphQLClient, db: asyncpg.Connection, holder: Holder
) -> list[Answer]:
    """Portfolio reads, each checked against the rows, until one is served from the cache.

    The process stays off the cache until its background task has moved the epoch (up to
    two breaker pauses after Redis answers again); every read meanwhile must be right.
    """
    answers: list[Answer] = []
    deadline = time.monotonic() + 20 * TIMEOUT
    while time.monotonic() < deadline:
        answer = await ok(gql, "Portfolio", telegramId=holder.telegram_id)
        assert shares_by_position(answer) == await active_shares(db, holder.id), "stale read"
        answers.append(answer)
        if answer.sql == 0:
            return answers
        await asyncio.sleep(TIMEOUT / 4)
    raise AssertionError(f"the cache never served again: {[a.sql for a in answers]}")


async def test_after_a_restart_the_cache_refills_with_what_changed_during_the_outage(
    gql: GraphQLClient, redis_server: RedisServer, db: asyncpg.Connection, holder: Holder
) -> None:
    cached = await cold_then_warm(gql, "Portfolio", telegramId=holder.telegram_id)
    lost = lost_invalidations()

    redis_server.stop()
    position_id, shares = await buy_more(gql, db, holder, "5")
    assert lost_invalidations() == lost + 1
    redis_server.restart()  # same port, empty: nothing persists

    refilled = await reads_until_cached(gql, db, holder)

    assert shares_by_position(cached)[position_id] == shares - 5
    assert shares_by_position(refilled[-1])[position_id] == shares
    assert lost_invalidations() == lost + 1


async def test_a_write_lost_while_redis_hangs_is_not_hidden_by_the_entries_it_kept(
    gql: GraphQLClient,
    app_settings: Settings,
    redis_server: RedisServer,
    db: asyncpg.Connection,
    holder: Holder,
) -> None:
    cached = await cold_then_warm(gql, "Portfolio", telegramId=holder.telegram_id)
    control = Redis.from_url(redis_server.url, socket_timeout=REQUEST_LIMIT)
    version_key = KeyNames(app_settings.cache_prefix).version(positions_scope(holder.id, "ACTIVE"))
    try:
        version = await control.get(version_key)
        assert version is not None
        lost = lost_invalidations()

        # Every client is paused and the data stays: the app's commands time out.
        await control.client_pause(1000, all=True)
        paused_at = time.monotonic()
        position_id, shares = await buy_more(gql, db, holder, "5")
        answered_at = time.monotonic()
        assert answered_at - paused_at < 1.0, "the trade waited for the pause to end"
        assert lost_invalidations() == lost + 1
        await control.ping()  # held back by Redis until the pause is over
        # The bump never landed: the cached lists still match their version, so only the
        # epoch can keep readers from them.
        assert await control.get(version_key) == version
    finally:
        await control.aclose()

    answers = await reads_until_cached(gql, db, holder)

    assert shares_by_position(cached)[position_id] == shares - 5
    assert shares_by_position(answers[-1])[position_id] == shares
    # Everything cached before the hang was retired, not just this user's entries: the first
    # read through the cache again went to PostgreSQL for all three loaders.
    assert next(a.sql for a in answers if a.redis > 0) == 3


@pytest.fixture
async def on_cluster(
    settings: Settings, seeded: str, tmp_path: Path
) -> AsyncIterator[tuple[GraphQLClient, list[RedisServer]]]:
    """An app caching in a cluster of the test's own (the test takes nodes down), and its nodes."""
    with running_cluster(tmp_path / "cluster") as cluster:
        cached = settings.replace(
            redis_url=cluster.url,
            redis_cluster=True,
            cache_prefix=unique_prefix(),
            redis_timeout=TIMEOUT,
            redis_retry_after=TIMEOUT,
        )
        async with serving(cached) as http:
            yield GraphQLClient(http), cluster.nodes


async def test_a_cluster_with_no_node_answering_is_an_outage_like_any_other(
    on_cluster: tuple[GraphQLClient, list[RedisServer]], holder: Holder
) -> None:
    gql, nodes = on_cluster
    cached = await cold_then_warm(gql, "Portfolio", telegramId=holder.telegram_id)
    for node in nodes:
        node.stop()

    answer = await ok(gql, "Portfolio", telegramId=holder.telegram_id)

    assert answer.data == cached.data


async def test_a_cluster_node_down_costs_a_request_no_more_than_the_timeout(
    on_cluster: tuple[GraphQLClient, list[RedisServer]], holder: Holder
) -> None:
    gql, nodes = on_cluster
    cached = await cold_then_warm(gql, "Portfolio", telegramId=holder.telegram_id)
    nodes[-1].stop()  # its slots hold some of the markets every Portfolio reads

    started = time.monotonic()
    async with asyncio.timeout(30):  # bounded even as it is today
        answer = await gql(DOCUMENTS, {"telegramId": holder.telegram_id}, "Portfolio")
    elapsed = time.monotonic() - started

    assert answer.errors == []
    assert answer.data == cached.data
    assert elapsed < 5 * TIMEOUT, f"the request took {elapsed:.2f}s with one node down"
