"""Shared fixtures: a fresh database per test session on a real PostgreSQL, and a real Redis.

With TEST_DATABASE_URL or DATABASE_URL set (CI: the machine's server) the tests create their own
database on that server and drop it at the end; they never touch another database. With neither,
they start the embedded PostgreSQL (pgserver) under .data/test, as the service would.
Redis likewise: TEST_REDIS_URL or REDIS_URL, else the embedded one; every app a test builds uses
a key prefix of its own, so tests never read or write another run's keys.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis

from app import create_app
from cache.embedded import start_redis
from settings import ROOT, Settings
from sql.databases import scratch_database
from sql.embedded import start_postgres


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    server = start_postgres(Path(ROOT / ".data" / "test"))
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
async def database_url(server_url: str) -> AsyncIterator[str]:
    """The test session's own database."""
    async with scratch_database(server_url, "test") as url:
        yield url


@pytest.fixture(scope="session")
async def seeded(database_url: str) -> str:
    """The session database with the real markets and a small deterministic set of users.

    Tests that write create their own users (fresh Telegram ids) so they never depend on the
    order tests run in; tests that need a special market insert it themselves.
    """
    from seed import seed_database

    connection = await asyncpg.connect(database_url)
    try:
        await seed_database(connection, users=60, seed=7)
    finally:
        await connection.close()
    return database_url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    server = start_redis(Path(ROOT / ".data" / "test"))
    yield server.url
    server.stop()


FORBIDDEN_COMMANDS = ("keys", "scan", "sscan", "hscan", "zscan", "flushdb", "flushall")


def forbidden_calls(url: str) -> dict[str, int]:
    """How often Redis has run each command the service must never send."""
    client = redis.Redis.from_url(url)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return {name: stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in FORBIDDEN_COMMANDS}


# Every cache prefix this run made (in this process): its keys go when the run ends.
PREFIXES: set[str] = set()
_PREFIX = re.compile(rb"test-[0-9a-f]{8}")


@pytest.fixture(scope="session")
def keys_removed_at_end(redis_url: str) -> Iterator[None]:
    """The run's keys, removed from the Redis it ran on when it ends: most would expire, but
    trigger streams, relay sets and epochs have no expiry and piled up run after run. Found
    by SCAN, so this ends after the check that nothing else sent one."""
    yield
    client = redis.Redis.from_url(redis_url)
    try:
        ours: list[bytes] = []
        for key in client.scan_iter(match="*test-*", count=1000):
            if any(found.decode() in PREFIXES for found in _PREFIX.findall(key)):
                ours.append(key)
        for start in range(0, len(ours), 1000):
            client.unlink(*ours[start : start + 1000])
    finally:
        client.close()


@pytest.fixture(scope="session", autouse=True)
def no_keys_scan_or_flush(redis_url: str, keys_removed_at_end: None) -> Iterator[None]:
    """Redis's own command statistics: the whole suite sends no KEYS, SCAN or FLUSH."""
    before = forbidden_calls(redis_url)
    yield
    after = forbidden_calls(redis_url)
    assert after == before, f"forbidden Redis commands ran during the tests: {before} -> {after}"


def unique_prefix() -> str:
    prefix = f"test-{secrets.token_hex(4)}"
    PREFIXES.add(prefix)
    return prefix


@pytest.fixture(scope="session")
def settings(database_url: str, redis_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        cache_prefix=unique_prefix(),
        app_env="test",
        graphiql=False,
        pool_max_size=5,
        warm_markets=0,
        # A refresh in the background would add its statements to counted tests;
        # tests/cache/test_refresh.py turns it on.
        refresh_markets=False,
        # Counted tests would count its round trips; tests/test_hardening.py turns it on.
        rate_limit=False,
        # CI runs the contract and freshness tests again with EXECUTION_PLANS=false (Makefile),
        # so that both executors answer them; servers the tests start inherit the variable.
        execution_plans=os.environ.get("EXECUTION_PLANS", "true") != "false",
    )


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client speaking to a whole app (middleware, lifespan, view) in-process."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


@pytest.fixture(scope="session")
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(settings) as http:
        yield http


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection for tests to read rows and compute expected answers themselves."""
    connection = await asyncpg.connect(database_url)
    try:
        yield connection
    finally:
        await connection.close()


@dataclass
class Answer:
    """One GraphQL response: data, errors, and what the request cost."""

    status: int
    data: Any
    errors: list[dict[str, Any]]
    sql: int
    redis: int

    @property
    def codes(self) -> list[str]:
        return [e.get("extensions", {}).get("code") for e in self.errors]


def shares_by_position(answer: Answer) -> dict[str, Decimal]:
    """A Portfolio answer's ACTIVE positions: id -> shares."""
    return {p["id"]: Decimal(p["shares"]) for p in answer.data["user"]["positions"]}


async def active_shares(db: asyncpg.Connection, user_id: int) -> dict[str, Decimal]:
    """The same, read from the database: what the answer must equal."""
    rows = await db.fetch(
        "SELECT id, shares FROM position WHERE user_id = $1 AND status = 'ACTIVE'", user_id
    )
    return {str(row["id"]): row["shares"] for row in rows}


class GraphQLClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, operation: str | None = None
    ) -> Answer:
        response = await self.http.post(
            "/graphql",
            json={"query": query, "variables": variables or {}, "operationName": operation},
            headers={"X-Debug-Counts": "1"},
        )
        body = response.json()
        counts = (body.get("extensions") or {}).get("counts", {})
        return Answer(
            status=response.status_code,
            data=body.get("data"),
            errors=body.get("errors") or [],
            sql=counts.get("sql", -1),
            redis=counts.get("redis", -1),
        )


@pytest.fixture
def gql(client: httpx.AsyncClient, seeded: str) -> GraphQLClient:
    """Posts a document to /graphql of the seeded app; answers with data, errors and counts."""
    return GraphQLClient(client)


_telegram_ids = itertools.count(9_000_000_000 + secrets.randbelow(10**9) * 1000)


@pytest.fixture
def new_telegram_id() -> Callable[[], str]:
    """Telegram ids no other test uses (above 2^32, as real ones can be)."""
    return lambda: str(next(_telegram_ids))


def contract_documents() -> str:
    return (Path(__file__).parent / "contract" / "operations.graphql").read_text()
