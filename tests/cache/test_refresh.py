"""Markets read again: ahead of expiry (cache/warm.py keep_markets_warm) and after a price
write (refill_markets).

A market held in an ACTIVE position stays cached past its TTL because one process re-reads it
every half TTL; with the refresh off, the same read misses (the control). A process that does
not hold the round's lease leaves the round to the one that does. A refresh that read the old
prices before a price update committed cannot write them back over the new ones, nor can a
price writer's read-back that read its prices before a newer update committed; with the fill
unguarded, both do (the controls).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
import redis.asyncio

import cache.read_through
import sql
from cache.keys import KeyNames
from cache.kinds import MARKET
from cache.read_through import CacheSession
from settings import Settings
from tests.cache.races import TIMEOUT, Gate, unguarded_fill
from tests.cache.test_interleaving import running
from tests.conftest import GraphQLClient, contract_documents, serving, unique_prefix
from tests.factories import insert_market, insert_user

DOCUMENTS = contract_documents()
PRICES_TTL = 2.4  # refreshed every 1.2 s


async def held_market(db: asyncpg.Connection, new_telegram_id: Callable[[], str]) -> str:
    """A market of the test's own, held in an ACTIVE position (so the refresh follows it)."""
    market = await insert_market(db, outcomes=["Yes", "No"], prices=[Decimal("0.5")] * 2)
    user_id = await insert_user(db, new_telegram_id())
    await db.execute(
        "INSERT INTO position (user_id, market_id, outcome, shares, entry_price) "
        "VALUES ($1, $2, 'Yes', 1, 0.5)",
        user_id,
        market,
    )
    return market


async def batch(gql: GraphQLClient, ids: list[str]) -> Any:
    answer = await gql(DOCUMENTS, {"ids": ids}, "MarketsBatch")
    assert answer.errors == []
    return answer


@pytest.mark.parametrize("refresh", [True, False], ids=["refreshed", "control"])
async def test_a_held_market_outlives_its_ttl_only_when_refreshed(
    settings: Settings,
    seeded: str,
    db: asyncpg.Connection,
    new_telegram_id: Callable[[], str],
    refresh: bool,
) -> None:
    market = await held_market(db, new_telegram_id)
    changed = settings.replace(
        cache_prefix=unique_prefix(), ttl_prices=PRICES_TTL, refresh_markets=refresh
    )
    async with serving(changed) as http:
        gql = GraphQLClient(http)
        assert (await batch(gql, [market])).sql == 1  # cold
        await asyncio.sleep(PRICES_TTL + 0.6)  # past the TTL of what that read filled
        later = await batch(gql, [market])
    assert later.data["markets"][0]["id"] == market
    assert later.sql == (0 if refresh else 1)


async def test_a_process_without_the_lease_leaves_the_round_alone(
    settings: Settings,
    seeded: str,
    db: asyncpg.Connection,
    redis_url: str,
    new_telegram_id: Callable[[], str],
) -> None:
    market = await held_market(db, new_telegram_id)
    prefix = unique_prefix()
    changed = settings.replace(cache_prefix=prefix, ttl_prices=PRICES_TTL, refresh_markets=True)
    holder = redis.asyncio.Redis.from_url(redis_url)
    try:
        # Another process holds the lease for longer than this test runs.
        await holder.set(KeyNames(prefix).refresh_lease, "elsewhere", px=60_000)
        async with serving(changed) as http:
            gql = GraphQLClient(http)
            await batch(gql, [market])
            await asyncio.sleep(PRICES_TTL + 0.6)
            assert (await batch(gql, [market])).sql == 1
    finally:
        await holder.delete(KeyNames(prefix).refresh_lease)
        await holder.aclose()


async def refresh_racing_a_price_update(
    settings: Settings, db: asyncpg.Connection, new_telegram_id: Callable[[], str]
) -> list[Decimal]:
    """The prices a reader sees after a refresh read the old ones and a price update landed."""
    market = await held_market(db, new_telegram_id)
    async with running(settings) as (app, gql):
        await batch(gql, [market])
        store = app.state.cache
        gate = Gate("market")
        store.before_fill = gate

        async def select(ids: list[str]) -> dict[str, Any]:
            return {row["id"]: row for row in await db.fetch(sql.MARKETS_BY_ID, ids)}

        refresh = asyncio.create_task(CacheSession(store).refresh(MARKET, [market], select))
        await asyncio.wait_for(gate.reached.wait(), 10)  # read the old prices; the fill waits
        update = {"marketId": market, "outcomePrices": ["0.9", "0.1"]}
        priced = await gql(DOCUMENTS, {"updates": [update]}, "UpdateMarketPrices")
        assert priced.errors == []
        gate.release.set()
        await asyncio.wait_for(refresh, 10)
        after = await batch(gql, [market])
    return [Decimal(p) for p in after.data["markets"][0]["outcomePrices"]]


async def test_a_refresh_cannot_write_old_prices_over_new_ones(
    settings: Settings, seeded: str, db: asyncpg.Connection, new_telegram_id: Callable[[], str]
) -> None:
    prices = await refresh_racing_a_price_update(settings, db, new_telegram_id)
    assert prices == [Decimal("0.9"), Decimal("0.1")]


async def test_control_an_unguarded_refresh_would_write_them_back(
    settings: Settings,
    seeded: str,
    db: asyncpg.Connection,
    new_telegram_id: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cache.read_through, "FILL", unguarded_fill())
    prices = await refresh_racing_a_price_update(settings, db, new_telegram_id)
    assert prices == [Decimal("0.5"), Decimal("0.5")]


async def read_back_racing_a_newer_price_update(
    settings: Settings, db: asyncpg.Connection
) -> list[Decimal]:
    """The prices read once two price updates of one market have returned, the first one's
    read-back (refill_markets) having read its prices before the second one committed."""
    market = await insert_market(db, outcomes=["Yes", "No"], prices=[Decimal("0.5")] * 2)

    async with running(settings) as (app, gql):

        async def price(yes: str, no: str) -> None:
            update = {"marketId": market, "outcomePrices": [yes, no]}
            answer = await gql(DOCUMENTS, {"updates": [update]}, "UpdateMarketPrices")
            assert answer.errors == []

        await batch(gql, [market])
        gate = Gate("market")
        app.state.cache.before_fill = gate
        first = asyncio.create_task(price("0.7", "0.3"))
        await asyncio.wait_for(gate.reached.wait(), TIMEOUT)  # committed; its read-back waits
        await price("0.9", "0.1")  # committed, bumped, read back, returned
        gate.release.set()
        await asyncio.wait_for(first, TIMEOUT)
        after = await batch(gql, [market])
    return [Decimal(p) for p in after.data["markets"][0]["outcomePrices"]]


async def test_a_price_writers_read_back_cannot_write_older_prices_over_newer_ones(
    settings: Settings, seeded: str, db: asyncpg.Connection
) -> None:
    assert await read_back_racing_a_newer_price_update(settings, db) == [
        Decimal("0.9"),
        Decimal("0.1"),
    ]


async def test_control_an_unguarded_read_back_would_write_them_back(
    settings: Settings, seeded: str, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache.read_through, "FILL", unguarded_fill())
    assert await read_back_racing_a_newer_price_update(settings, db) == [
        Decimal("0.7"),
        Decimal("0.3"),
    ]
