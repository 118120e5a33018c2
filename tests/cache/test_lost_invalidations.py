"""A bump that could not reach Redis, made good by the epoch, forced step by step.

Two apps share a Redis and a key prefix, as two server processes do; app A reaches Redis
through a link the test cuts (tests/cache/redis_servers.RedisLink), so A's trade commits while
its version bump fails at once, and the stale entries stay valid by their versions. What stands
between readers and them (cache/store.py):

- A keeps off the cache while the loss is not covered (`CacheStore.available`), even once
  Redis answers again: it reads PostgreSQL until it has moved the epoch;
- A moves the epoch when Redis answers;
- every entry carries the epoch it was filled under, and a read takes it only under the
  current one; a kept answer likewise (cache/answers.FIND).

So once A is back on the cache, B, which never saw the trade, reads it too. Each protection has
its control: the same steps with it taken out serve the old positions. Between the cut and
A's recovery, B serves the old positions: the window docs/cache.md states and the tests show
first, so that each control has stale entries to find.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal

import asyncpg
import httpx
import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from starlette.applications import Starlette

import cache.answers
from app import create_app
from cache.keys import KeyNames, positions_scope
from cache.read_through import CacheSession
from cache.store import CacheStore
from settings import Settings
from tests.cache.races import TIMEOUT, epoch_blind_find, hit_ignoring
from tests.cache.redis_servers import RedisLink, linked
from tests.cache.test_interleaving import buy, shares_in_database, shares_of
from tests.conftest import GraphQLClient, unique_prefix
from tests.factories import Holder, insert_holder

RETRY_AFTER = 0.05  # A's breaker pause, and the delay before its recovery moves the epoch


@pytest.fixture
async def holder(seeded: str, db: asyncpg.Connection, new_telegram_id: Callable[[], str]) -> Holder:
    return await insert_holder(db, new_telegram_id(), 2)


@pytest.fixture
async def link(redis_url: str) -> AsyncIterator[RedisLink]:
    async with linked(redis_url) as opened:
        yield opened


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """The test's own connection, to look at versions and the epoch."""
    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[Starlette, GraphQLClient]]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield app, GraphQLClient(http)


def lost_invalidations() -> float:
    return REGISTRY.get_sample_value("polycool_cache_lost_invalidations_total") or 0.0


async def until_back_on_the_cache(store: CacheStore) -> None:
    """Until the store uses Redis again (A's recovery has run), bounded. The store has no event
    to wait on: its `available` is looked at every few milliseconds."""
    async with asyncio.timeout(TIMEOUT):
        while not store.available:  # noqa: ASYNC110
            await asyncio.sleep(RETRY_AFTER / 5)


@dataclass
class Shares:
    before: list[Decimal]  # what both apps read before the trade
    in_database: list[Decimal]  # after the trade
    on_b_meanwhile: list[Decimal]  # B, before A was back on the cache
    on_b: list[Decimal]  # B, once A was back
    on_a: list[Decimal]  # A, once it was back
    epoch_moved: bool


async def trade_whose_bump_is_lost(
    settings: Settings, db: asyncpg.Connection, holder: Holder, link: RedisLink, redis: Redis
) -> Shares:
    """A and B read the holder's positions; A's trade loses its bump; A comes back."""
    prefix = unique_prefix()
    names = KeyNames(prefix)
    version = names.version(positions_scope(holder.id, "ACTIVE"))
    on_b_settings = settings.replace(cache_prefix=prefix, redis_retry_after=RETRY_AFTER)
    on_a_settings = on_b_settings.replace(redis_url=link.url)
    user = holder.telegram_id
    async with running(on_a_settings) as (app_a, a), running(on_b_settings) as (_, b):
        before, _ = await shares_of(b, user)  # fills the entries, and keeps B's answer
        assert await shares_of(a, user) == (before, 0)  # A reads the same entries
        epoch, token = await redis.get(names.epoch), await redis.get(version)
        lost = lost_invalidations()

        link.cut()
        await buy(a, db, user)  # committed; the bump failed at once
        assert lost_invalidations() == lost + 1
        assert await redis.get(version) == token  # the stale entries still match their version
        meanwhile, _ = await shares_of(b, user)

        link.restore()
        await until_back_on_the_cache(app_a.state.cache)
        on_b, _ = await shares_of(b, user)
        on_a, _ = await shares_of(a, user)
        moved = await redis.get(names.epoch) != epoch
    in_database = await shares_in_database(db, user)
    assert before != in_database
    assert meanwhile == before  # the stale entries were there, for B to serve
    return Shares(before, in_database, meanwhile, on_b, on_a, moved)


