"""The store's scripts: sent by SHA-1 once Redis has run them, and again with their text when
Redis has forgotten them (a restart, SCRIPT FLUSH), on a Redis of the test's own.

Without that second sending, the first fill after Redis forgot would fail with NOSCRIPT: the
store would step aside (reads from PostgreSQL for REDIS_RETRY_AFTER) and fill nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY

import cache.store
from settings import Settings
from tests.cache.redis_servers import RedisServer, running_server
from tests.conftest import Answer, GraphQLClient, contract_documents, serving, unique_prefix
from tests.factories import insert_holder

DOCUMENTS = contract_documents()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    with running_server(tmp_path) as server:
        yield server


def redis_errors() -> float:
    return sum(
        sample.value
        for metric in REGISTRY.collect()
        for sample in metric.samples
        if sample.name == "polycool_redis_errors_total"
    )


async def fill_after_scripts_flushed(
    settings: Settings,
    db: asyncpg.Connection,
    own_redis: RedisServer,
    new_telegram_id: Callable[[], str],
) -> tuple[Answer, Answer, float]:
    """A cold Portfolio (its fills send the script's text, then its SHA-1), SCRIPT FLUSH, a
    cold Portfolio of another user, and that Portfolio again; with the Redis errors counted."""
    first, second = [await insert_holder(db, new_telegram_id(), 3) for _ in range(2)]
    fresh = settings.replace(
        redis_url=own_redis.url, cache_prefix=unique_prefix(), answer_cache=False, read_ahead=False
    )
    async with serving(fresh) as http:
        gql = GraphQLClient(http)
        await gql(DOCUMENTS, {"telegramId": first.telegram_id}, "Portfolio")
        with own_redis.client() as client:
            client.script_flush()
        errors = redis_errors()
        cold = await gql(DOCUMENTS, {"telegramId": second.telegram_id}, "Portfolio")
        warm = await gql(DOCUMENTS, {"telegramId": second.telegram_id}, "Portfolio")
    assert cold.errors == warm.errors == []
    return cold, warm, redis_errors() - errors


async def test_a_redis_that_forgot_the_scripts_gets_their_text_again(
    settings: Settings,
    seeded: str,
    db: asyncpg.Connection,
    own_redis: RedisServer,
    new_telegram_id: Callable[[], str],
) -> None:
    cold, warm, errors = await fill_after_scripts_flushed(settings, db, own_redis, new_telegram_id)
    assert errors == 0
    # The second user's markets are the first's, cached: 3 reads and 2 fills, the first of
    # which answered NOSCRIPT and went again with the script's text (a round trip more); the
    # next went by SHA-1 again, Redis having the script back.
    assert (cold.sql, cold.redis) == (2, 6)
    assert (warm.sql, warm.redis) == (0, 3)


async def test_control_without_the_second_sending_the_fill_is_lost(
    settings: Settings,
    seeded: str,
    db: asyncpg.Connection,
    own_redis: RedisServer,
    new_telegram_id: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Never(Exception):
        """Raised by nothing: NOSCRIPT is then a failure like any other."""

    monkeypatch.setattr(cache.store, "NoScriptError", Never)
    _, warm, errors = await fill_after_scripts_flushed(settings, db, own_redis, new_telegram_id)
    assert errors > 0  # the store stepped aside
    assert warm.sql > 0  # nothing was filled: PostgreSQL answers again


async def test_the_direct_exchange_answers_as_the_pipeline_does(redis_url: str) -> None:
    """The request path's exchanges skip redis-py's pipeline on a single server: the same
    commands give the same replies (SET's own excepted: Redis's b"OK", not redis-py's True),
    and a command the direct path does not record goes through the pipeline instead."""
    settings = Settings(redis_url=redis_url, cache_prefix=unique_prefix())
    store = cache.store.connect(settings, redis_url)
    names = [f"{settings.cache_prefix}:direct:{n}" for n in range(3)]

    def queue(pipeline: cache.store.Pipeline) -> None:
        pipeline.set(names[0], b"zero", px=60_000)
        pipeline.mget(names)
        pipeline.mget(names[0], names[1])
        pipeline.execute_command("MGET", *names)
        pipeline.get(names[2])
        pipeline.pttl(names[1])

    try:
        direct = await store.run("read", queue)
        piped = await store.run("refresh", queue)  # not a direct operation: the pipeline
        assert direct is not None
        assert piped is not None
        assert direct[0] == b"OK"
        assert piped[0] is True
        assert (
            direct[1:]
            == piped[1:]
            == [
                [b"zero", None, None],
                [b"zero", None],
                [b"zero", None, None],
                None,
                -2,
            ]
        )
        unlinked = await store.run("read", lambda pipeline: pipeline.unlink(*names))
        assert unlinked == [1]  # UNLINK is not recorded: sent through the pipeline
    finally:
        await store.close()


def test_the_request_path_packs_commands_as_redis_py_does() -> None:
    """hiredis packs the lean exchanges: byte for byte what redis-py's packer would send."""
    from redis.asyncio.connection import Connection

    from cache.store import _packed

    commands: list[tuple[Any, ...]] = [
        ("MGET", "p:epoch", *(f"p:{{m:{n}}}:market:{n}" for n in range(300))),
        ("SET", "p:answer", b'token|epoch|{"price": "0.5", "name": "Fran\xc3\xa7a"}', "PX", 20_000),
        ("EVALSHA", "ab" * 20, 2, "p:v", "p:e", "0", 1.5, "", "é" * 3, b"\x00\xff"),
        ("PTTL", "p:e"),
    ]
    assert _packed(commands) == b"".join(Connection().pack_commands(commands))


async def closed_by_redis_then_read(own_redis: RedisServer) -> tuple[list[Any] | None, float]:
    """Three exchanges at once (three idle connections of the store's), Redis closing all
    three, then one read: what the read answered, and the Redis errors counted meanwhile."""
    settings = Settings(redis_url=own_redis.url, cache_prefix=unique_prefix())
    store = cache.store.connect(settings, own_redis.url)
    name = f"{settings.cache_prefix}:closed"

    async def client_id() -> int:
        found = await store.run("read", lambda p: p.execute_command("CLIENT", "ID"))
        assert found is not None
        return int(found[0])

    try:
        ids = set(await asyncio.gather(client_id(), client_id(), client_id()))
        assert len(ids) == 3  # each exchange on a connection of its own, all idle now
        with own_redis.client() as control:
            for found in ids:
                control.execute_command("CLIENT", "KILL", "ID", found)
        errors = redis_errors()
        read = await store.run("read", lambda p: p.get(name))
        return read, redis_errors() - errors
    finally:
        await store.close()


async def test_connections_redis_closed_are_replaced_without_stepping_aside(
    own_redis: RedisServer,
) -> None:
    """A restart (here CLIENT KILL) closes every idle connection the store keeps: the first
    exchange to meet one drops them all and is sent once more on a new connection, so the
    request is still answered from Redis."""
    read, errors = await closed_by_redis_then_read(own_redis)
    assert read == [None]
    assert errors == 0


async def test_control_keeping_the_closed_connections_the_store_steps_aside(
    own_redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Control: with the other idle connections kept when one was found closed, the second
    sending takes the next closed one, and the store steps aside (PostgreSQL answers)."""

    async def keep_them(self: object) -> None:
        return None

    monkeypatch.setattr(cache.store._Idle, "drop", keep_them)
    read, errors = await closed_by_redis_then_read(own_redis)
    assert read is None
    assert errors == 1
