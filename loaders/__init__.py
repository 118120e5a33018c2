"""Batched, per-request loaders: one module per kind of key; nothing else reads for resolvers."""

from __future__ import annotations

from dataclasses import dataclass

from database import Database
from loaders.market_lists import SearchLoader, TrendingLoader
from loaders.markets import MarketByConditionLoader, MarketByTokenLoader, MarketLoader
from loaders.positions import PositionLoader, UserPositionsLoader
from loaders.users import UserLoader


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
    def for_request(cls, database: Database) -> Loaders:
        return cls(
            market=MarketLoader(database),
            market_by_token=MarketByTokenLoader(database),
            market_by_condition=MarketByConditionLoader(database),
            user=UserLoader(database),
            position=PositionLoader(database),
            user_positions=UserPositionsLoader(database),
            trending=TrendingLoader(database),
            search=SearchLoader(database),
        )
