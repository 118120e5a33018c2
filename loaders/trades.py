"""A user's trade history, page by page, for one request.

UserTradesLoader: key a TradePage (user id, keyset position, size), value the trades of that
page, newest first (an unknown user simply has none). Every page of a user is cached under one
version (cache/keys.py trades_scope), which recordTrade and redeemPositions bump. Like the
position loaders, it loads its trades' markets in the same batch, so Trade.market answers at
once: one statement for a page's markets, none when cached.
"""

from __future__ import annotations

import asyncio
from typing import Any

from cache import kinds
from cache.read_through import CacheSession
from loaders.cached_loader import CachedLoader
from loaders.markets import MarketLoader
from schema.trade import Trade, trade_from_row
from sql.database import Database


class UserTradesLoader(CachedLoader[kinds.TradePage, list[Trade]]):
    kind = kinds.USER_TRADES

    def __init__(self, database: Database, session: CacheSession, markets: MarketLoader) -> None:
        super().__init__(database, session)
        self.markets = markets

    async def batch_load_fn(self, keys: list[kinds.TradePage]) -> list[list[Trade]]:
        pages = await super().batch_load_fn(keys)
        # Waited for, not raised: a failed market batch is each market field's error.
        loading = [self.markets.load(t.market_id) for page in pages for t in page]
        if loading:
            await asyncio.wait(loading)
        return pages

    def value(self, found: Any) -> list[Trade]:
        return [trade_from_row(row) for row in found or ()]
