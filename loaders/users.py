"""Users by Telegram id, for one request.

Key: the Telegram id (int); value: the User, or None when no user has it. Cached per Telegram
id for an hour under a version that upsertUser bumps; one SQL statement for the misses, so two
users fetched with aliases cost what one costs.
"""

from __future__ import annotations

from aiodataloader import DataLoader

import sql
from cache.codec import Codec
from cache.read_through import CacheSession, Kind, Part
from schema.user import User, user_from_row
from sql.database import Database, Row

USER: Kind[int] = Kind(
    name="user",
    codec=Codec(
        fields=("id", "telegram_id", "username", "polygon_address", "created_at"),
        datetimes=frozenset({"created_at"}),
    ),
    parts=(Part("profile", "users"),),
    name_of=str,
    family="telegram",
    scope_of=str,
)


class UserLoader(DataLoader[int, User | None]):
    """Users by Telegram id: cache first, one SQL for the misses, None for an unknown id."""

    def __init__(self, database: Database, cache: CacheSession) -> None:
        super().__init__()
        self.database = database
        self.session = cache

    async def batch_load_fn(self, telegram_ids: list[int]) -> list[User | None]:
        rows = await self.session.read_through(USER, telegram_ids, self._select)
        return [user_from_row(rows[key]) if key in rows else None for key in telegram_ids]

    async def _select(self, telegram_ids: list[int]) -> dict[int, Row]:
        rows = await self.database.fetch(sql.USERS_BY_TELEGRAM_ID, telegram_ids)
        return {row["telegram_id"]: row for row in rows}
