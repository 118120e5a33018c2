"""Entries decoded once per process: a warm read that finds the bytes it decoded before
reuses what it made of them instead of decoding them again.

Kept by the entry's Redis key with the exact bytes read (token, epoch and payload alike), and
served only for those same bytes read from Redis now, after the read's own checks of token and
epoch: so it never serves anything Redis does not hold at that moment. A write moves the token,
a refill brings new bytes, and the next read decodes them (tests/cache/test_decoded.py, with
its control). Bounded by the bytes kept (least recently used first out); the decoded values
take about three times the bytes they were decoded from.

The values are shared by every request that reads the same bytes, so nothing may change them.
Nothing does: the loaders build new objects from them (schema/rows.FromRow takes each column;
a list column, such as a market's outcomes, then belongs to the Market too, and nothing changes
a Market). tests/cache/test_decoded.py runs the contract's reads and writes over them and then
checks each kept value against its bytes decoded anew.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from cache.codec import decode


class DecodedEntries:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        # How many reads reused a value (for the metrics, counted by batch in read_through).
        self.reused = 0
        self._kept: OrderedDict[str, tuple[bytes, Any]] = OrderedDict()

    def decode(self, name: str, raw: bytes, payload: bytes) -> Any:
        """`payload` (the JSON part of `raw`, the entry `name` holds) decoded, or the value
        decoded from the very same `raw` before."""
        kept = self._kept.get(name)
        if kept is not None and kept[0] == raw:
            self._kept.move_to_end(name)
            self.reused += 1
            return kept[1]
        value = decode(payload)
        if kept is not None:
            self.size -= len(kept[0])
            del self._kept[name]
        if len(raw) <= self.max_bytes:
            self._kept[name] = (raw, value)
            self.size += len(raw)
            while self.size > self.max_bytes:
                _, (evicted, _) = self._kept.popitem(last=False)
                self.size -= len(evicted)
        return value

    def items(self) -> list[tuple[str, bytes, Any]]:
        """What is kept: each entry's key, its bytes and its value (for tests)."""
        return [(name, raw, value) for name, (raw, value) in self._kept.items()]
