"""The demo after `seed` (`app.py demo`, run by `make run`): every new screen shows something.

On a database of its own, seeded as `make run` seeds it (500 users, seed 1), the demo's
mutations leave the demo user (GraphiQL's) a Claimable to show and a trade history, and the shared
feed and leaderboard rows to list; each answer is checked against what the rows say.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from app import _demo
from seed import seed_database
from seed.demo import demo_user
from settings import Settings
from sql.databases import scratch_database
from sql.migrate import migrate
from tests.conftest import GraphQLClient, contract_documents, serving, unique_prefix


@pytest.fixture(scope="module")
async def demo_url(server_url: str) -> AsyncIterator[str]:
    async with scratch_database(server_url, "demo") as url:
        connection = await asyncpg.connect(url)
        try:
            await migrate(connection)
            await seed_database(connection, users=500, seed=1)
        finally:
            await connection.close()
        yield url


@pytest.fixture(scope="module")
async def demo_settings(demo_url: str, settings: Settings) -> Settings:
    demo = settings.replace(database_url=demo_url, cache_prefix=unique_prefix())
    await _demo(demo, 1)
    return demo


DEMO_TELEGRAM_ID = str(demo_user().user.telegram_id)


async def ask(settings: Settings, operation: str, **variables: Any) -> Any:
    async with serving(settings) as http:
        answer = await GraphQLClient(http)(contract_documents(), variables, operation)
    assert answer.errors == [], answer.errors
    return answer.data


async def test_the_demo_user_has_winnings_to_claim(demo_settings: Settings, demo_url: str) -> None:
    data = await ask(demo_settings, "Claimable", telegramId=DEMO_TELEGRAM_ID)
    connection = await asyncpg.connect(demo_url)
    try:
        rows = await connection.fetch(
            """
            SELECT p.id, p.shares, p.outcome, m.winning_outcome
            FROM position p JOIN market m ON m.id = p.market_id
            JOIN app_user u ON u.id = p.user_id
            WHERE u.telegram_id = $1 AND p.status = 'ACTIVE' AND m.resolved
            """,
            int(DEMO_TELEGRAM_ID),
        )
    finally:
        await connection.close()
    winners = [r for r in rows if r["outcome"].lower() == r["winning_outcome"].lower()]
    claimable = data["user"]["claimable"]
    assert winners  # the demo bought a favourite that then settled
    assert claimable["positionCount"] == len(rows)
    assert Decimal(claimable["payout"]) == sum(r["shares"] for r in winners)


async def test_the_demo_user_has_a_trade_history(demo_settings: Settings) -> None:
    data = await ask(demo_settings, "TradeHistory", telegramId=DEMO_TELEGRAM_ID, first=10)
    kinds = [edge["node"]["kind"] for edge in data["user"]["trades"]["edges"]]
    assert kinds == ["SELL", "BUY", "BUY"]  # newest first: the sale came last


async def test_the_feed_and_the_leaderboard_list_watched_wallets(
    demo_settings: Settings, demo_url: str
) -> None:
    feed = await ask(demo_settings, "SmartTrades", first=100)
    connection = await asyncpg.connect(demo_url)
    try:
        qualifying = await connection.fetchval(
            """
            SELECT count(*) FROM wallet_trade t JOIN wallet w ON w.address = t.wallet
            WHERE t.side = 'BUY' AND t.shares * t.price >= 300 AND w.win_rate >= 0.55
            """
        )
    finally:
        await connection.close()
    assert qualifying > 0
    assert len(feed["smartTrades"]["edges"]) == qualifying
    board = await ask(demo_settings, "Leaderboard", by="SMARTSCORE", first=5)
    assert [entry["rank"] for entry in board["leaderboard"]] == [1, 2, 3, 4, 5]
