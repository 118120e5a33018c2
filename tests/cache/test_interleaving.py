"""A read that raced a write cannot put the old value back: the two interleavings, forced.

A reader misses, reads PostgreSQL, and pauses before its fill (the store's before_fill hook)
while a mutation commits. Either the mutation's version bump lands before the fill (the fill
script sees the version moved and drops it), or the fill lands between the commit and the
bump (the bump then retires it). In both, every read after the mutation returned sees it.
Controls show each test can fail: with the fill unguarded, or a bump that moves nothing, the
old value comes back.
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
from tests.cache.races import TIMEOUT, Gate, unguarded_fill, version_creating_fill
from tests.conftest import GraphQLClient, contract_documents, unique_prefix
from tests.factories import insert_positions_on_real_markets, insert_user

DOCUMENTS = contract_documents()


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[Starlette, GraphQLClient]]:
    app = create_app(settings.replace(cache_prefix=unique_prefix()))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield app, GraphQLClient(http)


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


async def shares_in_database(db: asyncpg.Connection, telegram_id: str) -> list[Decimal]:
    """The user's ACTIVE shares as PostgreSQL holds them, in the order shares_of gives them."""
    rows = await db.fetch(
        "SELECT shares FROM position p JOIN app_user u ON u.id = p.user_id "
        "WHERE u.telegram_id = $1 AND status = 'ACTIVE'",
        int(telegram_id),
    )
    return sorted(row["shares"] for row in rows)


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
    return raced, await shares_in_database(db, user), after


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
    monkeypatch.setattr(cache.read_through, "FILL", unguarded_fill())
    raced, in_database, after = await stale_fill_after_a_write(settings, db, user)
    assert after == raced != in_database


async def test_control_a_fill_that_creates_the_version_over_a_bump_would_serve_the_old_value(
    settings: Settings, db: asyncpg.Connection, user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The reader above started on a cold cache: it saw no version, and the trade's bump created
    # one before the fill. The script creates a missing version only if it is still missing;
    # one that creates it whenever the reader saw none overwrites the bump's token with its own
    # and files the old rows under it.
    monkeypatch.setattr(cache.read_through, "FILL", version_creating_fill())
    raced, in_database, after = await stale_fill_after_a_write(settings, db, user)
    assert after == raced != in_database


async def fill_between_commit_and_bump(
    settings: Settings,
    db: asyncpg.Connection,
    user: str,
    monkeypatch: pytest.MonkeyPatch,
    *,
    bump: bool,
) -> tuple[list[Decimal], list[Decimal], int]:
    """A reader's stale fill lands after a trade committed and before its bump; then the
    mutation returns. (What the racing reader got, what a read after the return gets, and
    that read's SQL statements.) With `bump` False the trade's bump moves nothing."""
    committed = asyncio.Event()
    bump_may_go = asyncio.Event()
    real_bump = CacheStore.bump

    async def slow_bump(self: CacheStore, scopes: Iterable[Scope]) -> None:
        wanted = list(scopes)
        if wanted:
            committed.set()
            await asyncio.wait_for(bump_may_go.wait(), TIMEOUT)
        if bump:
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
        # Before the mutation returned, the old value may be served: the stale fill is there.
        assert cached == raced
        assert sql == 0
        bump_may_go.set()
        await asyncio.wait_for(writer, TIMEOUT)  # the mutation has returned
        after, sql = await shares_of(gql, user)
    return raced, after, sql


async def test_a_fill_between_commit_and_bump_is_retired_by_the_bump(
    settings: Settings, db: asyncpg.Connection, user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    raced, after, sql = await fill_between_commit_and_bump(
        settings, db, user, monkeypatch, bump=True
    )
    assert after != raced
    assert sum(after) == sum(raced) + 7
    assert sql == 1  # the stale entry was retired: the positions were read again


async def test_control_without_the_bump_the_fill_between_commit_and_bump_is_served(
    settings: Settings, db: asyncpg.Connection, user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same interleaving with a bump that moves nothing for this trade: the fill the reader
    # made between the commit and the bump is served after the mutation returned.
    raced, after, sql = await fill_between_commit_and_bump(
        settings, db, user, monkeypatch, bump=False
    )
    assert after == raced
    assert sql == 0
