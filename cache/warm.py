"""Cache warming: the most traded markets at start, and the markets a price write changed.

At start, two statements, not one: the ids of the top markets, then the markets the cache
lacks. The versions must be read before the rows (stale-set protection), and the ids must be
known before the versions can be read.

After a price write (updateMarketPrices, each ingestion flush) has committed and retired its
markets, the writer reads them back through the cache: one statement and two round trips for
every market it changed, instead of a miss, and a statement, in each request that reads one of
them first. It is an ordinary read-through, so the stale-set rule holds: if another write
retires a market again meanwhile, this fill is dropped.

Ahead of expiry: the markets the bot reads (those holding ACTIVE positions and the most traded
open ones, the set the ingestion worker follows) are read again from PostgreSQL every half
price TTL, cached or not, in one statement, by one process of the deployment at a time (a Redis
lease). Their entries then never expire under readers: a hot market no longer costs a miss, and
a statement, to the first request after each TTL. The TTL still bounds how old a cached market
can be, since every entry is re-read from PostgreSQL within it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import sql
from cache.kinds import MARKET
from cache.read_through import CacheSession
from cache.store import CacheStore, new_token
from sql.database import Database

log = logging.getLogger(__name__)


async def warm_markets(store: CacheStore, database: Database, count: int) -> int:
    """Load the `count` most traded markets into the cache; return how many were read."""
    if count <= 0:
        return 0
    ids = [row["id"] for row in await database.fetch(sql.TOP_MARKETS, count)]
    found = await _read_through(store, database, ids)
    log.info("cache warmed with the %d most traded markets", found)
    return found


async def refill_markets(store: CacheStore, database: Database, ids: Sequence[str]) -> None:
    """After a price write returned: its markets read back into the cache. Never raises: the
    write is done, and a reader would only miss as it would have anyway."""
    try:
        await _read_through(store, database, ids)
    except Exception as error:  # the pool busy or the database gone: the readers will miss
        log.warning("could not refill %d markets: %s: %s", len(ids), type(error).__name__, error)


async def keep_markets_warm(store: CacheStore, database: Database, top: int, every: float) -> None:
    """Forever: every `every` seconds, unless another process holds the round's lease, read
    the followed markets again (one statement for their ids, one for the rows)."""
    lease = store.keys.refresh_lease
    while True:
        await asyncio.sleep(every)
        taken = await store.run(
            "refresh",
            lambda pipeline: pipeline.set(lease, new_token(), nx=True, px=int(every * 900)),
        )
        if not taken or not taken[0]:
            continue  # another process refreshes this round, or Redis is away
        try:
            ids = [row["id"] for row in await database.fetch(sql.TRACKED_MARKETS, top)]
            refreshed = await CacheSession(store).refresh(MARKET, ids, MARKET.reader(database))
        except Exception as error:  # the database away or busy: the next round tries again
            log.warning("market refresh failed: %s: %s", type(error).__name__, error)
            continue
        log.debug("refreshed %d markets ahead of expiry", refreshed)


async def _read_through(store: CacheStore, database: Database, ids: Sequence[str]) -> int:
    return len(await CacheSession(store).read_through(MARKET, ids, MARKET.reader(database)))
