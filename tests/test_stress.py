"""Freshness under load: two server processes on one Redis and one PostgreSQL, all at once.

The contract's rule: once a mutation has returned, every later query, on any process, sees its
effects. Two `python app.py serve` processes share a Redis key prefix and a database; writer
tasks send the bot's mutations to both in turn, each mutation raced by reads of what it changes
on both servers, while reader tasks keep both caches busy, so fills race the writes as they
would in production.

The one decision that makes the check exact: the entities are partitioned. Each writer owns one
user and two markets of the test's own, and the user holds positions on those markets only, so
nothing but that writer changes them (a price update fires levels of positions on its own
markets only). Between two of its mutations the database state of its entities is fixed, so
right after a mutation returns the writer takes that state from PostgreSQL and every read it
starts next, on the other server and then on its own, must equal it field by field. Readers
check their random reads the same way when the owning writer had no mutation in flight for
the whole read; the reads racing a mutation are not checked (either answer is right), but a
stale fill they made is what the checked reads after it would find. No timing guess is
involved, so a mismatch is a stale read, never noise.

The second run pauses Redis's writes now and then (CLIENT PAUSE WRITE, on a Redis of the
test's own), so a server's fills time out, it steps aside, a mutation's invalidation is lost
and must be made good by moving the cache epoch. Reads are checked there only once the pause
has settled (over, and the servers' retry delay passed, with margin): a process cut off from
Redis may leave the others serving what its writes made stale until it reconnects
(cache/store.py says so); after that, nothing stale may remain. A pause that did not take
effect would leave those checks passing, so the run also asserts that each one did: the
paused server stepped aside (its Redis errors rose), lost the invalidation of the mutation it
ran meanwhile, and the cache epoch in Redis moved before the pause settled.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import asyncpg
import graphql
import httpx
import pytest
from redis.asyncio import Redis

from cache.embedded import start_redis
from cache.keys import KeyNames
from tests.conftest import contract_documents, unique_prefix
from tests.factories import insert_market
from tests.server_processes import Server, metric_total, start_server, stop_server, wait_healthy

DURATION = 12.0  # seconds of writing and reading
WRITERS = 4  # one user and two markets each
READERS = 3
MAX_MUTATIONS_PER_WRITER = 400
MAX_READS_PER_READER = 4000
RACE_WINDOW = 0.03  # seconds: reads of a writer's entities sent while its mutation runs
HTTP_TIMEOUT = 5.0
MIN_CACHE_ONLY_SHARE = 0.3  # of all reads: below this the run proves little about the cache
# The servers' Redis timeout: one no load makes Redis miss, so the steady run is about races
# alone (a timeout there is an outage, which the paused run is for), and long enough for a
# mutation to run while the fills of a paused Redis wait (see `pause`).
REDIS_TIMEOUT = 1.5
RETRY_AFTER = 1.0  # the servers' REDIS_RETRY_AFTER
PAUSE_EVERY = 0.5  # seconds of calm before each pause of Redis's writes
SETTLE = RETRY_AFTER + 0.5  # seconds after a pause before reads are checked again
FILLS_PER_PAUSE = 6  # markets first read during a pause, one per waiting fill
# Pauses of the paused run, each carried out whatever the time left: the run asserts that each
# one took effect, so a run without them fails.
PAUSES = 2
EPOCH_WAIT = 10.0  # seconds a settling pause waits for the epoch to move before it gives up

OUTCOMES = ("Yes", "No")
LOWEST, HIGHEST = Decimal("0.02"), Decimal("0.98")  # market prices stay inside, levels outside


def contract_operations() -> dict[str, str]:
    """Each operation of the contract's file as its own document (no server parses all 13)."""
    document = graphql.parse(contract_documents())
    return {
        definition.name.value: graphql.print_ast(definition)
        for definition in document.definitions
        if isinstance(definition, graphql.OperationDefinitionNode) and definition.name
    }


OPERATIONS = contract_operations()


# --- The two server processes ---------------------------------------------------------------


@pytest.fixture
def cache_url(pauses: bool, redis_url: str, tmp_path: Path) -> Iterator[str]:
    """The session's Redis; for pauses a private embedded one (a pause holds every client)."""
    if not pauses:
        yield redis_url
        return
    server = start_redis(tmp_path)
    yield server.url
    server.stop()


@pytest.fixture
def cache_prefix() -> str:
    return unique_prefix()


