"""A PostgreSQL for a machine that has none: the real server the `pgserver` wheel ships.

With no DATABASE_URL the service (and the tests) start it with its data in
`<data_dir>/postgres`, and say so in the log. It is shared by every process that asks for the
same folder and stops when the last of them lets go (cache/embedded.py does the same for Redis).

Why `stop()` is called by the app and not left to the packages' exit hooks: uvicorn re-raises
SIGTERM after its shutdown, which ends the process before atexit runs, and the server would
outlive the service.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Embedded:
    """A running embedded server (PostgreSQL or Redis): where to reach it, how to let go of it."""

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
