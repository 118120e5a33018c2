"""The old design, rebuilt for the benchmark only (never deployed): the baseline of bench/api.

What the issue says the old system did, and nothing cleverer: resolvers without loaders, so
every position's market is one Redis read and, on a miss, one SQL query of its own; and a write
to any user's positions wipes *every* user's cached positions (a SCAN over the keyspace and an
UNLINK of what it finds: the `delete_pattern` helper of the usual Redis cache libraries). Its
cache is per key with the same TTLs (settings.py keeps the old system's strategy): a profile
(1 h), a user's positions (30 s), a market's details (5 min) and its prices (20 s); a price
update deletes its markets' keys.

To compare designs rather than frameworks, everything else is the service's own: Starlette,
Strawberry with the same Decimal scalar, asyncpg through database.Database, the same SQL files
(called once per item here), the same mutations (writes/, with the old invalidation plugged in
as the store's `bump`), the same RequestScope middleware and JSON log line, and the same
Prometheus counters (SQL statements, Redis round trips, cache lookups per kind), so the
benchmark reads both servers alike. A request memoises only what one naive resolver would:
a user's position list, and each position's market for that position's fields.

Issue 12's reads, the same way: Claimable from the user's cached ACTIVE list and one market
read per position (as Portfolio); the trade history a page per user (one query, kept 30 s like
the position lists and wiped with them) and one market read per trade; the smart-wallet feed
kept 5 minutes (CACHE_TTL_WALLETS, the old TTL) with its wallets, and for each of its trades
one query of the market holding its token, every time (the N+1 issue 12 names); the
leaderboard kept 1 hour (the old TTL: the users' class, 3600 s). The answers are the service's,
cursors included (the same signing).

Run: `python -m bench.api.old_design` with the service's environment (DATABASE_URL,
REDIS_URL, CACHE_PREFIX, CACHE_TTL_*, HOST, PORT, LOG_LEVEL).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeAlias

import asyncpg
import orjson
import strawberry
import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.asyncio import BlockingConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from strawberry.asgi import GraphQL

import sql
from cache import kinds
from cache.codec import decode, encode
from cache.keys import KeyNames, Scope
from cache.kinds import Kind, TtlClass
from cache.store import CacheStore, Pipeline, ttls
from domain import settlement, valuation
from domain.cursors import (
    decode_cursor,
    decode_feed_cursor,
    decode_time_cursor,
    encode_cursor,
    encode_feed_cursor,
    encode_time_cursor,
)
from domain.identifiers import parse_bigint_id
from resolvers.query import SMART_TRADES_MIN_VALUE, SMART_TRADES_MIN_WIN_RATE
from resolvers.users import TRADE_WALK
from schema.connection import MarketConnection, MarketEdge, PageInfo
from schema.enums import LeaderboardOrder, PositionStatus
from schema.extensions.debug_counts import DebugCounts
from schema.market import Market, market_from_row
from schema.portfolio import Portfolio, portfolio_of
from schema.position import Position
from schema.rows import FromRow
from schema.scalars import DecimalScalar
from schema.schema import Mutation
from schema.trade import Trade
from schema.wallet import LeaderboardEntry, Wallet, leaderboard_entry_from_row, wallet_from_row
from settings import Settings
from sql.database import Database, Row, create_pool
from telemetry.logs import configure_logging
from telemetry.metrics import CACHE_LOOKUPS, RequestCounts
from web.request_scope import RequestScope

REDIS_CONNECTIONS = 50
# The market holding a smart trade's token, with the outcome the token stands for: what the
# old feed asked once per trade (the service finds them for a whole page in its feed query).
MARKET_BY_TOKEN = """
SELECT m.id, m.title, m.slug, m.condition_id, m.outcomes, m.outcome_prices, m.clob_token_ids,
       m.volume, m.liquidity, m.end_date, m.active, m.resolved, m.winning_outcome,
       m.resolved_at, m.outcomes[array_position(m.clob_token_ids, $1)] AS outcome
