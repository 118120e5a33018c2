"""Per-user and per-market invalidation: a write retires exactly what it changed, at once.

Each test starts from an empty cache (an app with a key prefix of its own), warms what it will
watch, writes through the API, then reads again: what the write changed is read fresh (a miss,
and the new value), everything else is still served from Redis (a hit, no SQL). Hits and misses
are the service's own per-kind counters, so "exactly" is counted, not assumed. Controls take
out a read's version check, and a closing sell's retiring of the CLOSED list: the old value is
served.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY

from cache.keys import Scope
from cache.read_through import CacheSession
from cache.store import CacheStore
from settings import Settings
from tests.cache.races import hit_ignoring
from tests.conftest import Answer, GraphQLClient, contract_documents, serving, unique_prefix
from tests.factories import insert_market, insert_positions_on_real_markets, insert_user

DOCUMENTS = contract_documents()


@pytest.fixture(params=[True, False], ids=["answers", "loaders"])
def answer_cache(request: pytest.FixtureRequest) -> bool:
    """Each test runs as the service does (whole answers kept) and on the loaders alone."""
    enabled: bool = request.param
    return enabled


@pytest.fixture
async def fresh(
    settings: Settings, seeded: str, answer_cache: bool
) -> AsyncIterator[GraphQLClient]:
    changed = settings.replace(cache_prefix=unique_prefix(), answer_cache=answer_cache)
    async with serving(changed) as http:
        yield GraphQLClient(http)


def lookups(kind: str) -> dict[str, float]:
    return {
        result: REGISTRY.get_sample_value(
            "polycool_cache_lookups_total", {"kind": kind, "result": result}
        )
        or 0.0
        for result in ("hit", "miss")
    }


class Lookups:
    """Hits and misses per kind of data during a block."""

    def __init__(self, *kinds: str) -> None:
        self.kinds = kinds
        self.before = {kind: lookups(kind) for kind in kinds}

    def delta(self, kind: str) -> dict[str, float]:
        now = lookups(kind)
        return {result: now[result] - self.before[kind][result] for result in now}


async def ok(gql: GraphQLClient, operation: str, **variables: Any) -> Any:
    answer = await gql(DOCUMENTS, variables, operation)
    assert answer.errors == [], answer.errors
    return answer


async def user_with_positions(db: asyncpg.Connection, telegram_id: str, count: int) -> None:
    await insert_positions_on_real_markets(db, await insert_user(db, telegram_id), count)


async def test_one_users_trade_leaves_another_users_cache_alone(
    fresh: GraphQLClient,
    db: asyncpg.Connection,
    new_telegram_id: Callable[[], str],
    answer_cache: bool,
) -> None:
    alice, bob = new_telegram_id(), new_telegram_id()
    await user_with_positions(db, alice, 4)
    await user_with_positions(db, bob, 6)
    for telegram_id in (alice, bob):
        await ok(fresh, "Portfolio", telegramId=telegram_id)  # cold: fills the cache
    first = (await ok(fresh, "Portfolio", telegramId=alice)).data["user"]["positions"][0]

    trade = await ok(
        fresh,
        "RecordTrade",
        input={
            "telegramId": alice, "marketId": first["market"]["id"], "outcome": first["outcome"],
            "side": "BUY", "shares": "5", "price": "0.5",
        },
    )  # fmt: skip
    assert Decimal(trade.data["recordTrade"]["position"]["shares"]) == Decimal(first["shares"]) + 5

    counted = Lookups("user_positions", "user", "answer")
    bobs = await ok(fresh, "Portfolio", telegramId=bob)
    assert bobs.sql == 0  # Bob's entries were not touched
    if answer_cache:  # his whole answer still holds: nothing it read changed
        assert counted.delta("answer") == {"hit": 1, "miss": 0}
        assert counted.delta("user_positions") == {"hit": 0, "miss": 0}
    else:
        assert counted.delta("user_positions") == {"hit": 1, "miss": 0}

    counted = Lookups("user_positions", "user", "answer")
    alices = await ok(fresh, "Portfolio", telegramId=alice)
    shares = {p["id"]: Decimal(p["shares"]) for p in alices.data["user"]["positions"]}
    assert shares[first["id"]] == Decimal(first["shares"]) + 5  # fresh at once, not after a TTL
    assert alices.sql == 1  # only her positions were read again
    assert counted.delta("user_positions") == {"hit": 0, "miss": 1}
    assert counted.delta("user") == {"hit": 1, "miss": 0}  # her profile did not change
    assert counted.delta("answer") == (
        {"hit": 0, "miss": 1} if answer_cache else {"hit": 0, "miss": 0}
    )


async def test_a_price_update_invalidates_exactly_the_markets_it_changed(
    fresh: GraphQLClient, db: asyncpg.Connection
) -> None:
    prices = [Decimal("0.4"), Decimal("0.6")]
    markets = [await insert_market(db, outcomes=["Yes", "No"], prices=prices) for _ in range(4)]
    await ok(fresh, "MarketsBatch", ids=markets)  # cold: fills the cache
    counted = Lookups("market")
    updated = await ok(
        fresh,
        "UpdateMarketPrices",
        updates=[
            {"marketId": markets[0], "outcomePrices": ["0.7", "0.3"]},
            {"marketId": markets[2], "outcomePrices": ["0.1", "0.9"]},
        ],
    )
    assert updated.data["updateMarketPrices"]["updated"] == 2
    # The writer retired exactly its two markets and read them back (cache/warm.py): two
    # misses, in one statement of its own beside the read, the prices and the levels.
    assert counted.delta("market") == {"hit": 0, "miss": 2}
    assert updated.sql == 4

    counted = Lookups("market")
    batch = await ok(fresh, "MarketsBatch", ids=markets)
    got = [[Decimal(p) for p in m["outcomePrices"]] for m in batch.data["markets"]]
    assert got == [
        [Decimal("0.7"), Decimal("0.3")],
        prices,
        [Decimal("0.1"), Decimal("0.9")],
        prices,
    ]
    assert counted.delta("market") == {"hit": 4, "miss": 0}
    assert batch.sql == 0


async def test_every_mutation_is_visible_to_the_next_read(
    fresh: GraphQLClient, db: asyncpg.Connection, new_telegram_id: Callable[[], str]
) -> None:
    telegram_id = new_telegram_id()
    market = await insert_market(db, outcomes=["Yes", "No"], prices=[Decimal("0.5")] * 2)
    token = await db.fetchval("SELECT clob_token_ids[1] FROM market WHERE id = $1", market)
    await ok(fresh, "UpsertUser", input={"telegramId": telegram_id, "username": "before"})

    async def portfolio() -> dict[str, Any]:
        user: dict[str, Any] = (await ok(fresh, "Portfolio", telegramId=telegram_id)).data["user"]
        return user

    assert (await portfolio())["positions"] == []
    # Each step: a cached read, a mutation, and the very next read shows it.
    await ok(fresh, "UpsertUser", input={"telegramId": telegram_id, "username": "after"})
    assert (await portfolio())["username"] == "after"

    bought = await ok(
        fresh,
        "RecordTrade",
        input={"telegramId": telegram_id, "marketId": market, "outcome": "yes",
               "side": "BUY", "shares": "10", "price": "0.5"},
    )  # fmt: skip
    position_id = bought.data["recordTrade"]["position"]["id"]
    assert [p["id"] for p in (await portfolio())["positions"]] == [position_id]
    detail = await ok(fresh, "PositionDetail", id=position_id)
    assert detail.data["position"]["takeProfitPrice"] is None

    await ok(fresh, "SetTpSl", positionId=position_id, takeProfitPrice="0.8", stopLossPrice="0.2")
    detail = await ok(fresh, "PositionDetail", id=position_id)
    assert Decimal(detail.data["position"]["takeProfitPrice"]) == Decimal("0.8")
    assert Decimal((await portfolio())["positions"][0]["stopLossPrice"]) == Decimal("0.2")

    # A price crossing the take profit consumes it: the cached position must say so at once.
    triggered = await ok(
        fresh,
        "UpdateMarketPrices",
        updates=[{"marketId": market, "outcomePrices": ["0.85", "0.15"]}],
    )
    assert [t["kind"] for t in triggered.data["updateMarketPrices"]["triggered"]] == ["TAKE_PROFIT"]
    detail = await ok(fresh, "PositionDetail", id=position_id)
    assert detail.data["position"]["takeProfitPrice"] is None
    assert Decimal(detail.data["position"]["currentPrice"]) == Decimal("0.85")
    assert Decimal((await portfolio())["portfolio"]["value"]) == Decimal("8.5")

    synced = await ok(
        fresh,
        "SyncPositions",
        telegramId=telegram_id,
        positions=[{"tokenId": token, "shares": "3", "avgPrice": "0.4"}],
    )
    assert synced.data["syncPositions"]["updated"] == 1
    position = (await portfolio())["positions"][0]
    assert (Decimal(position["shares"]), Decimal(position["entryPrice"])) == (
        Decimal(3),
        Decimal("0.4"),
    )

    await ok(fresh, "SyncPositions", telegramId=telegram_id, positions=[])
    assert (await portfolio())["positions"] == []
    detail = await ok(fresh, "PositionDetail", id=position_id)
    assert detail.data["position"]["status"] == "CLOSED"


async def test_a_failed_mutation_retires_nothing(
    fresh: GraphQLClient, db: asyncpg.Connection, new_telegram_id: Callable[[], str]
) -> None:
    telegram_id = new_telegram_id()
    await user_with_positions(db, telegram_id, 3)
    before = await ok(fresh, "Portfolio", telegramId=telegram_id)
    position = before.data["user"]["positions"][0]
    refused = await fresh(
        DOCUMENTS,
        {"input": {"telegramId": telegram_id, "marketId": position["market"]["id"],
                   "outcome": position["outcome"], "side": "SELL", "shares": "100000",
                   "price": "0.5"}},
        "RecordTrade",
    )  # fmt: skip
    assert refused.codes == ["BAD_USER_INPUT"]
    after = await ok(fresh, "Portfolio", telegramId=telegram_id)
    assert after.data == before.data
    assert after.sql == 0


async def history_around_a_closing_sell(
    fresh: GraphQLClient, db: asyncpg.Connection, telegram_id: str
) -> tuple[Answer, Answer, Answer]:
    """The history read after a buy, the sell that closed the position, the history after it."""
    market = await insert_market(db, outcomes=["Yes", "No"], prices=[Decimal("0.5")] * 2)
    await ok(fresh, "UpsertUser", input={"telegramId": telegram_id})

    def trade(side: str, shares: str) -> dict[str, str]:
        return {"telegramId": telegram_id, "marketId": market, "outcome": "Yes",
                "side": side, "shares": shares, "price": "0.5"}  # fmt: skip

    async def history() -> Any:
        return await ok(fresh, "PositionHistory", telegramId=telegram_id)

    await ok(fresh, "RecordTrade", input=trade("BUY", "4"))
    assert (await history()).data["user"]["positions"] == []  # fills the CLOSED list
    await ok(fresh, "RecordTrade", input=trade("BUY", "6"))
    after_buy = await history()
    sold = await ok(fresh, "RecordTrade", input=trade("SELL", "10"))
    assert sold.data["recordTrade"]["position"]["status"] == "CLOSED"
    return after_buy, sold, await history()


async def test_a_buy_leaves_the_history_cached_and_a_closing_sell_retires_it(
    fresh: GraphQLClient, db: asyncpg.Connection, new_telegram_id: Callable[[], str]
) -> None:
    telegram_id = new_telegram_id()
    after_buy, sold, after_sell = await history_around_a_closing_sell(fresh, db, telegram_id)
    assert after_buy.data["user"]["positions"] == []
    assert after_buy.sql == 0  # the buy changed the ACTIVE list only

    closed = after_sell.data["user"]["positions"]
    assert [p["id"] for p in closed] == [sold.data["recordTrade"]["position"]["id"]]
    # The closing sell retired the CLOSED list, read again; its market is read for the first
    # time (the list was empty until now).
    assert after_sell.sql == 2
    portfolio = await ok(fresh, "Portfolio", telegramId=telegram_id)
    assert portfolio.data["user"]["positions"] == []


async def test_control_a_sell_that_left_the_closed_list_alone_would_hide_the_closed_position(
    fresh: GraphQLClient,
    db: asyncpg.Connection,
    new_telegram_id: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Writes retire only the lists they change, so leaving one out is an easy mistake: here the
    # closing sell's bump skips the CLOSED list, and the history cached before it is served.
    real_bump = CacheStore.bump

    async def bump_but_the_closed_lists(self: CacheStore, scopes: Iterable[Scope]) -> None:
        await real_bump(self, [s for s in scopes if not s.id.endswith(":CLOSED")])

    monkeypatch.setattr(CacheStore, "bump", bump_but_the_closed_lists)
    telegram_id = new_telegram_id()
    _, _, after_sell = await history_around_a_closing_sell(fresh, db, telegram_id)
    assert after_sell.data["user"]["positions"] == []  # the position closed, the list is old
    assert after_sell.sql == 0


async def test_control_entries_read_whatever_their_version_serve_the_old_value(
    fresh: GraphQLClient,
    db: asyncpg.Connection,
    new_telegram_id: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Alice's half of test_one_users_trade_leaves_another_users_cache_alone with the read's
    # version check taken out (an entry is taken whatever token it carries): her kept answer
    # still fails its check and executes, and the loaders serve her old positions.
    monkeypatch.setattr(CacheSession, "_hit", hit_ignoring(token=True))
    alice = new_telegram_id()
    await user_with_positions(db, alice, 4)
    await ok(fresh, "Portfolio", telegramId=alice)  # cold: fills the cache
    first = (await ok(fresh, "Portfolio", telegramId=alice)).data["user"]["positions"][0]
    await ok(
        fresh,
        "RecordTrade",
        input={
            "telegramId": alice, "marketId": first["market"]["id"], "outcome": first["outcome"],
            "side": "BUY", "shares": "5", "price": "0.5",
        },
    )  # fmt: skip
    alices = await ok(fresh, "Portfolio", telegramId=alice)
    shares = {p["id"]: Decimal(p["shares"]) for p in alices.data["user"]["positions"]}
    assert shares[first["id"]] == Decimal(first["shares"])  # not + 5
    assert alices.sql == 0
