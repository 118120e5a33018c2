"""What the cache keeps, kind by kind: how each is named, scoped, kept and read on a miss.

A kind is a batched read: its statement takes arrays (one element per key) and answers rows
that each carry `key`, the 1-based place of their key in the arrays (`rows_by_key`), so every
kind reads its misses the same way and a composite key (a user and a status) needs no special
case. The loaders (loaders/), cache warming (cache/warm.py) and the price writers' read-back all
read a kind through cache/read_through.py; nothing here knows about GraphQL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, Literal, TypeVar

import sql
from cache.codec import encode
from cache.keys import WALLET_FEED, WALLET_STATS, Family, positions_scope, trades_scope
from sql.database import Database, Row

K = TypeVar("K", bound=Hashable)

# The TTL classes of CacheStore.ttls (settings: CACHE_TTL_*).
TtlClass = Literal["prices", "positions", "markets", "market_lists", "users", "wallets"]


@dataclass(frozen=True)
class Kind(Generic[K]):
    name: str
    statement: str
    # How long an entry stays cached: one TTL class of CacheStore.ttls.
    ttl: TtlClass
    # A key's name in its entries' Redis keys.
    name_of: Callable[[K], str] = str
    # The statement's arguments for a batch of keys: by default the keys as one array.
    arguments: Callable[[list[K]], tuple[Any, ...]] = lambda keys: (keys,)
    # Each key has a list of rows (a user's positions, a page of ids), else one row or none.
    many: bool = False
    # The scope a write invalidates (cache/keys.py), one per key unless `scope_of` says which;
    # None for data no write changes (TTL only).
    family: Family | None = None
    scope_of: Callable[[K], str] = str

    def reader(self, database: Database) -> Callable[[list[K]], Awaitable[dict[K, Any]]]:
        """One statement for a batch of keys: each key's row (or rows); absent keys left out."""

        async def read(keys: list[K]) -> dict[K, Any]:
            rows = await database.fetch(self.statement, *self.arguments(keys))
            return rows_by_key(rows, keys, many=self.many)

        return read

    def payload(self, value: Any) -> bytes:
        """What an entry keeps of a key's value: all of it but the batch's `key` column."""
        return encode(value, leave=BATCH_COLUMNS)


BATCH_COLUMNS = frozenset({"key"})


def rows_by_key(rows: Sequence[Row], keys: list[K], *, many: bool) -> dict[K, Any]:
    """Rows to the keys they answer, by their `key` column (1-based, as WITH ORDINALITY)."""
    if many:
        grouped: dict[K, list[Row]] = {key: [] for key in keys}
        for row in rows:
            grouped[keys[row["key"] - 1]].append(row)
        return grouped
    return {keys[row["key"] - 1]: row for row in rows}


@dataclass(frozen=True)
class TrendingPage:
    """Markets after (after_volume, after_id) in trending order; None: from the top."""

    after_volume: Decimal | None
    after_id: str | None
    limit: int


# A user's positions: (user id, "ACTIVE" | "CLOSED", or None for all of them).
UserPositionsKey = tuple[int, str | None]
# A title search: (text, how many).
SearchKey = tuple[str, int]

# Details and prices in one entry, kept as long as the prices: a hit needs both, so details
# kept longer (in a key of their own, until issue 11) were never served alone; one key is one
# SET per market instead of two.
MARKET: Kind[str] = Kind("market", sql.MARKETS_BY_ID, "prices", family="market")
# Token and condition ids never change market: no write retires these, their TTL bounds them.
MARKET_BY_TOKEN: Kind[str] = Kind("market_by_token", sql.MARKETS_BY_TOKEN, "markets")
MARKET_BY_CONDITION: Kind[str] = Kind("market_by_condition", sql.MARKETS_BY_CONDITION, "markets")
# Lists of market ids: no write of ours changes volumes, activity or titles.
TRENDING: Kind[TrendingPage] = Kind(
    "trending",
    sql.TRENDING_MARKETS,
    "market_lists",
    name_of=lambda page: f"{page.after_volume}:{page.after_id}:{page.limit}",
    arguments=lambda pages: (
        [page.after_volume for page in pages],
        [page.after_id for page in pages],
        [page.limit for page in pages],
    ),
    many=True,
)
SEARCH: Kind[SearchKey] = Kind(
    "search",
    sql.SEARCH_MARKETS,
    "market_lists",
    # Any text may be searched: a digest keeps the key short and free of separators.
    name_of=lambda key: hashlib.sha256(f"{key[1]}:{key[0]}".encode()).hexdigest()[:32],
    arguments=lambda keys: ([text for text, _ in keys], [limit for _, limit in keys]),
    many=True,
)
USER: Kind[int] = Kind("user", sql.USERS_BY_TELEGRAM_ID, "users", family="telegram")
POSITION: Kind[int] = Kind("position", sql.POSITIONS_BY_ID, "positions", family="position")
# Each list under the version of that list (keys.positions_scope), which every write changing
# it bumps: a buy leaves the CLOSED list alone.
USER_POSITIONS: Kind[UserPositionsKey] = Kind(
    "user_positions",
    sql.POSITIONS_BY_USER,
    "positions",
    name_of=lambda key: f"{key[0]}:{key[1] or 'ALL'}",
    arguments=lambda keys: ([user for user, _ in keys], [status for _, status in keys]),
    many=True,
    family="user",
    scope_of=lambda key: positions_scope(key[0], key[1] or "ALL").id,
)


