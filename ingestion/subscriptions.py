"""Which tokens the feed must carry, kept current without a restart.

The worker follows every market holding an ACTIVE position and the INGEST_TOP_MARKETS most
traded open ones: one statement (sql/tracked_markets.sql), re-read every
INGEST_REFRESH_INTERVAL. Polling, not LISTEN/NOTIFY: one cheap statement every few seconds is a
bounded load, needs no trigger on `position`, and cannot miss a change while disconnected. The
rows also give each token's market and outcome (the coalescer's map), so a flush never reads a
market.

`Subscriptions` holds one connection's token set (one shard's, shards.py) and what changed since
the connection last heard of it: an open connection sends the difference as subscribe /
unsubscribe messages, a new one subscribes to the whole set (which supersedes any difference not
yet sent).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import sql
from ingestion.coalescer import TrackedMarket
from sql.database import Database


async def tracked_markets(database: Database, top: int) -> list[TrackedMarket]:
    rows = await database.fetch(sql.TRACKED_MARKETS, top)
    return [
        TrackedMarket(
            id=row["id"],
            token_ids=tuple(row["clob_token_ids"]),
            prices=None if row["outcome_prices"] is None else tuple(row["outcome_prices"]),
        )
        for row in rows
    ]


class Subscriptions:
    def __init__(self) -> None:
        self.tokens: frozenset[str] = frozenset()
        self._added: set[str] = set()
        self._removed: set[str] = set()
        self._changed = asyncio.Event()
        self._ready = asyncio.Event()

    def replace(self, tokens: Iterable[str]) -> None:
        """The new token set; the difference waits for the connection to send it."""
        new = frozenset(tokens)
        added, removed = new - self.tokens, self.tokens - new
        self.tokens = new
        if new:
            self._ready.set()
        else:
            self._ready.clear()
        if added or removed:
            self._added = (self._added - removed) | added
            self._removed = (self._removed - added) | removed
            self._changed.set()

    async def ready(self) -> None:
        """Wait until there is something to subscribe to."""
        await self._ready.wait()

    def whole(self) -> list[str]:
        """For a new connection: the whole set, which makes any pending difference moot."""
        self._added.clear()
        self._removed.clear()
        self._changed.clear()
        return sorted(self.tokens)

    async def changes(self) -> tuple[list[str], list[str]]:
        """Wait for a change; (added, removed) since the last call or `whole`."""
        await self._changed.wait()
        self._changed.clear()
        added, removed = sorted(self._added), sorted(self._removed)
        self._added.clear()
        self._removed.clear()
        return added, removed