FROM market AS m WHERE m.clob_token_ids @> ARRAY[$1::text] ORDER BY m.id LIMIT 1
"""


class OldStore(CacheStore):
    """The service's store (pipelines, counting, timeouts) with the old invalidation."""

    def name(self, *parts: object) -> str:
        return ":".join([self.keys.prefix, "old", *map(str, parts)])

    async def bump(self, scopes: Iterable[Scope]) -> None:
        wanted = set(scopes)
        keys = [self.name("market", s.id) for s in wanted if s.family == "market"]
        keys += [self.name("prices", s.id) for s in wanted if s.family == "market"]
        keys += [self.name("user", s.id) for s in wanted if s.family == "telegram"]
        if keys:
            await self.run("invalidate", lambda pipeline: pipeline.unlink(*keys))
        if any(s.family in ("user", "position") for s in wanted):
            await self.wipe_positions()

    async def wipe_positions(self) -> None:
        """Every user's cached positions and trade pages: SCAN the keyspace for them, UNLINK
        each page found."""
        for pattern in (self.name("positions", "*"), self.name("trades", "*")):
            await self.wipe(pattern)

    async def wipe(self, pattern: str) -> None:
        cursor: int = 0
        doomed: list[Any] = []
        while True:
            page = await self.run("invalidate", _scan_and_unlink(pattern, cursor, doomed))
            if page is None:
                return
            cursor, doomed = page[-1]
            if cursor == 0:
                break
        if doomed:
            await self.run("invalidate", lambda pipeline: pipeline.unlink(*doomed))


def _scan_and_unlink(pattern: str, cursor: int, doomed: list[Any]) -> Callable[[Pipeline], None]:
    """One round trip: UNLINK the previous page's keys, SCAN the next page."""

    def queue(pipeline: Pipeline) -> None:
        if doomed:
            pipeline.unlink(*doomed)
        pipeline.scan(cursor, match=pattern, count=1000)

    return queue


def connect_old_store(settings: Settings, url: str) -> OldStore:
    # A blocking pool: a Portfolio of 1,000 positions asks for 1,000 reads at once, which
    # queue for one of REDIS_CONNECTIONS connections instead of failing.
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=REDIS_CONNECTIONS,
        timeout=30,
        retry=Retry(NoBackoff(), 1),
        socket_timeout=settings.redis_timeout,
        socket_connect_timeout=settings.redis_timeout,
    )
    client = Redis(connection_pool=pool)
    return OldStore(
        client=client,
        keys=KeyNames(settings.cache_prefix),
        retry_after=settings.redis_retry_after,
        ttls=ttls(settings),
    )


@dataclass
class OldCache:
    """What the reused mutation resolvers expect of `info.context.cache`: its store."""

    store: OldStore


@dataclass
class OldContext:
    request: Request
    response: Response
    settings: Settings
    database: Database
    cache: OldCache
    request_id: str
    counts: RequestCounts
    debug_counts: bool
    # The naive resolvers' only memory: a user's list (portfolio and positions share it) and
    # each position's market (its five market fields share it).
    position_lists: dict[tuple[int, str | None], asyncio.Task[list[dict[str, Any]]]] = field(
        default_factory=dict
    )
    position_markets: dict[str, asyncio.Task[dict[str, Any] | None]] = field(default_factory=dict)
    # Each smart trade's market by its token (its outcome and market fields share it).
    token_markets: dict[str, asyncio.Task[asyncpg.Record | None]] = field(default_factory=dict)


Info: TypeAlias = strawberry.Info[OldContext, None]


