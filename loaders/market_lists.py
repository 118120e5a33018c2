"""Lists of markets: trending pages and title searches, for one request.

TrendingLoader: key a TrendingPage (keyset position + size), value the markets of that page.
SearchLoader: key (text, limit), value the matching markets, best first.
A list is cached as market ids for 5 minutes (no write of ours changes volumes, activity or
titles); the markets themselves come through MarketLoader, so their prices are as fresh as any
other read. Several pages or searches in one request are one SQL statement each loader.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from aiodataloader import DataLoader

import sql
from cache.codec import Codec
from cache.read_through import CacheSession, Kind, Part
from loaders.markets import MarketLoader
from schema.market import Market
from sql.database import Database, Row


@dataclass(frozen=True)
class TrendingPage:
    """Markets after (after_volume, after_id) in trending order; None: from the top."""

    after_volume: Decimal | None
    after_id: str | None
    limit: int


SearchKey = tuple[str, int]
K = TypeVar("K", TrendingPage, SearchKey)

IDS = Codec(fields=())
TRENDING: Kind[TrendingPage] = Kind(
    name="trending",
    codec=IDS,
    parts=(Part("ids", "market_lists"),),
    name_of=lambda page: f"{page.after_volume}:{page.after_id}:{page.limit}",
)
SEARCH: Kind[SearchKey] = Kind(
    name="search",
    codec=IDS,
    parts=(Part("ids", "market_lists"),),
    # Any text may be searched: a digest keeps the key short and free of separators.
    name_of=lambda key: hashlib.sha256(f"{key[1]}:{key[0]}".encode()).hexdigest()[:32],
)


class TrendingLoader(DataLoader[TrendingPage, list[Market]]):
    """Pages of open markets by volume: cached ids, else one SQL for every page asked."""

    def __init__(self, database: Database, cache: CacheSession, markets: MarketLoader) -> None:
        super().__init__()
        self.database = database
        self.session = cache
        self.markets = markets

    async def batch_load_fn(self, pages: list[TrendingPage]) -> list[list[Market]]:
        ids = await self.session.read_through(TRENDING, pages, self._select)
        return await _markets(self.markets, [ids[page] for page in pages])

    async def _select(self, pages: list[TrendingPage]) -> dict[TrendingPage, list[str]]:
        rows = await self.database.fetch(
            sql.TRENDING_MARKETS,
            [page.after_volume for page in pages],
            [page.after_id for page in pages],
            [page.limit for page in pages],
        )
        return _ids_by_key(rows, pages)


class SearchLoader(DataLoader[SearchKey, list[Market]]):
    """Title searches: cached ids, else one SQL for every search asked."""

    def __init__(self, database: Database, cache: CacheSession, markets: MarketLoader) -> None:
        super().__init__()
        self.database = database
        self.session = cache
        self.markets = markets

    async def batch_load_fn(self, searches: list[SearchKey]) -> list[list[Market]]:
        ids = await self.session.read_through(SEARCH, searches, self._select)
        return await _markets(self.markets, [ids[key] for key in searches])

    async def _select(self, searches: list[SearchKey]) -> dict[SearchKey, list[str]]:
        rows = await self.database.fetch(
            sql.SEARCH_MARKETS, [text for text, _ in searches], [limit for _, limit in searches]
        )
        return _ids_by_key(rows, searches)


def _ids_by_key(rows: Sequence[Row], keys: list[K]) -> dict[K, list[str]]:
    # Rows carry their key's ordinality (from 1) and arrive in each key's order.
    by_number: defaultdict[int, list[str]] = defaultdict(list)
    for row in rows:
        by_number[row["key"]].append(row["id"])
    return {key: by_number[number] for number, key in enumerate(keys, start=1)}


async def _markets(markets: MarketLoader, lists: list[list[str]]) -> list[list[Market]]:
    # One load for every list of the batch: one round of reads, not one per page.
    found = await markets.load_many([market_id for ids in lists for market_id in ids])
    by_id: dict[str, Market] = {m.id: m for m in found if m is not None}
    # A market deleted since the list was cached is left out rather than shown as a gap.
    return [[by_id[market_id] for market_id in ids if market_id in by_id] for ids in lists]
