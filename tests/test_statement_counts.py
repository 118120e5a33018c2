"""Batching and caching, counted: what a request costs does not grow with what it returns.

Each loader's round is counted, so reading ahead (which makes a repeat one round trip
whatever its levels) is off here; tests/cache/test_read_ahead.py counts it.

The counts come from the service itself (every SQL statement and every Redis round trip of the
request is counted where it is sent; the X-Debug-Counts header puts them in the response), end
to end over HTTP. Each measurement starts from an empty cache (an app with a key prefix of its
own): the first request is cold, the same request again is warm.

Each is counted twice: as the service runs (a warm repeat is a stored answer, cache/answers.py:
two round trips, nothing executed) and with ANSWER_CACHE off, where the repeat executes and the
loaders alone must keep it to no SQL and one round of Redis reads each.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest

from settings import Settings
from tests.conftest import Answer, GraphQLClient, contract_documents, serving, unique_prefix
from tests.factories import insert_positions_on_real_markets, insert_user

DOCUMENTS = contract_documents()


# With the answer cache, a cold request adds its look-up and its keep; a warm one is the
# answer's look-up, which checks the versions it read in the same script (a single server;
# tests/cache/test_cluster.py counts the cluster's two).
ANSWER_COLD_EXTRA = 2
ANSWER_WARM = 1


@pytest.fixture(params=[True, False], ids=["answers", "loaders"])
def answer_cache(request: pytest.FixtureRequest) -> bool:
    enabled: bool = request.param
    return enabled


@pytest.fixture
async def fresh(
    settings: Settings, seeded: str, answer_cache: bool
) -> AsyncIterator[GraphQLClient]:
    """A GraphQL client on an app whose cache is empty."""
    fresh_settings = settings.replace(
        cache_prefix=unique_prefix(), answer_cache=answer_cache, read_ahead=False
    )
    async with serving(fresh_settings) as http:
        yield GraphQLClient(http)


def expected(cold_sql: int, cold_redis: int, warm_redis: int, answers: bool) -> dict[str, Any]:
    if answers:
        return {"cold": (cold_sql, cold_redis + ANSWER_COLD_EXTRA), "warm": (0, ANSWER_WARM)}
    return {"cold": (cold_sql, cold_redis), "warm": (0, warm_redis)}


async def cold_then_warm(
    gql: GraphQLClient, operation: str, variables: dict[str, Any]
) -> tuple[Answer, Answer]:
    cold = await gql(DOCUMENTS, variables, operation)
    warm = await gql(DOCUMENTS, variables, operation)
    assert cold.errors == warm.errors == []
    assert warm.data == cold.data  # the cache answers exactly what PostgreSQL did
    return cold, warm


async def test_portfolio_costs_the_same_for_1_to_1000_positions(
    settings: Settings,
    seeded: str,
    db: asyncpg.Connection,
    new_telegram_id: Callable[[], str],
    answer_cache: bool,
) -> None:
    costs = {}
    for count in (1, 10, 100, 1000):
        telegram_id = new_telegram_id()
        await insert_positions_on_real_markets(db, await insert_user(db, telegram_id), count)
        fresh = settings.replace(
            cache_prefix=unique_prefix(), answer_cache=answer_cache, read_ahead=False
        )
        async with serving(fresh) as http:
            cold, warm = await cold_then_warm(
                GraphQLClient(http), "Portfolio", {"telegramId": telegram_id}
            )
        assert len(cold.data["user"]["positions"]) == count
        assert cold.data["user"]["portfolio"]["positionCount"] == count
        costs[count] = {"cold": (cold.sql, cold.redis), "warm": (warm.sql, warm.redis)}
    # Cold: one statement per loader (user, ACTIVE positions, markets), each loader one round
    # of reads and one of fills. Warm: no SQL, one round of reads per loader (or the answer).
    want = expected(3, 6, 3, answer_cache)
    assert all(cost == want for cost in costs.values()), costs


@pytest.mark.parametrize("count", [1, 500])
async def test_markets_batch_is_one_statement_then_none(
    fresh: GraphQLClient, db: asyncpg.Connection, count: int, answer_cache: bool
) -> None:
    ids = [r["id"] for r in await db.fetch("SELECT id FROM market ORDER BY id LIMIT $1", count)]
    cold, warm = await cold_then_warm(fresh, "MarketsBatch", {"ids": ids})
    assert [m["id"] for m in cold.data["markets"]] == ids
    want = expected(1, 2, 1, answer_cache)
    assert {"cold": (cold.sql, cold.redis), "warm": (warm.sql, warm.redis)} == want


async def test_two_users_with_aliases_cost_what_one_costs(
    fresh: GraphQLClient, db: asyncpg.Connection, new_telegram_id: Callable[[], str]
) -> None:
    ids = [new_telegram_id(), new_telegram_id()]
    for count, telegram_id in zip((3, 7), ids, strict=True):
        await insert_positions_on_real_markets(db, await insert_user(db, telegram_id), count)
    fields = "portfolio { positionCount value } positions(status: ACTIVE) { id market { id } }"
    one = await fresh(f'{{ a: user(telegramId: "{ids[0]}") {{ {fields} }} }}')
    two = await fresh(
        f'{{ a: user(telegramId: "{ids[0]}") {{ {fields} }} '
        f'b: user(telegramId: "{ids[1]}") {{ {fields} }} }}'
    )
    assert one.errors == two.errors == []
    assert len(two.data["b"]["positions"]) == 7
    assert one.sql == 3
    assert two.sql <= one.sql
    assert two.redis <= one.redis


@pytest.mark.parametrize(
    "operation",
    ["MarketByToken", "MarketByCondition", "TrendingMarkets", "SearchMarkets", "PositionDetail"],
)
async def test_each_lookup_costs_one_statement_per_loader_cold_and_none_warm(
    fresh: GraphQLClient, db: asyncpg.Connection, operation: str, answer_cache: bool
) -> None:
    market = await db.fetchrow("SELECT condition_id, clob_token_ids FROM market LIMIT 1")
    assert market is not None
    position_id = await db.fetchval("SELECT min(id) FROM position")
    variables = {
        "MarketByToken": {"tokenId": market["clob_token_ids"][0]},
        "MarketByCondition": {"conditionId": market["condition_id"]},
        "TrendingMarkets": {"first": 100},
        "SearchMarkets": {"text": "bitcoin price", "first": 50},
        "PositionDetail": {"id": str(position_id)},
    }[operation]
    cold, warm = await cold_then_warm(fresh, operation, variables)
    # Two loaders each: the map, list or position, then the markets (cache first).
    want = expected(2, 4, 2, answer_cache)
    assert {"cold": (cold.sql, cold.redis), "warm": (warm.sql, warm.redis)} == want


# Settlement and trade history: Claimable reads what Portfolio reads (the user, the ACTIVE
# list, its markets), TradeHistory the user, one page of trades and its markets.


async def insert_resolved_holdings(db: asyncpg.Connection, user_id: int, count: int) -> list[str]:
    """`count` ACTIVE positions of the user, each in a resolved market of its own (half won),
    resolved a minute apart; and a trade per position. The markets' ids, to remove them."""
    prefix = f"test-settled-{user_id}-"
    await db.execute(
        """
        INSERT INTO market (id, title, slug, condition_id, outcomes, outcome_prices,
                            clob_token_ids, active, resolved, winning_outcome, resolved_at)
        SELECT $1 || n, 'Settled ' || n, 'settled-' || n,
               '0x' || lpad(to_hex($2::bigint), 32, '0') || lpad(to_hex(n), 32, '0'),
               ARRAY['Yes', 'No'], ARRAY[1, 0]::numeric(13, 12)[],
               ARRAY[$1 || n || '-yes', $1 || n || '-no'], false, true, 'Yes',
               now() - make_interval(mins => n)
        FROM generate_series(1, $3) AS n
        """,
        prefix,
        user_id,
        count,
    )
    await db.execute(
        """
        WITH opened AS (
            INSERT INTO position (user_id, market_id, outcome, shares, entry_price)
            SELECT $1, $2 || n, CASE WHEN n % 2 = 0 THEN 'Yes' ELSE 'No' END, n, 0.5
            FROM generate_series(1, $3) AS n
            RETURNING id, market_id, outcome, shares
        )
        INSERT INTO trade (user_id, market_id, position_id, kind, outcome, shares, price)
        SELECT $1, market_id, id, 'BUY', outcome, shares, 0.5 FROM opened
        """,
        user_id,
        prefix,
        count,
    )
    return [f"{prefix}{n}" for n in range(1, count + 1)]


