"""The trigger stream, read once per process and fanned out to the bot's subscriptions.

A subscription needs every entry after a given id, then each new one, nothing skipped and
nothing twice. One XREAD BLOCK per subscriber would hold a Redis connection per open WebSocket
on every process; here one reader per process blocks on its own connection and hands each batch
to every subscriber's bounded inbox, and the catch-up reads (XRANGE from a subscriber's last id:
a resumed subscription, or one whose inbox overflowed because its client reads slowly) share a
small pool. Redis connections per process: READ_CONNECTIONS + 1 at most, whatever the number of
subscribers; memory per subscriber: INBOX_BATCHES batches of BATCH entries at most.

Gaps are found, not prevented: each batch says after which id the reader read it (`since`). A
subscriber whose last id is older reads the stream from its last id first, and takes only
entries newer than its last id. So a subscriber that registered just before its first read, that
lagged, or whose reader restarted after a Redis failure still gets every entry once, in stream
order. This is a Redis client of its own, not cache/store.py's: blocking reads must outlive the
cache's short timeouts, and a stream read that fails ends the subscription (the bot resumes from
its last id) instead of stepping aside to PostgreSQL as a cache read does.

No Redis command here is ever cancelled: redis-py (8.1) can swallow a cancellation that lands
while a reply is being read, leaving the task running and its connection taken (seen when a bot
disconnected just as its subscription started: the handler never finished). A subscriber's read
runs shielded, in a task of its own that finishes and gives its connection back, and the
reader is never cancelled while subscribers come and go: it stops by itself once a read finds
no one left.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisClusterException, RedisError

from domain.trigger_ids import StreamId

log = logging.getLogger(__name__)

BLOCK_MS = 5000  # one XREAD waits this long for news, then asks again
BATCH = 500  # entries per read
INBOX_BATCHES = 64  # batches a subscriber may hold unsent before it reads the stream instead
READ_CONNECTIONS = 2  # the catch-up reads' pool, shared by every subscriber of the process
RETRY_AFTER = (0.2, 5.0)  # the reader's pause after a failure: first, longest


@dataclass(frozen=True)
class Entry:
    id: StreamId
    fields: dict[str, str]


@dataclass(frozen=True)
class _Batch:
    since: StreamId  # the reader asked for the entries after this id
    entries: list[Entry]


class _Inbox:
    """One subscriber's unsent batches; on overflow they are dropped and it reads the stream."""

    def __init__(self, limit: int) -> None:
        self.batches: deque[_Batch] = deque()
        self.limit = limit
        self.lagged = False
        self.ready = asyncio.Event()

    def put(self, batch: _Batch) -> None:
        if len(self.batches) >= self.limit:
            self.batches.clear()
            self.lagged = True
        else:
            self.batches.append(batch)
        self.ready.set()

    async def take(self) -> _Batch | None:
        """The next batch; None when batches were dropped (read the stream from the last id)."""
        while not self.batches and not self.lagged:
            self.ready.clear()
            await self.ready.wait()
        if self.lagged:
            self.lagged = False
            self.batches.clear()
            return None
        return self.batches.popleft()


