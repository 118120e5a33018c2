"""Rows that tests make for themselves, straight in SQL, so read tests need no mutation."""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass
from decimal import Decimal

import asyncpg

_market_numbers = itertools.count(secrets.randbelow(10**6) * 1000)


async def insert_user(db: asyncpg.Connection, telegram_id: str, username: str = "tester") -> int:
    user_id: int = await db.fetchval(
        "INSERT INTO app_user (telegram_id, username) VALUES ($1, $2) RETURNING id",
        int(telegram_id),
        username,
    )
    return user_id


async def insert_market(
    db: asyncpg.Connection,
    *,
    outcomes: list[str],
    prices: list[Decimal] | None,
    title: str = "Test market",
    volume: Decimal = Decimal(0),
    active: bool = True,
) -> str:
    """A market of the test's own, with ids no real market has."""
    number = next(_market_numbers)
    market_id = f"test-{number}"
    await db.execute(
        """
        INSERT INTO market (id, title, slug, condition_id, outcomes, outcome_prices,
                            clob_token_ids, volume, liquidity, active)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9)
        """,
        market_id,
        title,
        f"test-market-{number}",
        "0x" + secrets.token_hex(32),
        outcomes,
        prices,
        [str(10**75 + number * 10 + i) for i in range(len(outcomes))],
        volume,
        active,
    )
    return market_id


async def insert_position(
    db: asyncpg.Connection,
    *,
    user_id: int,
    market_id: str,
    outcome: str,
    shares: Decimal,
    entry_price: Decimal,
    opened_minutes_ago: int = 0,
) -> int:
    position_id: int = await db.fetchval(
        """
        INSERT INTO position (user_id, market_id, outcome, shares, entry_price, opened_at)
        VALUES ($1, $2, $3, $4, $5, now() - make_interval(mins => $6))
        RETURNING id
        """,
        user_id,
        market_id,
        outcome,
        shares,
        entry_price,
        opened_minutes_ago,
    )
    return position_id


async def insert_positions_on_real_markets(
    db: asyncpg.Connection, user_id: int, count: int, *, per_market: int = 2
) -> None:
    """`count` ACTIVE positions of one user, each on its own (market, outcome), one statement:
    both outcomes of count / 2 markets, or with `per_market` 1 one outcome of `count` markets."""
    await db.execute(
        """
        WITH numbered AS (
            SELECT id, outcomes, row_number() OVER (ORDER BY id) - 1 AS k
            FROM market WHERE id NOT LIKE 'test-%'
        )
        INSERT INTO position (user_id, market_id, outcome, shares, entry_price, opened_at)
        SELECT $1, m.id, m.outcomes[1 + (n % 2)], 10 + n, 0.5, now() - make_interval(mins => n)
        FROM generate_series(0, $2 - 1) AS n
        JOIN numbered AS m ON m.k = n / $3
        """,
        user_id,
        count,
        per_market,
    )


@dataclass(frozen=True)
class Holder:
    """A user of the test's own with ACTIVE positions on real markets."""

    telegram_id: str
    id: int


async def insert_holder(
    db: asyncpg.Connection, telegram_id: str, positions: int, *, per_market: int = 2
) -> Holder:
    user_id = await insert_user(db, telegram_id)
    await insert_positions_on_real_markets(db, user_id, positions, per_market=per_market)
    return Holder(telegram_id, user_id)
