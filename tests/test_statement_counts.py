"""Batching, counted: the SQL statements a request sends do not grow with what it returns.

The counts come from the service itself (database.Database counts every statement of the
request; the X-Debug-Counts header puts them in the response), end to end over HTTP.
"""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
import pytest

from tests.conftest import GraphQLClient, contract_documents
from tests.factories import insert_positions_on_real_markets, insert_user

DOCUMENTS = contract_documents()


async def portfolio_cost(
    gql: GraphQLClient, db: asyncpg.Connection, telegram_id: str, positions: int
) -> int:
    user_id = await insert_user(db, telegram_id)
    await insert_positions_on_real_markets(db, user_id, positions)
    answer = await gql(DOCUMENTS, {"telegramId": telegram_id}, "Portfolio")
    assert answer.errors == []
    assert len(answer.data["user"]["positions"]) == positions
    assert answer.data["user"]["portfolio"]["positionCount"] == positions
    assert all(p["market"] is not None for p in answer.data["user"]["positions"])
    return answer.sql


async def test_portfolio_costs_the_same_for_1_to_1000_positions(
    gql: GraphQLClient, db: asyncpg.Connection, new_telegram_id: Callable[[], str]
) -> None:
    costs = {n: await portfolio_cost(gql, db, new_telegram_id(), n) for n in (1, 10, 100, 1000)}
    # user, the user's ACTIVE positions, and their markets: one statement each.
    assert costs == {1: 3, 10: 3, 100: 3, 1000: 3}


@pytest.mark.parametrize("count", [1, 500])
async def test_markets_batch_is_one_statement(
    gql: GraphQLClient, db: asyncpg.Connection, count: int
) -> None:
    ids = [r["id"] for r in await db.fetch("SELECT id FROM market ORDER BY id LIMIT $1", count)]
    answer = await gql(DOCUMENTS, {"ids": ids}, "MarketsBatch")
    assert [m["id"] for m in answer.data["markets"]] == ids
    assert answer.sql == 1


async def test_two_users_with_aliases_cost_what_one_costs(
    gql: GraphQLClient, db: asyncpg.Connection, new_telegram_id: Callable[[], str]
) -> None:
    ids = [new_telegram_id(), new_telegram_id()]
    for count, telegram_id in zip((3, 7), ids, strict=True):
        await insert_positions_on_real_markets(db, await insert_user(db, telegram_id), count)
    fields = "portfolio { positionCount value } positions(status: ACTIVE) { id market { id } }"
    one = await gql(f'{{ a: user(telegramId: "{ids[0]}") {{ {fields} }} }}')
    two = await gql(
        f'{{ a: user(telegramId: "{ids[0]}") {{ {fields} }} '
        f'b: user(telegramId: "{ids[1]}") {{ {fields} }} }}'
    )
    assert one.errors == two.errors == []
    assert len(two.data["b"]["positions"]) == 7
    assert two.sql <= one.sql == 3


async def test_each_lookup_query_is_one_statement(
    gql: GraphQLClient, db: asyncpg.Connection
) -> None:
    market = await db.fetchrow("SELECT condition_id, clob_token_ids FROM market LIMIT 1")
    assert market is not None
    position_id = await db.fetchval("SELECT min(id) FROM position")
    cases = {
        "MarketByToken": {"tokenId": market["clob_token_ids"][0]},
        "MarketByCondition": {"conditionId": market["condition_id"]},
        "TrendingMarkets": {"first": 100},
        "SearchMarkets": {"text": "bitcoin price", "first": 50},
    }
    for operation, variables in cases.items():
        answer = await gql(DOCUMENTS, variables, operation)
        assert answer.errors == []
        assert answer.sql == 1, operation
    detail = await gql(DOCUMENTS, {"id": str(position_id)}, "PositionDetail")
    assert detail.sql == 2  # the position, then its market
