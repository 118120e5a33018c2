"""Markets by id, and market ids by token id and by condition id, for one request.

MarketLoader: key the market id, value the Market or None. A market is cached whole for as
long as its prices (20 s), under a version that price writes bump, so every Position.market of
a request costs one statement at most, none when cached.
MarketIdByTokenLoader, MarketIdByConditionLoader: key a token id or a condition id, value the
id of its market or None; the market itself then comes through MarketLoader (resolvers).
"""

from __future__ import annotations

from typing import Any

from cache import kinds
from loaders.cached_loader import CachedLoader
from schema.market import Market, market_from_row


class MarketLoader(CachedLoader[str, Market | None]):
    kind = kinds.MARKET

    def value(self, found: Any) -> Market | None:
        return None if found is None else market_from_row(found)


class MarketIdByTokenLoader(CachedLoader[str, str | None]):
    kind = kinds.MARKET_BY_TOKEN

    def value(self, found: Any) -> str | None:
        return None if found is None else str(found["id"])


class MarketIdByConditionLoader(CachedLoader[str, str | None]):
    kind = kinds.MARKET_BY_CONDITION

    def value(self, found: Any) -> str | None:
        return None if found is None else str(found["id"])