@pytest.mark.parametrize("operation", ["Claimable", "TradeHistory"])
async def test_claimable_and_trade_history_cost_the_same_for_1_and_1000_rows(
    settings: Settings,
    seeded: str,
    db: asyncpg.Connection,
    new_telegram_id: Callable[[], str],
    answer_cache: bool,
    operation: str,
) -> None:
    costs = {}
    made: list[str] = []
    try:
        for count in (1, 1000):
            telegram_id = new_telegram_id()
            made += await insert_resolved_holdings(db, await insert_user(db, telegram_id), count)
            variables: dict[str, Any] = {"telegramId": telegram_id}
            if operation == "TradeHistory":
                variables["first"] = 100
            fresh = settings.replace(
                cache_prefix=unique_prefix(), answer_cache=answer_cache, read_ahead=False
            )
            async with serving(fresh) as http:
                cold, warm = await cold_then_warm(GraphQLClient(http), operation, variables)
            if operation == "Claimable":
                assert cold.data["user"]["claimable"]["positionCount"] == count
            else:
                assert len(cold.data["user"]["trades"]["edges"]) == min(count, 100)
            costs[count] = {"cold": (cold.sql, cold.redis), "warm": (warm.sql, warm.redis)}
    finally:
        await db.execute("DELETE FROM position WHERE market_id = ANY($1::text[])", made)
        await db.execute("DELETE FROM market WHERE id = ANY($1::text[])", made)
    # One statement per loader cold (user, the list or page, its markets), none warm.
    want = expected(3, 6, 3, answer_cache)
    assert all(cost == want for cost in costs.values()), costs
