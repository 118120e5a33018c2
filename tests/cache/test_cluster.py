"""The cache on a real three-node Redis Cluster: the same answers and counts as on one server.

Every entry shares a hash tag with its scope's version (cache/keys.py), so one MGET reads an
entry and its version and one script fills both; these tests show that holds on a cluster:
warm requests send no SQL, writes retire what they changed on whichever node holds it, and
the keys really are spread over the nodes. No command may fail: a command spanning slots
(CROSSSLOT) would either fail the request (every answer here must have no errors) or, caught
by the store, be counted in polycool_redis_errors_total and quietly answered from PostgreSQL
(every test ends by checking that counter did not move).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY

from cache.answers import Answers
from cache.read_through import CacheSession
from settings import Settings
from tests.cache.redis_servers import ClusterOfThree, running_cluster
from tests.conftest import (
    Answer,
    GraphQLClient,
    active_shares,
    contract_documents,
    forbidden_calls,
    serving,
    shares_by_position,
    unique_prefix,
)
from tests.factories import insert_market, insert_positions_on_real_markets, insert_user

DOCUMENTS = contract_documents()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterOfThree]:
    with running_cluster(tmp_path_factory.mktemp("redis-cluster")) as formed:
        yield formed
        for node in formed.nodes:
            assert not any(forbidden_calls(node.url).values()), "KEYS, SCAN or FLUSH was sent"


@pytest.fixture
async def on_cluster(
    settings: Settings, seeded: str, cluster: ClusterOfThree
) -> AsyncIterator[GraphQLClient]:
    """A GraphQL client on an app caching in the cluster, under a prefix of its own."""
    cached = settings.replace(
        redis_url=cluster.url, redis_cluster=True, cache_prefix=unique_prefix()
    )
    async with serving(cached) as http:
        yield GraphQLClient(http)


def metric_total(name: str) -> float:
    """A counter summed over its labels (every operation: read, fill, invalidate)."""
    return sum(
        sample.value
        for metric in REGISTRY.collect()
        for sample in metric.samples
        if sample.name == name
    )


@pytest.fixture(autouse=True)
def redis_never_fails() -> Iterator[None]:
    """No command of the test failed: no CROSSSLOT, no timeout, no invalidation lost."""
    errors = metric_total("polycool_redis_errors_total")
    lost = metric_total("polycool_cache_lost_invalidations_total")
    yield
    assert metric_total("polycool_redis_errors_total") == errors, "a Redis command failed"
    assert metric_total("polycool_cache_lost_invalidations_total") == lost


@pytest.fixture
async def own_market(db: asyncpg.Connection) -> AsyncIterator[Callable[[], Awaitable[str]]]:
    """Markets of the test's own (inactive, so no listing shows them), deleted afterwards."""
    made: list[str] = []

    async def create() -> str:
        market_id = await insert_market(
            db,
            outcomes=["Yes", "No"],
            prices=[Decimal("0.4"), Decimal("0.6")],
            title="Cluster test market",
            active=False,
        )
        made.append(market_id)
        return market_id

    yield create
    await db.execute("DELETE FROM market WHERE id = ANY($1::text[])", made)


async def ok(gql: GraphQLClient, operation: str, **variables: Any) -> Answer:
    answer = await gql(DOCUMENTS, variables, operation)
    assert answer.status == 200
    assert answer.errors == [], answer.errors
    return answer


async def real_markets(db: asyncpg.Connection, count: int) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT id, title, outcomes, outcome_prices FROM market "
        "WHERE id NOT LIKE 'test-%' AND outcome_prices IS NOT NULL ORDER BY id LIMIT $1",
        count,
    )


def node_key_counts(cluster: ClusterOfThree) -> list[int]:
    counts = []
    for node in cluster.nodes:
        with node.client() as client:
            counts.append(int(client.dbsize()))
    return counts


async def test_portfolio_is_the_same_cold_and_warm_and_warm_sends_no_sql(
    on_cluster: GraphQLClient, db: asyncpg.Connection, new_telegram_id: Callable[[], str]
) -> None:
    telegram_id = new_telegram_id()
    user_id = await insert_user(db, telegram_id)
    await insert_positions_on_real_markets(db, user_id, 300)

    cold = await ok(on_cluster, "Portfolio", telegramId=telegram_id)
    warm = await ok(on_cluster, "Portfolio", telegramId=telegram_id)

    assert shares_by_position(cold) == await active_shares(db, user_id)
    assert cold.data["user"]["portfolio"]["positionCount"] == 300
    assert warm.data == cold.data
    # The counts of one server (tests/test_statement_counts.py): a cluster pipeline is still
    # one round trip, each node sent its share at once. Warm is the stored answer: its key,
    # then the versions of the 150 markets, user and list it read, spread over every node.
    assert (cold.sql, cold.redis) == (3, 8)
    assert (warm.sql, warm.redis) == (0, 2)


