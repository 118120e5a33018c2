"""What the ingestion tests share: a database of their own, a local feed, a running worker.

The worker reprices real markets, which no other test may see, so these tests seed a database
of their own with the real snapshot (the same seed as the session's). Every worker gets its own
cache prefix, hence its own Redis keys and trigger stream, and a fast schedule (flush every
0.1 s, refresh every 0.2 s) so that each test takes a second or two.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
import redis.asyncio

from cache.store import connect as connect_cache
from ingestion.worker import Worker
from settings import Settings
from sql.database import Database, create_pool
from sql.databases import scratch_database
from tests.conftest import unique_prefix
from tests.ingestion.feed_server import FeedServer

# Followed besides the markets holding ACTIVE positions (kept small: the tests need a few).
TOP_MARKETS = 20


@pytest.fixture(scope="session")
async def ingest_url(server_url: str) -> AsyncIterator[str]:
    from seed import seed_database

    async with scratch_database(server_url, "ingest") as url:
        connection = await asyncpg.connect(url)
        try:
            await seed_database(connection, users=60, seed=7)
        finally:
            await connection.close()
        yield url


@pytest.fixture
async def feed() -> AsyncIterator[FeedServer]:
    server = await FeedServer().start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def ingest_settings(ingest_url: str, redis_url: str, feed: FeedServer) -> Settings:
    return Settings(
        database_url=ingest_url,
        redis_url=redis_url,
        cache_prefix=unique_prefix(),
        app_env="test",
        pool_max_size=3,
        feed_url=feed.url,
        ingest_flush_interval=0.1,
        ingest_refresh_interval=0.2,
        ingest_ping_interval=0.2,
        ingest_top_markets=TOP_MARKETS,
    )


@pytest.fixture
async def ingest_db(ingest_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(ingest_url)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def stream(ingest_settings: Settings, redis_url: str) -> AsyncIterator[TriggerReader]:
    client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    try:
        yield TriggerReader(client, ingest_settings.trigger_stream_key)
    finally:
        await client.delete(ingest_settings.trigger_stream_key)
        await client.aclose()


@dataclass
class TriggerReader:
    client: redis.asyncio.Redis
    key: str

    async def entries(self) -> list[dict[str, str]]:
        """Every entry of the test's trigger stream, oldest first, as text."""
        found = await self.client.xrange(self.key)
        return [{str(k): str(v) for k, v in (fields or {}).items()} for _, fields in found or []]


@asynccontextmanager
async def running(
    settings: Settings, adjust: Callable[[Worker], Any] | None = None
) -> AsyncIterator[Worker]:
    """A worker running against the test's feed until the block ends (then it stops, flushing)."""
    assert settings.database_url is not None
    assert settings.redis_url is not None
    pool = await create_pool(settings.database_url, settings)
    cache = connect_cache(settings, settings.redis_url)
    worker = Worker(settings, Database(pool), cache)
    if adjust is not None:
        adjust(worker)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield worker
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await cache.close()
        await pool.close()


@dataclass(frozen=True)
class Followed:
    """A two-outcome market the worker follows, with its tokens in outcome order."""

    id: str
    yes: str
    no: str


async def followed_markets(db: asyncpg.Connection, count: int) -> list[Followed]:
    """The `count` most traded open markets: the worker follows them whatever the positions."""
    rows = await db.fetch(
        """
        SELECT id, clob_token_ids FROM market
        WHERE active AND NOT resolved ORDER BY volume DESC, id LIMIT $1
        """,
        min(count, TOP_MARKETS),
    )
    assert len(rows) == min(count, TOP_MARKETS)
    return [Followed(r["id"], r["clob_token_ids"][0], r["clob_token_ids"][1]) for r in rows]


async def prices_of(db: asyncpg.Connection, market_ids: list[str]) -> dict[str, list[Decimal]]:
    rows = await db.fetch(
        "SELECT id, outcome_prices FROM market WHERE id = ANY($1::text[])", market_ids
    )
    return {r["id"]: list(r["outcome_prices"]) for r in rows}
