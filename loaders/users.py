"""Users by Telegram id, for one request.

Key: the Telegram id (int); value: the User, or None when no user has it. One SQL statement
per batch, so two users fetched with aliases cost what one costs.
"""

from __future__ import annotations

from aiodataloader import DataLoader

import sql
from database import Database
from schema.user import User, user_from_row


class UserLoader(DataLoader[int, User | None]):
    """Users by Telegram id: one SQL for the batch, None for an unknown id."""

    def __init__(self, database: Database) -> None:
        super().__init__()
        self.database = database

    async def batch_load_fn(self, telegram_ids: list[int]) -> list[User | None]:
        rows = await self.database.fetch(sql.USERS_BY_TELEGRAM_ID, telegram_ids)
        by_id = {row["telegram_id"]: row for row in rows}
        return [user_from_row(by_id[key]) if key in by_id else None for key in telegram_ids]
