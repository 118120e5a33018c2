"""The benchmark's database: its own, migrated, seeded, given the scenario users, then dropped.

`python app.py seed`'s data (the 3,000 real markets; 10,000 users with seed 42: most hold 1 to
20 positions, 1% hold 200 to 1,000), plus USERS_PER_SIZE users holding exactly 1, 10, 20, 50,
200 and 1,000 ACTIVE positions, for the latency-against-positions scenarios. PostGraphile
cannot compute what the contract derives (currentPrice, value, pnl, pnlPercent, the portfolio
totals) from its generated schema alone; the SQL functions below are its idiom for that
(computed columns), created in this database only.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import asyncpg

from seed import seed_database
from seed.generate import BASE_TIME
from seed.load import POSITION_COLUMNS
from sql.databases import scratch_database

SIZES = (1, 10, 20, 50, 200, 1000)
USERS_PER_SIZE = 10
# Above the generator's Telegram ids (seed/generate.py draws below 8e9).
FIRST_TELEGRAM_ID = 9_000_000_000

POSTGRAPHILE_FUNCTIONS = """
CREATE FUNCTION position_current_price(p "position") RETURNS numeric LANGUAGE sql STABLE AS $$
  SELECT m.outcome_prices[array_position(m.outcomes, p.outcome)]
  FROM market AS m WHERE m.id = p.market_id
$$;
CREATE FUNCTION position_value(p "position") RETURNS numeric LANGUAGE sql STABLE AS $$
  SELECT p.shares * position_current_price(p)
$$;
CREATE FUNCTION position_pnl(p "position") RETURNS numeric LANGUAGE sql STABLE AS $$
  SELECT (position_current_price(p) - p.entry_price) * p.shares
$$;
CREATE FUNCTION position_pnl_percent(p "position") RETURNS numeric LANGUAGE sql STABLE AS $$
  SELECT (position_current_price(p) - p.entry_price) / NULLIF(p.entry_price, 0) * 100
$$;
CREATE TYPE portfolio_totals AS (
  position_count integer, invested numeric, value numeric, pnl numeric, pnl_percent numeric
);
CREATE FUNCTION app_user_portfolio(u app_user) RETURNS portfolio_totals
LANGUAGE sql STABLE AS $$
  SELECT count(*)::integer,
         coalesce(sum(p.entry_price * p.shares) FILTER (WHERE price IS NOT NULL), 0),
         coalesce(sum(price * p.shares), 0),
         coalesce(sum((price - p.entry_price) * p.shares), 0),
         sum((price - p.entry_price) * p.shares)
           / NULLIF(sum(p.entry_price * p.shares) FILTER (WHERE price IS NOT NULL), 0) * 100
  FROM position AS p
  JOIN market AS m ON m.id = p.market_id
  CROSS JOIN LATERAL (
    SELECT m.outcome_prices[array_position(m.outcomes, p.outcome)] AS price
  ) AS current
  WHERE p.user_id = u.id AND p.status = 'ACTIVE'
$$;
CREATE FUNCTION markets_by_ids(ids text[]) RETURNS SETOF market LANGUAGE sql STABLE AS $$
  SELECT m.* FROM unnest(ids) WITH ORDINALITY AS k (id, n)
  JOIN market AS m ON m.id = k.id ORDER BY k.n
$$;
"""


@dataclass
class BenchData:
    """What the scenarios address: Telegram ids by size, and the mixed workload's material."""

    url: str
    seeded_users: int
    seeded_positions: int
    # positions per user -> Telegram ids of users holding exactly that many ACTIVE positions
    by_size: dict[int, list[int]] = field(default_factory=dict)
    # (Telegram id, ACTIVE position ids) of every seeded user
    users: list[tuple[int, list[int]]] = field(default_factory=list)
    # (market id, outcomes) of the active markets, most traded first
    markets: list[tuple[str, list[str]]] = field(default_factory=list)


@asynccontextmanager
async def bench_database(server_url: str, users: int, seed: int) -> AsyncIterator[BenchData]:
    """A database of the benchmark's own on `server_url`, dropped at the end whatever happens."""
    async with scratch_database(server_url, "bench_api") as url:
        connection = await asyncpg.connect(url)
        try:
            report = await seed_database(connection, users=users, seed=seed)
            data = BenchData(
                url,
                seeded_users=report.users,
                seeded_positions=report.positions.active + report.positions.closed,
            )
            await add_sized_users(connection, data, random.Random(seed))
            await connection.execute(POSTGRAPHILE_FUNCTIONS)
            await connection.execute("VACUUM ANALYZE")
            await read_material(connection, data)
        finally:
            await connection.close()
        yield data


