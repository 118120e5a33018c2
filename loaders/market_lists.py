"""Lists of markets: trending pages and title searches, for one request.

TrendingLoader: key a TrendingPage (keyset position + size), value the markets of that page.
SearchLoader: key (text, limit), value the matching markets, best first.
Several pages or searches in one request are still one SQL statement each loader (LATERAL).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

import asyncpg
from aiodataloader import DataLoader

import sql
from database import Database
from schema.market import Market, market_from_row


@dataclass(frozen=True)
class TrendingPage:
    """Markets after (after_volume, after_id) in trending order; None: from the top."""

    after_volume: Decimal | None
    after_id: str | None
    limit: int


SearchKey = tuple[str, int]


class TrendingLoader(DataLoader[TrendingPage, list[Market]]):
    """Pages of open markets by volume: one SQL for every page asked in the request."""

    def __init__(self, database: Database) -> None:
        super().__init__()
        self.database = database

    async def batch_load_fn(self, pages: list[TrendingPage]) -> list[list[Market]]:
        rows = await self.database.fetch(
            sql.TRENDING_MARKETS,
            [page.after_volume for page in pages],
            [page.after_id for page in pages],
            [page.limit for page in pages],
        )
        return _grouped(rows, len(pages))


class SearchLoader(DataLoader[SearchKey, list[Market]]):
    """Title searches: one SQL for every search asked in the request."""

    def __init__(self, database: Database) -> None:
        super().__init__()
        self.database = database

    async def batch_load_fn(self, searches: list[SearchKey]) -> list[list[Market]]:
        rows = await self.database.fetch(
            sql.SEARCH_MARKETS, [text for text, _ in searches], [limit for _, limit in searches]
        )
        return _grouped(rows, len(searches))


def _grouped(rows: list[asyncpg.Record], count: int) -> list[list[Market]]:
    # Rows carry their key's ordinality (from 1) and arrive in each key's order.
    by_key: defaultdict[int, list[Market]] = defaultdict(list)
    for row in rows:
        by_key[row["key"]].append(market_from_row(row))
    return [by_key[number] for number in range(1, count + 1)]
