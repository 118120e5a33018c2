"""A local stand-in for Polymarket's market channel, and the events it replays.

The server listens on 127.0.0.1 (a free port), records every message a client sends (per
connection: the subscription, later subscribe / unsubscribe messages), answers the text "PING"
with "PONG" as Polymarket does, and delivers events two ways:

- `publish(*events)` as the real channel does: each connection gets the events of the tokens it
  subscribed to, and, like the real one, nothing for the tokens past `limit` (500) on one
  connection: silently, the excess just never ticks (`withheld` counts what was kept back);
- `send(*frames)` puts raw frames (garbage included) on the newest connection.

`drop()` aborts a connection without a closing handshake, as a network failure would;
`refusing` makes new connections fail their handshake (503) until it is cleared.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from decimal import Decimal
from http import HTTPStatus
from typing import Any

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

# Tokens one connection gets events for (Polymarket's undocumented limit, as observed).
LIMIT = 500


class FeedServer:
    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self._server: Server | None = None
        self.connections: list[ServerConnection] = []
        # Per connection, in order: each JSON message the client sent.
        self.messages: list[list[Any]] = []
        # Per connection: its tokens in the order subscribed (only the first `limit` tick).
        self._tokens: list[dict[str, None]] = []
        self.pings = 0
        self.refusing = False
        self.refused = 0
        # Events (price_change: entries) kept back because their token was past the limit.
        self.withheld = 0

    async def start(self) -> FeedServer:
        self._server = await serve(
            self._handle, "127.0.0.1", 0, ping_interval=None, process_request=self._admit
        )
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}"

    def subscribed(self, connection: int = -1) -> set[str]:
        """The tokens a connection asked for: its subscription, then its changes."""
        return set(self._tokens[connection])

    def subscribed_open(self) -> set[str]:
        """The tokens of every open connection: what the worker follows through the feed now."""
        return set().union(*(self._tokens[i] for i in self.open()))

    def open(self) -> list[int]:
        """The connections still open, by index."""
        return [i for i, c in enumerate(self.connections) if c.state is State.OPEN]

    async def send(self, *frames: str | bytes) -> None:
        """Frames to the newest connection, in order."""
        for frame in frames:
            await self.connections[-1].send(frame)

    async def publish(self, *events: dict[str, Any]) -> None:
        """Each open connection gets, in one frame, the events of the tokens it is served."""
        for index in self.open():
            tokens = self._tokens[index]
            served = set(list(tokens)[: self.limit])
            kept = [e for e in (self._for(event, tokens, served) for event in events) if e]
            if kept:
                with contextlib.suppress(ConnectionClosed):  # dropped meanwhile
                    await self.connections[index].send(frame(*kept))

    def drop(self, connection: int = -1) -> None:
        """Abort a connection: no close frame, as when the network fails."""
        self.connections[connection].transport.abort()

    def _for(
        self, event: dict[str, Any], tokens: dict[str, None], served: set[str]
    ) -> dict[str, Any] | None:
        """The part of an event a connection gets: entries of its served tokens only."""
        if event.get("event_type") == "price_change":
            entries = [c for c in event["price_changes"] if c["asset_id"] in tokens]
            kept = [c for c in entries if c["asset_id"] in served]
            self.withheld += len(entries) - len(kept)
            return {**event, "price_changes": kept} if kept else None
        ids = event["assets_ids"] if "assets_ids" in event else [event["asset_id"]]
        if any(token in served for token in ids):
            return event
        if any(token in tokens for token in ids):
            self.withheld += 1
        return None

    def _admit(self, connection: ServerConnection, request: Request) -> Response | None:
        if not self.refusing:
            return None
        self.refused += 1
        return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "try again later\n")

    async def _handle(self, connection: ServerConnection) -> None:
        self.connections.append(connection)
        record: list[Any] = []
        tokens: dict[str, None] = {}
        self.messages.append(record)
        self._tokens.append(tokens)
        try:
            async for message in connection:
                if message == "PING":
                    self.pings += 1
                    await connection.send("PONG")
                    continue
                record.append(orjson.loads(message))
                document = record[-1]
                if document.get("type") == "market" or document.get("operation") == "subscribe":
                    tokens.update(dict.fromkeys(document["assets_ids"]))
                elif document.get("operation") == "unsubscribe":
                    for token in document["assets_ids"]:
                        tokens.pop(token, None)
        except ConnectionClosed:
            pass


async def eventually(check: Callable[[], Any], within: float = 5.0, what: str = "") -> None:
    """Wait until `check()` is true (or its awaitable result is), failing after `within` s."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within}s: {what or check}")
        await asyncio.sleep(0.02)


