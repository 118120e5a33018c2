"""Positions by id, and a user's positions by status, for one request.

PositionLoader: key the position id (int), value the Position or None.
UserPositionsLoader: key (user id, status or None for all), value the positions newest first
(an unknown user simply has none). Each batch is one SQL statement; Portfolio and
positions(status: ACTIVE) ask for the same key, so they share one load.
"""

from __future__ import annotations

from collections import defaultdict

from aiodataloader import DataLoader

import sql
from database import Database
from schema.enums import PositionStatus
from schema.position import Position, position_from_row

UserPositionsKey = tuple[int, PositionStatus | None]


class PositionLoader(DataLoader[int, Position | None]):
    """Positions by id: one SQL for the batch, None for an unknown id."""

    def __init__(self, database: Database) -> None:
        super().__init__()
        self.database = database

    async def batch_load_fn(self, ids: list[int]) -> list[Position | None]:
        rows = await self.database.fetch(sql.POSITIONS_BY_ID, ids)
        by_id = {row["id"]: row for row in rows}
        return [position_from_row(by_id[key]) if key in by_id else None for key in ids]


class UserPositionsLoader(DataLoader[UserPositionsKey, list[Position]]):
    """A user's positions with a status (or all), newest first: one SQL for the batch."""

    def __init__(self, database: Database) -> None:
        super().__init__()
        self.database = database

    async def batch_load_fn(self, keys: list[UserPositionsKey]) -> list[list[Position]]:
        user_ids = [user_id for user_id, _ in keys]
        statuses = [None if status is None else status.value for _, status in keys]
        rows = await self.database.fetch(sql.POSITIONS_BY_USER, user_ids, statuses)
        # The statement numbers keys from 1 (WITH ORDINALITY) and keeps each key's rows in order.
        by_key: defaultdict[int, list[Position]] = defaultdict(list)
        for row in rows:
            by_key[row["key"]].append(position_from_row(row))
        return [by_key[number] for number in range(1, len(keys) + 1)]
