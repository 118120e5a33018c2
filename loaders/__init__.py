"""Batched, per-request loaders: one module per kind of key; nothing else reads for resolvers."""

from __future__ import annotations

from dataclasses import dataclass

from cache.read_through import CacheSession
from loaders.market_lists import SearchLoader, TrendingLoader
from loaders.markets import MarketIdByConditionLoader, MarketIdByTokenLoader, MarketLoader
from loaders.positions import PositionLoader, UserPositionsLoader
from loaders.users import UserLoader
from sql.database import Database


@dataclass
class Loaders:
    """One of each loader, memoising for one request only (never shared across requests)."""

    market: MarketLoader
    market_id_by_token: MarketIdByTokenLoader
    market_id_by_condition: MarketIdByConditionLoader
    user: UserLoader
    position: PositionLoader
    user_positions: UserPositionsLoader
    trending: TrendingLoader
    search: SearchLoader

    @classmethod
    def for_request(cls, database: Database, session: CacheSession) -> Loaders:
        market = MarketLoader(database, session)
        return cls(
            market=market,
            market_id_by_token=MarketIdByTokenLoader(database, session),
            market_id_by_condition=MarketIdByConditionLoader(database, session),
            user=UserLoader(database, session),
            position=PositionLoader(database, session, market),
            user_positions=UserPositionsLoader(database, session, market),
            trending=TrendingLoader(database, session),
            search=SearchLoader(database, session),
        )
