"""A batch bigger than one slice of the fill script's MGET of versions (1,000 names: unpack()
of many more would overflow Lua's stack) fills every entry: read cold, then read again with no
miss at all.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from cache.kinds import MARKET
from cache.read_through import CacheSession
from cache.store import connect
from settings import Settings
from sql.database import Database
from tests.conftest import unique_prefix


async def test_a_batch_of_2500_markets_is_filled_whole_by_one_script(
    settings: Settings, seeded: str, db: asyncpg.Connection
) -> None:
    ids = [row["id"] for row in await db.fetch("SELECT id FROM market ORDER BY id LIMIT 2500")]
    assert len(ids) == 2500
    store = connect(settings.replace(cache_prefix=unique_prefix()), settings.redis_url or "")
    pool = await asyncpg.create_pool(seeded, min_size=1, max_size=2)
    misses: list[list[str]] = []
    try:
        read = MARKET.reader(Database(pool))

        async def counted(missing: list[str]) -> dict[str, Any]:
            misses.append(missing)
            return await read(missing)

        cold = await CacheSession(store).read_through(MARKET, ids, counted)
        warm = await CacheSession(store).read_through(MARKET, ids, counted)
    finally:
        await store.close()
        await pool.close()
    assert misses == [ids]  # the second read found all 2,500
    assert warm == {
        key: {name: value for name, value in row.items() if name != "key"}
        for key, row in cold.items()
    }
