"""Batched, per-request loaders: one module per kind of key; nothing else reads for resolvers."""

from __future__ import annotations

from functools import cached_property

from cache.read_through import CacheSession
from loaders.market_lists import SearchLoader, TrendingLoader
from loaders.markets import MarketIdByConditionLoader, MarketIdByTokenLoader, MarketLoader
from loaders.position_values import PositionValues
from loaders.positions import PositionLoader, UserPositionsLoader
from loaders.smart_trades import SmartTradesLoader
from loaders.trades import UserTradesLoader
from loaders.users import UserLoader
from loaders.wallets import LeaderboardLoader, WalletLoader
from sql.database import Database


class Loaders:
    """One of each loader, memoising for one request only (never shared across requests).

    Each is made when first asked for: a request answered from a kept answer, or one reading
    a single kind of data, builds none or one, not eight.
    """

    def __init__(self, database: Database, session: CacheSession) -> None:
        self.database = database
        self.session = session

    def fresh(self) -> Loaders:
        """New loaders on the same connections: what a request that loaded nothing yet has."""
        return Loaders(self.database, self.session)

    @cached_property
    def market(self) -> MarketLoader:
        return MarketLoader(self.database, self.session)

    @cached_property
    def market_id_by_token(self) -> MarketIdByTokenLoader:
        return MarketIdByTokenLoader(self.database, self.session)

    @cached_property
    def market_id_by_condition(self) -> MarketIdByConditionLoader:
        return MarketIdByConditionLoader(self.database, self.session)

    @cached_property
    def position_values(self) -> PositionValues:
        return PositionValues(self.market)

    @cached_property
    def user(self) -> UserLoader:
        return UserLoader(self.database, self.session)

    @cached_property
    def position(self) -> PositionLoader:
        return PositionLoader(self.database, self.session, self.market)

    @cached_property
    def user_positions(self) -> UserPositionsLoader:
        return UserPositionsLoader(self.database, self.session, self.market)

    @cached_property
    def trending(self) -> TrendingLoader:
        return TrendingLoader(self.database, self.session)

    @cached_property
    def search(self) -> SearchLoader:
        return SearchLoader(self.database, self.session)

    @cached_property
    def user_trades(self) -> UserTradesLoader:
        return UserTradesLoader(self.database, self.session, self.market)

    @cached_property
    def wallet(self) -> WalletLoader:
        return WalletLoader(self.database, self.session)

    @cached_property
    def leaderboard(self) -> LeaderboardLoader:
        return LeaderboardLoader(self.database, self.session)

    @cached_property
    def smart_trades(self) -> SmartTradesLoader:
        return SmartTradesLoader(self.database, self.session, self.wallet, self.market)
