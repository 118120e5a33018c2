"""A read that raced a write cannot put the old value back: the two interleavings, forced.

A reader misses, reads PostgreSQL, and pauses before its fill (the store's before_fill hook)
while a mutation commits. Either the mutation's version bump lands before the fill (the fill
script sees the version moved and drops it), or the fill lands between the commit and the
bump (the bump then retires it). In both, every read after the mutation returned sees it.
A control run with an unguarded fill shows the first test can fail.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

import cache.read_through
from app import create_app
from cache.keys import Scope
from cache.store import CacheStore
from settings import Settings
from tests.conftest import GraphQLClient, contract_documents, unique_prefix
from tests.factories import insert_positions_on_real_markets, insert_user

DOCUMENTS = contract_documents()
TIMEOUT = 10


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[Starlette, GraphQLClient]]:
    app = create_app(settings.replace(cache_prefix=unique_prefix()))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield app, GraphQLClient(http)


class Gate:
    """Pauses the first fill of one kind of data until released."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.reached = asyncio.Event()
        self.release = asyncio.Event()
        self.used = False

    async def __call__(self, kind: str) -> None:
        if kind == self.kind and not self.used:
            self.used = True
            self.reached.set()
            await asyncio.wait_for(self.release.wait(), TIMEOUT)


async def shares_of(gql: GraphQLClient, telegram_id: str) -> tuple[list[Decimal], int]:
    answer = await gql(DOCUMENTS, {"telegramId": telegram_id}, "Portfolio")
    assert answer.errors == []
    positions = answer.data["user"]["positions"]
    return sorted(Decimal(p["shares"]) for p in positions), answer.sql


async def buy(gql: GraphQLClient, db: asyncpg.Connection, telegram_id: str) -> Any:
    row = await db.fetchrow(
        "SELECT p.market_id, p.outcome FROM position p JOIN app_user u ON u.id = p.user_id "
        "WHERE u.telegram_id = $1 ORDER BY p.id LIMIT 1",
        int(telegram_id),
    )
    assert row is not None
    answer = await gql(
        DOCUMENTS,
        {"input": {"telegramId": telegram_id, "marketId": row["market_id"],
                   "outcome": row["outcome"], "side": "BUY", "shares": "7", "price": "0.5"}},
        "RecordTrade",
    )  # fmt: skip
    assert answer.errors == []
    return answer


@pytest.fixture
async def user(seeded: str, db: asyncpg.Connection, new_telegram_id: Callable[[], str]) -> str:
    telegram_id = new_telegram_id()
    await insert_positions_on_real_markets(db, await insert_user(db, telegram_id), 2)
    return telegram_id


async def stale_fill_after_a_write(
    settings: Settings, db: asyncpg.Connection, user: str
) -> tuple[list[Decimal], list[Decimal], list[Decimal]]:
    """(what the racing reader got, what is in the database, what the next reader gets)."""
    async with running(settings) as (app, gql):
        gate = Gate("user_positions")
        app.state.cache.before_fill = gate
        reader = asyncio.create_task(shares_of(gql, user))
        await asyncio.wait_for(gate.reached.wait(), TIMEOUT)  # its SQL ran; the fill waits
        await buy(gql, db, user)  # commits and moves the version, then returns
        gate.release.set()
        raced, _ = await asyncio.wait_for(reader, TIMEOUT)
        after, _ = await shares_of(gql, user)
    in_database = sorted(
        r["shares"]
        for r in await db.fetch(
            "SELECT shares FROM position p JOIN app_user u ON u.id = p.user_id "
            "WHERE u.telegram_id = $1 AND status = 'ACTIVE'",
            int(user),
        )
    )
    return raced, in_database, after


async def test_a_fill_after_the_bump_is_dropped(
    settings: Settings, db: asyncpg.Connection, user: str
) -> None:
    raced, in_database, after = await stale_fill_after_a_write(settings, db, user)
    assert raced != in_database  # the racing reader read before the trade, as intended
    assert after == in_database


async def test_control_an_unguarded_fill_would_serve_the_old_value(
    settings: Settings, db: asyncpg.Connection, user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same race with a fill that ignores the version it saw: the old value comes back.
    unguarded = cache.read_through.FILL.replace("elseif current == seen then", "elseif true then")
    assert unguarded != cache.read_through.FILL
    monkeypatch.setattr(cache.read_through, "FILL", unguarded)
    raced, in_database, after = await stale_fill_after_a_write(settings, db, user)
    assert after == raced != in_database


async def test_a_fill_between_commit_and_bump_is_retired_by_the_bump(
    settings: Settings, db: asyncpg.Connection, user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    committed = asyncio.Event()
    bump_may_go = asyncio.Event()
    real_bump = CacheStore.bump

    async def slow_bump(self: CacheStore, scopes: Iterable[Scope]) -> None:
        wanted = list(scopes)
        if wanted:
            committed.set()
            await asyncio.wait_for(bump_may_go.wait(), TIMEOUT)
        await real_bump(self, wanted)

    monkeypatch.setattr(CacheStore, "bump", slow_bump)
    async with running(settings) as (app, gql):
        gate = Gate("user_positions")
        app.state.cache.before_fill = gate
        reader = asyncio.create_task(shares_of(gql, user))
        await asyncio.wait_for(gate.reached.wait(), TIMEOUT)  # read the old rows; fill waits
        writer = asyncio.create_task(buy(gql, db, user))
        await asyncio.wait_for(committed.wait(), TIMEOUT)  # committed, not yet bumped
        gate.release.set()
        raced, _ = await asyncio.wait_for(reader, TIMEOUT)  # its stale fill went in
        cached, sql = await shares_of(gql, user)
        assert cached == raced  # before the mutation returned, the old value may be served
        assert sql == 0
        bump_may_go.set()
        await asyncio.wait_for(writer, TIMEOUT)  # the mutation has returned
        after, sql = await shares_of(gql, user)
    assert after != raced
    assert sum(after) == sum(raced) + 7
    assert sql == 1  # the stale entry was retired: the positions were read again
