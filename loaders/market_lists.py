"""Lists of market ids: trending pages and title searches, for one request.

TrendingLoader: key a TrendingPage (keyset position + size), value the ids of that page.
SearchLoader: key (text, limit), value the ids of the matching markets, best first.
A list is cached as ids for 5 minutes (no write of ours changes volumes, activity or titles);
the markets themselves come through MarketLoader, so their prices are as fresh as any other
read. Several pages or searches in one request are one statement each loader.
"""

from __future__ import annotations

from typing import Any

from cache import kinds
from loaders.cached_loader import CachedLoader


class TrendingLoader(CachedLoader[kinds.TrendingPage, list[str]]):
    kind = kinds.TRENDING

    def value(self, found: Any) -> list[str]:
        return [row["id"] for row in found or ()]


class SearchLoader(CachedLoader[kinds.SearchKey, list[str]]):
    kind = kinds.SEARCH

    def value(self, found: Any) -> list[str]:
        return [row["id"] for row in found or ()]
