"""The followed tokens, sharded over feed connections of at most INGEST_TOKENS_PER_CONNECTION.

Polymarket's market channel silently stops delivering events past about 500 tokens on one
connection: nothing is refused, the events of the excess just never come. So the token set is
split into shards, each with its own connection (connection.py: its own subscription, pings,
reconnect and backoff), and a shard that breaks leaves the others flowing.

`Placement` decides which shard carries which tokens, and keeps that stable as the set changes,
so one new market does not reconnect anything:

- the unit placed is a market's tokens (split in pieces of at most the limit, for a limit below
  a market's outcome count), so a market's events, its `market_resolved` included, arrive on
  one connection;
- a market that leaves frees its room; a new one goes to the lowest shard with room for it,
  else to a new shard: only those shards send a subscribe / unsubscribe on their open
  connection, the others send nothing;
- a shard left empty closes; when the set shrank so that one shard fewer would do, the smallest
  shard's markets move to the others' free room (if they fit) and it closes, so the number of
  connections follows the set down as well as up.

`Shards` applies a placement: one `Subscriptions` and one `FeedConnection` per shard, and in
`run` one task per shard's connection, started and stopped as shards come and go.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ingestion.connection import FeedConnection, FrameHandler
from ingestion.subscriptions import Subscriptions
from telemetry.metrics import INGEST_SHARD_MOVES, INGEST_SHARDS, INGEST_SUBSCRIBED_TOKENS

log = logging.getLogger(__name__)

# A unit of placement: (market id, piece); piece 0 unless the market has more tokens than a
# shard may carry.
Unit = tuple[str, int]


@dataclass
class Placement:
    """Units of tokens assigned to shards of at most `limit` tokens, changed as little as may be."""

    limit: int
    shards: dict[int, dict[Unit, tuple[str, ...]]] = field(default_factory=dict)
    _next_id: int = 0

    def update(self, markets: Mapping[str, Sequence[str]]) -> int:
        """Follow exactly these markets (id -> token ids); returns the tokens compaction moved."""
        wanted = self._units(markets)
        placed: set[Unit] = set()
        for units in self.shards.values():
            for unit in [u for u, tokens in units.items() if wanted.get(u) != tokens]:
                del units[unit]
            placed.update(units)
        for unit in sorted(wanted.keys() - placed):
            self._add(unit, wanted[unit])
        moved = self._compact()
        for shard in [s for s, units in self.shards.items() if not units]:
            del self.shards[shard]
        return moved

    def tokens(self, shard: int) -> frozenset[str]:
        return frozenset(t for tokens in self.shards[shard].values() for t in tokens)

    def size(self, shard: int) -> int:
        return sum(len(tokens) for tokens in self.shards[shard].values())

    def _units(self, markets: Mapping[str, Sequence[str]]) -> dict[Unit, tuple[str, ...]]:
        units: dict[Unit, tuple[str, ...]] = {}
        for market, tokens in markets.items():
            for piece, start in enumerate(range(0, len(tokens), self.limit)):
                units[(market, piece)] = tuple(tokens[start : start + self.limit])
        return units

    def _add(self, unit: Unit, tokens: tuple[str, ...]) -> None:
        for shard in sorted(self.shards):
            if self.size(shard) + len(tokens) <= self.limit:
                self.shards[shard][unit] = tokens
                return
        self.shards[self._next_id] = {unit: tokens}
        self._next_id += 1

    def _compact(self) -> int:
        """Close the smallest shard into the others while one shard fewer would carry the set."""
        moved = 0
        while len(self.shards) > 1:
            total = sum(self.size(s) for s in self.shards)
            if len(self.shards) <= math.ceil(total / self.limit):
                break
            smallest = min(self.shards, key=lambda s: (self.size(s), -s))
            free = {s: self.limit - self.size(s) for s in self.shards if s != smallest}
            targets: dict[Unit, int] = {}
            for unit, tokens in sorted(self.shards[smallest].items()):
                target = next((s for s in sorted(free) if free[s] >= len(tokens)), None)
                if target is None:
                    return moved  # the units do not fit the gaps; keep the shard
                targets[unit] = target
                free[target] -= len(tokens)
            for unit, target in targets.items():
                tokens = self.shards[smallest][unit]
                self.shards[target][unit] = tokens
                moved += len(tokens)
            self.shards[smallest] = {}
            del self.shards[smallest]
        return moved


class Shards:
    """One feed connection per shard of the followed tokens; `run` keeps them connected."""

    def __init__(
        self,
        url: str,
        on_frame: FrameHandler,
        *,
        limit: int,
        ping_interval: float,
    ) -> None:
        self.url = url
        self.on_frame = on_frame
        self.ping_interval = ping_interval
        self.placement = Placement(limit)
        self.subscriptions: dict[int, Subscriptions] = {}
        self.connections: dict[int, FeedConnection] = {}
        self._changed = asyncio.Event()

    @property
    def tokens(self) -> frozenset[str]:
        """Every token subscribed, over all shards."""
        return frozenset(t for s in self.subscriptions.values() for t in s.tokens)

    def replace(self, markets: Mapping[str, Sequence[str]]) -> None:
        """Follow exactly these markets (id -> token ids in outcome order)."""
        moved = self.placement.update(markets)
        if moved:
            INGEST_SHARD_MOVES.inc(moved)
            log.info("moved %d tokens to fill shards and close one", moved)
        for shard in self.placement.shards:
            if shard not in self.subscriptions:
                self.subscriptions[shard] = Subscriptions()
                self.connections[shard] = FeedConnection(
                    self.url,
                    self.subscriptions[shard],
                    self.on_frame,
                    ping_interval=self.ping_interval,
                    name=f"shard {shard}",
                )
                self._changed.set()
            self.subscriptions[shard].replace(self.placement.tokens(shard))
        for shard in self.subscriptions.keys() - self.placement.shards.keys():
            del self.subscriptions[shard], self.connections[shard]
            self._changed.set()
        INGEST_SHARDS.set(len(self.subscriptions))
        INGEST_SUBSCRIBED_TOKENS.set(sum(len(s.tokens) for s in self.subscriptions.values()))

    async def run(self) -> None:
        """Keep one connection task per shard until cancelled; a task ending on its own is a bug."""
        tasks: dict[int, asyncio.Task[None]] = {}
        try:
            while True:
                self._changed.clear()
                await _stop(tasks.pop(s) for s in tasks.keys() - self.connections.keys())
                for shard, connection in self.connections.items():
                    if shard not in tasks:
                        tasks[shard] = asyncio.create_task(connection.run(), name=connection.name)
                changed = asyncio.create_task(self._changed.wait())
                try:
                    done, _ = await asyncio.wait(
                        {changed, *tasks.values()}, return_when=asyncio.FIRST_COMPLETED
                    )
                finally:
                    await _stop([changed])
                for task in done - {changed}:
                    raise RuntimeError(f"the feed's {task.get_name()} stopped") from (
                        task.exception() if not task.cancelled() else None
                    )
        finally:
            await _stop(tasks.values())


async def _stop(tasks: Iterable[asyncio.Task[Any]]) -> None:
    stopping = list(tasks)
    for task in stopping:
        task.cancel()
    await asyncio.gather(*stopping, return_exceptions=True)
