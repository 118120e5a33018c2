"""The one place that talks to Redis: pipelines, counted, bounded in time, never fatal.

Every exchange is one pipeline, and one pipeline is one round trip (on a cluster the client
sends each node its share at once). On a single server, Lua scripts go by their SHA-1
(EVALSHA) once this process has sent their text; a Redis that lacks one (restarted, flushed)
gets the pipeline again with every script's text. A command that fails or takes longer
than the timeout makes the store step aside for `retry_after`: reads go to PostgreSQL and fill
nothing, writes to PostgreSQL go on. No request fails because Redis did.

Lost invalidations: a write whose version bump could not reach Redis leaves entries that may
be stale. The store counts the loss, keeps this process off the cache (PostgreSQL answers), and
a background task moves the cache *epoch* (a token every entry is stamped with) as soon as Redis
answers, retiring every entry written before, in all processes, without KEYS, SCAN or FLUSH.
Readers learn the epoch in their first pipeline of each request. docs/cache.md says which
window this leaves open.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import hashlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import hiredis
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import AbstractConnection
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisClusterException, RedisError, ResponseError
from redis.retry import Retry

from cache.decoded import DecodedEntries
from cache.keys import KeyNames, Scope, group_by_tag
from settings import Settings
from telemetry.metrics import LOST_INVALIDATIONS, REDIS_ERRORS, count_redis

log = logging.getLogger(__name__)

Client = Redis | RedisCluster
Pipeline = Any  # redis.asyncio Pipeline or ClusterPipeline: the same queueing methods


def new_token() -> str:
    # secrets.token_hex's bytes, without its SystemRandom method in Python (a cold
    # Portfolio draws 22 tokens).
    return os.urandom(8).hex()


@dataclass
class CacheStore:
    client: Client
    keys: KeyNames
    retry_after: float
    ttls: dict[str, float]
    # Versions outlive every entry filled under them (see keys.py), so an expired version
    # can only mean its entries expired too.
    version_ttl: float = 0.0
    # Hits decoded once per process (cache/decoded.py); none kept unless given a size.
    decoded: DecodedEntries = field(default_factory=lambda: DecodedEntries(0), repr=False)
    _down_until: float = 0.0
    # Bumps lost so far, and how many of them a moved epoch has covered.
    _lost: int = 0
    _covered: int = 0
    _recovery: asyncio.Task[None] | None = None
    _clock: Callable[[], float] = field(default=time.monotonic)
    # Tests pause here, between a reader's SQL and its fill, naming the kind of data
    # (tests/cache/test_interleaving.py); None in the service.
    before_fill: Callable[[str], Awaitable[None]] | None = field(default=None, repr=False)
    # Scripts (SHA-1) Redis has run for this process: sent by SHA-1 alone from then on. Those
    # a pipeline being queued sends with their text, added once it succeeded.
    _scripts: set[str] = field(default_factory=set, repr=False)
    _scripts_queued: set[str] = field(default_factory=set, repr=False)
    cluster: bool = field(init=False, default=False)
    # Seconds an exchange of the request path may take (REDIS_TIMEOUT), and the connections
    # it runs on (single server).
    timeout: float = Settings.redis_timeout
    _idle: _Idle = field(init=False, repr=False)
    # Each key's Redis names, by (kind, key): cache/read_through.py's, kept per store (prefix).
    names: dict[tuple[str, Any], tuple[str, str | None, str]] = field(
        default_factory=dict, repr=False
    )

    def __post_init__(self) -> None:
        self.version_ttl = 2 * max(self.ttls.values())
        self.cluster = isinstance(self.client, RedisCluster)
        self._idle = _Idle(self.client if isinstance(self.client, Redis) else None)

    def groups(self, names: Sequence[str]) -> list[list[str]]:
        """Names one command may read or write together: all of them on a single server; on a
        cluster those of one hash tag (one slot), since no command may span slots."""
        if self.cluster:
            return list(group_by_tag(list(names)).values())
        return [list(names)] if names else []

    def script(
        self, pipeline: Pipeline, text: str, keys: Sequence[str], args: Sequence[str | bytes]
    ) -> None:
        """Queue a Lua script: by its SHA-1 once Redis has run it for this process (the text of
        a fill is most of its bytes), else with its text (EVAL keeps it in Redis's cache).

        A cluster always gets the text: each node keeps its own scripts, and which node a
        script goes to is the client's business, so the first EVALSHA to every other node
        would fail and cost a round trip.
        """
        # Raw commands: redis-py's ClusterPipeline refuses its eval methods (it routes the
        # raw command by its keys, which share a slot, like any other).
        sha = _sha1(text)
        if sha in self._scripts:
            pipeline.execute_command("EVALSHA", sha, len(keys), *keys, *args)
            return
        if not self.cluster:
            self._scripts_queued.add(sha)
        pipeline.execute_command("EVAL", text, len(keys), *keys, *args)

    @property
    def available(self) -> bool:
        # While invalidations are lost, what this process would read may be stale: it reads
        # PostgreSQL until the epoch has moved.
        return self._covered == self._lost and self._clock() >= self._down_until

    async def run(self, operation: str, queue: Callable[[Pipeline], None]) -> list[Any] | None:
        """Run the commands `queue` adds as one pipeline; None if Redis is away."""
        if not self.available:
            return None
        return await self._send(operation, queue)

    async def _send(
        self, operation: str, queue: Callable[[Pipeline], None], *, again: bool = False
    ) -> list[Any] | None:
        pipeline: Any = None
        if not self.cluster and operation in LEAN_OPERATIONS:
            pipeline = _Commands()
            try:
                queue(pipeline)
            except AttributeError:  # a command _Commands does not record: the pipeline's
                pipeline = None
        lean = pipeline is not None
        if pipeline is None:
            pipeline = self.client.pipeline(transaction=False)
            queue(pipeline)
        loading, self._scripts_queued = self._scripts_queued, set()
        count_redis()
        try:
            results: list[Any] = await (
                self._exchange(pipeline.commands) if lean else pipeline.execute()
            )
        except NoScriptError as error:
            if again:
                self._step_aside(operation, error)
                return None
            # Redis lost its scripts (a restart, SCRIPT FLUSH): the whole pipeline again, every
            # script with its text. Sending it twice changes nothing: reads read again, and a
            # fill's guard drops what it already did.
            self._scripts.clear()
            return await self._send(operation, queue, again=True)
        except (RedisError, RedisClusterException, OSError, TimeoutError) as error:
            self._step_aside(operation, error)
            return None
        self._scripts |= loading
        return results

    async def _exchange(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """The commands on one of the store's own connections, their replies as Redis sent
        them: redis-py's pipeline, for the three reads of an executed Portfolio, cost 15% of
        its CPU (its command stack, reply callbacks, health checks), about half of it saved
        here. Replies are read to the last before the first error is raised, as the pipeline
        does, so the connection stays in step; a connection that failed is dropped, and when
        one Redis closed fails (a restart closes them all), every idle one is dropped and the
        exchange is sent once more on a new connection, as the client's one retry would.

        The connections are the store's (`_Idle`), not checked out of redis-py's pool per
        exchange: its checkout (a connect check, a readability probe, retry wrappers,
        observability awaits) and the timeouts redis-py puts on each write (a task, by
        asyncio.wait_for) and on each reply were a third of an exchange's CPU. One deadline
        bounds the whole exchange instead (REDIS_TIMEOUT), and the store's connections are
        in step whenever idle: any failure but a command's own error drops the connection.
        """
        assert isinstance(self.client, Redis)  # a cluster takes the pipeline
        packed = _packed(commands)
        for attempt in (1, 2):
            connection = self._idle.take()
            failed: ResponseError | None = None
            try:
                async with asyncio.timeout(self.timeout):
                    await connection.send_packed_command(packed, check_health=False)
                    replies: list[Any] = []
                    for _ in commands:
                        try:
                            replies.append(await connection.read_response())
                        except ResponseError as error:
                            failed = failed or error
                            replies.append(error)
            except RedisConnectionError:
                await connection.disconnect()
                await self._idle.drop()
                if attempt == 2:
                    raise
                continue
            except BaseException:
                await connection.disconnect()
                raise
            await self._idle.give_back(connection)
            if failed is not None:
                raise failed
            return replies
        raise AssertionError("unreachable")

    async def bump(self, scopes: Iterable[Scope]) -> None:
        """After a commit: new version tokens for every scope the write changed."""
        wanted = sorted(set(scopes), key=lambda s: (s.family, s.id))
        if not wanted:
            return

        def queue(pipeline: Pipeline) -> None:
            ttl = int(self.version_ttl * 1000)
            for scope in wanted:
                pipeline.set(self.keys.version(scope), new_token(), px=ttl)

        if await self.run("invalidate", queue) is None:
            self._lost += 1
            LOST_INVALIDATIONS.inc()
            log.warning("could not invalidate %d cache scopes: the epoch will move", len(wanted))
            if self._recovery is None or self._recovery.done():
                # A context of its own: these round trips belong to no request.
                self._recovery = asyncio.create_task(
                    self._move_epoch_when_back(), context=contextvars.Context()
                )

    async def _move_epoch_when_back(self) -> None:
        # The only code that moves the epoch (two movers could leave a reader believing the
        # other's token). It does not wait for a request: other processes go on serving what
        # the lost bumps made stale until the epoch moves.
        # A bump lost while the SET is in flight may land after Redis ran it: only the losses
        # counted before sending are covered, and any later one takes another round.
        while self._covered != self._lost:
            await asyncio.sleep(self.retry_after)
            target = self._lost
            moved = await self._send(
                "epoch", lambda pipeline: pipeline.set(self.keys.epoch, new_token())
            )
            if moved is not None:
                self._covered = target
                log.warning("Redis is back: moved the cache epoch to retire entries of the outage")

    async def close(self) -> None:
        if self._recovery is not None:
            self._recovery.cancel()
        await self._idle.drop()
        await self.client.aclose()

    def _step_aside(self, operation: str, error: BaseException) -> None:
        REDIS_ERRORS.labels(operation).inc()
        self._down_until = self._clock() + self.retry_after
        log.warning(
            "Redis %s failed (%s: %s); using PostgreSQL alone for %.1fs",
            operation,
            type(error).__name__,
            error,
            self.retry_after,
        )


@functools.lru_cache(maxsize=32)
def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


# Exchanges sent on the store's connections directly (single server): the request path's
# reads, fills and kept answers, whose commands are raw (MGET, scripts), GET, PTTL and SET; and
# the writes' version bumps, SETs whose replies nothing reads (a price tick of 300 markets
# spent a quarter of its CPU packing them and parsing their replies in redis-py's pipeline).
LEAN_OPERATIONS = frozenset({"read", "fill", "answer", "invalidate"})


def _packed(commands: list[tuple[Any, ...]]) -> bytes:
    """The commands in Redis's protocol, by hiredis (C): the same bytes as redis-py's packer,
    which encoded each argument in Python (a MarketsBatch's MGET of 200 names: 11% of it)."""
    return b"".join(map(hiredis.pack_command, commands))


# Idle connections the store keeps for its exchanges at most: as many as exchanges ran at once,
# up to this; the rest are closed when they come back.
IDLE_KEPT = 32


class _Idle:
    """The direct exchanges' connections: made with the client's settings but without a
    socket timeout (the exchange's one deadline bounds them), taken and given back last in,
    first out, so a quiet process uses one or two. Only connections in step come back."""

    def __init__(self, client: Redis | None) -> None:
        self._client = client
        self._connections: list[AbstractConnection] = []

    def take(self) -> AbstractConnection:
        if self._connections:
            return self._connections.pop()
        assert self._client is not None
        pool = self._client.connection_pool
        options = pool.connection_kwargs | {"socket_timeout": None}
        connection: AbstractConnection = pool.connection_class(**options)
        return connection

    async def give_back(self, connection: AbstractConnection) -> None:
        if len(self._connections) < IDLE_KEPT:
            self._connections.append(connection)
        else:
            await connection.disconnect()

    async def drop(self) -> None:
        idle, self._connections = self._connections, []
        for connection in idle:
            await connection.disconnect()


class _Commands:
    """What `queue` adds, recorded as raw commands for `_exchange` (the pipeline's methods the
    lean operations use; their replies are Redis's own: SET answers b"OK", not True)."""

    def __init__(self) -> None:
        self.commands: list[tuple[Any, ...]] = []

    def execute_command(self, *args: Any) -> None:
        self.commands.append(args)

    def get(self, name: str) -> None:
        self.commands.append(("GET", name))

    def mget(self, keys: str | Iterable[str], *more: str) -> None:
        # As redis-py's: a list of names, or the names as arguments.
        names = [keys] if isinstance(keys, str) else list(keys)
        self.commands.append(("MGET", *names, *more))

    def pttl(self, name: str) -> None:
        self.commands.append(("PTTL", name))

    def set(self, name: str, value: str | bytes, px: int | None = None) -> None:
        self.commands.append(("SET", name, value) if px is None else ("SET", name, value, "PX", px))


def connect(settings: Settings, url: str) -> CacheStore:
    """The store for a Redis URL (nothing is sent until the first command)."""
    options: dict[str, Any] = {
        "socket_timeout": settings.redis_timeout,
        "socket_connect_timeout": settings.redis_timeout,
    }
    # redis-py's own retries (with backoff) would turn one slow or dead node into seconds
    # per request; the store steps aside instead. A single server gets one immediate retry,
    # for a pooled connection that a Redis restart left dead.
    client: Client
    if settings.redis_cluster:
        client = RedisCluster.from_url(url, retry=Retry(NoBackoff(), 0), **options)
    else:
        client = Redis.from_url(url, retry=Retry(NoBackoff(), 1), **options)
    return CacheStore(
        client=client,
        keys=KeyNames(settings.cache_prefix),
        retry_after=settings.redis_retry_after,
        ttls=ttls(settings),
        decoded=DecodedEntries(settings.cache_decoded_bytes),
        timeout=settings.redis_timeout,
    )


def ttls(settings: Settings) -> dict[str, float]:
    """Seconds each TTL class of cache/read_through.Part keeps an entry."""
    return {
        "prices": settings.ttl_prices,
        "positions": settings.ttl_positions,
        "markets": settings.ttl_markets,
        "market_lists": settings.ttl_market_lists,
        "users": settings.ttl_users,
        "wallets": settings.ttl_wallets,
    }
