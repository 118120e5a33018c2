"""The benchmark's feed: events built from the real markets' token ids, served over WebSocket.

`frame_pool` walks every market's price and writes the events Polymarket sends (price_change
for both tokens, book snapshots with ".48"-style prices, last trades), ten to a frame as JSON
arrays; the replay cycles through the pool at a given rate. `Probes` are a few markets kept out
of the pool: each of their ticks carries a price never used before in the run, so a read that
shows it tells exactly which tick became visible, and when.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

EVENTS_PER_FRAME = 10
SPREAD = Decimal("0.005")
_CONDITION = "0x" + "00" * 32


@dataclass(frozen=True)
class Market:
    id: str
    yes: str
    no: str


def frame_pool(
    markets: list[Market], frames: int, rng: random.Random
) -> tuple[list[str], list[int]]:
    """`frames` frames of EVENTS_PER_FRAME events, and the number of ticks each holds."""
    walk = {m.id: rng.randint(50, 950) for m in markets}  # thousandths
    pool: list[str] = []
    ticks: list[int] = []
    for _ in range(frames):
        events: list[dict[str, Any]] = []
        count = 0
        for _ in range(EVENTS_PER_FRAME):
            market = rng.choice(markets)
            walk[market.id] = min(970, max(30, walk[market.id] + rng.randint(-5, 5)))
            yes = Decimal(walk[market.id]) / 1000
            kind = rng.random()
            if kind < 0.6:
                events.append(both(market, yes))
                count += 2
            elif kind < 0.8:
                token, price = (market.yes, yes) if rng.random() < 0.5 else (market.no, 1 - yes)
                events.append(last_trade(token, price))
                count += 1
            else:
                events.append(book(market.yes, yes))
                count += 1
        pool.append(orjson.dumps(events).decode())
        ticks.append(count)
    return pool, ticks


def both(market: Market, yes: Decimal) -> dict[str, Any]:
    """A price_change moving both tokens: midpoints exactly yes and 1 - yes."""
    no = 1 - yes
    return {
        "event_type": "price_change",
        "market": _CONDITION,
        "timestamp": _now_ms(),
        "price_changes": [
            _change(market.yes, yes),
            _change(market.no, no),
        ],
    }


def last_trade(token: str, price: Decimal) -> dict[str, Any]:
    return {
        "event_type": "last_trade_price",
        "asset_id": token,
        "market": _CONDITION,
        "price": str(price),
        "size": "25",
        "side": "BUY",
        "fee_rate_bps": "0",
        "timestamp": _now_ms(),
    }


def book(token: str, mid: Decimal) -> dict[str, Any]:
    step = Decimal("0.01")
    bids = [str(mid - SPREAD - i * step).lstrip("0") for i in range(3)]
    asks = [str(mid + SPREAD + i * step).lstrip("0") for i in range(3)]
    return {
        "event_type": "book",
        "asset_id": token,
        "market": _CONDITION,
        "timestamp": _now_ms(),
        "hash": "0x0",
        "bids": [{"price": p, "size": "10"} for p in reversed(bids)],
        "asks": [{"price": p, "size": "10"} for p in reversed(asks)],
    }


def _change(token: str, mid: Decimal) -> dict[str, str]:
    return {
        "asset_id": token,
        "price": str(mid),
        "size": "100",
        "side": "BUY",
        "hash": "0x0",
        "best_bid": str(mid - SPREAD),
        "best_ask": str(mid + SPREAD),
    }


def _now_ms() -> str:
    return str(int(time.time() * 1000))


@dataclass
class Probes:
    """Ticks whose visibility is timed: probe k of a market has Yes price (base + k) / 10^4."""

    markets: list[Market]
    base: int
    sent: dict[str, list[float]] = field(default_factory=dict)
    seen: dict[str, int] = field(default_factory=dict)
    lags: list[float] = field(default_factory=list)
    failed_reads: int = 0

    def __post_init__(self) -> None:
        for market in self.markets:
            self.sent[market.id] = []
            self.seen[market.id] = 0

    def frame(self, market: Market) -> str:
        k = len(self.sent[market.id])
        self.sent[market.id].append(time.monotonic())
        return orjson.dumps(both(market, Decimal(self.base + k) / 10_000)).decode()

    def observe(self, market_id: str, yes: Decimal, at: float) -> None:
        """A read at `at` showed this price: every probe up to it is visible, if not before."""
        k = int(yes * 10_000) - self.base
        sent = self.sent[market_id]
        if not 0 <= k < len(sent):
            return
        for j in range(self.seen[market_id], k + 1):
            self.lags.append(at - sent[j])
        self.seen[market_id] = max(self.seen[market_id], k + 1)

    @property
    def pending(self) -> int:
        return sum(len(self.sent[m.id]) - self.seen[m.id] for m in self.markets)


class ReplayServer:
    """The feed's stand-in: records the subscription, answers PING, sends what it is given."""

    def __init__(self) -> None:
        self._server: Server | None = None
        self.connection: ServerConnection | None = None
        self.subscribed: set[str] = set()
        self.connected = asyncio.Event()

    async def start(self) -> ReplayServer:
        self._server = await serve(
            self._handle, "127.0.0.1", 0, ping_interval=None, compression=None, max_queue=None
        )
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"ws://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def send(self, frame: str) -> None:
        assert self.connection is not None
        await self.connection.send(frame)

    async def _handle(self, connection: ServerConnection) -> None:
        self.connection = connection
        try:
            async for message in connection:
                if message == "PING":
                    await connection.send("PONG")
                    continue
                request = orjson.loads(message)
                if request.get("type") == "market" or request.get("operation") == "subscribe":
                    self.subscribed |= set(request["assets_ids"])
                    self.connected.set()
                elif request.get("operation") == "unsubscribe":
                    self.subscribed -= set(request["assets_ids"])
        except ConnectionClosed:
            pass


async def steady(
    server: ReplayServer,
    pool: list[str],
    ticks: list[int],
    *,
    rate: float,
    seconds: float,
    probes: Probes,
    probe_every: float,
) -> int:
    """Send the pool at `rate` ticks per second for `seconds`, and a probe of each probe market
    every `probe_every` seconds; return the ticks sent."""
    started = time.monotonic()
    next_probe = started
    sent = index = 0
    while (now := time.monotonic()) - started < seconds:
        due = rate * (now - started)
        while sent < due:
            await server.send(pool[index % len(pool)])
            sent += ticks[index % len(pool)]
            index += 1
        if now >= next_probe:
            for market in probes.markets:
                await server.send(probes.frame(market))
                sent += 2
            next_probe += probe_every
        await asyncio.sleep(0.002)
    return sent


async def flood(server: ReplayServer, pool: list[str], ticks: list[int], seconds: float) -> int:
    """Send the pool back to back, as fast as the socket takes it; return the ticks sent."""
    started = time.monotonic()
    sent = index = 0
    while time.monotonic() - started < seconds:
        for _ in range(50):
            await server.send(pool[index % len(pool)])
            sent += ticks[index % len(pool)]
            index += 1
        await asyncio.sleep(0)
    return sent
