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

from errors import Busy
from settings import Settings
from telemetry.metrics import count_sql

log = logging.getLogger(__name__)


class Row(Protocol):
    """A row by column name: an asyncpg Record, or a dict (as the cache will hold rows)."""

    def __getitem__(self, key: str, /) -> Any: ...


class Database:
    """Runs statements on a pool, or on one connection inside a transaction; counts each.

    Waiting for a pooled connection is bounded: past `acquire_timeout` the request fails fast
    with SERVICE_BUSY instead of queueing behind a burst until the client gives up.
    """

    def __init__(
        self,
        executor: asyncpg.Pool | asyncpg.Connection | PoolConnectionProxy,
        acquire_timeout: float | None = None,
    ) -> None:
        self._executor = executor
        self._acquire_timeout = acquire_timeout

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        async with self.connection() as connection:
            count_sql()
            return await connection.fetch(query, *args)

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        async with self.connection() as connection:
            count_sql()
            return await connection.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        async with self.connection() as connection:
            count_sql()
            return await connection.fetchval(query, *args)

    async def execute(self, query: str, *args: Any) -> str:
        async with self.connection() as connection:
            count_sql()
            return await connection.execute(query, *args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Database]:
        """One transaction on one connection; BEGIN and COMMIT are not counted as statements."""
        async with self.connection() as connection, connection.transaction():
            yield self if connection is self._executor else Database(connection)

    @asynccontextmanager
    async def connection(
        self,
    ) -> AsyncIterator[asyncpg.Connection | PoolConnectionProxy]:
        if not isinstance(self._executor, asyncpg.Pool):
            yield self._executor
            return
        try:
            connection = await self._executor.acquire(timeout=self._acquire_timeout)
        except TimeoutError:
            raise Busy(
                f"The service is busy: no database connection was free within "
                f"{self._acquire_timeout} s. Retry shortly."
            ) from None
        try:
            yield connection
        finally:
            await self._executor.release(connection)


async def _keep_session(connection: asyncpg.Connection) -> None:
    """The pool's reset on release: nothing to send.

    asyncpg still ends any open transaction itself; its default reset query (unlock advisory
    locks, close cursors, UNLISTEN, RESET ALL) guards session state this service never
    creates, and cost a round trip after every statement on a cache miss.
    """


async def create_pool(database_url: str, settings: Settings) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        database_url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        statement_cache_size=settings.statement_cache_size,
        reset=_keep_session,
        # PostgreSQL cancels a statement running longer: one slow query cannot hold a
        # connection (and the pool) hostage.
        server_settings={"statement_timeout": str(int(settings.statement_timeout * 1000))},
    )