@pytest.fixture
def servers(
    database_url: str, cache_url: str, cache_prefix: str, tmp_path: Path
) -> Iterator[list[Server]]:
    """Two `app.py serve` processes on one database and one Redis, sharing a fresh key prefix."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": cache_url,
        "APP_ENV": "test",  # X-Debug-Counts answers outside production only
        "CACHE_PREFIX": cache_prefix,
        "CACHE_WARM_MARKETS": "50",
        "REDIS_TIMEOUT": str(REDIS_TIMEOUT),
        "REDIS_RETRY_AFTER": str(RETRY_AFTER),
        "POOL_MAX_SIZE": "8",
        "GRAPHIQL": "false",
        "LOG_LEVEL": "WARNING",  # one line per request would be most of the machine's work
        # Every request comes from one address, and on a quick machine the two servers answer
        # more than RATE_LIMIT_PER_KEY's 6,000 a minute: 429s are not what this test checks.
        "RATE_LIMIT": "false",
    }
    started: list[Server] = []
    try:
        for name in ("A", "B"):
            started.append(start_server(name, env, tmp_path))
        wait_healthy(started)
        yield started
    finally:
        for server in started:
            stop_server(server)


# --- Calls and what they found ---------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    server: str
    operation: str
    variables: dict[str, Any]
    request_id: str
    data: dict[str, Any]
    sql: int
    started: float  # monotonic time the request was sent


@dataclass
class Tally:
    """Everything the run counts; `stale` and `errors` hold one line per problem."""

    mutations: int = 0
    triggered: int = 0
    reads: int = 0
    cache_only_reads: int = 0
    checked_reads: int = 0
    stale: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Api:
    """One server's /graphql, called with the contract's documents; failures are recorded."""

    _request_numbers = itertools.count(1)

    def __init__(self, name: str, http: httpx.AsyncClient, tally: Tally) -> None:
        self.name = name
        self.http = http
        self.tally = tally

    async def read(self, operation: str, variables: dict[str, Any]) -> Reply | None:
        reply = await self._call(operation, variables)
        if reply is not None:
            self.tally.reads += 1
            self.tally.cache_only_reads += reply.sql == 0
        return reply

    async def write(self, operation: str, variables: dict[str, Any]) -> Reply | None:
        reply = await self._call(operation, variables)
        self.tally.mutations += reply is not None
        return reply

    async def _call(self, operation: str, variables: dict[str, Any]) -> Reply | None:
        request_id = f"stress-{next(self._request_numbers)}"
        where = f"{self.name} {operation} {variables} [{request_id}]"
        started = time.monotonic()
        try:
            response = await self.http.post(
                "/graphql",
                json={"query": OPERATIONS[operation], "variables": variables},
                headers={"X-Debug-Counts": "1", "X-Request-ID": request_id},
            )
            body = response.json()
        except (httpx.HTTPError, ValueError) as error:
            self.tally.errors.append(f"{where}: {type(error).__name__}: {error}")
            return None
        counts = (body.get("extensions") or {}).get("counts") or {}
        if response.status_code != 200 or body.get("errors") or "sql" not in counts:
            self.tally.errors.append(f"{where}: HTTP {response.status_code} {body}")
            return None
        return Reply(
            self.name, operation, variables, request_id, body["data"], counts["sql"], started
        )


# --- What PostgreSQL holds -------------------------------------------------------------------


@dataclass(frozen=True)
class PositionRow:
    market_id: str
    outcome: str
    status: str
    shares: Decimal
    entry_price: Decimal
    realized_pnl: Decimal
    take_profit: Decimal | None
    stop_loss: Decimal | None


@dataclass(frozen=True)
class Snapshot:
    """One writer's entities as PostgreSQL holds them: every position of its user, by id
    (CLOSED ones too), and the outcome prices of its markets."""

    positions: dict[str, PositionRow]
    prices: dict[str, tuple[Decimal, ...]]

    def active(self) -> dict[str, PositionRow]:
        return {pid: row for pid, row in self.positions.items() if row.status == "ACTIVE"}

    def price_of(self, row: PositionRow) -> Decimal:
        return self.prices[row.market_id][OUTCOMES.index(row.outcome)]


async def read_snapshot(pool: asyncpg.Pool, user_id: int, market_ids: list[str]) -> Snapshot:
    async with pool.acquire() as connection:
        positions = await connection.fetch(
            """
            SELECT id, market_id, outcome, status::text AS status, shares, entry_price,
                   realized_pnl, take_profit_price, stop_loss_price
            FROM position WHERE user_id = $1
            """,
            user_id,
        )
        markets = await connection.fetch(
            "SELECT id, outcome_prices FROM market WHERE id = ANY($1::text[])", market_ids
        )
    return Snapshot(
        positions={
            str(row["id"]): PositionRow(
                row["market_id"],
                row["outcome"],
                row["status"],
                row["shares"],
                row["entry_price"],
                row["realized_pnl"],
                row["take_profit_price"],
                row["stop_loss_price"],
            )
            for row in positions
        },
        prices={row["id"]: tuple(row["outcome_prices"]) for row in markets},
    )


# --- Comparing a reply with the snapshot -----------------------------------------------------


def differs(got: str | None, expected: Decimal | None) -> bool:
    """Decimals compare as numbers ("10" == "10.00"); null only equals null."""
    if got is None or expected is None:
        return not (got is None and expected is None)
    return Decimal(got) != expected


def compare(label: str, fields: dict[str, tuple[str | None, Decimal | None]]) -> list[str]:
    return [
        f"{label} {name}: expected {expected}, got {got}"
        for name, (got, expected) in fields.items()
        if differs(got, expected)
    ]


def compare_prices(label: str, got: list[str] | None, expected: tuple[Decimal, ...]) -> list[str]:
    if got is None or [Decimal(p) for p in got] != list(expected):
        return [f"{label} outcomePrices: expected {[str(p) for p in expected]}, got {got}"]
    return []


def position_problems(got: dict[str, Any], row: PositionRow, snapshot: Snapshot) -> list[str]:
    label = f"position {got['id']}"
    problems = compare(
        label,
        {
            "shares": (got["shares"], row.shares),
            "entryPrice": (got["entryPrice"], row.entry_price),
            "takeProfitPrice": (got["takeProfitPrice"], row.take_profit),
            "stopLossPrice": (got["stopLossPrice"], row.stop_loss),
            "currentPrice": (got["currentPrice"], snapshot.price_of(row)),
        },
    )
    if "status" in got and got["status"] != row.status:
        problems.append(f"{label} status: expected {row.status}, got {got['status']}")
    if "realizedPnl" in got:
        problems += compare(label, {"realizedPnl": (got["realizedPnl"], row.realized_pnl)})
    if "closedAt" in got and (got["closedAt"] is None) != (row.status == "ACTIVE"):
        problems.append(f"{label} closedAt: {got['closedAt']} for a {row.status} position")
    market = got["market"]
    return problems + compare_prices(
        f"{label} market {market['id']}", market["outcomePrices"], snapshot.prices[row.market_id]
    )


def portfolio_problems(data: dict[str, Any], snapshot: Snapshot) -> list[str]:
    user = data["user"]
    if user is None:
        return ["user is null"]
    active = snapshot.active()
    listed = {position["id"]: position for position in user["positions"]}
    problems = []
    if set(listed) != set(active):
        problems.append(f"ACTIVE positions: expected ids {sorted(active)}, got {sorted(listed)}")
    for position_id, position in listed.items():
        if position_id in active:
            problems += position_problems(position, active[position_id], snapshot)
    # The totals as the contract defines them, over the snapshot's rows (every price is known).
    invested = sum((row.entry_price * row.shares for row in active.values()), Decimal(0))
    value = sum((snapshot.price_of(row) * row.shares for row in active.values()), Decimal(0))
    portfolio = user["portfolio"]
    if portfolio["positionCount"] != len(active):
        problems.append(
            f"portfolio positionCount: expected {len(active)}, got {portfolio['positionCount']}"
        )
    return problems + compare(
        "portfolio",
        {
            "invested": (portfolio["invested"], invested),
            "value": (portfolio["value"], value),
            "pnl": (portfolio["pnl"], value - invested),
        },
    )


def reply_problems(reply: Reply, snapshot: Snapshot) -> list[str]:
    if reply.operation == "Portfolio":
        return portfolio_problems(reply.data, snapshot)
    if reply.operation == "PositionDetail":
        position_id = reply.variables["id"]
        got = reply.data["position"]
        if got is None:
            return [f"position {position_id} is null"]
        return position_problems(got, snapshot.positions[position_id], snapshot)
    problems: list[str] = []
    for market_id, market in zip(reply.variables["ids"], reply.data["markets"], strict=True):
        if market is None:
            problems.append(f"market {market_id} is null")
        else:
            problems += compare_prices(
                f"market {market_id}", market["outcomePrices"], snapshot.prices[market_id]
            )
    return problems


# --- A writer's entities and its mutations ---------------------------------------------------


@dataclass(frozen=True)
class OwnMarket:
    id: str
    token_ids: list[str]


@dataclass
class Group:
    """What one writer owns, the state it last wrote, and whether a mutation is in flight."""

    number: int
    telegram_id: str
    user_id: int
    markets: list[OwnMarket]
    snapshot: Snapshot
    in_flight: bool = False
    started: int = 0  # mutations sent so far
    failed: bool = False  # a mutation failed: its effect is unknown, stop checking the group
    last_write: str = "setup"
    returned_at: float = 0.0

    @property
    def market_ids(self) -> list[str]:
        return [market.id for market in self.markets]

    def quiet(self) -> bool:
        return not self.in_flight and not self.failed


def decimal(rng: random.Random, low: int, high: int, places: int) -> Decimal:
    """A random Decimal from low to high, in units of 10^-places."""
    return Decimal(rng.randint(low, high)).scaleb(-places)


def plan_mutation(group: Group, rng: random.Random) -> tuple[str, dict[str, Any]]:
    """A mutation that the group's current state accepts (it holds no surprise: one writer)."""
    snapshot = group.snapshot
    active = snapshot.active()
    kind = rng.choices(("prices", "buy", "sell", "levels", "sync"), (30, 25, 15, 20, 10))[0]
    if kind in ("sell", "levels") and not active:
        kind = "buy"
    if kind == "prices":
        chosen = rng.sample(group.markets, rng.randint(1, len(group.markets)))
        updates = []
        for market in chosen:
            step = decimal(rng, -1000, 1000, 4)
            yes = min(max(snapshot.prices[market.id][0] + step, LOWEST), HIGHEST)
            yes = yes.quantize(Decimal("0.0001"))
            updates.append({"marketId": market.id, "outcomePrices": [str(yes), str(1 - yes)]})
        return "UpdateMarketPrices", {"updates": updates}
    if kind == "buy":
        market = rng.choice(group.markets)
        trade = {"marketId": market.id, "outcome": rng.choice(OUTCOMES), "side": "BUY"}
        shares, price = decimal(rng, 100, 2000, 2), decimal(rng, 200, 9800, 4)
        return "RecordTrade", {"input": {"telegramId": group.telegram_id, **trade,
                                         "shares": str(shares), "price": str(price)}}  # fmt: skip
    if kind == "sell":
        position_id = rng.choice(sorted(active))
        row = active[position_id]
        part = (row.shares * rng.randint(10, 90) / 100).quantize(Decimal("0.01"), ROUND_DOWN)
        shares = row.shares if rng.random() < 0.3 or part <= 0 else part
        return "RecordTrade", {
            "input": {
                "telegramId": group.telegram_id, "marketId": row.market_id,
                "outcome": row.outcome, "side": "SELL", "shares": str(shares),
                "price": str(decimal(rng, 200, 9800, 4)),
            }
        }  # fmt: skip
    if kind == "levels":
        # A surviving stop loss lies below the current price and a take profit above it (a
        # price update that crossed one consumed it), so a level on the right side of the
        # price keeps stop loss < take profit whichever level the call leaves as it is.
        position_id = rng.choice(sorted(active))
        price = snapshot.price_of(active[position_id])
        take_profit = str(min(price + decimal(rng, 100, 1500, 4), Decimal("0.999")))
        stop_loss = str(max(price - decimal(rng, 100, 1500, 4), Decimal("0.001")))
        levels: dict[str, str | None] = rng.choice(
            [
                {"takeProfitPrice": take_profit, "stopLossPrice": stop_loss},
                {"takeProfitPrice": take_profit, "stopLossPrice": stop_loss},
                {"takeProfitPrice": take_profit},
                {"stopLossPrice": stop_loss},
                {"takeProfitPrice": None},
                {"takeProfitPrice": None, "stopLossPrice": None},
            ]
        )
        return "SetTpSl", {"positionId": position_id, **levels}
    holdings = []
    for market in group.markets:
        for token_id in market.token_ids:
            if rng.random() < 0.75:
                dust = rng.random() < 0.1
                shares = decimal(rng, 1, 4, 2) if dust else decimal(rng, 100, 2000, 2)
                holdings.append({"tokenId": token_id, "shares": str(shares),
                                 "avgPrice": str(decimal(rng, 200, 9800, 4))})  # fmt: skip
    if rng.random() < 0.2:
        holdings.append({"tokenId": f"stress-unknown-{rng.randrange(10**9)}", "shares": "1",
                         "avgPrice": "0.5"})  # fmt: skip
    return "SyncPositions", {"telegramId": group.telegram_id, "positions": holdings}


