"""The benchmark's database: its own, migrated, seeded, given the scenario users, then dropped.

`python app.py seed`'s data (the 3,000 real markets; 10,000 users with seed 42: most hold 1 to
20 positions, 1% hold 200 to 1,000), plus USERS_PER_SIZE users holding exactly 1, 10, 20, 50,
200 and 1,000 ACTIVE positions, for the latency-against-positions scenarios. PostGraphile
cannot compute what the contract derives (currentPrice, value, pnl, pnlPercent, the portfolio
totals) from its generated schema alone; the SQL functions below are its idiom for that
(computed columns), created in this database only.

Issue 12's reads need state that `seed` leaves out (it resolves nothing and records no trade),
put here by plain SQL before any system starts, so every system reads the same rows:
RESOLVED_MARKETS nearly settled markets resolved (through sql/resolve_markets.sql, the
mutation's own statement, in a few calls so that they carry different resolution times);
USERS_PER_SIZE "settled" users, each holding CLAIMABLE positions in resolved markets beside as
many in open ones, with TRADES trades each (TradeHistory); and WALLET_TRADES trades of the
seeded watched wallets (SmartTrades filters and pages them).
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import asyncpg

import sql
from seed import seed_database
from seed.generate import BASE_TIME
from seed.load import POSITION_COLUMNS
from sql.databases import scratch_database

SIZES = (1, 10, 20, 50, 200, 1000)
USERS_PER_SIZE = 10
# Above the generator's Telegram ids (seed/generate.py draws below 8e9).
FIRST_TELEGRAM_ID = 9_000_000_000
# Issue 12's state (see the module's docstring).
RESOLVED_MARKETS = 100
RESOLUTION_CALLS = 10
# Resolved markets are drawn outside the most traded ones, which the mixed and live workloads
# trade and move (resolved markets refuse both).
BUSY_MARKETS = 1_000
CLAIMABLE = 20
TRADES = 200
WALLET_TRADES = 20_000
FIRST_SETTLED_TELEGRAM_ID = 9_200_000_000  # above the live workload's (bench/api/live.py)
TRADE_COLUMNS = (
    *("user_id", "market_id", "position_id", "kind", "outcome"),
    *("shares", "price", "realized_pnl", "executed_at"),
)
WALLET_TRADE_COLUMNS = ("id", "wallet", "token_id", "side", "shares", "price", "executed_at")

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
CREATE FUNCTION position_payout(p "position") RETURNS numeric LANGUAGE sql STABLE AS $$
  SELECT p.shares * CASE WHEN lower(p.outcome) = lower(m.winning_outcome) THEN 1 ELSE 0 END
  FROM market AS m WHERE m.id = p.market_id AND m.resolved
$$;
CREATE FUNCTION app_user_claimable_positions(u app_user) RETURNS SETOF "position"
LANGUAGE sql STABLE AS $$
  SELECT p.* FROM position AS p JOIN market AS m ON m.id = p.market_id
  WHERE p.user_id = u.id AND p.status = 'ACTIVE' AND m.resolved
  ORDER BY m.resolved_at DESC, p.id
$$;
CREATE TYPE claimable_totals AS (position_count integer, payout numeric);
CREATE FUNCTION app_user_claimable(u app_user) RETURNS claimable_totals
LANGUAGE sql STABLE AS $$
  SELECT count(*)::integer, coalesce(sum(position_payout(p)), 0)
  FROM app_user_claimable_positions(u) AS p
$$;
CREATE FUNCTION smart_trades(min_value numeric DEFAULT 300, min_win_rate numeric DEFAULT 0.55)
RETURNS SETOF wallet_trade LANGUAGE sql STABLE AS $$
  SELECT t.* FROM wallet_trade AS t JOIN wallet AS w ON w.address = t.wallet
  WHERE t.side = 'BUY' AND t.value >= min_value AND w.win_rate >= min_win_rate
  ORDER BY t.executed_at DESC, t.id
$$;
-- Sortable: with an orderBy, PostGraphile pages by the order's columns instead of numbering
-- every row the function returns (row_number() over the whole feed) before its LIMIT.
COMMENT ON FUNCTION smart_trades(numeric, numeric) IS E'@sortable';
-- PL/pgSQL, not SQL: PostGraphile calls a computed column in FROM, once per trade, where an SQL
-- function is planned again at each call (about 0.5 ms for this probe); PL/pgSQL keeps a plan
-- for the session. Its generic plan would walk the primary key in id order to the first match
-- (ORDER BY id LIMIT 1, the token unknown): OFFSET 0 keeps the GIN probe first.
CREATE FUNCTION wallet_trade_market(t wallet_trade) RETURNS market LANGUAGE plpgsql STABLE AS $$
DECLARE
  found market;
BEGIN
  SELECT c.* INTO found FROM (
    SELECT m.* FROM market AS m WHERE m.clob_token_ids @> ARRAY[t.token_id] OFFSET 0
  ) AS c ORDER BY c.id LIMIT 1;
  RETURN found;
END
$$;
CREATE FUNCTION wallet_trade_outcome(t wallet_trade) RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
  found market := wallet_trade_market(t);
BEGIN
  RETURN found.outcomes[array_position(found.clob_token_ids, t.token_id)];
END
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
    # (market id, outcomes) of the active markets not resolved, most traded first
    markets: list[tuple[str, list[str]]] = field(default_factory=list)
    # Telegram ids of the users with positions in resolved markets and a trade history
    settled: list[int] = field(default_factory=list)


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
            rng = random.Random(seed)
            await add_sized_users(connection, data, rng)
            resolved = await resolve_markets(connection)
            await add_settled_users(connection, data, resolved, rng)
            await add_wallet_trades(connection, rng)
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
    # Before any market resolves (so a few of these positions end in resolved markets, valued
    # at 1 or 0, the same for every system).
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


async def resolve_markets(connection: asyncpg.Connection) -> list[str]:
    """RESOLVED_MARKETS nearly settled markets (their highest price nearest 1) outside the
    BUSY_MARKETS most traded, each resolved to its favourite; in RESOLUTION_CALLS statements,
    each its own transaction, so they resolve at different times. Their ids."""
    found = await connection.fetch(
        """
        SELECT id, outcomes[array_position(outcome_prices, top)] AS winner
        FROM (
            SELECT id, outcomes, outcome_prices, volume,
                   (SELECT max(p) FROM unnest(outcome_prices) AS p) AS top,
                   row_number() OVER (ORDER BY volume DESC, id) AS place
            FROM market WHERE active AND NOT resolved AND outcome_prices IS NOT NULL
        ) AS m
        WHERE place > $1
        ORDER BY top DESC, id
        LIMIT $2
        """,
        BUSY_MARKETS,
        RESOLVED_MARKETS,
    )
    step = max(1, len(found) // RESOLUTION_CALLS)
    for start in range(0, len(found), step):
        part = found[start : start + step]
        await connection.execute(
            sql.RESOLVE_MARKETS, [r["id"] for r in part], [r["winner"] for r in part]
        )
    return [row["id"] for row in found]


async def add_settled_users(
    connection: asyncpg.Connection, data: BenchData, resolved: list[str], rng: random.Random
) -> None:
    """USERS_PER_SIZE users, each with CLAIMABLE ACTIVE positions in resolved markets (winners
    and losers, drawn from `resolved`) and as many in open markets, and TRADES trades on them
    (BUY and SELL, spread over 200 days)."""
    markets = await connection.fetch(
        "SELECT id, outcomes, outcome_prices, resolved FROM market "
        "WHERE active AND outcome_prices IS NOT NULL ORDER BY id"
    )
    chosen = set(resolved)
    closed, open_ = [], []
    for m in markets:
        outcomes = [
            (m["id"], n, p) for n, p in zip(m["outcomes"], m["outcome_prices"], strict=True)
        ]
        if m["id"] in chosen:
            closed += outcomes
        elif not m["resolved"]:
            open_ += outcomes
    positions = []
    for number in range(USERS_PER_SIZE):
        telegram_id = FIRST_SETTLED_TELEGRAM_ID + number
        data.settled.append(telegram_id)
        user_id = await _new_user(connection, telegram_id, f"bench_settled_{number}")
        held = _distinct_markets(closed, CLAIMABLE, rng) + _distinct_markets(open_, CLAIMABLE, rng)
        positions += [_position(user_id, *one, rng) for one in held]
    await connection.copy_records_to_table("position", columns=POSITION_COLUMNS, records=positions)
    rows = await connection.fetch(
        "SELECT p.id, p.user_id, p.market_id, p.outcome FROM position AS p "
        "JOIN app_user AS u ON u.id = p.user_id WHERE u.telegram_id = ANY($1::bigint[]) "
        "ORDER BY p.id",
        data.settled,
    )
    by_user: dict[int, list[asyncpg.Record]] = {}
    for row in rows:
        by_user.setdefault(row["user_id"], []).append(row)
    trades = []
    for user_id, held_rows in by_user.items():
        times = sorted(rng.randint(60, 200 * 24 * 3600) for _ in range(TRADES))
        for seconds in times:
            position = rng.choice(held_rows)
            sell = rng.random() < 0.3
            price = Decimal(rng.randint(1, 999)) / 1000
            trades.append(
                (
                    *(user_id, position["market_id"], position["id"]),
                    *("SELL" if sell else "BUY", position["outcome"]),
                    Decimal(rng.randint(100, 50_000)) / 100,
                    price,
                    Decimal(rng.randint(-5_000, 5_000)) / 100 if sell else Decimal(0),
                    BASE_TIME - timedelta(seconds=seconds),
                )
            )
    await connection.copy_records_to_table("trade", columns=TRADE_COLUMNS, records=trades)


def _distinct_markets(
    outcomes: list[tuple[str, str, Decimal]], count: int, rng: random.Random
) -> list[tuple[str, str, Decimal]]:
    """`count` (market, outcome, price) on as many distinct markets, one outcome each."""
    by_market: dict[str, list[tuple[str, str, Decimal]]] = {}
    for one in outcomes:
        by_market.setdefault(one[0], []).append(one)
    return [rng.choice(by_market[m]) for m in rng.sample(sorted(by_market), count)]


async def add_wallet_trades(connection: asyncpg.Connection, rng: random.Random) -> None:
    """WALLET_TRADES trades of the seeded watched wallets over the last 30 days, on the tokens
    of open markets: 85% BUY, values from under a cent to tens of thousands, so SmartTrades'
    default filters (value 300, win rate 0.55) keep a part of them (about 30%)."""
    found = await connection.fetch("SELECT address FROM wallet ORDER BY address")
    wallets = [row["address"] for row in found]
    tokens = [
        r["token"]
        for r in await connection.fetch(
            "SELECT unnest(clob_token_ids) AS token FROM market "
            "WHERE active AND NOT resolved AND clob_token_ids IS NOT NULL ORDER BY id"
        )
    ]
    rows = []
    for number in range(WALLET_TRADES):
        shares = Decimal(round(10 ** rng.uniform(0, 4.5), 2)).quantize(Decimal("0.01"))
        rows.append(
            (
                f"bench-{number:06d}",
                rng.choice(wallets),
                rng.choice(tokens),
                "BUY" if rng.random() < 0.85 else "SELL",
                shares,
                Decimal(rng.randint(1, 999)) / 1000,
                BASE_TIME - timedelta(seconds=rng.randint(0, 30 * 24 * 3600)),
            )
        )
    await connection.copy_records_to_table(
        "wallet_trade", columns=WALLET_TRADE_COLUMNS, records=rows
    )


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
    sized = [t for ids in data.by_size.values() for t in ids] + data.settled
    rows = await connection.fetch(
        """
        SELECT u.telegram_id,
               coalesce(array_agg(p.id ORDER BY p.id) FILTER (WHERE p.id IS NOT NULL), '{}')
                 AS positions
        FROM app_user AS u
        -- The mixed workload sets levels on these: not in resolved markets, which refuse them.
        LEFT JOIN (position AS p JOIN market AS m ON m.id = p.market_id AND NOT m.resolved)
          ON p.user_id = u.id AND p.status = 'ACTIVE'
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
