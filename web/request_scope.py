"""The outermost middleware: what belongs to one HTTP request (its id, its counts, its log line).

A pure ASGI middleware (not BaseHTTPMiddleware, which runs the app in another task and would
hide the ContextVar from it) gives each request an id (the client's X-Request-ID if it sent a
sane one), starts its counts, returns the id in X-Request-ID, and logs one line at the end.
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
    REQUEST_SECONDS,
    REQUEST_SQL,
    RequestCounts,
    request_counts,
)

log = logging.getLogger("polycool.request")

_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestScope:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
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
            REQUEST_SECONDS.labels(route_of(scope)).observe(elapsed)
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


def route_of(scope: Scope) -> str:
    """The route the request matched ("/graphiql/{name}"), or "unmatched": a bounded label."""
    for route in scope["app"].router.routes:
        match, _ = route.matches(scope)
        if match is not Match.NONE:  # PARTIAL: the route, another method (405)
            return str(route.path)
    return "unmatched"
