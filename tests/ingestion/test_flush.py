"""The flush on its own, against the tests' database: statements counted, failures injected.

Two statements per flush for 1 market or 1,000 (the prices, then TP/SL); exactly the written
markets' cache versions move, and those markets are read back into the cache; a failed flush
keeps its prices and the next one writes the newest; a batch the database refuses for its data
is dropped instead of retried forever.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

import sql
from cache.keys import Scope
from cache.kinds import MARKET
from cache.read_through import CacheSession
from cache.store import CacheStore
from cache.store import connect as connect_cache
from ingestion.coalescer import Coalescer, TrackedMarket
from ingestion.feed import Tick
from ingestion.flush import Flusher
from settings import Settings
from sql.database import Database, create_pool
from tests.ingestion.conftest import TriggerReader, prices_of
from writes.triggers import TriggerStream


async def outbox(db: asyncpg.Connection, position_id: int) -> int:
    count: int = await db.fetchval(
        "SELECT count(*) FROM trigger_outbox WHERE position_id = $1", position_id
    )
    return count


class Unreachable(Database):
    """The database as seen during an outage: the next `failures` transactions cannot start."""

    def __init__(self, pool: asyncpg.Pool, failures: int) -> None:
        super().__init__(pool)
        self.failures = failures

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Database]:
        if self.failures:
            self.failures -= 1
            raise ConnectionRefusedError("injected: PostgreSQL is unreachable")
        async with super().transaction() as tx:
            yield tx


@pytest.fixture
async def pool(ingest_settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    assert ingest_settings.database_url is not None
    pool = await create_pool(ingest_settings.database_url, ingest_settings)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def cache(ingest_settings: Settings) -> AsyncIterator[CacheStore]:
    assert ingest_settings.redis_url is not None
    store = connect_cache(ingest_settings, ingest_settings.redis_url)
    try:
        yield store
    finally:
        await store.close()


async def tracked(db: asyncpg.Connection, count: int, offset: int = 0) -> list[TrackedMarket]:
    rows = await db.fetch(
        "SELECT id, clob_token_ids FROM market ORDER BY id LIMIT $1 OFFSET $2", count, offset
    )
    return [TrackedMarket(r["id"], tuple(r["clob_token_ids"]), None) for r in rows]


def flusher(
    database: Database, cache: CacheStore, settings: Settings, markets: list[TrackedMarket]
) -> tuple[Flusher, Coalescer]:
    coalescer = Coalescer()
    coalescer.track(markets)
    stream = TriggerStream(cache, settings.trigger_stream_key)
    return Flusher(database, cache, stream, coalescer, timeout=10), coalescer


@pytest.mark.parametrize("count", [1, 1000])
async def test_one_statement_writes_every_market_plus_one_for_tp_sl(
    ingest_db: asyncpg.Connection,
    pool: asyncpg.Pool,
    cache: CacheStore,
    ingest_settings: Settings,
    count: int,
) -> None:
    markets = await tracked(ingest_db, count, offset=1000)
    flush, coalescer = flusher(Database(pool), cache, ingest_settings, markets)
    price = "0." + str(count).zfill(4)
    coalescer.offer([Tick(m.token_ids[0], Decimal(price)) for m in markets], received_at=0.0)

    report = await flush.flush()

    assert (report.markets, report.statements, report.failed) == (count, 2, False)
    written = await prices_of(ingest_db, [m.id for m in markets])
    assert written == {m.id: [Decimal(price), 1 - Decimal(price)] for m in markets}
    # Nothing pending: the next flush costs nothing, but for deleting the outbox receipts of
    # seeded levels the first one may have fired.
    assert (await flush.flush()).statements == (1 if report.triggered else 0)


async def test_exactly_the_written_markets_cache_versions_move(
    ingest_db: asyncpg.Connection, pool: asyncpg.Pool, cache: CacheStore, ingest_settings: Settings
) -> None:
    markets = await tracked(ingest_db, 5, offset=2100)
    flush, coalescer = flusher(Database(pool), cache, ingest_settings, markets)
    names = [cache.keys.version(Scope("market", m.id)) for m in markets]
    await cache.client.mset({name: "before" for name in names})

    coalescer.offer([Tick(m.token_ids[1], Decimal("0.3")) for m in markets[:3]], received_at=0.0)
    await flush.flush()

    versions: list[Any] = await cache.client.mget(names)
    assert all(v != b"before" for v in versions[:3]), versions
    assert versions[3:] == [b"before", b"before"]


async def test_a_failed_flush_keeps_its_prices_and_a_later_one_writes_the_newest(
    ingest_db: asyncpg.Connection, pool: asyncpg.Pool, cache: CacheStore, ingest_settings: Settings
) -> None:
    first, second = await tracked(ingest_db, 2, offset=2200)
    outage = Unreachable(pool, failures=2)
    flush, coalescer = flusher(outage, cache, ingest_settings, [first, second])
    before = await prices_of(ingest_db, [first.id, second.id])

    coalescer.offer(
        [Tick(first.token_ids[0], Decimal("0.31")), Tick(second.token_ids[0], Decimal("0.61"))],
        received_at=1.0,
    )
    assert (await flush.flush()).failed
    coalescer.offer([Tick(first.token_ids[0], Decimal("0.32"))], received_at=2.0)  # newer
    assert (await flush.flush()).failed
    assert await prices_of(ingest_db, [first.id, second.id]) == before  # nothing written
    assert len(coalescer) == 2

    report = await flush.flush()

    assert (report.failed, report.markets, report.statements) == (False, 2, 2)
    assert await prices_of(ingest_db, [first.id, second.id]) == {
        first.id: [Decimal("0.32"), Decimal("0.68")],
        second.id: [Decimal("0.61"), Decimal("0.39")],
    }


async def test_a_batch_the_database_refuses_is_dropped_not_retried_forever(
    ingest_db: asyncpg.Connection, pool: asyncpg.Pool, cache: CacheStore, ingest_settings: Settings
) -> None:
    [market] = await tracked(ingest_db, 1, offset=2300)
    # Believed to have three outcomes: three prices for a two-outcome row break its CHECK.
    wrong = TrackedMarket(market.id, (*market.token_ids, "a-third-token"), None)
    flush, coalescer = flusher(Database(pool), cache, ingest_settings, [wrong])
    coalescer.offer(
        [Tick(t, Decimal("0.3")) for t in market.token_ids]
        + [Tick("a-third-token", Decimal("0.4"))],
        received_at=0.0,
    )
    assert (await flush.flush()).failed
    assert len(coalescer) == 0
    assert (await flush.flush()).statements == 0


async def test_fired_levels_reach_the_stream_and_their_receipts_ride_on_the_next_flush(
    ingest_db: asyncpg.Connection,
    pool: asyncpg.Pool,
    cache: CacheStore,
    ingest_settings: Settings,
    stream: TriggerReader,
) -> None:
    first, second = await tracked(ingest_db, 2, offset=2400)
    user_id = await ingest_db.fetchval(
        "INSERT INTO app_user (telegram_id) VALUES ($1) RETURNING id",
        7_700_000_000 + secrets.randbelow(10**9),
    )
    position_id = await ingest_db.fetchval(
        """
        INSERT INTO position (user_id, market_id, outcome, shares, entry_price, take_profit_price)
        SELECT $1, id, outcomes[1], 10, 0.5, 0.7 FROM market WHERE id = $2
        RETURNING id
        """,
        user_id,
        first.id,
    )
    flush, coalescer = flusher(Database(pool), cache, ingest_settings, [first, second])

    coalescer.offer([Tick(first.token_ids[0], Decimal("0.72"))], received_at=0.0)
    report = await flush.flush()

    assert [(t.position_id, t.kind, t.price) for t in report.triggered] == [
        (position_id, "TAKE_PROFIT", Decimal("0.72"))
    ]
    assert report.statements == 2
    [entry] = await stream.entries()
    assert entry["position_id"] == str(position_id)
    assert entry["kind"] == "TAKE_PROFIT"
    assert entry["price"] == "0.72"
    assert entry["trigger_id"] == str(report.triggered[0].trigger_id)
    assert flush.receipts == [report.triggered[0].trigger_id]
    assert await outbox(ingest_db, position_id) == 1

    # The next flush deletes the receipt within its two statements...
    coalescer.offer([Tick(second.token_ids[0], Decimal("0.5"))], received_at=1.0)
    assert (await flush.flush()).statements == 2
    assert await outbox(ingest_db, position_id) == 0
    assert flush.receipts == []
    # ...and the level, consumed, does not fire again.
    coalescer.offer([Tick(first.token_ids[0], Decimal("0.8"))], received_at=2.0)
    assert (await flush.flush()).triggered == []
    assert len(await stream.entries()) == 1


async def test_the_written_markets_are_read_back_into_the_cache(
    ingest_db: asyncpg.Connection, pool: asyncpg.Pool, cache: CacheStore, ingest_settings: Settings
) -> None:
    markets = await tracked(ingest_db, 3, offset=2000)
    flush, coalescer = flusher(Database(pool), cache, ingest_settings, markets[:2])
    coalescer.offer([Tick(m.token_ids[0], Decimal("0.3")) for m in markets[:2]], received_at=0.0)

    report = await flush.flush()
    assert report.written == sorted(m.id for m in markets[:2])

    # A reader finds the two written markets in the cache, at their new prices, and reads
    # only the third from PostgreSQL.
    statements: list[list[str]] = []

    async def select(missing: list[str]) -> dict[str, Any]:
        statements.append(missing)
        rows = await ingest_db.fetch(sql.MARKETS_BY_ID, missing)
        return {row["id"]: row for row in rows}

    found = await CacheSession(cache).read_through(MARKET, [m.id for m in markets], select)
    assert statements == [[markets[2].id]]
    assert [found[m.id]["outcome_prices"][0] for m in markets[:2]] == [Decimal("0.3")] * 2