async def test_300_markets_are_one_statement_cold_none_warm_and_spread_over_every_node(
    on_cluster: GraphQLClient, db: asyncpg.Connection, cluster: ClusterOfThree
) -> None:
    rows = await real_markets(db, 300)
    ids = [row["id"] for row in rows]
    keys_before = node_key_counts(cluster)

    cold = await ok(on_cluster, "MarketsBatch", ids=ids)
    warm = await ok(on_cluster, "MarketsBatch", ids=ids)

    assert [(m["id"], m["title"]) for m in cold.data["markets"]] == [
        (row["id"], row["title"]) for row in rows
    ]
    assert warm.data == cold.data
    assert (cold.sql, warm.sql) == (1, 0)
    assert warm.redis == 2  # the stored answer, then the versions it rests on
    added = [
        after - before for before, after in zip(keys_before, node_key_counts(cluster), strict=True)
    ]
    assert all(count > 0 for count in added), f"keys added per node: {added}"


async def trades_read_back(
    on_cluster: GraphQLClient, db: asyncpg.Connection, telegram_id: str
) -> tuple[str, Answer, Answer]:
    """A user's first position, cached; two more trades; then the Portfolio and the position
    read again. (The position's id, and those two answers.)"""
    first, second = await real_markets(db, 2)
    await ok(on_cluster, "UpsertUser", input={"telegramId": telegram_id})

    def buy(market: asyncpg.Record, shares: str) -> dict[str, str]:
        return {
            "telegramId": telegram_id,
            "marketId": market["id"],
            "outcome": market["outcomes"][0],
            "side": "BUY",
            "shares": shares,
            "price": "0.5",
        }

    bought = await ok(on_cluster, "RecordTrade", input=buy(first, "10"))
    position_id = bought.data["recordTrade"]["position"]["id"]
    await ok(on_cluster, "Portfolio", telegramId=telegram_id)
    await ok(on_cluster, "PositionDetail", id=position_id)
    warm = await ok(on_cluster, "Portfolio", telegramId=telegram_id)
    warm_detail = await ok(on_cluster, "PositionDetail", id=position_id)
    assert shares_by_position(warm) == {position_id: Decimal(10)}
    assert (warm.sql, warm_detail.sql) == (0, 0)

    # The user's lists ({user:…}) and the position ({position:…}) are retired in their own slots.
    await ok(on_cluster, "RecordTrade", input=buy(first, "5"))
    await ok(on_cluster, "RecordTrade", input=buy(second, "7"))
    after = await ok(on_cluster, "Portfolio", telegramId=telegram_id)
    detail = await ok(on_cluster, "PositionDetail", id=position_id)
    return position_id, after, detail


async def test_a_trade_is_read_at_once_though_its_scopes_live_in_other_slots(
    on_cluster: GraphQLClient, db: asyncpg.Connection, new_telegram_id: Callable[[], str]
) -> None:
    telegram_id = new_telegram_id()
    position_id, after, detail = await trades_read_back(on_cluster, db, telegram_id)

    user_id = await db.fetchval("SELECT id FROM app_user WHERE telegram_id = $1", int(telegram_id))
    expected = await active_shares(db, user_id)
    assert expected[position_id] == Decimal(15)
    assert len(expected) == 2
    assert shares_by_position(after) == expected
    assert Decimal(detail.data["position"]["shares"]) == Decimal(15)


async def test_control_answers_served_without_their_check_on_a_cluster_miss_the_trades(
    on_cluster: GraphQLClient,
    db: asyncpg.Connection,
    new_telegram_id: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A cluster checks a kept answer in Python (a second round trip), not in FIND: with that
    # check taken out, the answers kept before the trades are served after them.
    async def unchecked(self: Answers, session: CacheSession, stored: bytes) -> bytes | None:
        return stored.split(b"\n", 1)[1]

    monkeypatch.setattr(Answers, "_checked", unchecked)
    position_id, after, detail = await trades_read_back(on_cluster, db, new_telegram_id())
    assert shares_by_position(after) == {position_id: Decimal(10)}
    assert Decimal(detail.data["position"]["shares"]) == Decimal(10)


async def test_new_prices_are_read_at_once_and_only_that_market_is_read_again(
    on_cluster: GraphQLClient,
    db: asyncpg.Connection,
    own_market: Callable[[], Awaitable[str]],
) -> None:
    market_id = await own_market()
    ids = [row["id"] for row in await real_markets(db, 299)] + [market_id]
    await ok(on_cluster, "MarketsBatch", ids=ids)
    before = await ok(on_cluster, "MarketsBatch", ids=ids)
    assert before.sql == 0
    assert [Decimal(p) for p in before.data["markets"][-1]["outcomePrices"]] == [
        Decimal("0.4"),
        Decimal("0.6"),
    ]

    priced = await ok(
        on_cluster,
        "UpdateMarketPrices",
        updates=[{"marketId": market_id, "outcomePrices": ["0.55", "0.45"]}],
    )
    assert priced.data["updateMarketPrices"]["updated"] == 1
    after = await ok(on_cluster, "MarketsBatch", ids=ids)

    assert [Decimal(p) for p in after.data["markets"][-1]["outcomePrices"]] == [
        Decimal("0.55"),
        Decimal("0.45"),
    ]
    assert after.data["markets"][:-1] == before.data["markets"][:-1]
    assert priced.sql == 4  # read, write, levels, and the repriced market read back
    assert after.sql == 0  # the repriced market was refilled; the other 299 never left