class TriggerFeed:
    """The process's reader of one stream and its subscribers (app.state.triggers)."""

    def __init__(
        self,
        reader: Redis | RedisCluster,
        client: Redis | RedisCluster,
        key: str,
        *,
        block_ms: int = BLOCK_MS,
        batch: int = BATCH,
        inbox_batches: int = INBOX_BATCHES,
    ) -> None:
        self.key = key
        self._reader_client = reader  # the blocking read's own connection
        self._client = client  # catch-up reads, bounded pool
        self._block_ms = block_ms
        self._batch = batch
        self._inbox_batches = inbox_batches
        self._inboxes: set[_Inbox] = set()
        self._reader: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def subscribers(self) -> int:
        return len(self._inboxes)

    async def last_id(self) -> StreamId:
        """The newest entry's id, (0, 0) for an empty stream: "from now on" starts after it."""
        newest = _entries(await _shielded(self._client.xrevrange(self.key, count=1)))
        return newest[0].id if newest else (0, 0)

    async def keeps_after(self, start: StreamId) -> bool:
        """Whether every entry after `start` is still kept: `start` itself is, or is newer
        than everything (a trimmed stream's oldest entry is newer than `start`: some are lost)."""
        oldest = _entries(await _shielded(self._client.xrange(self.key, count=1)))
        return bool(oldest) and oldest[0].id <= start

    async def events(self, start: StreamId) -> AsyncIterator[Entry]:
        """Every entry after `start`, then each new one, once each, in stream order."""
        inbox = _Inbox(self._inbox_batches)
        self._inboxes.add(inbox)
        self._ensure_reader()
        last = start
        try:
            async for entry in self._range_after(last):  # those before it listened
                last = entry.id
                yield entry
            while True:
                batch = await inbox.take()
                if batch is None or batch.since > last:  # dropped, or older than the reader
                    async for entry in self._range_after(last):
                        last = entry.id
                        yield entry
                if batch is not None:
                    for entry in batch.entries:
                        if entry.id > last:
                            last = entry.id
                            yield entry
        finally:
            self._inboxes.discard(inbox)  # the reader stops once it finds no one left

    async def close(self) -> None:
        self._closed = True  # the reader's loop ends even if its cancellation is swallowed
        if self._reader is not None:
            self._reader.cancel()
            self._reader = None
        await self._reader_client.aclose()
        await self._client.aclose()

    async def _range_after(self, last: StreamId) -> AsyncIterator[Entry]:
        while True:
            found = _entries(
                await _shielded(
                    self._client.xrange(
                        self.key, min=f"({format_stream_id(last)}", count=self._batch
                    )
                )
            )
            for entry in found:
                last = entry.id
                yield entry
            if len(found) < self._batch:
                return

    def _ensure_reader(self) -> None:
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read(), name="trigger-feed")

    async def _read(self) -> None:
        """While anyone listens: block for new entries, hand each batch to every inbox."""
        since: StreamId | None = None
        pause = RETRY_AFTER[0]
        while self._inboxes and not self._closed:
            try:
                if since is None:
                    since = await self.last_id()
                found: Any = await self._reader_client.xread(
                    {self.key: format_stream_id(since)}, count=self._batch, block=self._block_ms
                )
            except (RedisError, RedisClusterException, OSError) as error:
                log.warning(
                    "reading the trigger stream failed (%s: %s); again in %.1f s",
                    type(error).__name__,
                    error,
                    pause,
                )
                await asyncio.sleep(pause)
                pause = min(pause * 2, RETRY_AFTER[1])
                continue
            pause = RETRY_AFTER[0]
            entries = [entry for _, part in (found or []) for entry in _entries(part)]
            if not entries:
                continue
            batch = _Batch(since, entries)
            for inbox in self._inboxes:
                inbox.put(batch)
            since = entries[-1].id


async def _shielded(command: Awaitable[Any]) -> Any:
    """The command's reply; a cancelled caller leaves it to finish on its own (see above)."""
    return await asyncio.shield(asyncio.ensure_future(command))


def _entries(found: Any) -> list[Entry]:
    """XRANGE's or XREAD's (id, fields) pairs as entries (the client decodes to str)."""
    return [Entry(parse_stream_id(raw_id), dict(fields or {})) for raw_id, fields in found or []]


def parse_stream_id(raw: str | bytes) -> StreamId:
    text = raw.decode() if isinstance(raw, bytes) else raw
    milliseconds, _, sequence = text.partition("-")
    return int(milliseconds), int(sequence or 0)


def format_stream_id(entry: StreamId) -> str:
    return f"{entry[0]}-{entry[1]}"


def connect_feed(url: str, key: str, *, cluster: bool, connect_timeout: float) -> TriggerFeed:
    """The feed's two clients for a Redis URL: the blocking reader's (one connection, its
    timeout past the block) and the catch-up reads' (READ_CONNECTIONS, waited for when busy)."""
    options: dict[str, Any] = {
        "decode_responses": True,
        "socket_connect_timeout": connect_timeout,
        "socket_timeout": BLOCK_MS / 1000 + 5,
    }
    if cluster:
        return TriggerFeed(
            RedisCluster.from_url(url, max_connections=1, **options),
            RedisCluster.from_url(url, max_connections=READ_CONNECTIONS, **options),
            key,
        )
    reader, client = (
        Redis.from_pool(  # the client owns the pool: closing one closes the other
            BlockingConnectionPool.from_url(
                url,
                max_connections=size,
                timeout=None,  # a catch-up read waits for a pooled connection, however long
                **options,
            )
        )
        for size in (1, READ_CONNECTIONS)
    )
    return TriggerFeed(reader, client, key)
