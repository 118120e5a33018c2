"""Positions by id, and a user's positions by status, for one request.

PositionLoader: key the position id (int), value the Position or None; cached per position.
UserPositionsLoader: key (user id, status or None for all), value the positions newest first (an
unknown user simply has none); cached per list, under the version of that list
(cache/keys.positions_scope), which every write changing it bumps (a buy leaves the CLOSED list
alone). Each batch is one round of Redis reads and one SQL statement for the misses. Portfolio
and positions(status: ACTIVE) ask for the same key, so they share one load."""

from __future__ import annotations

from collections import defaultdict

from aiodataloader import DataLoader

import sql
from cache.codec import Codec
from cache.keys import positions_scope
from cache.read_through import CacheSession, Kind, Part
from schema.enums import PositionStatus
from schema.position import Position, position_from_row
from sql.database import Database, Row

UserPositionsKey = tuple[int, PositionStatus | None]

FIELDS = (
    "id", "user_id", "market_id", "outcome", "status", "shares", "entry_price",
    "realized_pnl", "take_profit_price", "stop_loss_price", "opened_at", "closed_at",
)  # fmt: skip
CODEC = Codec(
    fields=FIELDS,
    decimals=frozenset(
        {"shares", "entry_price", "realized_pnl", "take_profit_price", "stop_loss_price"}
    ),
    datetimes=frozenset({"opened_at", "closed_at"}),
)
POSITION: Kind[int] = Kind(
    name="position",
    codec=CODEC,
    parts=(Part("row", "positions"),),
    name_of=str,
    family="position",
    scope_of=str,
)
USER_POSITIONS: Kind[UserPositionsKey] = Kind(
    name="user_positions",
    codec=CODEC,
    parts=(Part("rows", "positions"),),
    name_of=lambda key: f"{key[0]}:{key[1].value if key[1] else 'ALL'}",
    family="user",
    scope_of=lambda key: positions_scope(key[0], key[1].value if key[1] else "ALL").id,
)


class PositionLoader(DataLoader[int, Position | None]):
    """Positions by id: cache first, one SQL for the misses, None for an unknown id."""

    def __init__(self, database: Database, cache: CacheSession) -> None:
        super().__init__()
        self.database = database
        self.session = cache

    async def batch_load_fn(self, ids: list[int]) -> list[Position | None]:
        rows = await self.session.read_through(POSITION, ids, self._select)
        return [position_from_row(rows[key]) if key in rows else None for key in ids]

    async def _select(self, ids: list[int]) -> dict[int, Row]:
        return {row["id"]: row for row in await self.database.fetch(sql.POSITIONS_BY_ID, ids)}


class UserPositionsLoader(DataLoader[UserPositionsKey, list[Position]]):
    """A user's positions with a status (or all), newest first: cache, then one SQL."""

    def __init__(self, database: Database, cache: CacheSession) -> None:
        super().__init__()
        self.database = database
        self.session = cache

    async def batch_load_fn(self, keys: list[UserPositionsKey]) -> list[list[Position]]:
        lists = await self.session.read_through(USER_POSITIONS, keys, self._select)
        return [[position_from_row(row) for row in lists[key]] for key in keys]

    async def _select(self, keys: list[UserPositionsKey]) -> dict[UserPositionsKey, list[Row]]:
        user_ids = [user_id for user_id, _ in keys]
        statuses = [None if status is None else status.value for _, status in keys]
        rows = await self.database.fetch(sql.POSITIONS_BY_USER, user_ids, statuses)
        # The statement numbers keys from 1 (WITH ORDINALITY) and keeps each key's rows in order.
        by_number: defaultdict[int, list[Row]] = defaultdict(list)
        for row in rows:
            by_number[row["key"]].append(row)
        return {key: by_number[number] for number, key in enumerate(keys, start=1)}
