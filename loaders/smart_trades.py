"""Pages of the smart-wallet feed, for one request.

Key: a SmartTradesPage (keyset position, filters, size); value: its trades, newest first.
Cached under the feed's one scope (cache/keys.py WALLET_FEED), which every wallet trade and
every statistics update retires, on every process at once.

A page loads its trades' wallets and markets before it answers, one batch each (WalletLoader
by address, MarketLoader by the id the feed's statement found for each token): a page of 100
trades costs one statement for its markets at most, none when cached, where the old design ran
one query per trade's token. The fields then answer at once (resolvers/smart_trades.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

from cache import kinds
from cache.read_through import CacheSession
from loaders.cached_loader import CachedLoader
from loaders.markets import MarketLoader
from loaders.wallets import WalletLoader
from schema.smart_trade import SmartTrade, smart_trade_from_row
from sql.database import Database


class SmartTradesLoader(CachedLoader[kinds.SmartTradesPage, list[SmartTrade]]):
    kind = kinds.SMART_TRADES

    def __init__(
        self,
        database: Database,
        session: CacheSession,
        wallets: WalletLoader,
        markets: MarketLoader,
    ) -> None:
        super().__init__(database, session)
        self.wallets = wallets
        self.markets = markets

    async def batch_load_fn(self, keys: list[kinds.SmartTradesPage]) -> list[list[SmartTrade]]:
        pages = await super().batch_load_fn(keys)
        trades = [trade for page in pages for trade in page]
        loading: list[asyncio.Future[Any]] = [self.wallets.load(t.wallet_address) for t in trades]
        loading += [self.markets.load(t.market_id) for t in trades if t.market_id is not None]
        # Waited for, not raised: a failed batch is each wallet or market field's error.
        if loading:
            await asyncio.wait(loading)
        return pages

    def value(self, found: Any) -> list[SmartTrade]:
        return [smart_trade_from_row(row) for row in found or ()]