@dataclass(frozen=True)
class OldEntry:
    """One key of the old cache: its TTL class, and the columns it keeps (None: all but `key`).
    A market was two: its details (5 min) and its prices (20 s)."""

    name: str
    ttl: TtlClass
    columns: tuple[str, ...] | None = None

    def payload(self, row: asyncpg.Record) -> bytes:
        if self.columns is None:
            return encode(row, leave={"key", *PRICE_COLUMNS})
        return encode(row, columns=self.columns)


PRICE_COLUMNS = ("outcome_prices",)


async def cached(
    info: Info,
    kind: Kind[Any],
    entries: list[OldEntry],
    fetch: Callable[[], Awaitable[asyncpg.Record | None]],
) -> dict[str, Any] | None:
    """One key's read-through: one GET/MGET round trip, on a miss one SQL and one SET round.
    The entries are JSON as the service's, without its versions."""
    store = info.context.cache.store
    names = [entry.name for entry in entries]
    read = await store.run("read", lambda pipeline: pipeline.mget(names))
    values = read[0] if read is not None else [None] * len(names)
    if all(value is not None for value in values):
        CACHE_LOOKUPS.labels(kind.name, "hit").inc()
        merged: dict[str, Any] = {}
        for value in values:
            merged.update(decode(value or b""))
        return merged
    CACHE_LOOKUPS.labels(kind.name, "miss").inc()
    row = await fetch()
    if row is None:
        return None
    payloads = [(entry.name, store.ttls[entry.ttl], entry.payload(row)) for entry in entries]

    def fill(pipeline: Pipeline) -> None:
        for name, ttl, payload in payloads:
            pipeline.set(name, payload, px=max(1, int(ttl * 1000)))

    await store.run("fill", fill)
    return dict(row.items())


async def market_row(info: Info, market_id: str) -> dict[str, Any] | None:
    """One market: its two keys in one MGET; on a miss, one SQL query for this market alone."""
    store = info.context.cache.store
    database = info.context.database

    async def select() -> asyncpg.Record | None:
        return await database.fetchrow(sql.MARKETS_BY_ID, [market_id])

    entries = [
        OldEntry(store.name("market", market_id), "markets"),
        OldEntry(store.name("prices", market_id), "prices", PRICE_COLUMNS),
    ]
    return await cached(info, kinds.MARKET, entries, select)


def position_market(info: Info, position: Position) -> asyncio.Task[dict[str, Any] | None]:
    tasks = info.context.position_markets
    if position.id not in tasks:
        tasks[position.id] = asyncio.ensure_future(market_row(info, position.market_id))
    return tasks[position.id]


async def current_price_of(info: Info, position: Position) -> Decimal | None:
    row = await position_market(info, position)
    if row is None:
        return None
    return valuation.outcome_price(row["outcomes"], row["outcome_prices"], position.outcome)


async def old_market(position: strawberry.Parent[Position], info: Info) -> Market | None:
    row = await position_market(info, position)
    return None if row is None else market_from_row(row)


async def old_current_price(position: strawberry.Parent[Position], info: Info) -> Decimal | None:
    return await current_price_of(info, position)


async def old_value(position: strawberry.Parent[Position], info: Info) -> Decimal | None:
    return valuation.value(position.shares, await current_price_of(info, position))


async def old_pnl(position: strawberry.Parent[Position], info: Info) -> Decimal | None:
    price = await current_price_of(info, position)
    return valuation.pnl(position.shares, position.entry_price, price)


async def old_pnl_percent(position: strawberry.Parent[Position], info: Info) -> Decimal | None:
    return valuation.pnl_percent(position.entry_price, await current_price_of(info, position))


async def old_payout(position: strawberry.Parent[Position], info: Info) -> Decimal | None:
    row = await position_market(info, position)
    winner = None if row is None else row["winning_outcome"]
    return settlement.payout(position.shares, position.outcome, winner)


