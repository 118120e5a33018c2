"""Several entries under one scope, read in one batch when its version is not in Redis yet.

The wallets' reads (feed pages, leaderboard pages, wallets by address) share one scope per kind
of change, so a batch fills many entries under a version none of them has seen. The fill script
creates the version once, with the one fresh token the batch's items share, and writes every
entry under it; the control, without the branch that lets the items after the first write,
fills one entry and leaves the others to miss again. A bump between the SQL and the fill still
drops every entry of the batch.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

import cache.read_through
from cache import kinds
from cache.keys import WALLET_STATS
from cache.read_through import CacheSession
from cache.store import CacheStore, connect
from settings import Settings
from sql.database import Database
from tests.cache.races import _without
from tests.conftest import unique_prefix


@pytest.fixture
async def store(settings: Settings, seeded: str) -> AsyncIterator[CacheStore]:
    store = connect(settings.replace(cache_prefix=unique_prefix()), settings.redis_url or "")
    yield store
    await store.close()


@pytest.fixture
async def database(seeded: str) -> AsyncIterator[Database]:
    pool = await asyncpg.create_pool(seeded, min_size=1, max_size=2)
    yield Database(pool)
    await pool.close()


async def addresses(db: asyncpg.Connection, count: int) -> list[str]:
    rows = await db.fetch("SELECT address FROM wallet ORDER BY address LIMIT $1", count)
    return [row["address"] for row in rows]


async def read(
    store: CacheStore, database: Database, keys: list[Any]
) -> tuple[dict[Any, Any], list[list[Any]], CacheSession]:
    reader = kinds.WALLET.reader(database)
    misses: list[list[Any]] = []

    async def counted(missing: list[Any]) -> dict[Any, Any]:
        misses.append(missing)
        return await reader(missing)

    session = CacheSession(store)
    return await session.read_through(kinds.WALLET, keys, counted), misses, session


async def test_one_batch_fills_every_entry_of_a_new_scope(
    store: CacheStore, database: Database, db: asyncpg.Connection
) -> None:
    keys = await addresses(db, 5)
    cold, misses, session = await read(store, database, keys)
    assert misses == [keys]
    assert len(cold) == 5
    # One token noted for the scope: the one the fill created it with.
    version = store.keys.version(WALLET_STATS)
    created = await store.client.get(version)
    assert isinstance(created, bytes)
    assert session.reads.versions[version] == created.decode()
    warm, misses, _ = await read(store, database, keys)
    assert misses == []
    assert warm.keys() == cold.keys()


async def test_control_without_the_shared_token_only_the_first_entry_is_filled(
    store: CacheStore,
    database: Database,
    db: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keys = await addresses(db, 5)
    edited = _without(
        cache.read_through.FILL,
        "elseif seen == '' and current[version] == fresh then\n    token = fresh\n",
        "",
    )
    monkeypatch.setattr(cache.read_through, "FILL", edited)
    await read(store, database, keys)
    _, misses, _ = await read(store, database, keys)
    assert len(misses) == 1
    assert len(misses[0]) == 4


async def test_a_bump_between_the_sql_and_the_fill_drops_every_entry(
    store: CacheStore, database: Database, db: asyncpg.Connection
) -> None:
    keys = await addresses(db, 5)

    async def bump(kind: str) -> None:
        await store.bump([WALLET_STATS])

    store.before_fill = bump
    await read(store, database, keys)
    store.before_fill = None
    _, misses, _ = await read(store, database, keys)
    assert misses == [keys]


async def test_a_key_without_a_row_rests_on_the_token_its_batch_created(
    store: CacheStore, database: Database, db: asyncpg.Connection
) -> None:
    keys = [*await addresses(db, 2), "0x" + "0" * 40]  # the last is watched by nobody
    cold, _, session = await read(store, database, keys)
    assert len(cold) == 2
    created = await store.client.get(store.keys.version(WALLET_STATS))
    assert isinstance(created, bytes)
    assert session.reads.versions[store.keys.version(WALLET_STATS)] == created.decode()