async def add_sized_users(
    connection: asyncpg.Connection, data: BenchData, rng: random.Random
) -> None:
    """USERS_PER_SIZE users per size in SIZES, each with exactly that many ACTIVE positions."""
    markets = await connection.fetch(
        "SELECT id, outcomes, outcome_prices FROM market "
        "WHERE active AND outcome_prices IS NOT NULL ORDER BY id"
    )
    outcomes = [
        (m["id"], name, price)
        for m in markets
        for name, price in zip(m["outcomes"], m["outcome_prices"], strict=True)
    ]
    telegram_id = FIRST_TELEGRAM_ID
    rows = []
    for size in SIZES:
        data.by_size[size] = []
        for number in range(USERS_PER_SIZE):
            telegram_id += 1
            data.by_size[size].append(telegram_id)
            user_id = await _new_user(connection, telegram_id, f"bench_{size}_{number}")
            rows += [_position(user_id, *held, rng) for held in rng.sample(outcomes, size)]
    await connection.copy_records_to_table("position", columns=POSITION_COLUMNS, records=rows)


async def add_holders(
    connection: asyncpg.Connection,
    *,
    users: int,
    positions: int,
    markets: Sequence[str],
    first_telegram_id: int,
    rng: random.Random,
) -> list[int]:
    """`users` more users, each with exactly `positions` ACTIVE positions on as many distinct
    markets drawn from `markets` (one outcome each, entered near its price); their Telegram
    ids, in order. For the live workload: many users sharing a few hundred markets."""
    found = await connection.fetch(
        "SELECT id, outcomes, outcome_prices FROM market WHERE id = ANY($1::text[])", markets
    )
    by_id = {m["id"]: list(zip(m["outcomes"], m["outcome_prices"], strict=True)) for m in found}
    held = [m for m in markets if m in by_id]
    telegram_ids = []
    rows = []
    for number in range(users):
        telegram_id = first_telegram_id + number
        telegram_ids.append(telegram_id)
        user_id = await _new_user(connection, telegram_id, f"bench_live_{number}")
        for market_id in rng.sample(held, positions):
            outcome, price = rng.choice(by_id[market_id])
            rows.append(_position(user_id, market_id, outcome, price, rng))
    await connection.copy_records_to_table("position", columns=POSITION_COLUMNS, records=rows)
    await connection.execute("ANALYZE app_user, position")
    return telegram_ids


async def _new_user(connection: asyncpg.Connection, telegram_id: int, username: str) -> int:
    user_id: int = await connection.fetchval(
        "INSERT INTO app_user (telegram_id, username, created_at, updated_at) "
        "VALUES ($1, $2, $3, $3) RETURNING id",
        telegram_id,
        username,
        BASE_TIME - timedelta(days=200),
    )
    return user_id


def _position(
    user_id: int, market_id: str, outcome: str, price: Decimal, rng: random.Random
) -> tuple[object, ...]:
    """An ACTIVE position's row, in seed.load's column order: entered near `price`, nothing
    realised, no levels, not closed."""
    entry = min(Decimal("0.999"), max(Decimal("0.001"), price + _jitter(rng)))
    opened = BASE_TIME - timedelta(minutes=rng.randint(10, 200 * 24 * 60))
    shares = Decimal(rng.randint(100, 50_000)) / 100
    return (
        *(user_id, market_id, outcome, "ACTIVE", shares, entry, Decimal(0)),
        *(None, None, opened, None, opened),
    )


def _jitter(rng: random.Random) -> Decimal:
    return Decimal(rng.randint(-300, 300)) / 10_000


async def read_material(connection: asyncpg.Connection, data: BenchData) -> None:
    sized = [t for ids in data.by_size.values() for t in ids]
    rows = await connection.fetch(
        """
        SELECT u.telegram_id,
               coalesce(array_agg(p.id ORDER BY p.id) FILTER (WHERE p.id IS NOT NULL), '{}')
                 AS positions
        FROM app_user AS u
        LEFT JOIN position AS p ON p.user_id = u.id AND p.status = 'ACTIVE'
        WHERE NOT u.telegram_id = ANY($1::bigint[])
        GROUP BY u.telegram_id ORDER BY u.telegram_id
        """,
        sized,
    )
    data.users = [(row["telegram_id"], list(row["positions"])) for row in rows]
    markets = await connection.fetch(
        "SELECT id, outcomes FROM market WHERE active AND NOT resolved "
        "AND outcome_prices IS NOT NULL ORDER BY volume DESC, id"
    )
    data.markets = [(row["id"], list(row["outcomes"])) for row in markets]
