"""A batch bigger than one slice of the fill script's MGET of versions (1,000 names: unpack()
of many more would overflow Lua's stack) fills every entry: read cold, then read again with no
miss at all.
"""

from __future__ import annotations

import asyncpg

from cache.kinds import MARKET
from settings import Settings
from tests.cache.test_kinds import read_twice


async def test_a_batch_of_2500_markets_is_filled_whole_by_one_script(
    settings: Settings, seeded: str, db: asyncpg.Connection
) -> None:
    ids = [row["id"] for row in await db.fetch("SELECT id FROM market ORDER BY id LIMIT 2500")]
    assert len(ids) == 2500
    cold, warm, misses = await read_twice(settings, seeded, MARKET, ids)
    assert misses == [ids]  # the second read found all 2,500
    assert warm == {
        key: {name: value for name, value in row.items() if name != "key"}
        for key, row in cold.items()
    }
