"""PostgreSQL access: the pool, the one place where SQL statements are counted, and where an
outage gets its name.

Every statement the service sends goes through `Database`, which adds one to the counts of the
request (or command) it runs in (metrics.count_sql). Tests assert on those counts, so "one SQL
statement per loader batch" is checked, not hoped for.

PostgreSQL being away (refusing connections, starting, shutting down, a connection cut under a
statement or a COMMIT) leaves here as `errors.Unavailable` (SERVICE_UNAVAILABLE, retry), whatever
asyncpg called it, and is logged once per outage, not once per request. A statement PostgreSQL
refused (a constraint, a syntax error, a timeout) stays what it was: a bug is not an outage.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final, Protocol

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from errors import Busy, Unavailable
from settings import Settings
from telemetry.metrics import count_sql

log = logging.getLogger(__name__)


UNAVAILABLE_MESSAGE: Final = "The database is unreachable; retry shortly."

# What asyncpg raises when PostgreSQL cannot be reached, as seen stopping (fast shutdown) and
# starting a server under the service (tests/sql/test_postgres_outage.py): a refused or reset
# connect, "the database system is starting up / shutting down", a session ended by the
# shutdown, and a connection that died mid-statement (asyncpg names that 08003, with the server's
# 57P01 as its cause). OSError includes TimeoutError: a connect that hung past asyncpg's own
# timeout.
_AWAY: Final = (
    OSError,
    asyncpg.PostgresConnectionError,  # 08xxx: the connection failed or is gone
    asyncpg.CannotConnectNowError,  # 57P03: starting up, shutting down, recovering
    asyncpg.AdminShutdownError,  # 57P01: the session ended by a shutdown
    asyncpg.CrashShutdownError,  # 57P02: another backend crashed; every session ends
)


def is_away(
    error: BaseException,
    connection: asyncpg.Connection | PoolConnectionProxy | None = None,
) -> bool:
    """Whether `error` says PostgreSQL cannot be reached (retry later), not that a statement or
    the code is wrong."""
    if isinstance(error, asyncpg.ProtocolViolationError):  # 08P01: a bug on one side
        return False
    if isinstance(error, _AWAY):
        return True
    # InterfaceError is also asyncpg's misuse error ("another operation is in progress"): an
    # outage only when the connection in hand has died ("connection is closed").
    return (
        isinstance(error, asyncpg.InterfaceError)
        and connection is not None
        and _is_dead(connection)
    )


def _is_dead(connection: asyncpg.Connection | PoolConnectionProxy) -> bool:
    try:
        return connection.is_closed()
    except asyncpg.InterfaceError:  # a proxy whose dead connection the pool took back
        return True


class Outage:
    """Whether PostgreSQL was last found away, so an outage is logged when it starts and when
    it ends, once each.

    Kept per pool, not per request: during an outage every request fails at once, and a line
    each would bury the one that matters. A process has one pool (the service's, or the
    worker's), so that is one line per process; the pool's one event loop needs no lock. Both
    lines are warnings so that they show together at LOG_LEVEL=WARNING.
    """

    def __init__(self) -> None:
        self.away = False

    def begin(self, error: BaseException) -> None:
        if not self.away:
            self.away = True
            log.warning(
                "the database is away (%s: %s): what needs it answers SERVICE_UNAVAILABLE "
                "until it is back",
                type(error).__name__,
                error,
            )

    def end(self) -> None:
        if self.away:
            self.away = False
            log.warning("the database is back")


class Row(Protocol):
    """A row by column name: an asyncpg Record, or a dict (as the cache will hold rows)."""

    def __getitem__(self, key: str, /) -> Any: ...


class Database:
    """Runs statements on a pool, or on one connection inside a transaction; counts each.

    Waiting for a pooled connection is bounded: past `acquire_timeout` the request fails fast
    with SERVICE_BUSY instead of queueing behind a burst until the client gives up (or with
    SERVICE_UNAVAILABLE when the wait was for a connect that hung, not for a busy pool).
    """

    def __init__(
        self,
        executor: asyncpg.Pool | asyncpg.Connection | PoolConnectionProxy,
        acquire_timeout: float | None = None,
        *,
        outage: Outage | None = None,
    ) -> None:
        self._executor = executor
        self._acquire_timeout = acquire_timeout
        # A transaction's Database shares its pool's, so the outage is still logged once.
        self.outage = outage or Outage()

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
        """One transaction on one connection; BEGIN and COMMIT are not counted as statements.

        A connection lost inside it, COMMIT included, raises Unavailable: PostgreSQL ends the
        session and rolls the transaction back, so nothing of it was written (unless the
        connection died after PostgreSQL committed and before its answer arrived, which no
        client can tell).
        """
        async with self.connection() as connection, connection.transaction():
            yield (
                self if connection is self._executor else Database(connection, outage=self.outage)
            )

    @asynccontextmanager
    async def connection(
        self,
    ) -> AsyncIterator[asyncpg.Connection | PoolConnectionProxy]:
        """A connection for a block of statements; PostgreSQL away, in the block or while
        connecting, raises Unavailable."""
        pool = self._executor
        if not isinstance(pool, asyncpg.Pool):
            async with self._watching(pool):
                yield pool
            return
        try:
            connection = await pool.acquire(timeout=self._acquire_timeout)
        except TimeoutError as error:
            if pool.get_size() - pool.get_idle_size() < pool.get_max_size():
                # Some connection was free to open: the wait was for PostgreSQL to answer.
                raise self._unavailable(error) from error
            raise Busy(
                f"The service is busy: no database connection was free within "
                f"{self._acquire_timeout} s. Retry shortly."
            ) from None
        except Exception as error:
            if is_away(error):
                raise self._unavailable(error) from error
            raise
        try:
            async with self._watching(connection):
                yield connection
        finally:
            await pool.release(connection)

    @asynccontextmanager
    async def _watching(
        self, connection: asyncpg.Connection | PoolConnectionProxy
    ) -> AsyncIterator[None]:
        try:
            yield
        except Exception as error:
            if is_away(error, connection):
                raise self._unavailable(error) from error
            raise
        self.outage.end()

    def _unavailable(self, error: BaseException) -> Unavailable:
        self.outage.begin(error)
        return Unavailable(UNAVAILABLE_MESSAGE)


async def _keep_session(connection: asyncpg.Connection) -> None:
    """The pool's reset on release: nothing to send.

    asyncpg still ends any open transaction itself; its default reset query (unlock advisory
    locks, close cursors, UNLISTEN, RESET ALL) guards session state this service never
    creates, and cost a round trip after every statement on a cache miss.
    """


class _QuietFloorRetries(logging.Filter):
    """Drops asyncpg's traceback for each failed reconnect of the pool's minimum connections
    (1, 2, 4... s apart while PostgreSQL is away): `Outage` says the database is away, once.
    Any other failure of that kind is kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not (
            error is not None
            and is_away(error)
            and record.getMessage().startswith("Failed to restore the pool connection floor")
        )


_QUIET_FLOOR_RETRIES: Final = _QuietFloorRetries()


async def create_pool(database_url: str, settings: Settings) -> asyncpg.Pool:
    logging.getLogger("asyncpg.pool").addFilter(_QUIET_FLOOR_RETRIES)  # a second add does nothing
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
