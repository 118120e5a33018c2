"""Cache warming at start: the most traded markets, read through the cache once.

Two statements, not one: the ids of the top markets, then the markets the cache lacks. The
versions must be read before the rows (stale-set protection), and the ids must be known
before the versions can be read.
"""

from __future__ import annotations

import logging

import sql
from cache.read_through import CacheSession
from cache.store import CacheStore
from database import Database, Row
from loaders.markets import MARKET

log = logging.getLogger(__name__)


async def warm_markets(store: CacheStore, database: Database, count: int) -> int:
    """Load the `count` most traded markets into the cache; return how many were read."""
    if count <= 0:
        return 0
    ids = [row["id"] for row in await database.fetch(sql.TOP_MARKETS, count)]

    async def select(missing: list[str]) -> dict[str, Row]:
        return {row["id"]: row for row in await database.fetch(sql.MARKETS_BY_ID, missing)}

    found = await CacheSession(store).read_through(MARKET, ids, select)
    log.info("cache warmed with the %d most traded markets", len(found))
    return len(found)
