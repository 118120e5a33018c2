"""Triggered levels reach the trading service's stream through the outbox, even past an outage.

updateMarketPrices relays what fired right after its commit and deletes the outbox rows; a
relay that fails leaves them for the ingestion worker's sweep, which relays them only once
Redis takes them.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest
import redis.asyncio

from cache.store import CacheStore
from cache.store import connect as connect_cache
from settings import Settings
from sql.database import Database, create_pool
from tests.conftest import GraphQLClient
from tests.writes.conftest import NewMarket, NewUser, run
from writes.triggers import Triggered, TriggerStream, relay_unrelayed, relayed_key


async def stream_entries(redis_url: str, key: str) -> list[dict[str, str]]:
    client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    try:
        found = await client.xrange(key)
    finally:
        await client.aclose()
    return [{str(k): str(v) for k, v in (fields or {}).items()} for _, fields in found or []]


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    assert settings.database_url is not None
    pool = await create_pool(settings.database_url, settings)
    try:
        yield Database(pool)
    finally:
        await pool.close()


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[CacheStore]:
    assert settings.redis_url is not None
    cache = connect_cache(settings, settings.redis_url)
    try:
        yield cache
    finally:
        await cache.close()


async def test_update_market_prices_publishes_what_fired_and_empties_the_outbox(
    gql: GraphQLClient,
    db: asyncpg.Connection,
    settings: Settings,
    redis_url: str,
    new_user: NewUser,
    own_market: NewMarket,
) -> None:
    user = await new_user()
    market = await own_market(prices=[Decimal("0.5"), Decimal("0.5")])
    bought = await run(
        gql,
        "RecordTrade",
        input={
            "telegramId": user.telegram_id,
            "marketId": market.id,
            "outcome": "No",
            "side": "BUY",
            "shares": "3",
            "price": "0.5",
        },
    )
    position_id = bought.data["recordTrade"]["position"]["id"]
    await run(gql, "SetTpSl", positionId=position_id, stopLossPrice="0.3")

    answer = await run(
        gql,
        "UpdateMarketPrices",
        updates=[{"marketId": market.id, "outcomePrices": ["0.75", "0.25"]}],
    )

    [fired] = answer.data["updateMarketPrices"]["triggered"]
    assert fired["positionId"] == position_id
    entries = [
        e
        for e in await stream_entries(redis_url, settings.trigger_stream_key)
        if e["position_id"] == position_id
    ]
    assert len(entries) == 1
    assert entries[0]["kind"] == "STOP_LOSS"
    assert entries[0]["price"] == "0.25"
    assert entries[0]["user_id"] == str(user.id)
    assert entries[0]["telegram_id"] == user.telegram_id
    assert entries[0]["market_id"] == market.id
    assert (
        await db.fetchval(
            "SELECT count(*) FROM trigger_outbox WHERE position_id = $1", int(position_id)
        )
        == 0
    )


async def test_a_failed_relay_stays_in_the_outbox_until_the_sweep_relays_it(
    db: asyncpg.Connection,
    database: Database,
    store: CacheStore,
    settings: Settings,
    redis_url: str,
) -> None:
    trigger_id = await db.fetchval(
        """
        INSERT INTO trigger_outbox (position_id, user_id, market_id, kind, price, fired_at)
        VALUES (-1, -1, 'outbox-test', 'TAKE_PROFIT', 0.9, now() - interval '1 minute')
        RETURNING id
        """
    )
    down = connect_cache(
        settings.replace(redis_timeout=0.2), f"redis://127.0.0.1:{closed_port()}/0"
    )
    try:
        assert await relay_unrelayed(database, TriggerStream(down, "unreachable"), 30) == 0
    finally:
        await down.close()
    assert await db.fetchval("SELECT count(*) FROM trigger_outbox WHERE id = $1", trigger_id) == 1

    stream = TriggerStream(store, settings.trigger_stream_key)
    # Younger than the age asked for: left to its writer, which may still be relaying it.
    assert trigger_id not in await relayed_ids(database, stream, 120, redis_url, settings)
    assert trigger_id in await relayed_ids(database, stream, 30, redis_url, settings)
    assert await db.fetchval("SELECT count(*) FROM trigger_outbox WHERE id = $1", trigger_id) == 0


async def relayed_ids(
    database: Database, stream: TriggerStream, older_than: float, redis_url: str, settings: Settings
) -> set[int]:
    await relay_unrelayed(database, stream, older_than)
    entries = await stream_entries(redis_url, settings.trigger_stream_key)
    return {int(e["trigger_id"]) for e in entries}


async def test_a_trigger_relayed_again_is_in_the_stream_once(
    store: CacheStore, settings: Settings, redis_url: str
) -> None:
    """A crash between the XADD and the outbox delete sends the row again: the stream (and so
    the bot's subscription) still holds it once. Control: with the relayed ids forgotten
    between the two sends, the same check finds it twice."""
    key = f"{settings.cache_prefix}:relay-test-{secrets.token_hex(4)}"
    stream = TriggerStream(store, key)

    async def copies_after_two_sends(forget: bool) -> int:
        trigger = Triggered(
            trigger_id=secrets.randbelow(10**12),
            position_id=1,
            user_id=1,
            telegram_id=42,
            market_id="relay-test",
            kind="TAKE_PROFIT",
            price=Decimal("0.6"),
            fired_at=datetime.now(UTC),
        )
        assert await stream.publish([trigger])
        if forget:
            client = redis.asyncio.Redis.from_url(redis_url)
            try:
                await client.delete(relayed_key(key))
            finally:
                await client.aclose()
        assert await stream.publish([trigger])
        entries = await stream_entries(redis_url, key)
        return sum(e["trigger_id"] == str(trigger.trigger_id) for e in entries)

    assert await copies_after_two_sends(forget=False) == 1
    assert await copies_after_two_sends(forget=True) == 2


async def test_a_new_trigger_with_an_old_outbox_id_is_sent(
    store: CacheStore, settings: Settings, redis_url: str
) -> None:
    """A new database numbers its outbox from 1 again while Redis keeps the relayed set: a
    trigger with a number already relayed, fired at another time, is a new one."""
    key = f"{settings.cache_prefix}:relay-test-{secrets.token_hex(4)}"
    stream = TriggerStream(store, key)
    fired_at = datetime.now(UTC)
    first = Triggered(1, 1, 1, 42, "relay-test", "TAKE_PROFIT", Decimal("0.6"), fired_at)
    later = fired_at + timedelta(seconds=1)
    again = Triggered(1, 7, 7, 43, "relay-test", "STOP_LOSS", Decimal("0.2"), later)
    assert await stream.publish([first])
    assert await stream.publish([again])
    entries = await stream_entries(redis_url, key)
    assert [e["position_id"] for e in entries] == ["1", "7"]
