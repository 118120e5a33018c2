"""What the race tests share: a gate that holds a reader between its SQL and its fill, and the
fill script with one of its protections taken out, for the controls.

The gate is the store's `before_fill` hook, set in the test's own process
(tests/cache/test_interleaving.py) or in a server process of its own
(tests/cache/gated_server.py). The scripts are edited copies of `cache.read_through.FILL`: if
the text they edit is gone, they raise instead of returning the script unchanged, so a control
cannot pass with its protection still in place.
"""

from __future__ import annotations

import asyncio

import cache.read_through

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


def _without(protection: str, replacement: str) -> str:
    script = cache.read_through.FILL.replace(protection, replacement)
    if script == cache.read_through.FILL:
        raise RuntimeError(f"FILL no longer contains {protection!r}: point the control anew")
    return script


def unguarded_fill() -> str:
    """FILL without its version check: it writes under whatever version it finds."""
    return _without("elseif current == seen then", "elseif true then")


def version_creating_fill() -> str:
    """FILL creating the version whenever the reader saw none, even over a bump's token."""
    return _without("if current == false and seen == '' then", "if seen == '' then")