async def test_once_the_process_that_lost_a_bump_is_back_every_process_reads_the_write(
    settings: Settings, db: asyncpg.Connection, holder: Holder, link: RedisLink, redis: Redis
) -> None:
    shares = await trade_whose_bump_is_lost(settings, db, holder, link, redis)
    assert shares.epoch_moved
    assert shares.on_b == shares.in_database
    assert shares.on_a == shares.in_database


async def test_control_back_without_moving_the_epoch_the_other_process_serves_the_old_value(
    settings: Settings,
    db: asyncpg.Connection,
    holder: Holder,
    link: RedisLink,
    redis: Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def back_without_moving(self: CacheStore) -> None:
        # A recovery that forgets the other processes: once Redis answers, this process goes
        # back to the cache, and the epoch stays where it was.
        while self._covered != self._lost:
            await asyncio.sleep(self.retry_after)
            target = self._lost
            if await self._send("epoch", lambda pipeline: pipeline.ping()) is not None:
                self._covered = target

    monkeypatch.setattr(CacheStore, "_move_epoch_when_back", back_without_moving)
    shares = await trade_whose_bump_is_lost(settings, db, holder, link, redis)
    assert not shares.epoch_moved
    assert shares.on_b == shares.before != shares.in_database


async def test_control_entries_read_whatever_their_epoch_serve_the_old_value(
    settings: Settings,
    db: asyncpg.Connection,
    holder: Holder,
    link: RedisLink,
    redis: Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # B's kept answer fails on the moved epoch; B executes, and its loaders find the entries.
    monkeypatch.setattr(CacheSession, "_hit", hit_ignoring(epoch=True))
    shares = await trade_whose_bump_is_lost(settings, db, holder, link, redis)
    assert shares.epoch_moved
    assert shares.on_b == shares.before != shares.in_database


async def test_control_answers_found_whatever_their_epoch_serve_the_old_value(
    settings: Settings,
    db: asyncpg.Connection,
    holder: Holder,
    link: RedisLink,
    redis: Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cache.answers, "FIND", epoch_blind_find())
    shares = await trade_whose_bump_is_lost(settings, db, holder, link, redis)
    assert shares.epoch_moved
    assert shares.on_b == shares.before != shares.in_database


async def read_after_the_breaker_pause_before_the_epoch_moved(
    settings: Settings, db: asyncpg.Connection, holder: Holder, link: RedisLink
) -> tuple[list[Decimal], list[Decimal], list[Decimal]]:
    """(What A read before its trade, what is in the database, what A reads once its breaker
    pause is over but before its recovery has moved the epoch.)

    A's clock is the test's: the pause ends when the test says, while the recovery, which
    waits as long in real time, is still asleep.
    """
    skipped = 0.0
    retry_after = 60.0  # the recovery's first try comes after the test is over
    changed = settings.replace(
        cache_prefix=unique_prefix(), redis_url=link.url, redis_retry_after=retry_after
    )
    async with running(changed) as (app, a):
        store: CacheStore = app.state.cache
        store._clock = lambda: time.monotonic() + skipped
        before, _ = await shares_of(a, holder.telegram_id)  # fills the entries and the answer
        link.cut()
        await buy(a, db, holder.telegram_id)  # the bump fails: lost
        link.restore()
        skipped = retry_after + 1  # the breaker's pause is over; the epoch has not moved
        after, _ = await shares_of(a, holder.telegram_id)
    return before, await shares_in_database(db, holder.telegram_id), after


async def test_a_process_that_lost_a_bump_reads_postgresql_until_the_epoch_moved(
    settings: Settings, db: asyncpg.Connection, holder: Holder, link: RedisLink
) -> None:
    before, in_database, after = await read_after_the_breaker_pause_before_the_epoch_moved(
        settings, db, holder, link
    )
    assert before != in_database
    assert after == in_database


async def test_control_back_on_the_cache_before_the_epoch_moved_serves_the_old_value(
    settings: Settings,
    db: asyncpg.Connection,
    holder: Holder,
    link: RedisLink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `available` with its breaker pause alone: lost bumps no longer keep the process away.
    monkeypatch.setattr(
        CacheStore, "available", property(lambda store: store._clock() >= store._down_until)
    )
    before, in_database, after = await read_after_the_breaker_pause_before_the_epoch_moved(
        settings, db, holder, link
    )
    assert after == before != in_database