@strawberry.type(name="OldPosition")
class OldPosition(Position):
    """The service's Position, its market fields resolved the old way: one read each."""

    market: Market | None = strawberry.field(resolver=old_market)
    current_price: Decimal | None = strawberry.field(resolver=old_current_price)
    value: Decimal | None = strawberry.field(resolver=old_value)
    pnl: Decimal | None = strawberry.field(resolver=old_pnl)
    pnl_percent: Decimal | None = strawberry.field(resolver=old_pnl_percent)
    payout: Decimal | None = strawberry.field(resolver=old_payout)


old_position = FromRow(OldPosition)


@strawberry.type(name="OldClaimable")
class OldClaimable:
    position_count: int
    payout: Decimal
    positions: list[OldPosition]


async def old_trade_market(trade: strawberry.Parent[Trade], info: Info) -> Market | None:
    row = await market_row(info, trade.market_id)
    return None if row is None else market_from_row(row)


@strawberry.type(name="OldTrade")
class OldTrade(Trade):
    """The service's Trade, its market read the old way: one read per trade."""

    market: Market | None = strawberry.field(resolver=old_trade_market)


old_trade = FromRow(OldTrade)


@strawberry.type(name="OldTradeEdge")
class OldTradeEdge:
    cursor: str
    node: OldTrade


@strawberry.type(name="OldTradeConnection")
class OldTradeConnection:
    edges: list[OldTradeEdge]
    page_info: PageInfo


async def trade_rows(
    info: Info, user_id: int, after: tuple[datetime, int] | None, size: int
) -> list[dict[str, Any]]:
    """One page of a user's trades: one GET, on a miss one query and one SET (30 s)."""
    store = info.context.cache.store
    at, last = after if after is not None else (None, None)
    name = store.name("trades", user_id, at.isoformat() if at else "", last or "", size)
    read = await store.run("read", lambda pipeline: pipeline.get(name))
    if read is not None and read[0] is not None:
        CACHE_LOOKUPS.labels("user_trades", "hit").inc()
        rows: list[dict[str, Any]] = decode(read[0])
        return rows
    CACHE_LOOKUPS.labels("user_trades", "miss").inc()
    found = list(
        await info.context.database.fetch(sql.TRADES_BY_USER, [user_id], [at], [last], [size])
    )
    payload = encode(found, leave={"key"})
    ttl = max(1, int(store.ttls["positions"] * 1000))
    await store.run("fill", lambda pipeline: pipeline.set(name, payload, px=ttl))
    decoded: list[dict[str, Any]] = decode(payload)
    return decoded


def token_market(info: Info, trade: OldSmartTrade) -> asyncio.Task[asyncpg.Record | None]:
    """The trade's market by its token: one query per trade, never cached."""
    tasks = info.context.token_markets
    if trade.id not in tasks:
        tasks[trade.id] = asyncio.ensure_future(
            info.context.database.fetchrow(MARKET_BY_TOKEN, trade.token_id)
        )
    return tasks[trade.id]


async def old_smart_outcome(trade: strawberry.Parent[OldSmartTrade], info: Info) -> str | None:
    row = await token_market(info, trade)
    return None if row is None else row["outcome"]


async def old_smart_market(trade: strawberry.Parent[OldSmartTrade], info: Info) -> Market | None:
    row = await token_market(info, trade)
    return None if row is None else market_from_row(row)


@strawberry.type(name="OldSmartTrade")
class OldSmartTrade:
    id: strawberry.ID
    token_id: str
    shares: Decimal
    price: Decimal
    value: Decimal
    executed_at: datetime
    wallet: Wallet
    outcome: str | None = strawberry.field(resolver=old_smart_outcome)
    market: Market | None = strawberry.field(resolver=old_smart_market)


@strawberry.type(name="OldSmartTradeEdge")
class OldSmartTradeEdge:
    cursor: str
    node: OldSmartTrade


@strawberry.type(name="OldSmartTradeConnection")
class OldSmartTradeConnection:
    edges: list[OldSmartTradeEdge]
    page_info: PageInfo


