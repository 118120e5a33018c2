"""PostgreSQL access: the pool, and the one place where SQL statements are counted.

Every statement the service sends goes through `Database`, which adds one to the counts of the
request (or command) it runs in (metrics.count_sql). Tests assert on those counts, so "one SQL
statement per loader batch" is checked, not hoped for.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from metrics import count_sql
from settings import Settings

log = logging.getLogger(__name__)


class Row(Protocol):
    """A row by column name: an asyncpg Record, or a dict (as the cache will hold rows)."""

    def __getitem__(self, key: str, /) -> Any: ...


class Database:
    """Runs statements on a pool, or on one connection inside a transaction; counts each."""

    def __init__(self, executor: asyncpg.Pool | asyncpg.Connection | PoolConnectionProxy) -> None:
        self._executor = executor

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        count_sql()
        return await self._executor.fetch(query, *args)

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        count_sql()
        return await self._executor.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        count_sql()
        return await self._executor.fetchval(query, *args)

    async def execute(self, query: str, *args: Any) -> str:
        count_sql()
        return await self._executor.execute(query, *args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Database]:
        """One transaction on one connection; BEGIN and COMMIT are not counted as statements."""
        if isinstance(self._executor, asyncpg.Pool):
            async with self._executor.acquire() as connection, connection.transaction():
                yield Database(connection)
        else:
            async with self._executor.transaction():
                yield self


async def create_pool(database_url: str, settings: Settings) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        database_url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
    )
