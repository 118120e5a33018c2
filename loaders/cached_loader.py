"""The one shape of every loader: a batch of keys read through the cache, each key's value built.

A batch is one round of Redis reads, one statement for the misses (the kind's, cache/kinds.py)
and one round of fills (cache/read_through.py). A key with no row gets `value(None)`: None, or
an empty list for a kind with a list per key, for that key only (dataloader's rule). A failed
statement fails the whole batch, and nothing is cached or memoised.

A key the request has already read ahead (cache/read_ahead.py), and whose entry holds there,
is answered at once: `load` hands back a resolved future instead of waiting for the next
batch, so a repeated Portfolio reads its user in a batch and its positions and their markets
without one (no task, no pass through the event loop; a tenth of an executed Portfolio's
instructions, docs/benchmarks.md, "Optimisation steps"). Checked as a batch checks it
(token against version, epoch), counted as a hit, and noted for the answer the same way; a
miss or a name not read ahead goes to the batch.

Values built from the cache are built once per process: a warm hit hands back the very object
decoded from the very same bytes before (cache/decoded.py), and the same object builds the same
Market or list of Positions, so the built value is kept beside it (`Built`) instead of making
twenty Markets again for every Portfolio. Shared between requests, so nothing may change a
built value; nothing does (resolvers read them, writes build their own).
"""

from __future__ import annotations

import asyncio
import inspect
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Any, ClassVar, TypeVar

from aiodataloader import DataLoader

from cache.kinds import Kind
from cache.read_through import NOT_AT_ONCE, CacheSession
from sql.database import Database

K = TypeVar("K", bound=Hashable)
BUILT_PER_KIND = 5_000
V = TypeVar("V")


class Built:
    """Values built from found rows, kept by the identity of what they were built from (held,
    so that its id is not reused while kept); bounded, oldest first out, in constant time (an
    OrderedDict: a full dict finds its first key by scanning past every slot deleted since its
    last resize, and live prices keep this memo full)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[int, tuple[object, Any]] = OrderedDict()

    def get(self, found: object, build: Callable[[Any], Any]) -> Any:
        kept = self._kept.get(id(found))
        if kept is not None and kept[0] is found:
            return kept[1]
        value = build(found)
        if _from_cache(found):
            if len(self._kept) >= self.size:
                self._kept.popitem(last=False)
            self._kept[id(found)] = (found, value)
        return value


def _same(key: Any) -> Any:
    return key


def _from_cache(found: object) -> bool:
    """Only what the cache decoded comes back as the same object (dicts, lists of dicts);
    rows fresh from PostgreSQL (asyncpg Records) never do, and are not kept."""
    if isinstance(found, list):
        return bool(found) and isinstance(found[0], dict)
    return isinstance(found, dict)


class CachedLoader(DataLoader[K, V]):
    kind: ClassVar[Kind[Any]]
    # Per loader class, per process: about as many as the decoded entries kept.
    built: ClassVar[Built]

    def __init_subclass__(cls, **options: Any) -> None:
        super().__init_subclass__(**options)
        cls.built = Built(BUILT_PER_KIND)
        # DataLoader.__init__'s check, made once per class: it holds for every instance.
        if not inspect.iscoroutinefunction(cls.batch_load_fn):
            raise TypeError(f"{cls.__name__}.batch_load_fn must be a coroutine function")

    def __init__(self, database: Database, session: CacheSession) -> None:
        # DataLoader.__init__'s state without its per-instance checks (a coroutine batch
        # function, the options): they hold for the class, and up to four loaders are made
        # per request.
        self.loop = asyncio.get_event_loop()
        self.get_cache_key = _same
        self._cache = {}
        self._queue = []
        self.session = session
        self.read = self.kind.reader(database)

    def load(self, key: K) -> asyncio.Future[V]:
        """The key's future: memoised; else resolved at once when the request read the key
        ahead (cache/read_ahead.py) and it holds there; else in the next batch.

        DataLoader.load's own steps, with the check at once between them: every loader here
        memoises by the key itself (no `cache=False`, no `get_cache_key`), and a hundred
        keys of a MarketsBatch paid a frame more each when this called it."""
        loaded = self._cache.get(key)
        if loaded is not None:
            return loaded
        if key is None:
            return super().load(key)  # dataloader's error
        # Before the request's first read nothing is read ahead: keys loaded then (a
        # MarketsBatch's hundred ids) go straight to the batch.
        if self.session.read_early:
            found = self.session.at_once(self.kind, key)
            if found is not NOT_AT_ONCE:
                value = self.built.get(found, self.value)
                if self.ready(value):
                    future = self._cache[key] = self.loop.create_future()
                    future.set_result(value)
                    return future
        future = self._cache[key] = self.loop.create_future()
        self.do_resolve_reject(key, future)
        return future

    def ready(self, value: V) -> bool:
        """Whether a value found at once may be answered at once: what the batch would also
        have waited for (the position loaders' markets) is loaded already."""
        return True

    async def batch_load_fn(self, keys: list[K]) -> list[V]:
        found = await self.session.read_through(self.kind, keys, self.read)
        built, value = self.built, self.value
        return [built.get(found.get(key), value) for key in keys]

    async def load_all(self, keys: Iterable[K]) -> list[V]:
        """The values of `keys`, in order: load_many's answer, without its gather. A gather
        puts a callback on every key's future and runs each through the event loop (for a
        MarketsBatch of 100 ids, a third of the request); the keys of one batch resolve
        together, so awaiting them in turn suspends once per batch, and not at all when
        every key is already loaded. The first failed key raises, as with load_many."""
        loads = [self.load(key) for key in keys]
        for load in loads:
            if not load.done():
                await asyncio.wait((load,))
        # Every failure retrieved, so that none is logged as lost when the first is raised.
        failed = [error for load in loads if (error := load.exception()) is not None]
        if failed:
            raise failed[0]
        return [load.result() for load in loads]

    def value(self, found: Any) -> V:
        """The loader's value for a key's row (or rows); None when the key has none."""
        raise NotImplementedError