async def position_rows(info: Info, user_id: int, status: str | None) -> list[dict[str, Any]]:
    store = info.context.cache.store
    database = info.context.database
    name = store.name("positions", user_id, status or "ALL")
    read = await store.run("read", lambda pipeline: pipeline.get(name))
    if read is not None and read[0] is not None:
        CACHE_LOOKUPS.labels("user_positions", "hit").inc()
        rows: list[dict[str, Any]] = decode(read[0])
        return rows
    CACHE_LOOKUPS.labels("user_positions", "miss").inc()
    found: list[Row] = list(await database.fetch(sql.POSITIONS_BY_USER, [user_id], [status]))
    payload = encode(found, leave={"key"})
    ttl = max(1, int(store.ttls["positions"] * 1000))
    await store.run("fill", lambda pipeline: pipeline.set(name, payload, px=ttl))
    decoded: list[dict[str, Any]] = decode(payload)
    return decoded


def position_list(
    info: Info, user_id: int, status: PositionStatus | None
) -> asyncio.Task[list[dict[str, Any]]]:
    key = (user_id, None if status is None else status.value)
    tasks = info.context.position_lists
    if key not in tasks:
        tasks[key] = asyncio.ensure_future(position_rows(info, *key))
    return tasks[key]


@strawberry.type(name="OldUser")
class OldUser:
    id: strawberry.ID
    telegram_id: strawberry.ID
    username: str | None
    polygon_address: str | None
    created_at: datetime

    @strawberry.field
    async def positions(
        self, info: Info, status: PositionStatus | None = None
    ) -> list[OldPosition]:
        rows = await position_list(info, int(self.id), status)
        # Markets are memoised by position id, so portfolio and positions share their reads.
        return [old_position(row) for row in rows]

    @strawberry.field
    async def portfolio(self, info: Info) -> Portfolio:
        rows = await position_list(info, int(self.id), PositionStatus.ACTIVE)
        positions = [old_position(row) for row in rows]
        prices = await asyncio.gather(*(current_price_of(info, p) for p in positions))
        return portfolio_of(
            valuation.totals(
                valuation.Holding(p.shares, p.entry_price, price)
                for p, price in zip(positions, prices, strict=True)
            )
        )

    @strawberry.field
    async def claimable(self, info: Info) -> OldClaimable:
        rows = await position_list(info, int(self.id), PositionStatus.ACTIVE)
        positions = [old_position(row) for row in rows]
        markets = await asyncio.gather(*(position_market(info, p) for p in positions))
        settled = [
            (p, m["resolved_at"], settlement.payout(p.shares, p.outcome, m["winning_outcome"]))
            for p, m in zip(positions, markets, strict=True)
            if m is not None and m["resolved_at"] is not None
        ]
        settled.sort(key=lambda entry: (-entry[1].timestamp(), int(entry[0].id)))
        return OldClaimable(
            position_count=len(settled),
            payout=sum((payout or Decimal(0) for _, _, payout in settled), Decimal(0)),
            positions=[p for p, _, _ in settled],
        )

    @strawberry.field
    async def trades(self, info: Info, first: int, after: str | None = None) -> OldTradeConnection:
        secret = info.context.settings.cursor_secret
        walk = decode_time_cursor(TRADE_WALK, after, secret) if after is not None else None
        rows = await trade_rows(info, int(self.id), walk, first + 1)
        page = [old_trade(row) for row in rows]
        edges = [
            OldTradeEdge(
                cursor=encode_time_cursor(TRADE_WALK, t.executed_at, int(t.id), secret), node=t
            )
            for t in page[:first]
        ]
        return OldTradeConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(page) > first, end_cursor=edges[-1].cursor if edges else None
            ),
        )


