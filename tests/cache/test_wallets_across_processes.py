"""The shared feed and leaderboard across two server processes: a write on one is seen on both.

Two plain `python app.py serve` processes share one Redis key prefix and the session database.
Both read the feed and the leaderboard until each serves them from its cache (no SQL: the kept
answer, or the loaders' entries). Then each kind of write runs on one server and returns, and
the next read on either server must equal what the rows say: a wallet trade (written on A)
tops the feed on A and on B, while the leaderboard stays cached; new statistics (written on B)
take the trade's wallet out of the feed and put a new leader on top, on both. The old system's
5-minute and 1-hour TTLs would have served the old feed and board for that long. The control
writes on a third server whose wallet writes retire nothing (tests/cache/unretiring_server.py):
the other server then serves the old feed and board.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import Answer, GraphQLClient, contract_documents, unique_prefix
from tests.server_processes import SERVE, Server, running_servers
from tests.test_contract_wallets import expected_feed, expected_leaderboard
from tests.wallet_inputs import new_address, real_tokens, stats, trade

DOCUMENTS = contract_documents()
TIMEOUT = 10.0
UNRETIRING = ("-m", "tests.cache.unretiring_server")


@pytest.fixture(scope="module")
def servers(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Server]]:
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
    specs = [("A", env, SERVE), ("B", env, SERVE), ("unretiring", env, UNRETIRING)]
    with running_servers(specs, tmp_path_factory.mktemp("servers")) as started:
        yield started


async def ok(server: Server, operation: str, **variables: Any) -> Answer:
    async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
        answer = await GraphQLClient(http)(DOCUMENTS, variables, operation)
    assert answer.errors == [], answer.errors
    return answer


async def feed(server: Server) -> tuple[list[str], int]:
    answer = await ok(server, "SmartTrades", first=100)
    return [edge["node"]["id"] for edge in answer.data["smartTrades"]["edges"]], answer.sql


async def board(server: Server) -> tuple[list[tuple[int, str]], int]:
    answer = await ok(server, "Leaderboard", by="SMARTSCORE", first=100)
    return [(e["rank"], e["wallet"]["address"]) for e in answer.data["leaderboard"]], answer.sql


async def rows_feed(db: asyncpg.Connection) -> list[str]:
    return [e["id"] for e in await expected_feed(db, Decimal(300), Decimal("0.55"))][:100]


async def rows_board(db: asyncpg.Connection) -> list[tuple[int, str]]:
    return [(e[0], e[1]) for e in await expected_leaderboard(db, "SMARTSCORE", 100)]


async def cached_on_both(servers: dict[str, Server]) -> None:
    for server in (servers["A"], servers["B"]):
        for read in (feed, board):
            await read(server)
            _, statements = await read(server)
            assert statements == 0, server.log_tail()


def logs(servers: dict[str, Server]) -> str:
    return "\n".join(server.log_tail() for server in servers.values())


async def test_each_wallet_write_on_one_server_is_read_at_once_on_both(
    servers: dict[str, Server], seeded: str, db: asyncpg.Connection
) -> None:
    a, b = servers["A"], servers["B"]
    wallet = new_address()
    await ok(a, "UpdateWalletStats", wallets=[stats(wallet, win_rate="0.8")])
    (token,) = await real_tokens(db, 1)
    await cached_on_both(servers)

    new = trade(wallet, token)
    await ok(a, "RecordWalletTrades", trades=[new])  # committed and retired on return
    expected = await rows_feed(db)
    assert expected[0] == new["id"]
    for server in (b, a):
        assert (await feed(server))[0] == expected, logs(servers)
        entries, statements = await board(server)
        assert entries == await rows_board(db)
        assert statements == 0  # the trade changed no statistic

    await cached_on_both(servers)
    leader = new_address()
    await ok(
        b,
        "UpdateWalletStats",
        wallets=[
            stats(wallet, win_rate="0.5"),
            stats(leader, smartscore=str(10**12 + time.monotonic_ns() // 1000)),
        ],
    )
    expected = await rows_feed(db)
    assert new["id"] not in expected
    expected_board = await rows_board(db)
    assert expected_board[0][1] == leader.lower()
    for server in (a, b):
        assert (await feed(server))[0] == expected, logs(servers)
        assert (await board(server))[0] == expected_board, logs(servers)


async def test_control_a_write_that_retires_nothing_leaves_the_other_server_stale(
    servers: dict[str, Server], seeded: str, db: asyncpg.Connection
) -> None:
    b, writer = servers["B"], servers["unretiring"]
    wallet = new_address()
    await ok(b, "UpdateWalletStats", wallets=[stats(wallet, win_rate="0.8")])
    (token,) = await real_tokens(db, 1)
    await cached_on_both(servers)
    old_feed, _ = await feed(b)
    old_board, _ = await board(b)

    new = trade(wallet, token)
    await ok(writer, "RecordWalletTrades", trades=[new])
    leader = new_address()
    score = str(10**12 + time.monotonic_ns() // 1000)
    await ok(writer, "UpdateWalletStats", wallets=[stats(leader, smartscore=score)])
    assert (await rows_feed(db))[0] == new["id"]
    assert (await rows_board(db))[0][1] == leader.lower()
    assert (await feed(b)) == (old_feed, 0)  # stale: served from the cache
    assert (await board(b)) == (old_board, 0)
