"""Prices that move every second, for the live workload (bench/api/live.py).

A random walk per market, written once a second by whichever route a system takes prices in:
the contract's UpdateMarketPrices for the service and the old design (as the ingestion worker
and the price bots send them), plain UPDATEs for PostGraphile (it has no cache to tell). The
walk, not fresh uniform draws as in the mixed workload: every tick is a new price for every
market, as the issue needs, yet the take-profit and stop-loss levels near the seeded prices fire
rarely, as on a real market, instead of all at once in the first seconds.

The feed does not catch up: a tick whose write took longer than a second is followed at once by
the next, never by a burst, so the writes per second that landed are what the system kept up
with, and are reported as such.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal

import asyncpg
import httpx
import orjson

import sql
from bench.api.documents import body

STEPS = 10_000  # a price in 1/10,000, as mixed.py's updater draws them
LOWEST, HIGHEST = 10, 9_990  # 0.001 and 0.999: the walk stays inside the open interval
LARGEST_MOVE = 100  # 0.01 a second at most

# market id -> its outcome prices, as the contract's strings
Prices = dict[str, list[str]]
Writer = Callable[[Prices], Awaitable[int]]


class PriceWalk:
    """Each binary market's first outcome moves by 1 to LARGEST_MOVE steps, up or down, every
    tick (never by 0: each tick is a new price), reflected inside [LOWEST, HIGHEST]; the second
    outcome is 1 minus the first, so the two sum to 1 as the feed's prices do."""

    def __init__(self, start: Mapping[str, Decimal], rng: random.Random) -> None:
        self._steps = {m: min(HIGHEST, max(LOWEST, round(p * STEPS))) for m, p in start.items()}
        self._rng = rng

    def tick(self) -> Prices:
        moved: Prices = {}
        for market_id, steps in self._steps.items():
            step = self._rng.randint(1, LARGEST_MOVE) * self._rng.choice((-1, 1))
            if not LOWEST <= steps + step <= HIGHEST:
                step = -step
            self._steps[market_id] = steps = steps + step
            moved[market_id] = [f"0.{steps:04d}", f"0.{STEPS - steps:04d}"]
        return moved


@dataclass
class FeedCount:
    """What landed so far: (when, market prices written) of each tick whose write returned,
    and the writes that failed."""

    landed: list[tuple[float, int]] = field(default_factory=list)
    failed: int = 0

    def rates(self, since: float, until: float) -> tuple[float, float]:
        """Ticks and market prices written per second between two `time.monotonic()` readings.
        Measured from the first tick landed in the window to the last, so that a window that
        happens to hold one tick more or less than its length in seconds does not read as 7%
        more or less on 15 s; (0, 0) when fewer than two ticks landed."""
        inside = [(at, written) for at, written in self.landed if since <= at <= until]
        if len(inside) < 2:
            return 0.0, 0.0
        span = inside[-1][0] - inside[0][0]
        ticks = len(inside) - 1  # the intervals between them
        return ticks / span, sum(written for _, written in inside[1:]) / span


@asynccontextmanager
async def moving_prices(write: Writer, walk: PriceWalk) -> AsyncIterator[FeedCount]:
    """One tick of `walk` written by `write` every second while the block runs. On leaving,
    the tick under way is let finish (not cancelled), so that what the database holds is what
    the system was told: the block's caller may then check that answers show the last prices."""
    count = FeedCount()
    stop = asyncio.Event()

    async def feed() -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while not stop.is_set():
            try:
                written = await write(walk.tick())
                count.landed.append((time.monotonic(), written))
            except (httpx.HTTPError, asyncpg.PostgresError, WriteRefused):
                count.failed += 1
            due = max(due + 1.0, loop.time())  # a late tick delays the next, never doubles it
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(0.0, due - loop.time()))

    task = asyncio.create_task(feed())
    try:
        yield count
    finally:
        stop.set()
        await task


class WriteRefused(Exception):
    """The server answered the price write with GraphQL errors (or not 200)."""


def graphql_writer(client: httpx.AsyncClient, document: str) -> Writer:
    """The contract's UpdateMarketPrices, all markets in one mutation; the markets it updated."""

    async def write(prices: Prices) -> int:
        updates = [{"marketId": m, "outcomePrices": p} for m, p in prices.items()]
        answer = await client.post(
            "/graphql",
            content=body(document, {"updates": updates}),
            headers={"Content-Type": "application/json"},
        )
        found = orjson.loads(answer.content) if answer.status_code == 200 else {}
        if "errors" in found or "data" not in found:
            raise WriteRefused(answer.text[:300])
        updated: int = found["data"]["updateMarketPrices"]["updated"]
        return updated

    return write


def sql_writer(connection: asyncpg.Connection) -> Writer:
    """The same moves as one UPDATE of the market table (the service's own statement), for a
    system that reads PostgreSQL directly; the rows it updated."""

    async def write(prices: Prices) -> int:
        ids = sorted(prices)  # in id order, as the service locks them
        literals = ["{" + ",".join(prices[m]) + "}" for m in ids]
        return len(await connection.fetch(sql.UPDATE_MARKET_PRICES, ids, literals))

    return write
