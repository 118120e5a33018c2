"""PostgreSQL stopped and started under the service: a retryable code, never an internal error.

The tests own a PostgreSQL server (tests/sql/postgres_server.py), migrated and seeded, which each
stops with a fast shutdown (every session ended, open transactions rolled back) and starts again
on the same port, as a restart or a failover would. The tests hold a `Database` and check
what each failure becomes: SERVICE_UNAVAILABLE for PostgreSQL away, a transaction cut by the
shutdown (before or at its COMMIT) having written nothing; a statement PostgreSQL refuses stays
what it is. Every wait has a deadline and asserts an outcome; nothing is timed.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest

from errors import Unavailable
from seed import seed_database
from sql.database import UNAVAILABLE_MESSAGE, Database
from sql.migrate import migrate
from tests.sql.postgres_server import PostgresServer, running_postgres

AWAY = "the database is away"
BACK = "the database is back"


@pytest.fixture(scope="module")
async def own_server() -> AsyncIterator[PostgresServer]:
    """A server of this module's own, migrated, with the real markets and 60 users (seed 7).
    The tests write only rows of their own (fresh Telegram ids), so they can share it."""
    with running_postgres() as server:
        async with connected(server) as db:
            await migrate(db)
            await seed_database(db, users=60, seed=7)
        yield server


@pytest.fixture
def postgres(own_server: PostgresServer) -> PostgresServer:
    """The module's server, running: a test that failed during its outage left it stopped."""
    if not own_server.is_running():
        own_server.start()
    return own_server


@asynccontextmanager
async def connected(server: PostgresServer) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the test's own; a new one each time, since a stop ends every session."""
    connection = await asyncpg.connect(server.url())
    try:
        yield connection
    finally:
        await connection.close()


@asynccontextmanager
async def database_on(
    server: PostgresServer, *, max_size: int = 2, acquire_timeout: float | None = None
) -> AsyncIterator[Database]:
    pool = await asyncpg.create_pool(server.url(), min_size=1, max_size=max_size)
    try:
        yield Database(pool, acquire_timeout)
    finally:
        await pool.close()


def new_telegram_id() -> int:
    return 8_100_000_000 + secrets.randbelow(10**9)


def outage_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage().split(" (")[0]
        for r in caplog.records
        if r.name == "sql.database" and r.getMessage().startswith((AWAY, BACK))
    ]


# --- What each failure becomes ------------------------------------------------------------------


@pytest.mark.parametrize("cut", ["before COMMIT", "at COMMIT"])
async def test_a_transaction_cut_by_a_shutdown_is_unavailable_and_wrote_nothing(
    postgres: PostgresServer, cut: str, caplog: pytest.LogCaptureFixture
) -> None:
    telegram_id = new_telegram_id()
    caplog.set_level(logging.WARNING, logger="sql.database")

    async def insert_then_stop(database: Database) -> None:
        async with database.transaction() as tx:
            await tx.execute("INSERT INTO app_user (telegram_id) VALUES ($1)", telegram_id)
            await asyncio.to_thread(postgres.stop)
            if cut == "before COMMIT":
                await tx.fetchval("SELECT count(*) FROM app_user")
            # else leaving the block sends COMMIT on the session the shutdown ended

    async with database_on(postgres) as database:
        with pytest.raises(Unavailable) as raised:
            await insert_then_stop(database)
        assert raised.value.code == "SERVICE_UNAVAILABLE"
        assert raised.value.message == UNAVAILABLE_MESSAGE
        await asyncio.to_thread(postgres.start)
        written = await database.fetchval(
            "SELECT count(*) FROM app_user WHERE telegram_id = $1", telegram_id
        )

    assert written == 0
    assert outage_lines(caplog) == [AWAY, BACK]


async def test_postgresql_away_is_unavailable_and_a_statement_it_refuses_is_not(
    postgres: PostgresServer,
) -> None:
    telegram_id = new_telegram_id()
    async with database_on(postgres, acquire_timeout=2.0) as database:
        await database.execute("INSERT INTO app_user (telegram_id) VALUES ($1)", telegram_id)
        await asyncio.to_thread(postgres.stop)
        for _ in range(2):  # every attempt while it is away, not only the first
            with pytest.raises(Unavailable):
                await database.fetchval("SELECT 1")
        await asyncio.to_thread(postgres.start)

        assert await database.fetchval("SELECT 1") == 1
        with pytest.raises(asyncpg.UniqueViolationError):
            await database.execute("INSERT INTO app_user (telegram_id) VALUES ($1)", telegram_id)
        with pytest.raises(asyncpg.PostgresSyntaxError):
            await database.fetch("SELEC 1")


async def test_a_connect_that_hangs_is_unavailable_not_busy(postgres: PostgresServer) -> None:
    async with database_on(postgres, max_size=2, acquire_timeout=0.5) as database:
        # One connection held, one free to open: the wait is for PostgreSQL, not for the pool.
        async with database.connection():
            with postgres.hung(), pytest.raises(Unavailable):
                await database.fetchval("SELECT 1")
        assert await database.fetchval("SELECT 1") == 1
