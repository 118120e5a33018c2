"""A write's transaction, and the cache scopes it retires once, and only once, it has committed.

Each write adds the scopes it changed to the set while it works; the versions move after the
COMMIT (a reader that refills between the commit and the bump is retired by the bump, see
cache/read_through.py), and not at all when the transaction rolls back. Every write goes
through here, so none can forget its invalidation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from cache.keys import Scope, positions_scope
from cache.store import CacheStore
from sql.database import Database


@asynccontextmanager
async def write_transaction(
    database: Database, cache: CacheStore
) -> AsyncIterator[tuple[Database, set[Scope]]]:
    changed: set[Scope] = set()
    async with database.transaction() as tx:
        yield tx, changed
    await cache.bump(changed)


def user_scopes(user_id: int, *position_ids: int, closed: bool = True) -> list[Scope]:
    """A user's position lists, and each position named.

    The ACTIVE list and the list of all always change with a position; the CLOSED one only when
    a position closed (`closed`), so a buy or new levels leave the history screen cached.
    """
    statuses = ("ACTIVE", "ALL", "CLOSED") if closed else ("ACTIVE", "ALL")
    return [
        *(positions_scope(user_id, status) for status in statuses),
        *(Scope("position", str(p)) for p in position_ids),
    ]
