"""The one shape of every loader: a batch of keys read through the cache, each key's value built.

A batch is one round of Redis reads, one statement for the misses (the kind's, cache/kinds.py)
and one round of fills (cache/read_through.py). A key with no row gets `value(None)`: None, or
an empty list for a kind with a list per key, for that key only (dataloader's rule). A failed
statement fails the whole batch, and nothing is cached or memoised.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, ClassVar, TypeVar

from aiodataloader import DataLoader

from cache.kinds import Kind
from cache.read_through import CacheSession
from sql.database import Database

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class CachedLoader(DataLoader[K, V]):
    kind: ClassVar[Kind[Any]]

    def __init__(self, database: Database, session: CacheSession) -> None:
        super().__init__()
        self.session = session
        self.read = self.kind.reader(database)

    async def batch_load_fn(self, keys: list[K]) -> list[V]:
        found = await self.session.read_through(self.kind, keys, self.read)
        return [self.value(found.get(key)) for key in keys]

    def value(self, found: Any) -> V:
        """The loader's value for a key's row (or rows); None when the key has none."""
        raise NotImplementedError
