"""The live-price workload: many users' Portfolios read while every market they hold moves.

LIVE_USERS users (1,000), each holding POSITIONS (10) ACTIVE positions on distinct markets drawn
from the HELD_MARKETS (300) most traded, join the benchmark's database. For each row (all of
them, then the first FEW_USERS) and each system in turn (the service as it deploys, the old
design, PostGraphile, one process each; and the service with two workers), wrk cycles through
the row's users' Portfolio documents at 10 connections while every market those users hold gets
a new price every second (bench/api/price_feed.py). After the service's point at 1,000 users,
py-spy profiles it under the same load, prices still moving (bench/api/profile.py). With 1,000
users a user comes back after his markets have moved, so his kept answer no longer holds and the
read executes: the path most reads take once prices move. With 100 users, each asking about 20
times a second, an answer is kept for the rest of its second. The two rows show both regimes.

Issue 11's (g) is the ratio of two points measured minutes apart (the other systems run
between them), and the host's speed drifts by a tenth within minutes: after the rows, the
service and PostGraphile are measured again at LIVE_USERS, back to back, until there are
`rounds` pairs, and (g) reads the median of the pairs' ratios (bench/api/report.py).

Every system starts from the same state: before each run the held markets' prices and the levels
of the positions on them are put back (a level that fires is consumed), and the walk starts from
the same seed. Checked for each run: the first user's answer before the first tick against the
service's (bench/api/agreement.py), and, once the last tick's write has returned, that the
answers of the first FRESH_CHECKED users show the prices the database holds.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import redis

import sql
from bench.api.agreement import agreement
from bench.api.data import BenchData, add_holders
from bench.api.documents import POSTGRAPHILE_PORTFOLIO, body
from bench.api.load import run_wrk, write_bodies
from bench.api.mixed import send_each_once
from bench.api.price_feed import PriceWalk, graphql_writer, moving_prices, sql_writer
from bench.api.probes import Probe
from bench.api.profile import Profile, profile_service
from bench.api.report import LIVE_PAIR, Results
from bench.api.scenarios import Point, Scenario, answer, measure
from bench.api.servers import Running, System, running

LIVE_USERS = 1_000
FEW_USERS = 100
POSITIONS = 10
HELD_MARKETS = 300
FIRST_TELEGRAM_ID = 9_100_000_000  # above the sized users' (bench/api/data.py)
# The service with two workers is a row of its own, not a target's (issue 11 asks for one
# process): what the second core would give, measured beside the rest.
SYSTEMS = ("polycool", "polycool-2w", "old", "postgraphile")
FRESH_CHECKED = 10
PROFILED = "polycool"  # the service as it deploys, profiled at LIVE_USERS
CONNECTIONS = 10


@dataclass(frozen=True)
class HeldState:
    """The held markets' prices and the levels on them, as they were before any tick."""

    prices: dict[str, list[Decimal]]
    # (position id, take-profit, stop-loss) of the ACTIVE positions with a level on them
    levels: list[tuple[int, Decimal | None, Decimal | None]]


async def held_state(connection: asyncpg.Connection, markets: list[str]) -> HeldState:
    prices = await connection.fetch(
        "SELECT id, outcome_prices FROM market WHERE id = ANY($1::text[])", markets
    )
    levels = await connection.fetch(
        "SELECT id, take_profit_price, stop_loss_price FROM position "
        "WHERE market_id = ANY($1::text[]) AND status = 'ACTIVE' "
        "AND (take_profit_price IS NOT NULL OR stop_loss_price IS NOT NULL)",
        markets,
    )
    return HeldState(
        prices={row["id"]: list(row["outcome_prices"]) for row in prices},
        levels=[(row["id"], row["take_profit_price"], row["stop_loss_price"]) for row in levels],
    )


async def put_back(connection: asyncpg.Connection, state: HeldState) -> None:
    """The held markets' prices and their positions' levels as `state` has them."""
    ids = sorted(state.prices)
    literals = ["{" + ",".join(format(p, "f") for p in state.prices[m]) + "}" for m in ids]
    async with connection.transaction():
        await connection.execute(sql.UPDATE_MARKET_PRICES, ids, literals)
        await connection.execute(
            "UPDATE position AS p SET take_profit_price = u.tp, stop_loss_price = u.sl "
            "FROM unnest($1::bigint[], $2::numeric[], $3::numeric[]) AS u (id, tp, sl) "
            "WHERE p.id = u.id",
            [level[0] for level in state.levels],
            [level[1] for level in state.levels],
            [level[2] for level in state.levels],
        )


