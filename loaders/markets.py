"""Markets by id, by token id and by condition id, for one request.

Key: the id; value: the Market, or None when no market has it (that key only, as in
dataloader). A batch is one round of Redis reads, then one SQL statement (`= ANY($1)`) for
the misses only, so every Position.market of a request costs one query at most, none when
cached. A failed statement fails the whole batch and nothing is cached or memoised.
A market is cached in two parts, details (5 min) and prices (20 s), under one version that
price updates bump. Token and condition ids never change market, so those maps carry no
version: they resolve to an id, and the market itself comes through MarketLoader.
"""

from __future__ import annotations

from aiodataloader import DataLoader

import sql
from cache.codec import Codec
from cache.read_through import CacheSession, Kind, Part
from schema.market import Market, market_from_row
from sql.database import Database, Row

FIELDS = (
    "id", "title", "slug", "condition_id", "outcomes", "outcome_prices", "clob_token_ids",
    "volume", "liquidity", "end_date", "active", "resolved",
)  # fmt: skip

MARKET: Kind[str] = Kind(
    name="market",
    codec=Codec(
        fields=FIELDS,
        decimals=frozenset({"volume", "liquidity"}),
        decimal_lists=frozenset({"outcome_prices"}),
        datetimes=frozenset({"end_date"}),
    ),
    parts=(
        Part("details", "markets", tuple(f for f in FIELDS if f != "outcome_prices")),
        Part("prices", "prices", ("outcome_prices",)),
    ),
    name_of=str,
    family="market",
    scope_of=str,
)
TOKEN: Kind[str] = Kind(
    name="market_by_token", codec=Codec(fields=()), parts=(Part("id", "markets"),), name_of=str
)
CONDITION: Kind[str] = Kind(
    name="market_by_condition", codec=Codec(fields=()), parts=(Part("id", "markets"),), name_of=str
)


class MarketLoader(DataLoader[str, Market | None]):
    """Markets by id: cache first, one SQL for the misses, None for an unknown id."""

    def __init__(self, database: Database, cache: CacheSession) -> None:
        super().__init__()
        self.database = database
        self.session = cache

    async def batch_load_fn(self, ids: list[str]) -> list[Market | None]:
        rows = await self.session.read_through(MARKET, ids, self._select)
        return [market_from_row(rows[key]) if key in rows else None for key in ids]

    async def _select(self, ids: list[str]) -> dict[str, Row]:
        return {row["id"]: row for row in await self.database.fetch(sql.MARKETS_BY_ID, ids)}


class MarketByTokenLoader(DataLoader[str, Market | None]):
    """Markets by CLOB token id (each token belongs to one outcome of one market)."""

    def __init__(self, database: Database, cache: CacheSession, markets: MarketLoader) -> None:
        super().__init__()
        self.database = database
        self.session = cache
        self.markets = markets

    async def batch_load_fn(self, token_ids: list[str]) -> list[Market | None]:
        ids = await self.session.read_through(TOKEN, token_ids, self._select)
        return await _markets(self.markets, [ids.get(token) for token in token_ids])

    async def _select(self, token_ids: list[str]) -> dict[str, str]:
        rows = await self.database.fetch(sql.MARKETS_BY_TOKEN, token_ids)
        return {row["key"]: row["id"] for row in rows}


class MarketByConditionLoader(DataLoader[str, Market | None]):
    """Markets by condition id (0x + 64 hex, unique per market)."""

    def __init__(self, database: Database, cache: CacheSession, markets: MarketLoader) -> None:
        super().__init__()
        self.database = database
        self.session = cache
        self.markets = markets

    async def batch_load_fn(self, condition_ids: list[str]) -> list[Market | None]:
        ids = await self.session.read_through(CONDITION, condition_ids, self._select)
        return await _markets(self.markets, [ids.get(key) for key in condition_ids])

    async def _select(self, condition_ids: list[str]) -> dict[str, str]:
        rows = await self.database.fetch(sql.MARKETS_BY_CONDITION, condition_ids)
        return {row["key"]: row["id"] for row in rows}


async def _markets(markets: MarketLoader, ids: list[str | None]) -> list[Market | None]:
    found = await markets.load_many([market_id for market_id in ids if market_id is not None])
    by_id: dict[str, Market] = {m.id: m for m in found if m is not None}
    return [by_id.get(market_id) if market_id is not None else None for market_id in ids]
