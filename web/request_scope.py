"""The outermost middleware: what belongs to one HTTP request (its id, its counts, its log line).

A pure ASGI middleware (not BaseHTTPMiddleware, which runs the app in another task and would
hide the ContextVar from it) gives each request an id (the client's X-Request-ID if it sent a
sane one), starts its counts, returns the id in X-Request-ID, and logs one line at the end.
A WebSocket connection (the subscriptions) is one request: an id, counts, and one line when it
closes, with how it closed and how long it lasted.
"""

from __future__ import annotations

import logging
import os
import re
import time

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from telemetry.metrics import (
    REQUEST_REDIS,
    REQUEST_SQL,
    RequestCounts,
    request_counts,
    request_seconds,
)

log = logging.getLogger("polycool.request")

_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestScope:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        # 128 random bits as 32 hex digits, as uuid4().hex gave, without building a UUID.
        request_id = sent if _SANE_ID.match(sent) else os.urandom(16).hex()
        counts = RequestCounts()
        scope.setdefault("state", {})["request_id"] = request_id
        scope["state"]["counts"] = counts
        token = request_counts.set(counts)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_counts.reset(token)
            elapsed = time.perf_counter() - started
            REQUEST_SQL.observe(counts.sql)
            REQUEST_REDIS.observe(counts.redis)
            request_seconds(route_of(scope)).observe(elapsed)
            log.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "request_id": request_id,
                    "operation": counts.operation,
                    "cache_hits": counts.cache_hits,
                    "cache_misses": counts.cache_misses,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "sql": counts.sql,
                    "redis": counts.redis,
                },
            )

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        sent = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = sent if _SANE_ID.match(sent) else os.urandom(16).hex()
        counts = RequestCounts()
        scope.setdefault("state", {})["request_id"] = request_id
        scope["state"]["counts"] = counts
        token = request_counts.set(counts)
        started = time.perf_counter()
        # 403: refused before it was accepted; 101 and then the close code sent or received.
        status: int | str = 403
        closed: int | None = None

        async def send_with_status(message: Message) -> None:
            nonlocal status, closed
            if message["type"] == "websocket.accept":
                status = 101
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            elif message["type"] == "websocket.close" and closed is None:
                closed = int(message.get("code", 1000))
            await send(message)

        async def receive_close() -> Message:
            nonlocal closed
            message = await receive()
            if message["type"] == "websocket.disconnect" and closed is None:
                closed = int(message.get("code", 1005))
            return message

        try:
            await self.app(scope, receive_close, send_with_status)
        finally:
            request_counts.reset(token)
            elapsed = time.perf_counter() - started
            log.info(
                "WS %s %s%s",
                scope["path"],
                status,
                "" if closed is None or status != 101 else f" closed {closed}",
                extra={
                    "request_id": request_id,
                    "operation": counts.operation,
                    "status": status,
                    "close_code": closed,
                    "role": scope["state"].get("role"),
                    "duration_ms": round(elapsed * 1000, 2),
                    "sql": counts.sql,
                    "redis": counts.redis,
                },
            )


def route_of(scope: Scope) -> str:
    """The route the request matched ("/graphiql/{name}"), or "unmatched": a bounded label.
    The router leaves the route it chose in the scope; a request refused before it (401, 413,
    429) is matched here as the router would have."""
    chosen = scope.get("route")
    if chosen is not None:
        return str(chosen.path)
    for route in scope["app"].router.routes:
        match, _ = route.matches(scope)
        if match is not Match.NONE:  # PARTIAL: the route, another method (405)
            return str(route.path)
    return "unmatched"