async def live(
    systems: list[System],
    data: BenchData,
    documents: dict[str, str],
    folder: Path,
    script: Path,
    redis_url: str,
    results: Results,
    *,
    seconds: float,
    warmup: float,
    seed: int,
    flush_redis: bool,
    profile: tuple[Path, float],
    rounds: int = 1,
) -> None:
    """Both rows for each of `systems` that the workload has, into results.live; the profile
    (the folder of its files, its seconds: 0 for none) of the service at LIVE_USERS into
    results.profiles; then `rounds - 1` more pairs of LIVE_PAIR (report.py) at LIVE_USERS, each
    point marked with its round (the rows are round 1)."""
    chosen = [s for s in systems if s.key in SYSTEMS]
    if not chosen:
        return
    connection = await asyncpg.connect(data.url)
    try:
        # Every seeded market is binary (two outcomes), which the walk relies on.
        markets = [m for m, outcomes in data.markets if len(outcomes) == 2][:HELD_MARKETS]
        telegram_ids = await add_holders(
            connection,
            users=LIVE_USERS,
            positions=POSITIONS,
            markets=markets,
            first_telegram_id=FIRST_TELEGRAM_ID,
            rng=random.Random(seed),
        )
        state = await held_state(connection, markets)
        # Each row's held markets and their starting prices: the same for every run of it
        # (put_back restores the prices, and nothing opens or closes a position).
        starts: dict[int, dict[str, Decimal]] = {}
        for users in (LIVE_USERS, FEW_USERS):
            held = await connection.fetch(
                "SELECT DISTINCT p.market_id FROM position AS p "
                "JOIN app_user AS u ON u.id = p.user_id "
                "WHERE u.telegram_id = ANY($1::bigint[]) AND p.status = 'ACTIVE'",
                telegram_ids[:users],
            )
            starts[users] = {r["market_id"]: state.prices[r["market_id"]][0] for r in held}

        async def measured(system: System, users: int, profiled: bool) -> tuple[Point, Any]:
            row, start = telegram_ids[:users], starts[users]
            await put_back(connection, state)
            if flush_redis:
                redis.Redis.from_url(redis_url).flushall()
            run = Run(
                system,
                row,
                start,
                connection,
                documents,
                folder,
                script,
                seed,
                profile=profile if profiled else None,
            )
            log(f"{system.label}: live prices, {users:,} users, {len(start)} markets moving")
            point, first = await run.measured(data.url, redis_url, seconds=seconds, warmup=warmup)
            log(
                f"  {point.rps:,.0f} req/s, p95 {point.p95_ms:.2f} ms, "
                f"{point.extra['price_ticks_per_second']:.2f} ticks/s landed, "
                f"stale prices after the last tick: {point.extra['stale_prices']}"
            )
            results.live.append(point)
            if run.profiled is not None:
                results.profiles.append(run.profiled)
            return point, first

        for users in (LIVE_USERS, FEW_USERS):
            answers: dict[str, Any] = {}
            for system in chosen:
                profiled = system.key == PROFILED and users == LIVE_USERS and profile[1] > 0
                _, answers[system.key] = await measured(system, users, profiled)
            results.live_checks += [
                f"{users:,} users, before the first tick: {line}" for line in agreement(answers)
            ]
        # The pair measured again in each round after the first, at LIVE_USERS: issue 11's (g).
        paired = [s for s in chosen if s.key in LIVE_PAIR]
        if len(paired) < len(LIVE_PAIR):
            return  # no ratio to measure again
        for round_ in range(2, rounds + 1):
            log(f"round {round_} of {rounds}: the service and PostGraphile again")
            for system in paired:
                point, _ = await measured(system, LIVE_USERS, profiled=False)
                point.extra["round"] = round_
    finally:
        await connection.close()


