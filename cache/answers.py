"""Whole answers of read-only operations, served again while nothing they read has changed.

A warm Portfolio spent most of its CPU executing the document field by field (graphql-core,
Strawberry) over data that was already in Redis. The answer cache keeps the response body of a
query together with the version token of every scope its loaders read (cache/read_through.Reads)
and the epoch. A later identical request (same document, operation, variables and role) gets
the stored bytes if every one of those versions still holds the token it saw: one round trip
(a script reads the answer and checks its versions where they are), no parsing, no execution,
no SQL.

Why this is as fresh as the loaders: an answer is only ever built from entries that were
current under the tokens it records (or from SQL read after seeing them), and every write bumps
the versions of what it changed after its commit and before it returns. So once a mutation has
returned, every answer that read something it changed fails the check; one user's trade does
not touch another user's answers unless they read the same scope (a market's price). Nothing is
deleted: failed answers are overwritten or expire.

What is not kept: mutations, answers with errors, and any answer whose reads cannot be checked
later (Redis was away, a fill failed, TTL-only data without its remaining life). An answer
lives no longer than the shortest TTL class it read, and no longer than TTL-only data it read.

Requests that miss the same answer at once (a big portfolio's answer expiring under load) do
not all execute it: in each process the first one leads, the others wait for it and then look
again, which re-checks every version, so a waiter still never gets what a write it saw retired.

Redis Cluster: a script may only touch keys of one slot, and an answer's versions live in the
slots of their scopes. There the answer (with the epoch) is read first, then the versions with
one MGET per hash tag, all in one pipeline, as the loaders read them: two round trips.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from redis.asyncio.cluster import RedisCluster

from cache.keys import group_by_tag
from cache.read_through import CacheSession
from cache.store import CacheStore, Pipeline
from telemetry.metrics import CACHE_LOOKUPS, count_cache

# KEYS: the answer, the epoch. Returns {epoch, body}; body is nil unless the answer exists, was
# kept under the current epoch, and every version its header names still holds its token ("" in
# the header: the key must be absent). Single server only: the versions are not in KEYS. MGET in
# slices, since unpack() of thousands of names would overflow Lua's stack.
FIND = """
local found = redis.call('MGET', KEYS[1], KEYS[2])
local stored, epoch = found[1], found[2]
if not stored then return {epoch, false} end
local newline = string.find(stored, '\\n', 1, true)
local header = cjson.decode(string.sub(stored, 1, newline - 1))
if header[1] ~= (epoch or '0') then return {epoch, false} end
local versions, tokens = header[2], header[3]
for first = 1, #versions, 200 do
  local last = math.min(first + 199, #versions)
  local current = redis.call('MGET', unpack(versions, first, last))
  for i = first, last do
    if (current[i - first + 1] or '') ~= tokens[i] then return {epoch, false} end
  end
end
return {epoch, string.sub(stored, newline + 1)}
"""

# Seconds a request waits for an identical one to finish executing before executing itself.
LEADER_WAIT = 5.0


@dataclass(frozen=True)
class Question:
    """What makes two requests the same, as far as their answer goes."""

    document: str  # the document's SHA-256 (the persisted-query hash when sent by hash)
    operation: str | None
    variables: Any
    role: str | None


@dataclass(frozen=True)
class Pending:
    """A query whose answer was not kept (or no longer holds): once it has executed without
    errors, its answer is kept under `key` with what `session` read."""

    key: str
    session: CacheSession


# Whether answers pay (`Worth`): over each WINDOW look-ups of an operation, at least FOUND of
# them found; else its queries execute without looking up or keeping for PAUSE seconds.
WINDOW = 200
FOUND = 0.1
PAUSE = 10.0
# Operations tallied per process at most (all forgotten at once past it).
TALLIED = 10_000


@dataclass
class _Tally:
    asked: int = 0
    found: int = 0
    paused_until: float = 0.0


@dataclass
class Worth:
    """Whether an operation's answers are found often enough to be worth looking up and keeping.

    A kept answer costs a round trip to look it up, the encoding of the answer and a round trip
    to keep it; it pays only when the same question comes back before anything it read changes.
    When every user's markets move each second and each user asks less often than that, almost
    none is found (docs/benchmarks.md, live prices: 2.9% for 1,000 users), and both round trips
    are lost on every request. So, per process and per operation (document and name): when
    fewer than FOUND of a window's look-ups found their answer, its queries execute directly for
    PAUSE seconds, then a new window measures again. Executing is always as fresh as the
    loaders, so this decides what a request costs, never what it answers.
    """

    clock: Callable[[], float] = time.monotonic
    _tallies: dict[tuple[str, str | None], _Tally] = field(default_factory=dict)

    def asking(self, question: Question) -> bool:
        tally = self._tallies.get((question.document, question.operation))
        return tally is None or self.clock() >= tally.paused_until

    def asked(self, question: Question, found: bool) -> None:
        name = (question.document, question.operation)
        tally = self._tallies.get(name)
        if tally is None:
            if len(self._tallies) >= TALLIED:
                self._tallies.clear()
            tally = self._tallies[name] = _Tally()
        tally.asked += 1
        tally.found += found
        if tally.asked >= WINDOW:
            if tally.found < FOUND * tally.asked:
                tally.paused_until = self.clock() + PAUSE
            tally.asked = tally.found = 0


@dataclass(frozen=True)
class Answers:
    store: CacheStore
    # Changes when the schema does, so a new release never serves an old release's answers.
    release: str
    # Answers being executed in this process, by key: what identical requests wait for.
    _leaders: dict[str, asyncio.Future[None]] = field(default_factory=dict)
    worth: Worth = field(default_factory=Worth)

    async def look_up(self, session: CacheSession, question: Question) -> bytes | Pending | None:
        """The kept body, if everything it read is unchanged; else what to keep once executed;
        None when this operation's answers are seldom found (`Worth`): execute, keep nothing.

        If an identical request is executing in this process, wait for it (up to LEADER_WAIT)
        and look again, which checks every version anew; past the wait, or if it kept nothing,
        execute.
        """
        if not self.worth.asking(question):
            CACHE_LOOKUPS.labels("answer", "skipped").inc()
            return None
        key = self.key(question)
        stored = await self.find(session, key)
        leader = self._leaders.get(key) if stored is None else None
        if leader is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(leader), LEADER_WAIT)
            stored = await self.find(session, key)
        self.worth.asked(question, stored is not None)
        return Pending(key, session) if stored is None else stored

    @contextmanager
    def executing(self, pending: Pending) -> Iterator[None]:
        """Mark the answer as being executed here for the block (unless another request
        leads): identical requests wait for it rather than execute it too."""
        if pending.key in self._leaders:
            yield
            return
        future = self._leaders[pending.key] = asyncio.get_running_loop().create_future()
        try:
            yield
        finally:
            del self._leaders[pending.key]
            future.set_result(None)

    def key(self, question: Question) -> str:
        q = question
        material = orjson.dumps(
            [self.release, q.document, q.operation, q.variables, q.role],
            option=orjson.OPT_SORT_KEYS,
        )
        return self.store.keys.answer(hashlib.sha256(material).hexdigest())

    async def find(self, session: CacheSession, key: str) -> bytes | None:
        """The stored body if everything it read is unchanged; else None."""
        if isinstance(self.store.client, RedisCluster):
            body = await self._find_in_two_trips(session, key)
        else:
            body = await self._find_in_one_trip(session, key)
        outcome = "miss" if body is None else "hit"
        CACHE_LOOKUPS.labels("answer", outcome).inc()
        count_cache(hits=int(body is not None), misses=int(body is None))
        return body

    async def _find_in_one_trip(self, session: CacheSession, key: str) -> bytes | None:
        epoch_key = self.store.keys.epoch
        results = await self.store.run(
            "answer", lambda pipeline: self.store.script(pipeline, FIND, [key, epoch_key], [])
        )
        if results is None:
            return None
        epoch, body = results[0]
        # The request's loaders go on with this epoch: they need not ask for it again.
        session.epoch = epoch.decode() if epoch is not None else "0"
        found: bytes | None = body
        return found

    async def _find_in_two_trips(self, session: CacheSession, key: str) -> bytes | None:
        ask_epoch = session.epoch is None

        def queue(pipeline: Pipeline) -> None:
            pipeline.get(key)
            if ask_epoch:
                pipeline.get(self.store.keys.epoch)

        results = await self.store.run("answer", queue)
        if results is None:
            return None
        if ask_epoch:
            # The request's loaders go on with this epoch: they need not ask for it again.
            epoch = results[1]
            session.epoch = epoch.decode() if epoch is not None else "0"
        stored: bytes | None = results[0]
        return None if stored is None else await self._checked(session, stored)

    async def _checked(self, session: CacheSession, stored: bytes) -> bytes | None:
        header, body = stored.split(b"\n", 1)
        epoch, versions, tokens = orjson.loads(header)
        if epoch != session.epoch:
            return None
        seen = dict(zip(versions, tokens, strict=True))
        by_tag = group_by_tag(versions)

        def queue(pipeline: Pipeline) -> None:
            for names in by_tag.values():
                pipeline.execute_command("MGET", *names)

        results = await self.store.run("answer", queue) if by_tag else []
        if results is None:
            return None
        for names, current in zip(by_tag.values(), results, strict=True):
            for name, token in zip(names, current, strict=True):
                if (token.decode() if token is not None else "") != seen[name]:
                    return None
        return body

    async def keep(self, pending: Pending, body: bytes) -> None:
        """Store the answer of a query that executed without errors, if it can be re-checked."""
        session, key = pending.session, pending.key
        reads = session.reads
        if not reads.complete or session.epoch is None or not reads.ttl < float("inf"):
            return
        ttl_ms = int(reads.ttl * 1000)
        if ttl_ms <= 0:
            return
        versions = list(reads.versions)
        header = orjson.dumps([session.epoch, versions, [reads.versions[v] for v in versions]])
        await self.store.run(
            "answer", lambda pipeline: pipeline.set(key, header + b"\n" + body, px=ttl_ms)
        )


def document_id(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()
