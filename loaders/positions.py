"""Positions by id, and a user's positions by status, for one request.

PositionLoader: key the position id, value the Position or None.
UserPositionsLoader: key (user id, "ACTIVE" | "CLOSED" | None for all), value the positions
newest first (an unknown user simply has none); each list is cached under its own version, so
a buy retires the ACTIVE list and leaves the CLOSED one. Portfolio and positions(status: ACTIVE)
ask for the same key, so they share one load.

Both load their positions' markets (through the market loader, one batch) before they answer:
the bot never reads a position without its market, and Position's market fields then answer
at once rather than each awaiting the loader (resolvers/positions.py). Answered at once from
what the request read ahead (loaders/cached_loader.py) only when every market is too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from cache import kinds
from cache.read_through import CacheSession
from loaders.cached_loader import CachedLoader
from loaders.markets import MarketLoader
from schema.position import Position, position_from_row
from sql.database import Database


class PositionLoader(CachedLoader[int, Position | None]):
    kind = kinds.POSITION

    def __init__(self, database: Database, session: CacheSession, markets: MarketLoader) -> None:
        super().__init__(database, session)
        self.markets = markets

    async def batch_load_fn(self, keys: list[int]) -> list[Position | None]:
        found = await super().batch_load_fn(keys)
        await _load_markets(self.markets, (p for p in found if p is not None))
        return found

    def value(self, found: Any) -> Position | None:
        return None if found is None else position_from_row(found)

    def ready(self, value: Position | None) -> bool:
        return value is None or _markets_at_once(self.markets, (value,))


class UserPositionsLoader(CachedLoader[kinds.UserPositionsKey, list[Position]]):
    kind = kinds.USER_POSITIONS

    def __init__(self, database: Database, session: CacheSession, markets: MarketLoader) -> None:
        super().__init__(database, session)
        self.markets = markets

    async def batch_load_fn(self, keys: list[kinds.UserPositionsKey]) -> list[list[Position]]:
        lists = await super().batch_load_fn(keys)
        await _load_markets(self.markets, (p for positions in lists for p in positions))
        return lists

    def value(self, found: Any) -> list[Position]:
        return [position_from_row(row) for row in found or ()]

    def ready(self, value: list[Position]) -> bool:
        return _markets_at_once(self.markets, value)


def _markets_at_once(markets: MarketLoader, positions: Iterable[Position]) -> bool:
    """Their markets loaded, as a batch would load them first; whether all are already."""
    return all([markets.load(position.market_id).done() for position in positions])


async def _load_markets(markets: MarketLoader, positions: Iterable[Position]) -> None:
    # Waited for, not raised: a failed market batch is each market field's error to report,
    # and the positions themselves were read.
    loading = [markets.load(position.market_id) for position in positions]
    if loading:
        await asyncio.wait(loading)