@dataclass
class Run:
    """One system, one row of users: the server started, read, priced and measured."""

    system: System
    users: list[int]
    start: dict[str, Decimal]
    connection: asyncpg.Connection
    documents: dict[str, str]
    folder: Path
    script: Path
    seed: int
    # Where to write a profile taken after the point, and its seconds; what it found.
    profile: tuple[Path, float] | None = None
    profiled: Profile | None = field(default=None, init=False)

    def bodies(self) -> list[bytes]:
        postgraphile = self.system.kind == "postgraphile"
        query = POSTGRAPHILE_PORTFOLIO if postgraphile else self.documents["Portfolio"]
        return [body(query, {"telegramId": str(t)}) for t in self.users]

    async def measured(
        self, database_url: str, redis_url: str, *, seconds: float, warmup: float
    ) -> tuple[Point, Any]:
        """The point, and the first user's answer before any price moved."""
        bodies = self.bodies()
        flavour = "postgraphile" if self.system.kind == "postgraphile" else "contract"
        path = write_bodies(self.folder / f"live-{flavour}-{len(self.users)}.jsonl", bodies)
        prefix = f"bench-live-{self.system.key}-{secrets.token_hex(3)}"
        with running(self.system, database_url, redis_url, prefix, self.folder) as server:
            metrics = f"{server.base_url}/metrics" if self.system.counted else None
            probe = Probe(database_url, "", redis_url, server.pid, metrics)
            try:
                first = await answer(server.base_url, path)
                async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
                    write = (
                        sql_writer(self.connection)
                        if self.system.kind == "postgraphile"
                        else graphql_writer(client, self.documents["UpdateMarketPrices"])
                    )
                    walk = PriceWalk(self.start, random.Random(self.seed))
                    async with moving_prices(write, walk) as count:
                        # Steady state, as in the mixed workload: every user read once, then
                        # the same load unmeasured, then measured.
                        await send_each_once(server.base_url, bodies, concurrency=CONNECTIONS)
                        await asyncio.to_thread(
                            run_wrk,
                            server.base_url,
                            path,
                            connections=CONNECTIONS,
                            seconds=warmup,
                            script=self.script,
                        )
                        started = time.monotonic()
                        point = await measure(
                            server,
                            probe,
                            Scenario("Live", POSITIONS),
                            path,
                            concurrency=CONNECTIONS,
                            seconds=seconds,
                            warmup=0,
                            script=self.script,
                        )
                        ticks, written = count.rates(started, time.monotonic())
                        if self.profile is not None:
                            self.profiled = await self.profiled_load(server, path)
                stale = await self.stale_prices(server)
            finally:
                probe.close()
        point.extra |= {
            "users": len(self.users),
            "markets_moving": len(self.start),
            "price_ticks_per_second": ticks,
            "prices_written_per_second": written,
            "price_write_failures": count.failed,
            "stale_prices": stale,
        }
        return point, first

    async def profiled_load(self, server: Running, path: Path) -> Profile | None:
        """py-spy on the server under the point's load, prices still moving, once the point
        and its ticks are counted."""
        assert self.profile is not None
        folder, seconds = self.profile
        log(f"{self.system.label}: profiling the live workload with py-spy")
        return await profile_service(
            server,
            path,
            name="profile-live-1000-users",
            load=f"{self.system.label}: live prices, {len(self.users):,} users, "
            f"{len(self.start)} markets moving every second, 10 connections",
            script=self.script,
            folder=folder,
            seconds=seconds,
            concurrency=CONNECTIONS,
        )

    async def stale_prices(self, server: Running) -> str:
        """After the last tick's write returned: do the first users' answers show the prices
        the database holds? "none of N" when they all do."""
        bodies = self.bodies()[:FRESH_CHECKED]
        shown: list[tuple[str, list[str]]] = []
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
            for request in bodies:
                answered = await client.post(
                    "/graphql", content=request, headers={"Content-Type": "application/json"}
                )
                shown += prices_shown(self.system, orjson.loads(answered.content))
        rows = await self.connection.fetch(
            "SELECT id, outcome_prices FROM market WHERE id = ANY($1::text[])",
            sorted({m for m, _ in shown}),
        )
        stored = {row["id"]: list(row["outcome_prices"]) for row in rows}
        stale = sum(1 for m, prices in shown if [Decimal(p) for p in prices] != stored.get(m))
        return f"{stale or 'none'} of {len(shown)}"


def prices_shown(system: System, found: Any) -> list[tuple[str, list[str]]]:
    """(market id, outcome prices) of each position in a Portfolio answer."""
    if system.kind == "postgraphile":
        nodes = found["data"]["appUserByTelegramId"]["positionsByUserId"]["nodes"]
        markets = [node["marketByMarketId"] for node in nodes]
    else:
        markets = [position["market"] for position in found["data"]["user"]["positions"]]
    return [(market["id"], market["outcomePrices"]) for market in markets]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
