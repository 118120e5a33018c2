"""Markets by id, by token id and by condition id, for one request.

Key: the id; value: the Market, or None when no market has it (that key only, as in
dataloader). Each batch is one SQL statement (`= ANY($1)`), so every Position.market of a
request costs one query. A failed statement fails the whole batch and nothing is memoised.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiodataloader import DataLoader

import sql
from database import Database, Row
from schema.market import Market, market_from_row


class MarketLoader(DataLoader[str, Market | None]):
    """Markets by id: one SQL for the batch, None for an unknown id."""

    def __init__(self, database: Database) -> None:
        super().__init__()
        self.database = database

    async def batch_load_fn(self, ids: list[str]) -> list[Market | None]:
        rows = await self.database.fetch(sql.MARKETS_BY_ID, ids)
        return _in_key_order(ids, {row["id"]: row for row in rows})


class MarketByTokenLoader(DataLoader[str, Market | None]):
    """Markets by CLOB token id (each token belongs to one outcome of one market)."""

    def __init__(self, database: Database) -> None:
        super().__init__()
        self.database = database

    async def batch_load_fn(self, token_ids: list[str]) -> list[Market | None]:
        rows = await self.database.fetch(sql.MARKETS_BY_TOKEN, token_ids)
        return _in_key_order(token_ids, {row["key"]: row for row in rows})


class MarketByConditionLoader(DataLoader[str, Market | None]):
    """Markets by condition id (0x + 64 hex, unique per market)."""

    def __init__(self, database: Database) -> None:
        super().__init__()
        self.database = database

    async def batch_load_fn(self, condition_ids: list[str]) -> list[Market | None]:
        rows = await self.database.fetch(sql.MARKETS_BY_CONDITION, condition_ids)
        return _in_key_order(condition_ids, {row["key"]: row for row in rows})


def _in_key_order(keys: list[str], rows: Mapping[str, Row]) -> list[Market | None]:
    # dataloader's contract: one value per key, in the keys' order; a miss is None.
    return [market_from_row(rows[key]) if key in rows else None for key in keys]
