"""What the freshness tests share: a gate that holds a reader between its SQL and its fill,
and the cache's protections taken out, for the controls.

The gate is the store's `before_fill` hook, set in the test's own process
(tests/cache/test_interleaving.py) or in a server process of its own
(tests/cache/gated_server.py). The scripts are edited copies of `cache.read_through.FILL` and
`cache.answers.FIND`: if the text they edit is gone, they raise instead of returning the script
unchanged, so a control cannot run with its protection still in place. The read's own checks
live in Python (CacheSession._hit), the one private name a control here reaches: it is wrapped,
not copied, so a renamed method fails the control loudly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import cache.answers
import cache.read_through
from cache.read_through import CacheSession

TIMEOUT = 10  # seconds any wait on a gate may last: a race that never happens fails, not hangs


class Gate:
    """Pauses the first fill of one kind of data until released."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.reached = asyncio.Event()
        self.release = asyncio.Event()
        self.used = False

    async def __call__(self, kind: str) -> None:
        if kind == self.kind and not self.used:
            self.used = True
            self.reached.set()
            await asyncio.wait_for(self.release.wait(), TIMEOUT)


def _without(script: str, protection: str, replacement: str) -> str:
    edited = script.replace(protection, replacement)
    if edited == script:
        raise RuntimeError(f"the script no longer contains {protection!r}: point the control anew")
    return edited


def unguarded_fill() -> str:
    """FILL without its version check: it writes under whatever version it finds."""
    return _without(
        cache.read_through.FILL, "elseif current[version] == seen then", "elseif true then"
    )


def version_creating_fill() -> str:
    """FILL creating the version whenever the reader saw none, even over a bump's token."""
    return _without(
        cache.read_through.FILL,
        "if current[version] == false and seen == '' then",
        "if seen == '' then",
    )


def unchecked_find() -> str:
    """FIND serving a kept answer whatever its versions now hold."""
    return _without(cache.answers.FIND, "~= tokens[i] then", "~= tokens[i] and false then")


def epoch_blind_find() -> str:
    """FIND serving a kept answer whatever epoch it was kept under."""
    return _without(cache.answers.FIND, "if header[1] ~= (epoch or '0') then", "if false then")


def hit_ignoring(*, token: bool = False, epoch: bool = False) -> Callable[..., Any]:
    """CacheSession._hit reading every entry as stamped with its scope's current version
    (`token`) and/or with the epoch the request read (`epoch`): those checks of a read taken
    out. Entries are `token|epoch|json` (docs/cache.md); versions hold a bare token."""
    real = CacheSession._hit

    def hit(
        self: CacheSession, version: str | None, entry: str, read: dict[str, bytes | None]
    ) -> Any:
        current = read.get(version) if version is not None else None
        restamped = dict(read)
        raw = read.get(entry)
        if raw is not None:
            stamp, stamped_epoch, payload = raw.split(b"|", 2)
            if token and current is not None:
                stamp = current
            if epoch and self.epoch is not None:
                stamped_epoch = self.epoch.encode()
            restamped[entry] = b"|".join((stamp, stamped_epoch, payload))
        return real(self, version, entry, restamped)

    return hit
