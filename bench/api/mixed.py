"""The mixed bot workload: many users' reads, 5% mutations, prices arriving every second.

A sequence of SEQUENCE bodies is drawn once from the seed, so the service and the old design
get the same requests in the same order (wrk cycles through it):

- 85% Portfolio and 10% PositionHistory, each for one of HOT_USERS users drawn from the
  10,000 seeded ones (the users active in these minutes), uniformly;
- 2.5% RecordTrade (a BUY of 1 share at 0.5, on one of the 500 most traded markets) and 2.5%
  SetTpSl (levels 0.99 / 0.01 on one of the user's ACTIVE positions), both from the contract;
- beside wrk, UpdateMarketPrices once a second for PRICE_MARKETS markets drawn from the 1,000
  most traded, as the ingestion worker would send them.

Before the timed warm-up, every hot user's Portfolio and PositionHistory is read once (with
the price updates already running), for each system alike: the measured window is the steady
state of a bot whose active users were being served, not the first minute after a restart.

The hit ratio per kind of data comes from each server's polycool_cache_lookups_total.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from bench.api.data import BenchData
from bench.api.documents import body

SEQUENCE = 40_000
HOT_USERS = 1_000
PRICE_MARKETS = 50
TRADE_MARKETS = 500
SHARES = {"Portfolio": 0.85, "PositionHistory": 0.10, "RecordTrade": 0.025, "SetTpSl": 0.025}


def hot_users(data: BenchData, rng: random.Random) -> list[tuple[int, list[int]]]:
    return rng.sample(data.users, HOT_USERS)


def steady_state_bodies(data: BenchData, documents: dict[str, str], seed: int) -> list[bytes]:
    """Each hot user's two reads, once: the same users mixed_bodies draws from."""
    hot = hot_users(data, random.Random(seed))
    return [
        body(documents[name], {"telegramId": str(telegram_id)})
        for telegram_id, _ in hot
        for name in ("Portfolio", "PositionHistory")
    ]


async def send_each_once(url: str, bodies: list[bytes], concurrency: int) -> None:
    """POST every body once, `concurrency` at a time."""
    queue = list(reversed(bodies))

    async def worker(client: httpx.AsyncClient) -> None:
        while queue:
            answer = await client.post(
                "/graphql", content=queue.pop(), headers={"Content-Type": "application/json"}
            )
            answer.raise_for_status()

    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))


def mixed_bodies(data: BenchData, documents: dict[str, str], seed: int) -> list[bytes]:
    rng = random.Random(seed)
    hot = hot_users(data, rng)
    holders = [(telegram_id, ids) for telegram_id, ids in hot if ids]
    markets = data.markets[:TRADE_MARKETS]
    names = list(SHARES)
    weights = list(SHARES.values())
    bodies = []
    for name in rng.choices(names, weights, k=SEQUENCE):
        document = documents[name]
        if name in ("Portfolio", "PositionHistory"):
            telegram_id, _ = rng.choice(hot)
            bodies.append(body(document, {"telegramId": str(telegram_id)}))
        elif name == "RecordTrade":
            telegram_id, _ = rng.choice(hot)
            market_id, outcomes = rng.choice(markets)
            trade = {
                "telegramId": str(telegram_id),
                "marketId": market_id,
                "outcome": rng.choice(outcomes),
                "side": "BUY",
                "shares": "1",
                "price": "0.5",
            }
            bodies.append(body(document, {"input": trade}))
        else:
            _, positions = rng.choice(holders)
            levels = {"takeProfitPrice": "0.99", "stopLossPrice": "0.01"}
            bodies.append(body(document, {"positionId": str(rng.choice(positions))} | levels))
    return bodies


@dataclass
class PriceFeed:
    sent: int = 0
    failed: int = 0


@asynccontextmanager
async def price_updates(
    url: str, data: BenchData, documents: dict[str, str], seed: int
) -> AsyncIterator[PriceFeed]:
    """UpdateMarketPrices every second while the block runs."""
    rng = random.Random(seed)
    pool = [market_id for market_id, _ in data.markets[:1000]]
    feed = PriceFeed()

    async def send(client: httpx.AsyncClient) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            updates = []
            for market_id in rng.sample(pool, PRICE_MARKETS):
                yes = rng.randint(200, 9800)  # in 1/10,000: two prices summing to 1
                prices = [f"0.{yes:04d}", f"0.{10_000 - yes:04d}"]
                updates.append({"marketId": market_id, "outcomePrices": prices})
            answer = await client.post(
                "/graphql",
                content=body(documents["UpdateMarketPrices"], {"updates": updates}),
                headers={"Content-Type": "application/json"},
            )
            feed.sent += 1
            if answer.status_code != 200 or b'"errors"' in answer.content:
                feed.failed += 1
            due += 1.0  # once a second, however long the answer took
            await asyncio.sleep(max(0.0, due - loop.time()))

    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        task = asyncio.create_task(send(client))
        try:
            yield feed
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
