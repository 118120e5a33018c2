"""The feed and the leaderboard, counted: what a request costs does not grow with what it returns.

As tests/test_statement_counts.py counts the positions: each measurement starts from an empty
cache (an app with a key prefix of its own), the first request is cold and the same again warm,
with whole answers kept and with the loaders alone. One row is the contract's document asking
for one; a thousand rows is one request of ten aliased feed pages of 100 (or twelve leaderboard
pages), which the loaders must batch: one statement for every page, one for the wallets of all
their trades, one for all their markets (where the old design ran one query per trade's token).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from settings import Settings
from tests.conftest import Answer, GraphQLClient, contract_documents, serving, unique_prefix
from tests.test_statement_counts import expected
from tests.wallet_inputs import at, new_address, real_tokens, stats, trade

DOCUMENTS = contract_documents()
NODE = """
  edges { cursor node { id outcome shares price value executedAt
                        wallet { address winRate smartscore }
                        market { id title outcomePrices } } }
  pageInfo { hasNextPage endCursor }
"""


@pytest.fixture(params=[True, False], ids=["answers", "loaders"])
def answer_cache(request: pytest.FixtureRequest) -> bool:
    enabled: bool = request.param
    return enabled


@pytest.fixture(scope="module")
async def feed_cursors(client: httpx.AsyncClient, seeded: str) -> list[str | None]:
    """At least 1,000 feed trades on 1,000 markets (by wallets of their own), and the cursors
    that start ten consecutive pages of 100 of the feed."""
    gql = GraphQLClient(client)
    wallets = [new_address() for _ in range(10)]
    answer = await gql(
        DOCUMENTS, {"wallets": [stats(w, win_rate="0.9") for w in wallets]}, "UpdateWalletStats"
    )
    assert answer.errors == []
    db = await asyncpg.connect(seeded)
    try:
        tokens = await real_tokens(db, 1000)
    finally:
        await db.close()
    trades = [
        trade(wallets[i % 10], token, shares="1000", price="0.5", executed_at=at(60 + i))
        for i, token in enumerate(tokens)
    ]
    answer = await gql(DOCUMENTS, {"trades": trades}, "RecordWalletTrades")
    assert answer.errors == []
    assert answer.data["recordWalletTrades"]["recorded"] == 1000
    cursors: list[str | None] = [None]
    while len(cursors) < 10:
        page = await gql(DOCUMENTS, {"first": 100, "after": cursors[-1]}, "SmartTrades")
        assert page.data["smartTrades"]["pageInfo"]["hasNextPage"]
        cursors.append(page.data["smartTrades"]["pageInfo"]["endCursor"])
    return cursors


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


async def twice(
    gql: GraphQLClient, document: str, variables: dict[str, Any], operation: str | None = None
) -> tuple[Answer, Answer]:
    cold = await gql(document, variables, operation)
    warm = await gql(document, variables, operation)
    assert cold.errors == warm.errors == []
    assert warm.data == cold.data  # the cache answers exactly what PostgreSQL did
    return cold, warm


def costs(cold: Answer, warm: Answer) -> dict[str, tuple[int, int]]:
    return {"cold": (cold.sql, cold.redis), "warm": (warm.sql, warm.redis)}


async def test_one_feed_trade_and_a_thousand_cost_the_same(
    fresh: GraphQLClient, feed_cursors: list[str | None], answer_cache: bool
) -> None:
    one_cold, one_warm = await twice(fresh, DOCUMENTS, {"first": 1}, "SmartTrades")
    assert len(one_cold.data["smartTrades"]["edges"]) == 1
    pages = " ".join(
        f"p{i}: smartTrades(first: 100, after: {'null' if c is None else repr(c)}) {{ {NODE} }}"
        for i, c in enumerate(feed_cursors)
    ).replace("'", '"')
    many_cold, many_warm = await twice(fresh, f"query {{ {pages} }}", {})
    nodes = [e["node"] for page in many_cold.data.values() for e in page["edges"]]
    assert len(nodes) == len({n["id"] for n in nodes}) == 1000
    assert len({n["market"]["id"] for n in nodes}) >= 900  # most of the 1,000 markets
    # Cold: one statement per loader (pages, wallets, markets), each loader one round of reads
    # and one of fills. Warm: no SQL, one round of reads per loader (or the kept answer).
    want = expected(3, 6, 3, answer_cache)
    assert costs(one_cold, one_warm) == want
    assert costs(many_cold, many_warm) == want


async def test_one_leaderboard_entry_and_a_thousand_cost_the_same(
    fresh: GraphQLClient, answer_cache: bool
) -> None:
    one_cold, one_warm = await twice(
        fresh, DOCUMENTS, {"by": "SMARTSCORE", "first": 1}, "Leaderboard"
    )
    assert len(one_cold.data["leaderboard"]) == 1
    fields = "rank wallet { address smartscore winRate marketsTraded realizedPnl }"
    boards = " ".join(
        f"{by.lower()}{first}: leaderboard(by: {by}, first: {first}) {{ {fields} }}"
        for by in ("SMARTSCORE", "WIN_RATE", "REALIZED_PNL")
        for first in (100, 99, 98, 97)
    )
    many_cold, many_warm = await twice(fresh, f"query {{ {boards} }}", {})
    assert sum(len(board) for board in many_cold.data.values()) == 3 * (100 + 99 + 98 + 97)
    # One loader: the pages carry their wallets' statistics.
    want = expected(1, 2, 1, answer_cache)
    assert costs(one_cold, one_warm) == want
    assert costs(many_cold, many_warm) == want
