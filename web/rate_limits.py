"""Rate limits per API key and per Telegram user, shared by every process through Redis.

The `limits` package does the counting (chosen over a hand-written script: it is well kept,
its moving-window strategy is one atomic Lua script per hit, and its async Redis storage speaks
redis-py, which the service already uses). Each request hits the key's limit and, when the bot
names the user in `X-Telegram-User`, the user's (default 100 a minute, the old client's rule),
both at once: one round of latency. A refused request gets 429 with Retry-After and
X-RateLimit-* headers, and a GraphQL-shaped error with code RATE_LIMITED.

While Redis is away an in-process limiter with the same limits takes over (each process then
counts on its own), and Redis is tried again after `redis_retry_after`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from cache.keys import KeyNames
from settings import Settings
from telemetry.metrics import REDIS_ERRORS, count_redis

log = logging.getLogger(__name__)

_TELEGRAM_USER = re.compile(r"^[1-9][0-9]{0,18}$")


def storage_uri(redis_url: str, cluster: bool) -> str:
    """limits' name for the same Redis: async+redis://, async+rediss://, async+redis+unix://."""
    scheme, _, rest = redis_url.partition("://")
    if cluster:
        return f"async+redis+cluster://{rest}"
    return {"unix": f"async+redis+unix://{rest}"}.get(scheme, f"async+{redis_url}")


class RateLimits:
    """ASGI middleware for /graphql: count the request against its limits, or refuse it."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.per_key = parse(settings.rate_limit_per_key)
        self.per_user = parse(settings.rate_limit_per_user)
        self.local = MovingWindowRateLimiter(MemoryStorage())
        # Built on the first request: the Redis URL is known once the lifespan started it.
        self.shared: MovingWindowRateLimiter | None = None
        self._shared_down_until = 0.0

    def _shared(self, redis_url: str) -> MovingWindowRateLimiter:
        if self.shared is None:
            settings = self.settings
            storage = RedisStorage(
                storage_uri(redis_url, settings.redis_cluster),
                implementation="redispy",
                key_prefix=KeyNames(settings.cache_prefix).rate_limits,
                socket_timeout=settings.redis_timeout,
                socket_connect_timeout=settings.redis_timeout,
            )
            self.shared = MovingWindowRateLimiter(storage)
        return self.shared

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == "/graphql":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http" or scope["path"] != "/graphql":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        state = scope.setdefault("state", {})
        client = scope.get("client") or ("unknown", 0)
        limits = [(self.per_key, "key", state.get("key_id") or f"address:{client[0]}")]
        user = headers.get(b"x-telegram-user", b"").decode("latin-1").strip()
        if _TELEGRAM_USER.match(user):
            limits.append((self.per_user, "user", user))
        refused = await self._refused(limits, scope["app"].state.redis_url)
        if refused is None:
            await self.app(scope, receive, send)
        else:
            await _too_many(*refused)(scope, receive, send)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Opening a subscription's connection is a request: counted against its key's limit
        (its address's when the key comes later, in connection_init), refused (HTTP 403) over
        it; each connection's subscriptions are bounded by the view, and connections per key
        by web/subscriptions.py."""
        state = scope.setdefault("state", {})
        client = scope.get("client") or ("unknown", 0)
        who = state.get("key_id") or f"address:{client[0]}"
        if await self._refused([(self.per_key, "key", who)], scope["app"].state.redis_url):
            await send({"type": "websocket.close", "code": 1008, "reason": "Rate limit exceeded"})
            return
        await self.app(scope, receive, send)

    async def _refused(
        self, limits: list[tuple[RateLimitItem, str, str]], redis_url: str
    ) -> tuple[RateLimitItem, str, float] | None:
        """None when every limit allows the request, else (limit, whose, seconds to wait)."""
        limiter = self.local
        if time.monotonic() >= self._shared_down_until:
            limiter = self._shared(redis_url)
            for _ in limits:
                count_redis()
        try:
            allowed = await asyncio.gather(*(limiter.hit(i, kind, who) for i, kind, who in limits))
            for (item, kind, who), ok in zip(limits, allowed, strict=True):
                if not ok:
                    stats = await limiter.get_window_stats(item, kind, who)
                    return item, kind, max(1.0, stats.reset_time - time.time())
        except Exception as error:  # any storage failure: count locally, try Redis later
            if limiter is self.local:
                raise
            REDIS_ERRORS.labels("rate_limit").inc()
            self._shared_down_until = time.monotonic() + self.settings.redis_retry_after
            log.warning("rate limits fall back to this process (%s)", type(error).__name__)
            return await self._refused(limits, redis_url)
        return None


def _too_many(item: RateLimitItem, kind: str, wait: float) -> JSONResponse:
    seconds = math.ceil(wait)
    message = f"Rate limit exceeded: at most {item} per {kind}. Retry after {seconds} s."
    return JSONResponse(
        {
            "errors": [
                {"message": message, "extensions": {"code": "RATE_LIMITED", "retryAfter": seconds}}
            ]
        },
        status_code=429,
        headers={
            "Retry-After": str(seconds),
            "X-RateLimit-Limit": str(item.amount),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(seconds),
        },
    )