# --- Redis pauses ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PauseRecord:
    """What one pause did to the server it was aimed at."""

    server: str
    stepped_aside: bool  # the server's Redis error count rose while Redis was paused
    lost: float  # invalidations the server counted as lost during the pause
    epoch_moved: bool  # the cache epoch in Redis changed before the pause settled

    def problems(self) -> list[str]:
        return [
            f"pause of server {self.server}: {problem}"
            for problem, happened in (
                ("the server never stepped aside", self.stepped_aside),
                ("no invalidation was lost", self.lost >= 1),
                ("the cache epoch did not move", self.epoch_moved),
            )
            if not happened
        ]


@dataclass
class Outages:
    """The pauses so far; reads are checked only when none is under way or settling."""

    begun: int = 0
    settled: asyncio.Event = field(default_factory=asyncio.Event)
    records: list[PauseRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.settled.set()

    def calm(self) -> int | None:
        """The number of pauses begun, if the cache has settled now; else None."""
        return self.begun if self.settled.is_set() else None


async def redis_errors(api: Api) -> float:
    """How many Redis commands of this server failed so far (each one made it step aside)."""
    return metric_total((await api.http.get("/metrics")).text, "polycool_redis_errors_total")


async def lost_invalidations(api: Api) -> float:
    """How many of this server's version bumps could not reach Redis so far."""
    text = (await api.http.get("/metrics")).text
    return metric_total(text, "polycool_cache_lost_invalidations_total")


async def epoch_moved(redis: Redis, key: str, before: bytes | str | None) -> bool:
    """Whether the cache epoch differs from `before`, waiting up to EPOCH_WAIT for it. The
    paused server moves it once Redis answers again and its retry delay has passed."""
    for _ in range(int(EPOCH_WAIT / 0.05)):
        if await redis.get(key) != before:
            return True
        await asyncio.sleep(0.05)
    return False


# --- The tasks -------------------------------------------------------------------------------


@dataclass
class Run:
    apis: list[Api]
    tally: Tally
    outages: Outages
    pool: asyncpg.Pool


def record_reads(
    run: Run, replies: list[Reply | None], snapshot: Snapshot, group: Group, who: str
) -> None:
    for reply in replies:
        if reply is None:
            continue
        run.tally.checked_reads += 1
        problems = reply_problems(reply, snapshot)
        if problems:
            run.tally.stale.append(
                f"{who}: {reply.operation} {reply.variables} on server {reply.server} "
                f"[{reply.request_id}], sent {reply.started - group.returned_at:.3f}s after "
                f"the group's last mutation returned ({group.last_write}); sql={reply.sql} "
                f"({'served from the cache' if reply.sql == 0 else 'read SQL'}); "
                f"{run.outages.begun} Redis pauses so far: " + "; ".join(problems)
            )


async def read_group(api: Api, group: Group, position_ids: list[str]) -> list[Reply | None]:
    """The group's user, markets and the given positions, read at once on one server."""
    return await asyncio.gather(
        api.read("Portfolio", {"telegramId": group.telegram_id}),
        api.read("MarketsBatch", {"ids": group.market_ids}),
        *(api.read("PositionDetail", {"id": position_id}) for position_id in position_ids),
    )


async def race(group: Group, apis: list[Api], target: str | None, rng: random.Random) -> None:
    """Reads of the group's entities sent while its mutation is in flight, on both servers, each
    after a random delay: unchecked (they overlap the write), but one whose fill put the older
    value back into the cache would be caught by the checked reads that follow."""

    async def one(api: Api, operation: str, variables: dict[str, Any]) -> None:
        await asyncio.sleep(rng.uniform(0, RACE_WINDOW))
        await api.read(operation, variables)

    positions = sorted(group.snapshot.active()) or sorted(group.snapshot.positions)
    position_id = target or rng.choice(positions)
    await asyncio.gather(
        *(
            one(api, operation, variables)
            for api in apis
            for operation, variables in (
                ("Portfolio", {"telegramId": group.telegram_id}),
                ("MarketsBatch", {"ids": group.market_ids}),
                ("PositionDetail", {"id": position_id}),
            )
        )
    )


async def mutate(
    group: Group,
    run: Run,
    api: Api,
    rng: random.Random,
    alongside: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
) -> bool:
    """One mutation of the group on `api`, `alongside(variables)` running meanwhile; then the
    group's snapshot is what PostgreSQL holds. False if it failed (its effect is unknown)."""
    operation, variables = plan_mutation(group, rng)
    group.started += 1
    reads = asyncio.sleep(0) if alongside is None else alongside(variables)
    reply, _ = await asyncio.gather(api.write(operation, variables), reads)
    if reply is None:
        group.failed = True
        return False
    group.last_write = f"{operation} on server {api.name} [{reply.request_id}]"
    group.returned_at = time.monotonic()
    if operation == "UpdateMarketPrices":
        run.tally.triggered += len(reply.data["updateMarketPrices"]["triggered"])
    group.snapshot = await read_snapshot(run.pool, group.user_id, group.market_ids)
    return True


async def check_group(
    group: Group, run: Run, before: Snapshot, apis: list[Api], rng: random.Random, who: str
) -> None:
    """Reads the group back on each server in turn; each must equal its snapshot.

    Portfolio shows every ACTIVE position; PositionDetail (a cache of its own) is read for every
    position changed since `before`, closed ones too, and one ACTIVE one at random. Reads that
    overlap a pause of Redis or its settling are not checked.
    """
    snapshot = group.snapshot
    active = sorted(snapshot.active())
    changed = {pid for pid, row in snapshot.positions.items() if before.positions.get(pid) != row}
    watched = sorted(changed | set(rng.sample(active, min(1, len(active)))))
    for api in apis:
        calm = run.outages.calm()
        replies = await read_group(api, group, watched)
        if calm is not None and run.outages.begun == calm:
            record_reads(run, replies, snapshot, group, who)


async def write(group: Group, run: Run, rng: random.Random, deadline: float) -> None:
    """Mutations on alternate servers, alone or in bursts, each raced by reads of what it
    changes; after each burst its effects are read back, on the other server first.

    A burst sends the next mutation as soon as the last returned: the last one's invalidation
    left the cache cold, so the reads racing the next one miss and run their SQL while it
    commits (between single mutations the checked reads refill the cache, and the racing
    reads would only hit it).
    """
    apis, turn = run.apis, 0

    async def racing(variables: dict[str, Any]) -> None:
        await race(group, apis, variables.get("positionId"), rng)

    while turn < MAX_MUTATIONS_PER_WRITER and time.monotonic() < deadline:
        await run.outages.settled.wait()  # no burst while Redis is paused (see `pause`)
        before = group.snapshot
        group.in_flight = True
        for _ in range(1 if rng.random() < 0.5 else rng.randint(2, 3)):
            api, other = apis[(group.number + turn) % 2], apis[(group.number + turn + 1) % 2]
            turn += 1
            if not await mutate(group, run, api, rng, racing):
                return
        group.in_flight = False
        await check_group(group, run, before, [other, api], rng, f"writer {group.number}")


async def read_market_later(api: Api, market_id: str, delay: float) -> None:
    await asyncio.sleep(delay)
    await api.read("MarketsBatch", {"ids": [market_id]})


async def pause(
    group: Group,
    writers: list[Group],
    fresh_markets: Iterator[str],
    run: Run,
    redis: Redis,
    epoch_key: str,
    rng: random.Random,
) -> None:
    """PAUSES times, after PAUSE_EVERY seconds of calm, pauses Redis's writes and writes
    through the pause; what each pause did is recorded in `run.outages.records`.

    What a slow Redis makes possible, made certain on one server. CLIENT PAUSE WRITE holds
    scripts and SETs (the servers' fills and invalidations), not reads. Reads of markets never
    read before miss, so their fills wait in Redis, until the first one times out and the
    server steps aside; then a mutation of this task's own group, whose invalidation is lost
    (the store has stepped aside); then the pause ends and the other fills are answered. The
    server must retire what the mutation changed, by moving the cache epoch, before anyone can
    read it. Once the pause has settled, the group is read back on that server, then on the
    other. The writers wait meanwhile: a lost invalidation of theirs would move the epoch too,
    and hide whether this one was made good.
    """
    outages = run.outages
    for number in range(PAUSES):
        await asyncio.sleep(PAUSE_EVERY)
        api, other = run.apis[number % 2], run.apis[(number + 1) % 2]
        outages.settled.clear()
        for _ in range(int(HTTP_TIMEOUT / 0.02)):  # the writers' bursts in flight end
            if not any(writer.in_flight for writer in writers):
                break
            await asyncio.sleep(0.02)
        errors, lost = await redis_errors(api), await lost_invalidations(api)
        epoch = await redis.get(epoch_key)
        outages.begun += 1
        # WRITE: writes only. Ended below, once the mutation has returned; the limit only
        # bounds a pause whose test died meanwhile.
        await redis.client_pause(int(2 * (REDIS_TIMEOUT + HTTP_TIMEOUT) * 1000), all=False)
        try:
            # The first fill times out; the others are sent in time to be waiting before it
            # does (each read runs its SQL first), so they still wait when the mutation has
            # lost its invalidation, and are answered when the pause ends, well within their
            # own timeout.
            spread = (REDIS_TIMEOUT - 0.4) / (FILLS_PER_PAUSE - 1)
            delays = (0.0, *(0.2 + k * spread for k in range(FILLS_PER_PAUSE - 1)))
            fills = asyncio.gather(
                *(read_market_later(api, next(fresh_markets), delay) for delay in delays)
            )
            stepped_aside = False
            for _ in range(int(2 * REDIS_TIMEOUT / 0.02)):  # until the server steps aside
                stepped_aside = await redis_errors(api) > errors
                if stepped_aside:
                    break
                await asyncio.sleep(0.02)
            before = group.snapshot
            group.in_flight = True
            written = await mutate(group, run, api, rng)
            group.in_flight = False
        finally:
            await redis.client_unpause()
        lost = await lost_invalidations(api) - lost
        await fills
        await asyncio.sleep(SETTLE)
        moved = await epoch_moved(redis, epoch_key, epoch)
        outages.records.append(PauseRecord(api.name, stepped_aside, lost, moved))
        outages.settled.set()
        if not written:
            return
        await check_group(group, run, before, [api, other], rng, "pause writer")


async def read(
    number: int, groups: list[Group], run: Run, rng: random.Random, deadline: float
) -> None:
    """Random reads on both servers; checked when the owner had no mutation in flight."""
    for turn in range(MAX_READS_PER_READER):
        if time.monotonic() >= deadline:
            return
        # Half the time a group whose mutation is in flight: such a read is not checked, but its
        # fill races the write, which is what a later checked read would catch.
        busy = [group for group in groups if group.in_flight]
        group = rng.choice(busy if busy and rng.random() < 0.5 else groups)
        api = run.apis[(number + turn) % 2]
        quiet, started, snapshot = group.quiet(), group.started, group.snapshot
        calm = run.outages.calm()
        operation = rng.choice(("Portfolio", "PositionDetail", "MarketsBatch"))
        if operation == "Portfolio":
            variables: dict[str, Any] = {"telegramId": group.telegram_id}
        elif operation == "PositionDetail":
            variables = {"id": rng.choice(sorted(snapshot.positions))}
        else:
            variables = {"ids": group.market_ids}
        reply = await api.read(operation, variables)
        unchanged = quiet and group.started == started and not group.failed
        if unchanged and calm is not None and run.outages.begun == calm:
            record_reads(run, [reply], snapshot, group, f"reader {number}")


# --- Setting up and the test -----------------------------------------------------------------


async def must(api: Api, operation: str, variables: dict[str, Any]) -> dict[str, Any]:
    reply = await api.write(operation, variables)
    assert reply is not None, api.tally.errors[-1]
    return reply.data


async def new_market(db: asyncpg.Connection, made: list[str], yes: Decimal) -> str:
    market_id = await insert_market(
        db, outcomes=list(OUTCOMES), prices=[yes, 1 - yes], title="Stress test market",
        active=False,  # never listed by trendingMarkets while it exists
    )  # fmt: skip
    made.append(market_id)
    return market_id


async def prepare_group(
    number: int, api: Api, db: asyncpg.Connection, pool: asyncpg.Pool, telegram_id: str,
    rng: random.Random, made: list[str],
) -> Group:  # fmt: skip
    """A user through upsertUser, two markets of its own, a position on each outcome, levels."""
    user = await must(api, "UpsertUser", {"input": {"telegramId": telegram_id}})
    markets = []
    for _ in range(2):
        yes = decimal(rng, 3000, 7000, 4)
        market_id = await new_market(db, made, yes)
        tokens = await db.fetchval("SELECT clob_token_ids FROM market WHERE id = $1", market_id)
        markets.append(OwnMarket(market_id, list(tokens)))
        for outcome, price in zip(OUTCOMES, (yes, 1 - yes), strict=True):
            trade = await must(api, "RecordTrade", {"input": {
                "telegramId": telegram_id, "marketId": market_id, "outcome": outcome,
                "side": "BUY", "shares": "10", "price": str(price),
            }})  # fmt: skip
            await must(api, "SetTpSl", {
                "positionId": trade["recordTrade"]["position"]["id"],
                "takeProfitPrice": str(price + Decimal("0.05")),
                "stopLossPrice": str(price - Decimal("0.05")),
            })  # fmt: skip
    user_id = int(user["upsertUser"]["id"])
    snapshot = await read_snapshot(pool, user_id, [m.id for m in markets])
    return Group(number, telegram_id, user_id, markets, snapshot, returned_at=time.monotonic())


@pytest.fixture
async def made_markets(db: asyncpg.Connection) -> AsyncIterator[list[str]]:
    """The ids of the markets the test inserts; they and their positions go afterwards."""
    made: list[str] = []
    yield made
    await db.execute("DELETE FROM position WHERE market_id = ANY($1::text[])", made)
    await db.execute("DELETE FROM market WHERE id = ANY($1::text[])", made)


@pytest.mark.parametrize("pauses", [False, True], ids=["steady", "redis-pauses"])
async def test_every_read_after_a_mutation_sees_it_on_both_servers(
    pauses: bool,
    servers: list[Server],
    database_url: str,
    cache_url: str,
    cache_prefix: str,
    db: asyncpg.Connection,
    made_markets: list[str],
    new_telegram_id: Callable[[], str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed = secrets.randbits(32)
    rng = random.Random(seed)
    tally, outages = Tally(), Outages()
    try:
        async with (
            asyncpg.create_pool(database_url, min_size=1, max_size=WRITERS + 1) as pool,
            httpx.AsyncClient(base_url=servers[0].url, timeout=HTTP_TIMEOUT) as http_a,
            httpx.AsyncClient(base_url=servers[1].url, timeout=HTTP_TIMEOUT) as http_b,
            Redis.from_url(cache_url, socket_timeout=HTTP_TIMEOUT) as redis,
        ):
            run = Run([Api("A", http_a, tally), Api("B", http_b, tally)], tally, outages, pool)
            # The writers' groups; with pauses, one more for the pause task alone, and markets
            # no one reads before a pause.
            groups = [
                await prepare_group(
                    n, run.apis[n % 2], db, pool, new_telegram_id(), rng, made_markets
                )
                for n in range(WRITERS + pauses)
            ]
            writers, paused = groups[:WRITERS], groups[WRITERS:]
            fresh = [
                await new_market(db, made_markets, Decimal("0.5"))
                for _ in range(FILLS_PER_PAUSE * PAUSES * pauses)
            ]
            for group in paused:  # cached on both servers, so a stale entry would show
                await check_group(group, run, group.snapshot, run.apis, rng, "pause writer")
            setup_mutations, tally.mutations = tally.mutations, 0
            deadline = time.monotonic() + DURATION
            async with asyncio.timeout(DURATION + 30):
                await asyncio.gather(
                    *(write(g, run, random.Random(rng.random()), deadline) for g in writers),
                    *(read(n, groups, run, random.Random(rng.random()), deadline)
                      for n in range(READERS)),
                    *(pause(g, writers, iter(fresh), run, redis, KeyNames(cache_prefix).epoch,
                            random.Random(rng.random())) for g in paused),
                )  # fmt: skip
            metrics = [(await api.http.get("/metrics")).text for api in run.apis]
        lost = [metric_total(m, "polycool_cache_lost_invalidations_total") for m in metrics]
        failures = [metric_total(m, "polycool_redis_errors_total") for m in metrics]
        share = tally.cache_only_reads / max(tally.reads, 1)
        summary = (
            f"stress {'with Redis pauses' if pauses else 'steady'} (seed {seed}): "
            f"{tally.mutations} mutations ({tally.triggered} levels triggered, "
            f"{setup_mutations} in setup), {tally.reads} reads ({tally.checked_reads} checked), "
            f"{len(tally.stale)} stale reads, {len(tally.errors)} errors, "
            f"{tally.cache_only_reads} cache-only reads ({share:.0%}); {outages.begun} pauses, "
            f"lost invalidations A/B {lost[0]:.0f}/{lost[1]:.0f}, "
            f"Redis errors A/B {failures[0]:.0f}/{failures[1]:.0f}"
            + "".join(
                f"; pause of {r.server}: stepped aside {r.stepped_aside}, lost {r.lost:.0f}, "
                f"epoch moved {r.epoch_moved}"
                for r in outages.records
            )
        )
        with capsys.disabled():
            print("\n" + summary)
        assert not tally.stale, f"{len(tally.stale)} stale reads; the first ones:\n" + "\n".join(
            tally.stale[:5]
        )
        assert not tally.errors, f"{len(tally.errors)} errors:\n" + "\n".join(tally.errors[:5])
        # Writers wait out each pause, so the paused run writes less.
        assert tally.mutations >= (1 if pauses else 3) * WRITERS, summary
        assert tally.checked_reads >= tally.mutations, summary  # >= 4 after each burst of <= 3
        assert share > MIN_CACHE_ONLY_SHARE, f"the cache served too few reads: {summary}"
        if pauses:
            # Otherwise the run above proves nothing about outages: every pause planned began,
            # and each one made its server step aside, lose an invalidation, and move the epoch.
            assert outages.begun == len(outages.records) == PAUSES, summary
            problems = [problem for record in outages.records for problem in record.problems()]
            assert not problems, "; ".join(problems) + f"\n{summary}"
    except BaseException:
        with capsys.disabled():
            print("\n" + "\n".join(server.log_tail() for server in servers))
        raise
