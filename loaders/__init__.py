"""Batched, per-request loaders: one module per kind of key; nothing else reads for resolvers."""

from __future__ import annotations

from dataclasses import dataclass

from cache.read_through import CacheSession
from loaders.market_lists import SearchLoader, TrendingLoader
from loaders.markets import MarketByConditionLoader, MarketByTokenLoader, MarketLoader
from loaders.positions import PositionLoader, UserPositionsLoader
from loaders.users import UserLoader
from sql.database import Database


@dataclass
class Loaders:
    """One of each loader, memoising for one request only (never shared across requests)."""

    market: MarketLoader
    market_by_token: MarketByTokenLoader
    market_by_condition: MarketByConditionLoader
    user: UserLoader
    position: PositionLoader
    user_positions: UserPositionsLoader
    trending: TrendingLoader
    search: SearchLoader

    @classmethod
    def for_request(cls, database: Database, cache: CacheSession) -> Loaders:
        market = MarketLoader(database, cache)
        return cls(
            market=market,
            market_by_token=MarketByTokenLoader(database, cache, market),
            market_by_condition=MarketByConditionLoader(database, cache, market),
            user=UserLoader(database, cache),
            position=PositionLoader(database, cache),
            user_positions=UserPositionsLoader(database, cache),
            trending=TrendingLoader(database, cache, market),
            search=SearchLoader(database, cache, market),
        )
