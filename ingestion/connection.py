"""One feed connection: subscribe, keep alive, hand every frame over, reconnect when it breaks.

The worker keeps one per shard of its token set (shards.py). Each connection starts by
subscribing to its whole token set (`{"assets_ids": [...], "type": "market",
"custom_feature_enabled": true}`: the custom features add `best_bid_ask` and `market_resolved`);
while it lasts, changes to the set go as `{"assets_ids": [...], "operation": "subscribe" |
"unsubscribe", "custom_feature_enabled": true}`, Polymarket's messages for an open connection.
Keepalive is twofold: WebSocket ping frames every INGEST_PING_INTERVAL, whose unanswered pong
closes the connection (so a silent, half-dead link is noticed), and the
text "PING" Polymarket's market channel asks of its clients (its "PONG" is dropped here).

A broken, refused or closed connection is retried after an exponential backoff with jitter
(0.5 s doubling to 30 s, each delay drawn from its upper half so a fleet of workers does not
reconnect in step); a connection that delivered frames resets the backoff. Frames go to
`on_frame` in the reading task itself: parsing and coalescing are fast and synchronous, so
there is no queue to grow, and a worker that falls behind slows the socket (TCP backpressure)
instead of buffering without bound.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from ingestion.subscriptions import Subscriptions
from telemetry.metrics import INGEST_CONNECTIONS_OPEN, INGEST_RECONNECTS

log = logging.getLogger(__name__)

# Frames above this are refused by the client (a book snapshot of every token fits easily).
MAX_FRAME_BYTES = 16 * 1024 * 1024
OPEN_TIMEOUT = 10.0

FrameHandler = Callable[[str | bytes, float], None]


class FeedConnection:
    def __init__(
        self,
        url: str,
        subscriptions: Subscriptions,
        on_frame: FrameHandler,
        *,
        ping_interval: float,
        first_delay: float = 0.5,
        max_delay: float = 30.0,
        name: str = "feed",
    ) -> None:
        self.name = name
        self.url = url
        self.subscriptions = subscriptions
        self.on_frame = on_frame
        self.ping_interval = ping_interval
        self.first_delay = first_delay
        self.max_delay = max_delay
        # Connections opened so far (tests and logs).
        self.connections = 0

    async def run(self) -> None:
        """Connect, read and reconnect until cancelled."""
        failures = 0
        while True:
            await self.subscriptions.ready()
            delivered = False
            try:
                async with connect(
                    self.url,
                    open_timeout=OPEN_TIMEOUT,
                    ping_interval=self.ping_interval,
                    ping_timeout=2 * self.ping_interval,
                    close_timeout=1.0,
                    max_size=MAX_FRAME_BYTES,
                ) as websocket:
                    self.connections += 1
                    INGEST_CONNECTIONS_OPEN.inc()
                    try:
                        delivered = await self._session(websocket)
                    finally:
                        INGEST_CONNECTIONS_OPEN.dec()
                log.warning("%s: the feed closed the connection", self.name)
            except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed) as error:
                log.warning(
                    "%s: feed connection failed: %s: %s", self.name, type(error).__name__, error
                )
            INGEST_RECONNECTS.inc()
            failures = 0 if delivered else failures + 1
            delay = self._delay(failures)
            log.info("%s: reconnecting to the feed in %.2fs", self.name, delay)
            await asyncio.sleep(delay)

    async def _session(self, websocket: ClientConnection) -> bool:
        """One connection's life; True if it delivered any frame."""
        tokens = self.subscriptions.whole()
        await websocket.send(
            _json({"assets_ids": tokens, "type": "market", "custom_feature_enabled": True})
        )
        log.info("%s: subscribed to %d tokens on %s", self.name, len(tokens), self.url)
        helpers = [
            asyncio.create_task(self._keepalive(websocket)),
            asyncio.create_task(self._follow(websocket)),
        ]
        delivered = False
        try:
            async for frame in websocket:
                if frame == "PONG":
                    continue
                delivered = True
                self.on_frame(frame, time.monotonic())
        finally:
            for task in helpers:
                task.cancel()
            # Their ConnectionClosed, if any, is this connection's end, already handled.
            await asyncio.gather(*helpers, return_exceptions=True)
        return delivered

    async def _keepalive(self, websocket: ClientConnection) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            await websocket.send("PING")

    async def _follow(self, websocket: ClientConnection) -> None:
        """Send changes of the token set while the connection lasts."""
        while True:
            added, removed = await self.subscriptions.changes()
            if added:
                await websocket.send(_json(_operation("subscribe", added)))
            if removed:
                await websocket.send(_json(_operation("unsubscribe", removed)))
            log.info("%s: %d tokens added, %d removed", self.name, len(added), len(removed))

    def _delay(self, failures: int) -> float:
        ceiling = min(self.max_delay, self.first_delay * 2.0 ** min(failures, 20))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def _operation(operation: str, tokens: list[str]) -> dict[str, object]:
    # The flag again: Polymarket's docs list it on these messages too, so tokens added to an
    # open connection get best_bid_ask and market_resolved like the first ones.
    return {"assets_ids": tokens, "operation": operation, "custom_feature_enabled": True}


def _json(message: object) -> str:
    return orjson.dumps(message).decode()
