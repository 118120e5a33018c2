"""upsertUser: create a user or update username / address, keyed by Telegram id."""

from __future__ import annotations

import asyncpg

from database import Database


async def upsert_user(
    database: Database,
    *,
    telegram_id: str,
    username: str | None | object,
    polygon_address: str | None | object,
) -> asyncpg.Record:
    raise NotImplementedError
