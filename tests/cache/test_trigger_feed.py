"""The trigger feed's subscribers end when cancelled, whatever their Redis client does.

A bot that disconnects cancels its subscription's task; if that task went on, its connection
would stay counted against the key and its inbox would keep the reader alive. redis-py (8.1)
was seen to swallow a cancellation that lands while it reads a reply; the feed shields its
reads so the cancellation always reaches the subscriber. The client here swallows every
cancellation, deterministically; the control runs the same test without the shield.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from cache import trigger_feed
from cache.trigger_feed import TriggerFeed


class SwallowingClient:
    """Answers every read after a moment, swallowing a cancellation meanwhile, as redis-py
    was seen to."""

    async def _reply(self, value: Any) -> Any:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0.05)
        return value

    async def xrange(self, *args: Any, **kwargs: Any) -> Any:
        return await self._reply([])

    async def xrevrange(self, *args: Any, **kwargs: Any) -> Any:
        return await self._reply([])

    async def xread(self, *args: Any, **kwargs: Any) -> Any:
        return await self._reply(None)

    async def aclose(self) -> None:
        return None


async def subscribers_ended_when_cancelled(feed: TriggerFeed) -> bool:
    """Starts a subscriber, cancels it during its first read: did it end?"""

    async def subscribe() -> None:
        async for _ in feed.events((0, 0)):
            pass

    task = asyncio.create_task(subscribe())
    await asyncio.sleep(0.01)  # inside its first read of the stream
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=1)
    if not done:
        task.cancel()  # leave nothing behind: the next read ends it for good
    return bool(done) and feed.subscribers == 0


async def test_a_cancelled_subscriber_ends_even_if_its_client_swallows_the_cancel() -> None:
    client: Any = SwallowingClient()
    feed = TriggerFeed(client, client, "test:triggers")
    assert await subscribers_ended_when_cancelled(feed)
    await feed.close()


async def test_control_without_the_shield_the_subscriber_would_hang(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def unshielded(command: Any) -> Any:
        return await command

    monkeypatch.setattr(trigger_feed, "_shielded", unshielded)
    client: Any = SwallowingClient()
    feed = TriggerFeed(client, client, "test:triggers")
    assert not await subscribers_ended_when_cancelled(feed)
    await feed.close()
