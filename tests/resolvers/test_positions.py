"""A position's market comes through the market loader whichever field returned the position.

Before, each resolver returning positions had to attach their markets itself, and one that did
not answered a null market, price, value and P&L with no error. Every way a position reaches
the bot is asked here for its market and values, which must be the market's own; and however
many positions one request returns, their markets cost what one position's market costs.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import asyncpg

from settings import Settings
from tests.conftest import GraphQLClient, serving, unique_prefix
from tests.factories import insert_positions_on_real_markets, insert_user

POSITION = """
  id outcome shares entryPrice currentPrice value pnl pnlPercent
  market { id outcomes outcomePrices }
"""


def check(position: dict[str, Any]) -> None:
    """The values the contract derives from the market's price, computed here from its own."""
    market = position["market"]
    assert market is not None, position
    price = Decimal(market["outcomePrices"][market["outcomes"].index(position["outcome"])])
    shares, entry = Decimal(position["shares"]), Decimal(position["entryPrice"])
    assert Decimal(position["currentPrice"]) == price
    assert Decimal(position["value"]) == shares * price
    assert Decimal(position["pnl"]) == (price - entry) * shares
    assert Decimal(position["pnlPercent"]) == (price - entry) / entry * 100


async def test_every_way_to_a_position_carries_its_market(
    settings: Settings, seeded: str, db: asyncpg.Connection, new_telegram_id: Callable[[], str]
) -> None:
    telegram_id = new_telegram_id()
    user_id = await insert_user(db, telegram_id)
    await insert_positions_on_real_markets(db, user_id, 4)
    first = await db.fetchrow(
        "SELECT id, market_id, outcome FROM position WHERE user_id = $1 ORDER BY id LIMIT 1",
        user_id,
    )
    assert first is not None
    document = f"""query($t: ID!, $p: ID!) {{
        user(telegramId: $t) {{ active: positions(status: ACTIVE) {{ {POSITION} }}
                                all: positions {{ ...P }} }}
        position(id: $p) {{ {POSITION} }}
    }}
    fragment P on Position {{ {POSITION} }}"""
    async with serving(settings.replace(cache_prefix=unique_prefix())) as http:
        gql = GraphQLClient(http)
        read = await gql(document, {"t": telegram_id, "p": str(first["id"])})
        trade = {
            "telegramId": telegram_id, "marketId": first["market_id"], "outcome": first["outcome"],
            "side": "BUY", "shares": "2", "price": "0.5",
        }  # fmt: skip
        bought = await gql(
            "mutation($i: RecordTradeInput!) "
            f"{{ recordTrade(input: $i) {{ position {{ {POSITION} }} }} }}",
            {"i": trade},
        )
        levels = await gql(
            "mutation($p: ID!) "
            f"{{ setTpSl(positionId: $p, takeProfitPrice: null) {{ {POSITION} }} }}",
            {"p": str(first["id"])},
        )
    assert read.errors == bought.errors == levels.errors == []
    user = read.data["user"]
    positions = [*user["active"], *user["all"], read.data["position"]]
    positions += [bought.data["recordTrade"]["position"], levels.data["setTpSl"]]
    assert len(positions) == 4 + 4 + 3
    for position in positions:
        check(position)


async def test_the_markets_of_many_positions_cost_what_one_costs(
    settings: Settings, seeded: str, db: asyncpg.Connection, new_telegram_id: Callable[[], str]
) -> None:
    document = f"""query($t: ID!) {{
        user(telegramId: $t) {{ active: positions(status: ACTIVE) {{ {POSITION} }}
                                all: positions {{ {POSITION} }} }}
    }}"""
    costs = {}
    for count in (1, 12):
        telegram_id = new_telegram_id()
        await insert_positions_on_real_markets(db, await insert_user(db, telegram_id), count)
        async with serving(settings.replace(cache_prefix=unique_prefix())) as http:  # cold
            answer = await GraphQLClient(http)(document, {"t": telegram_id})
        assert answer.errors == []
        assert len(answer.data["user"]["active"]) == count
        costs[count] = (answer.sql, answer.redis)
    # The user, both lists in one statement, and every market of both lists in one.
    assert costs[1] == costs[12]
    assert costs[1][0] == 3
