"""upsertUser: create a user or update username / address, keyed by Telegram id.

One INSERT ... ON CONFLICT, told which optional fields were sent: strawberry.UNSET (omitted)
keeps the stored value, None (an explicit null) clears it.
"""

from __future__ import annotations

import asyncpg
from strawberry.types.unset import UnsetType

import sql
from cache.keys import Scope
from cache.store import CacheStore
from sql.database import Database
from writes.checks import check_polygon_address, check_text, parse_telegram_id
from writes.transaction import write_transaction


async def upsert_user(
    database: Database,
    cache: CacheStore,
    *,
    telegram_id: str,
    username: str | UnsetType | None,
    polygon_address: str | UnsetType | None,
) -> asyncpg.Record:
    key = parse_telegram_id("telegramId", telegram_id)
    name_given, name = _given("username", username)
    address_given, address = _given("polygonAddress", polygon_address)
    if address is not None:
        check_polygon_address("polygonAddress", address)
    async with write_transaction(database, cache) as (tx, changed):
        row = await tx.fetchrow(sql.UPSERT_USER, key, name_given, name, address_given, address)
        changed.add(Scope("telegram", str(key)))
    assert row is not None  # INSERT ... ON CONFLICT DO UPDATE ... RETURNING always has a row
    return row


def _given(field: str, value: str | UnsetType | None) -> tuple[bool, str | None]:
    """(was the field sent, its value): UNSET is not sent, None clears."""
    if isinstance(value, UnsetType):
        return False, None
    return True, None if value is None else check_text(field, value)