async def user(info: Info, telegram_id: strawberry.ID) -> OldUser | None:
    key = parse_bigint_id(telegram_id)
    if key is None:
        return None
    database = info.context.database

    async def select() -> asyncpg.Record | None:
        return await database.fetchrow(sql.USERS_BY_TELEGRAM_ID, [key])

    store = info.context.cache.store
    row = await cached(info, kinds.USER, [OldEntry(store.name("user", key), "users")], select)
    if row is None:
        return None
    return OldUser(
        id=strawberry.ID(str(row["id"])),
        telegram_id=strawberry.ID(str(row["telegram_id"])),
        username=row["username"],
        polygon_address=row["polygon_address"],
        created_at=row["created_at"],
    )


async def markets(info: Info, ids: list[strawberry.ID]) -> list[Market | None]:
    rows = await asyncio.gather(*(market_row(info, market_id) for market_id in ids))
    return [None if row is None else market_from_row(row) for row in rows]


async def trending_markets(info: Info, first: int, after: str | None = None) -> MarketConnection:
    store = info.context.cache.store
    secret = info.context.settings.cursor_secret
    volume, last = decode_cursor(after, secret) if after is not None else (None, None)
    name = store.name("trending", first, after or "")
    read = await store.run("read", lambda pipeline: pipeline.get(name))
    if read is not None and read[0] is not None:
        CACHE_LOOKUPS.labels("trending", "hit").inc()
        ids: list[str] = orjson.loads(read[0])
    else:
        CACHE_LOOKUPS.labels("trending", "miss").inc()
        rows = await info.context.database.fetch(
            sql.TRENDING_MARKETS, [volume], [last], [first + 1]
        )
        ids = [row["id"] for row in rows]
        payload = orjson.dumps(ids)
        ttl = max(1, int(store.ttls["market_lists"] * 1000))
        await store.run("fill", lambda pipeline: pipeline.set(name, payload, px=ttl))
    found = [row for row in await asyncio.gather(*(market_row(info, i) for i in ids)) if row]
    page = [market_from_row(row) for row in found]
    edges = [MarketEdge(cursor=encode_cursor(m.volume, m.id, secret), node=m) for m in page[:first]]
    return MarketConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(page) > first, end_cursor=edges[-1].cursor if edges else None
        ),
    )


async def kept_rows(
    info: Info, kind: str, name: str, ttl: float, fill: Callable[[], Awaitable[Any]]
) -> Any:
    """One key holding a whole list: one GET, on a miss `fill` and one SET."""
    store = info.context.cache.store
    read = await store.run("read", lambda pipeline: pipeline.get(name))
    if read is not None and read[0] is not None:
        CACHE_LOOKUPS.labels(kind, "hit").inc()
        return decode(read[0])
    CACHE_LOOKUPS.labels(kind, "miss").inc()
    payload = encode(await fill())
    expiry = max(1, int(ttl * 1000))
    await store.run("fill", lambda pipeline: pipeline.set(name, payload, px=expiry))
    return decode(payload)