@dataclass(frozen=True)
class TradePage:
    """A user's trades after (after_executed_at, after_id), newest first; None: from the top."""

    user_id: int
    after_executed_at: datetime | None
    after_id: int | None
    limit: int


# Pages of a user's trade history, under one version per user (keys.trades_scope) that
# recordTrade and redeemPositions bump: a trade changes which rows every page holds.
USER_TRADES: Kind[TradePage] = Kind(
    "user_trades",
    sql.TRADES_BY_USER,
    "positions",
    name_of=lambda page: (
        f"{page.user_id}:{page.after_executed_at.isoformat() if page.after_executed_at else ''}"
        f":{page.after_id}:{page.limit}"
    ),
    arguments=lambda pages: (
        [page.user_id for page in pages],
        [page.after_executed_at for page in pages],
        [page.after_id for page in pages],
        [page.limit for page in pages],
    ),
    many=True,
    family="user",
    scope_of=lambda page: trades_scope(page.user_id).id,
)


@dataclass(frozen=True)
class SmartTradesPage:
    """Feed trades after (after_executed_at, after_id) passing the filters; None: from the top.
    The filters are canonical (no trailing zeros), so "300" and "300.00" share an entry."""

    after_executed_at: datetime | None
    after_id: str | None
    min_value: Decimal
    min_win_rate: Decimal
    limit: int


# A leaderboard page: (statistic, "SMARTSCORE" | "WIN_RATE" | "REALIZED_PNL"; how many).
LeaderboardKey = tuple[str, int]

# The feed is shared by every user and changes with any wallet trade or new statistics: one
# scope for all its pages, which both wallet writes retire (their TTL only bounds memory).
SMART_TRADES: Kind[SmartTradesPage] = Kind(
    "smart_trades",
    sql.SMART_TRADES,
    "wallets",
    # A trade id is the tracker's text: a digest keeps the key short and free of separators.
    name_of=lambda page: hashlib.sha256(
        f"{page.after_executed_at and page.after_executed_at.isoformat()}|{page.min_value}|"
        f"{page.min_win_rate}|{page.limit}|{page.after_id}".encode()
    ).hexdigest()[:32],
    arguments=lambda pages: (
        [page.after_executed_at for page in pages],
        [page.after_id for page in pages],
        [page.min_value for page in pages],
        [page.min_win_rate for page in pages],
        [page.limit for page in pages],
    ),
    many=True,
    family=WALLET_FEED.family,
    scope_of=lambda _: WALLET_FEED.id,
)
# Leaderboard pages carry their wallets' statistics (one statement, and a page always agrees
# with the order it shows); they and the wallets by address change only with new statistics.
LEADERBOARD: Kind[LeaderboardKey] = Kind(
    "leaderboard",
    sql.LEADERBOARD,
    "wallets",
    name_of=lambda key: f"{key[0]}:{key[1]}",
    arguments=lambda keys: ([by for by, _ in keys], [limit for _, limit in keys]),
    many=True,
    family=WALLET_STATS.family,
    scope_of=lambda _: WALLET_STATS.id,
)
WALLET: Kind[str] = Kind(
    "wallet",
    sql.WALLETS_BY_ADDRESS,
    "wallets",
    family=WALLET_STATS.family,
    scope_of=lambda _: WALLET_STATS.id,
)
