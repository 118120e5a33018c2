"""Liveness and readiness: is the process up, and can it serve right now.

/healthz answers without touching anything (a restart will not fix PostgreSQL). /readyz checks
what serving needs: PostgreSQL reachable with every migration applied, and Redis reachable; a
load balancer stops sending traffic while it says 503. Redis being away does not stop the
service from answering (reads fall back to PostgreSQL), so it is reported but does not fail
readiness.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cache.store import CacheStore
from sql.database import Database
from sql.migrate import pending

CHECK_TIMEOUT = 2.0


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    database: Database = request.app.state.database
    cache: CacheStore = request.app.state.cache
    checks = {"postgres": await _postgres(database), "redis": await _redis(cache)}
    ready = checks["postgres"] == "ok"
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )


async def _postgres(database: Database) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT), database.connection() as connection:
            missing = await pending(connection)
    except Exception as error:  # any failure means not ready; the reason is reported
        # Unavailable says only that; what the driver saw is its cause.
        return f"unreachable: {type(error.__cause__ or error).__name__}"
    return "ok" if not missing else f"migrations pending: {', '.join(missing)}"


async def _redis(cache: CacheStore) -> str:
    answer = await cache.run("ping", lambda pipeline: pipeline.ping())
    return "ok" if answer is not None else "unreachable (serving from PostgreSQL)"