async def smart_trades(
    info: Info,
    first: int,
    after: str | None = None,
    min_value: Decimal | None = None,
    min_win_rate: Decimal | None = None,
) -> OldSmartTradeConnection:
    """The feed's page with its wallets, kept 5 minutes; each trade's market one query."""
    store = info.context.cache.store
    secret = info.context.settings.cursor_secret
    at, last = decode_feed_cursor(after, secret) if after is not None else (None, None)
    value = SMART_TRADES_MIN_VALUE if min_value is None else min_value
    win_rate = SMART_TRADES_MIN_WIN_RATE if min_win_rate is None else min_win_rate
    database = info.context.database

    async def fill() -> list[dict[str, Any]]:
        rows = await database.fetch(
            sql.SMART_TRADES, [at], [last], [value], [win_rate], [first + 1]
        )
        addresses = sorted({row["wallet_address"] for row in rows})
        found = await database.fetch(sql.WALLETS_BY_ADDRESS, addresses) if addresses else []
        wallets = {w["address"]: w for w in found}
        # Each trade with its wallet's statistics (as they were when kept), one flat row.
        return [
            {k: v for k, v in row.items() if k not in ("key", "market_id", "outcome")}
            | {f"wallet_{k}": v for k, v in wallets[row["wallet_address"]].items() if k != "key"}
            for row in rows
        ]

    name = store.name("feed", first, after or "", value, win_rate)
    rows = await kept_rows(info, "smart_trades", name, store.ttls["wallets"], fill)
    page = [
        OldSmartTrade(
            id=strawberry.ID(row["id"]),
            token_id=row["token_id"],
            shares=row["shares"],
            price=row["price"],
            value=row["value"],
            executed_at=row["executed_at"],
            wallet=wallet_from_row(
                {k[len("wallet_") :]: v for k, v in row.items() if k.startswith("wallet_")}
            ),
        )
        for row in rows
    ]
    edges = [
        OldSmartTradeEdge(cursor=encode_feed_cursor(t.executed_at, t.id, secret), node=t)
        for t in page[:first]
    ]
    return OldSmartTradeConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(page) > first, end_cursor=edges[-1].cursor if edges else None
        ),
    )


async def leaderboard(info: Info, by: LeaderboardOrder, first: int) -> list[LeaderboardEntry]:
    """The page kept 1 hour (the users' TTL class: 3600 s)."""
    store = info.context.cache.store
    database = info.context.database

    async def fill() -> list[dict[str, Any]]:
        rows = await database.fetch(sql.LEADERBOARD, [by.value], [first])
        return [{k: v for k, v in row.items() if k != "key"} for row in rows]

    name = store.name("leaderboard", by.value, first)
    rows = await kept_rows(info, "leaderboard", name, store.ttls["users"], fill)
    return [leaderboard_entry_from_row(row) for row in rows]


@strawberry.type(name="Query")
class OldQuery:
    user: OldUser | None = strawberry.field(resolver=user)
    markets: list[Market | None] = strawberry.field(resolver=markets)
    trending_markets: MarketConnection = strawberry.field(resolver=trending_markets)
    smart_trades: OldSmartTradeConnection = strawberry.field(resolver=smart_trades)
    leaderboard: list[LeaderboardEntry] = strawberry.field(resolver=leaderboard)


class OldView(GraphQL[OldContext, None]):
    def __init__(self, schema: strawberry.Schema, settings: Settings) -> None:
        super().__init__(schema, graphql_ide=None)
        self.settings = settings

    async def get_context(self, request: Request, response: Response) -> OldContext:  # type: ignore[override]
        return OldContext(
            request=request,
            response=response,
            settings=self.settings,
            database=request.app.state.database,
            cache=OldCache(request.app.state.store),
            request_id=request.state.request_id,
            counts=request.state.counts,
            debug_counts=request.headers.get("x-debug-counts") == "1",
        )


def create_old_app(settings: Settings) -> Starlette:
    if settings.database_url is None or settings.redis_url is None:
        raise SystemExit("the old design needs DATABASE_URL and REDIS_URL")
    database_url, redis_url = settings.database_url, settings.redis_url
    schema = strawberry.Schema(
        query=OldQuery,
        mutation=Mutation,
        extensions=[DebugCounts],
        scalar_overrides={Decimal: DecimalScalar},
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool = await create_pool(database_url, settings)
        app.state.database = Database(pool, settings.pool_acquire_timeout)
        app.state.store = connect_old_store(settings, redis_url)
        try:
            yield
        finally:
            await app.state.store.close()
            await pool.close()

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/graphql", OldView(schema, settings), methods=["POST"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        middleware=[Middleware(RequestScope)],
        lifespan=lifespan,
    )


def main() -> None:
    settings = Settings.from_env(os.environ)
    configure_logging(settings.log_level)
    uvicorn.run(
        create_old_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_config=None,
    )


if __name__ == "__main__":
    main()
