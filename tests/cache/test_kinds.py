"""Every kind of cached data reads back as it was read: a hit is the miss, value for value.

A row cached as JSON loses Decimal and datetime; the entry names the columns to restore
(cache/codec.py), so nothing lists them per entity. Each kind is read cold (PostgreSQL) and
warm (Redis) through the same read-through, and the two must be equal in value and in type,
then built into the same Strawberry objects.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from cache import kinds
from cache.codec import decode, encode
from cache.read_through import CacheSession
from cache.store import connect
from schema.market import market_from_row
from schema.position import position_from_row
from schema.trade import trade_from_row
from schema.user import user_from_row
from settings import Settings
from sql.database import Database
from tests.conftest import unique_prefix
from tests.factories import insert_positions_on_real_markets, insert_user


def plain(value: Any) -> Any:
    """A read-through value without the batch's `key` column, as dicts."""
    if isinstance(value, list):
        return [plain(row) for row in value]
    if isinstance(value, dict | asyncpg.Record):
        return {name: value[name] for name in value.keys() if name != "key"}  # noqa: SIM118
    return value


def typed(value: Any) -> Any:
    """The same with each value's type beside it, so "0.5" never passes for Decimal("0.5")."""
    if isinstance(value, list):
        return [typed(item) for item in value]
    if isinstance(value, dict):
        return {name: (type(item).__name__, typed(item)) for name, item in value.items()}
    return value


async def keys_of_every_kind(db: asyncpg.Connection, telegram_id: str) -> dict[str, list[Any]]:
    user_id = await insert_user(db, telegram_id)
    await insert_positions_on_real_markets(db, user_id, 3)
    positions = await db.fetch("SELECT id, market_id FROM position WHERE user_id = $1", user_id)
    market = await db.fetchrow(
        "SELECT id, condition_id, clob_token_ids FROM market WHERE id = $1",
        positions[0]["market_id"],
    )
    assert market is not None
    return {
        "market": sorted({p["market_id"] for p in positions}),
        "market_by_token": [market["clob_token_ids"][0]],
        "market_by_condition": [market["condition_id"]],
        "trending": [kinds.TrendingPage(None, None, 5)],
        "search": [("election", 5)],
        "user": [int(telegram_id)],
        "position": [p["id"] for p in positions],
        "user_positions": [(user_id, "ACTIVE"), (user_id, None), (user_id, "CLOSED")],
        "user_trades": await trade_pages(db, user_id, await insert_user(db, f"{telegram_id}1")),
    }


async def trade_pages(db: asyncpg.Connection, user_id: int, other: int) -> list[kinds.TradePage]:
    """A trade per position (a SELL with its P&L); the first page of one user, and a page after
    a cursor of another (two pages of one user share a version: the first fill of a batch
    creates it, and the second, guarded by its absence, is dropped)."""
    await insert_positions_on_real_markets(db, other, 3)
    await db.execute(
        "INSERT INTO trade (user_id, market_id, position_id, kind, outcome, shares, price,"
        " realized_pnl) SELECT user_id, market_id, id, 'SELL', outcome, 1.5, 0.25, 0.125"
        " FROM position WHERE user_id = ANY($1::bigint[])",
        [user_id, other],
    )
    newest = await db.fetchrow(
        "SELECT id, executed_at FROM trade WHERE user_id = $1 ORDER BY executed_at DESC, id DESC",
        other,
    )
    assert newest is not None
    return [
        kinds.TradePage(user_id, None, None, 2),
        kinds.TradePage(other, newest["executed_at"], newest["id"], 5),
    ]


EVERY_KIND: list[kinds.Kind[Any]] = [
    kinds.MARKET,
    kinds.MARKET_BY_TOKEN,
    kinds.MARKET_BY_CONDITION,
    kinds.TRENDING,
    kinds.SEARCH,
    kinds.USER,
    kinds.POSITION,
    kinds.USER_POSITIONS,
    kinds.USER_TRADES,
]
BUILDERS: dict[str, Callable[[Any], Any]] = {
    "market": market_from_row,
    "user": user_from_row,
    "position": position_from_row,
    "user_positions": lambda rows: [position_from_row(row) for row in rows],
    "user_trades": lambda rows: [trade_from_row(row) for row in rows],
}


async def read_twice(
    settings: Settings, database_url: str, kind: kinds.Kind[Any], keys: list[Any]
) -> tuple[dict[Any, Any], dict[Any, Any], list[list[Any]]]:
    """`keys` read through an empty cache of their own, then again: both reads' values, and
    the keys each call to the database was asked for."""
    store = connect(settings.replace(cache_prefix=unique_prefix()), settings.redis_url or "")
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    misses: list[list[Any]] = []
    try:
        read = kind.reader(Database(pool))

        async def counted(missing: list[Any]) -> dict[Any, Any]:
            misses.append(missing)
            return await read(missing)

        cold = await CacheSession(store).read_through(kind, keys, counted)
        warm = await CacheSession(store).read_through(kind, keys, counted)
    finally:
        await store.close()
        await pool.close()
    return cold, warm, misses


@pytest.mark.parametrize("kind", EVERY_KIND, ids=[k.name for k in EVERY_KIND])
async def test_a_warm_read_equals_the_cold_one_in_value_and_type(
    kind: kinds.Kind[Any],
    settings: Settings,
    seeded: str,
    db: asyncpg.Connection,
    new_telegram_id: Callable[[], str],
) -> None:
    keys = (await keys_of_every_kind(db, new_telegram_id()))[kind.name]
    cold, warm, misses = await read_twice(settings, seeded, kind, keys)
    assert misses == [keys]  # the second read was all hits
    assert cold.keys() == warm.keys()
    assert cold  # every kind found something here
    for key in keys:
        assert typed(plain(warm[key])) == typed(plain(cold[key]))
        if kind.name in BUILDERS:
            assert BUILDERS[kind.name](warm[key]) == BUILDERS[kind.name](cold[key])


def test_a_new_decimal_or_datetime_column_needs_no_declaring() -> None:
    # What broke warm reads once: a Decimal column missing from a list kept by hand.
    row = {
        "price": Decimal("0.123456789012"),
        "prices": [Decimal("0.5"), Decimal("0.25")],
        "at": datetime.fromisoformat("2025-12-07T00:00:00+00:00"),
        "name": "0.5",  # text that looks like a number stays text
        "none": None,
        "count": 3,
    }
    assert typed(decode(encode(row))) == typed(row)
    rows = [{**row, "price": None}, row]  # the column's type is found in any row
    assert typed(decode(encode(rows))) == typed(rows)
    assert decode(encode(row, columns=("price",))) == {"price": row["price"]}
    assert decode(encode(row, leave={"price", "prices"})).keys() == {"at", "name", "none", "count"}
