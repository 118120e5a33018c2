"""Reads foreseen from the last identical query: all its cache names in the first round trip.

An executed Portfolio reads the user, then the user's positions, then their markets: three round
trips, each waiting for the one before, since each read's keys come from the values the one
before returned. The same query (document, operation, variables) a moment later reads the same
names, unless what they hold changed shape (a new position, on a new market). So each process
keeps, per query, the names its last execution read, and the next execution asks for all of
them in its first round trip; each loader then finds its entries read already and sends
nothing, so a repeat costs one round trip however deep its reads go (under moving prices the
markets' entries are new, but their names are not). A key whose entry holds there is answered
at once, without waiting for a batch (CacheSession.at_once, loaders/cached_loader.py).

Only a hint, never an answer. A name read ahead serves a read of that very name later in the
same request, checked as if it had been read then (its token against the version read with it,
the epoch). Reading it earlier in the request changes nothing a read relies on: a query writes
nothing, and the version a miss saw is still seen before its SQL, so the fill's guard holds
(cache/read_through.py). A query whose reads changed shape finds some names not read ahead and
reads them as before (one more round trip), and the next repeat foresees the new ones; names
read ahead and not needed cost their bytes in the MGET. Mutations never read ahead: their
reads after a write must see it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import orjson


class ReadAhead:
    """The names each query's last execution read, per process; bounded by the names kept in
    all (a MarketsBatch of 100 ids reads 200), oldest query first out.

    Kept by a hash of the query (a collision would only foresee the wrong names, a hint that
    misses). The names are mostly the very strings the cache keeps per key (store.names), so a
    query's entry costs about a pointer per name; the bound holds even when they are not.
    """

    def __init__(self, names: int) -> None:
        self.names = names
        self._kept = 0
        self._last: OrderedDict[int, tuple[str, ...]] = OrderedDict()

    @staticmethod
    def key(query: str, operation: str | None, variables: dict[str, Any] | None) -> int:
        return hash((query, operation, orjson.dumps(variables, option=orjson.OPT_SORT_KEYS)))

    def foreseen(self, key: int) -> tuple[str, ...]:
        return self._last.get(key, ())

    def remember(self, key: int, names: Iterable[str]) -> None:
        kept = tuple(names)
        if len(kept) > self.names:
            return
        self._kept += len(kept) - len(self._last.pop(key, ()))
        self._last[key] = kept
        while self._kept > self.names:
            _, oldest = self._last.popitem(last=False)
            self._kept -= len(oldest)