def frame(*events: dict[str, Any]) -> str:
    """One event as an object, several as an array (both occur on the wire)."""
    return orjson.dumps(events[0] if len(events) == 1 else list(events)).decode()


def price_change(*changes: tuple[str, str, str | None, str | None]) -> dict[str, Any]:
    """(token, price, best_bid, best_ask) per entry; a None bid or ask is left out."""
    entries = []
    for token, price, best_bid, best_ask in changes:
        entry = {"asset_id": token, "price": price, "size": "100", "side": "BUY", "hash": "0x1"}
        if best_bid is not None:
            entry["best_bid"] = best_bid
        if best_ask is not None:
            entry["best_ask"] = best_ask
        entries.append(entry)
    return {
        "event_type": "price_change",
        "market": "0x" + "ab" * 32,
        "timestamp": str(int(time.time() * 1000)),
        "price_changes": entries,
    }


def book(token: str, bids: list[str], asks: list[str]) -> dict[str, Any]:
    return {
        "event_type": "book",
        "asset_id": token,
        "market": "0x" + "ab" * 32,
        "timestamp": str(int(time.time() * 1000)),
        "hash": "0x2",
        "bids": [{"price": price, "size": "30"} for price in bids],
        "asks": [{"price": price, "size": "25"} for price in asks],
    }


def last_trade(token: str, price: str) -> dict[str, Any]:
    return {
        "event_type": "last_trade_price",
        "asset_id": token,
        "market": "0x" + "ab" * 32,
        "price": price,
        "size": "219.2",
        "side": "BUY",
        "fee_rate_bps": "0",
        "timestamp": str(int(time.time() * 1000)),
    }


def both(yes_token: str, no_token: str, yes: Decimal, spread: Decimal) -> dict[str, Any]:
    """A price_change moving both outcomes of a two-outcome market to midpoints p and 1 - p."""
    no = 1 - yes
    return price_change(
        (yes_token, str(yes), str(yes - spread), str(yes + spread)),
        (no_token, str(no), str(no - spread), str(no + spread)),
    )


def best_bid_ask(token: str, best_bid: str, best_ask: str) -> dict[str, Any]:
    """A custom-feature event: the token's best prices moved (its price is the midpoint)."""
    return {
        "event_type": "best_bid_ask",
        "market": "0x" + "ab" * 32,
        "asset_id": token,
        "best_bid": best_bid,
        "best_ask": best_ask,
        "spread": str(Decimal(best_ask or 0) - Decimal(best_bid or 0)),
        "timestamp": str(int(time.time() * 1000)),
    }


def market_resolved(
    condition_id: str, tokens: list[str], winner: str, outcome: str | None = None
) -> dict[str, Any]:
    """A custom-feature event: the market settled on the token `winner`."""
    event: dict[str, Any] = {
        "event_type": "market_resolved",
        "id": "123456",
        "market": condition_id,
        "assets_ids": tokens,
        "winning_asset_id": winner,
        "timestamp": str(int(time.time() * 1000)),
    }
    if outcome is not None:
        event["winning_outcome"] = outcome
    return event


def new_market(condition_id: str, tokens: list[str]) -> dict[str, Any]:
    """A custom-feature event announcing a market: no price, ignored by the worker."""
    return {
        "event_type": "new_market",
        "id": "654321",
        "question": "Will it rain?",
        "market": condition_id,
        "slug": "will-it-rain",
        "assets_ids": tokens,
        "outcomes": ["Yes", "No"],
        "timestamp": str(int(time.time() * 1000)),
    }
