"""The race of test_interleaving across two server processes: a read held on one while a trade
runs on the other.

Server A (tests/cache/gated_server.py: `app.py serve` with a gate before its fills) reads a
user's positions: its SQL runs and its fill waits at the gate. Server B, a plain
`python app.py serve`, records a trade for that user and returns, so the trade has committed
and B has moved the versions in Redis. Then A's fill goes on: the script sees the version B
moved and writes nothing. Every read after that, on A and on B, shows the trade. The control
runs the same race on a server whose fill ignores the version it saw: the old positions come
back, on both servers, after the trade returned.

The servers share one key prefix for the module; each test has its own user, so its keys are
its own.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from decimal import Decimal

import asyncpg
import httpx
import pytest

from tests.cache.races import TIMEOUT
from tests.cache.test_interleaving import buy, shares_in_database, shares_of
from tests.conftest import GraphQLClient, unique_prefix
from tests.factories import insert_positions_on_real_markets, insert_user
from tests.server_processes import SERVE, Server, running_servers

GATED = ("-m", "tests.cache.gated_server")


@pytest.fixture(scope="module")
def servers(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Server]]:
    """A (gated), A-unguarded (gated, its fills unguarded) and B (plain), on one prefix."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "APP_ENV": "test",  # X-Debug-Counts answers outside production only
        "CACHE_PREFIX": unique_prefix(),
        "CACHE_WARM_MARKETS": "0",
        "CACHE_REFRESH_MARKETS": "false",
        "RATE_LIMIT": "false",
        "GRAPHIQL": "false",
        "POOL_MIN_SIZE": "1",
        "POOL_MAX_SIZE": "4",
        "LOG_LEVEL": "WARNING",
    }
    specs = [
        ("A", env, GATED),
        ("A-unguarded", {**env, "UNGUARDED_FILL": "1"}, GATED),
        ("B", env, SERVE),
    ]
    with running_servers(specs, tmp_path_factory.mktemp("servers")) as started:
        yield started


@pytest.fixture
async def user(seeded: str, db: asyncpg.Connection, new_telegram_id: Callable[[], str]) -> str:
    telegram_id = new_telegram_id()
    await insert_positions_on_real_markets(db, await insert_user(db, telegram_id), 2)
    return telegram_id


async def read_held_while_the_other_server_trades(
    reader: Server, writer: Server, db: asyncpg.Connection, user: str
) -> tuple[list[Decimal], list[Decimal], list[Decimal], list[Decimal]]:
    """(what the held read got, what is in the database, what a read on the reader's server
    gets afterwards, and what one on the writer's server gets)."""
    async with (
        httpx.AsyncClient(base_url=reader.url, timeout=TIMEOUT) as on_reader,
        httpx.AsyncClient(base_url=writer.url, timeout=TIMEOUT) as on_writer,
    ):
        armed = await on_reader.post("/gate/arm", params={"kind": "user_positions"})
        assert armed.status_code == 204
        held = asyncio.create_task(shares_of(GraphQLClient(on_reader), user))
        try:
            reached = await on_reader.get("/gate/reached")
            assert reached.status_code == 204, reached.text  # its SQL ran; its fill waits
            await buy(GraphQLClient(on_writer), db, user)  # committed, bumped, returned
            assert (await on_reader.post("/gate/release")).status_code == 204
            raced, _ = await asyncio.wait_for(held, TIMEOUT)
        finally:
            held.cancel()
        after_on_reader, _ = await shares_of(GraphQLClient(on_reader), user)
        after_on_writer, _ = await shares_of(GraphQLClient(on_writer), user)
    return raced, await shares_in_database(db, user), after_on_reader, after_on_writer


def logs_of(servers: dict[str, Server]) -> str:
    return "\n".join(server.log_tail() for server in servers.values())


async def test_a_fill_held_on_one_server_past_a_trade_on_the_other_is_dropped(
    servers: dict[str, Server], db: asyncpg.Connection, user: str
) -> None:
    raced, in_database, on_a, on_b = await read_held_while_the_other_server_trades(
        servers["A"], servers["B"], db, user
    )
    assert raced != in_database  # the held read read before the trade, as intended
    assert on_a == in_database, logs_of(servers)
    assert on_b == in_database, logs_of(servers)


async def test_control_an_unguarded_fill_on_one_server_serves_the_old_value_on_both(
    servers: dict[str, Server], db: asyncpg.Connection, user: str
) -> None:
    raced, in_database, on_a, on_b = await read_held_while_the_other_server_trades(
        servers["A-unguarded"], servers["B"], db, user
    )
    assert raced != in_database
    assert on_a == on_b == raced
