"""Read-through for a loader's batch: one MGET round, one SQL for the misses, one fill round.

An entry is stored as `token|epoch|json`. It is a hit only when its token equals its scope's
current version and its epoch the current epoch; the MGET that reads it reads the version too.

Why a stale fill cannot win: the version a reader saw *before* its SQL travels with the fill,
and the fill is a script that writes only if the version is still that one. A write bumps the
version after it commits, so a reader whose SQL ran before the commit either finds the
version moved (the fill is dropped) or fills first and is then retired by the bump. When the
version key is missing (never set, expired, evicted) the fill creates it with a fresh token,
unless a bump created it in between.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Generic, TypeVar

from cache.keys import Scope
from cache.kinds import Kind
from cache.store import CacheStore, Pipeline, new_token
from telemetry.metrics import count_cache, kind_metrics

K = TypeVar("K", bound=Hashable)

# One script per batch (per hash tag on a cluster). KEYS, per item: its version (kinds with a
# scope only), then its entry. ARGV: the epoch, the entries' TTL and the versions' TTL (ms; ""
# for a kind without versions), then per item: the version seen before the SQL ("" if none), a
# fresh token, the payload. The versions are read with one MGET (in slices: unpack() of
# thousands of names would overflow Lua's stack); `current` follows those the script creates.
# Items of a batch that share a scope (the wallets' feed pages, say) carry the same fresh token:
# the first creates the version, the others find it holding their token and write too; a bump
# in between leaves a token none of them carries.
FILL = """
local epoch, ttl, version_ttl = ARGV[1], ARGV[2], ARGV[3]
local count = (#ARGV - 3) / 3
if version_ttl == '' then
  for i = 1, count do
    redis.call('SET', KEYS[i], '-|' .. epoch .. '|' .. ARGV[3 * i + 3], 'PX', ttl)
  end
  return count
end
local current = {}
for first = 1, count, 1000 do
  local last = math.min(first + 999, count)
  local names = {}
  for i = first, last do
    names[#names + 1] = KEYS[2 * i - 1]
  end
  local tokens = redis.call('MGET', unpack(names))
  for i = first, last do
    current[KEYS[2 * i - 1]] = tokens[i - first + 1]
  end
end
for i = 1, count do
  local version, seen, fresh = KEYS[2 * i - 1], ARGV[3 * i + 1], ARGV[3 * i + 2]
  local token = nil
  if current[version] == false and seen == '' then
    redis.call('SET', version, fresh, 'PX', version_ttl)
    current[version] = fresh
    token = fresh
  elseif current[version] == seen then
    redis.call('PEXPIRE', version, version_ttl)
    token = current[version]
  elseif seen == '' and current[version] == fresh then
    token = fresh
  end
  if token then
    redis.call('SET', KEYS[2 * i], token .. '|' .. epoch .. '|' .. ARGV[3 * i + 3], 'PX', ttl)
  end
end
return count
"""


# CacheSession.at_once's answer when the batch has to read the key.
NOT_AT_ONCE: Any = object()

# Keys whose Redis names are kept (about 200 bytes each); all dropped at once when full.
NAMES_KEPT = 100_000

# Entries a refresh fills per pipeline.
REFRESH_SLICE = 200


@dataclass
class _Item(Generic[K]):
    key: K
    tag: str
    version: str | None
    entry: str
    seen: str = ""

    @cached_property
    def fresh(self) -> str:
        """The token a fill creates the version with when none existed (the script's `fresh`);
        drawn only for a miss (os.urandom for every hit was 1.6% of an executed Portfolio)."""
        return new_token()


@dataclass
class Reads:
    """What one request's answer rests on, for cache/answers.py.

    `versions`: each version key it relied on and the token it saw ("" for a key that must stay
    absent). `ttl`: seconds the answer may be kept, the least of what it read. `complete` is
    False once something it read cannot be re-checked later (Redis away, a fill that failed, or
    TTL-only data whose remaining life is unknown).
    """

    versions: dict[str, str] = field(default_factory=dict)
    ttl: float = float("inf")
    complete: bool = True


@dataclass
class CacheSession:
    """One request's view of the cache: the epoch it read first, kept for the request."""

    store: CacheStore
    epoch: str | None = None
    reads: Reads = field(default_factory=Reads)
    # Names to read with the first read (cache/read_ahead.py), then what they held, until a
    # read of the same name takes it; and, for a request that reads ahead, every name its
    # reads needed, in order (None: nothing records them).
    ahead: tuple[str, ...] = ()
    read_early: dict[str, bytes | None] = field(default_factory=dict)
    needed: dict[str, None] | None = None
    # Hits answered at once and not yet in the metrics, by kind: [decoded, reused].
    at_once_hits: dict[str, list[int]] = field(default_factory=dict)

    async def read_through(
        self,
        kind: Kind[K],
        keys: Sequence[K],
        fetch_missing: Callable[[list[K]], Awaitable[Mapping[K, Any]]],
    ) -> dict[K, Any]:
        """Values for the keys found (cache, else one fetch_missing call); absent keys left out."""
        items = [self._item(kind, key) for key in dict.fromkeys(keys)]
        metrics = kind_metrics(kind.name)
        metrics.batch_size.observe(len(items))
        found: dict[K, Any] = {}
        read = await self._read(items)
        # Redis unreachable (None): nothing read, so every key misses.
        values, remaining = read if read is not None else ({}, {})
        misses: list[_Item[K]] = []
        reused = self.store.decoded.reused
        hit, versions, versioned = self._hit, self.reads.versions, False
        for item in items:
            value, item.seen = hit(item.version, item.entry, values)
            if value is None:
                misses.append(item)
                continue
            found[item.key] = value
            if item.version is not None:
                # The answer rests on the token seen, and lives no longer than the kind's TTL
                # (once, after the loop): a call less for each of a MarketsBatch's hundred.
                versions[item.version] = item.seen
                versioned = True
            else:
                self._note_unversioned_hit(remaining.get(item.entry, 0))
        if versioned:
            self.reads.ttl = min(self.reads.ttl, self.store.ttls[kind.ttl])
        if found:
            reused = self.store.decoded.reused - reused
            metrics.reused.inc(reused)
            metrics.decoded.inc(len(found) - reused)
        metrics.hits.inc(len(found))
        metrics.misses.inc(len(misses))
        count_cache(hits=len(found), misses=len(misses))
        if not misses:
            return found
        fetched = await fetch_missing([item.key for item in misses])
        found.update(fetched)
        fill = [item for item in misses if item.key in fetched]
        _share_fresh_tokens(misses)
        self._note_misses(kind, misses, fetched)
        if read is not None and fill:
            if self.store.before_fill is not None:
                await self.store.before_fill(kind.name)
            await self._fill(kind, fill, fetched)
        return found

    def at_once(self, kind: Kind[K], key: K) -> Any:
        """The key's value from what this request read ahead, checked as a batch would check
        it, without waiting for a batch; NOT_AT_ONCE unless it is a hit there (a miss, a name
        not read ahead, an entry without a version: the batch reads, fetches and fills it).
        Nothing is taken from what was read ahead: another key of the same scope may need the
        same version."""
        early = self.read_early  # read in the request's first round trip, with the epoch
        # _item's names and a hit's notes for a versioned key in line, and no _Item: ten
        # markets a Portfolio come this way (docs/benchmarks.md).
        store = self.store
        names = store.names.get((kind.entry_name, key))
        if names is None:
            made = self._item(kind, key)  # its names made and kept, once per process
            names = (made.tag, made.version, made.entry)
        _, version, entry = names
        if version is None or entry not in early or version not in early:
            return NOT_AT_ONCE
        reused = store.decoded.reused
        value, seen = self._hit(version, entry, early)
        if value is None:
            return NOT_AT_ONCE
        if self.needed is not None:
            self.needed[entry] = self.needed[version] = None
        reads = self.reads
        reads.versions[version] = seen
        reads.ttl = min(reads.ttl, store.ttls[kind.ttl])
        tally = self.at_once_hits.get(kind.name)
        if tally is None:
            tally = self.at_once_hits[kind.name] = [0, 0]
        tally[store.decoded.reused != reused] += 1
        return value

    def count_at_once(self) -> None:
        """Into the cache metrics and the request's counts (its log line): the hits answered
        at once so far, a counter increment per kind rather than three per key (3% of an
        executed Portfolio-20's instructions), and one count for the request."""
        hits = 0
        for name, (decoded, reused) in self.at_once_hits.items():
            metrics = kind_metrics(name)
            metrics.hits.inc(decoded + reused)
            metrics.decoded.inc(decoded)
            metrics.reused.inc(reused)
            hits += decoded + reused
        if hits:
            count_cache(hits=hits, misses=0)
        self.at_once_hits.clear()

    async def refresh(
        self,
        kind: Kind[K],
        keys: Sequence[K],
        fetch: Callable[[list[K]], Awaitable[Mapping[K, Any]]],
    ) -> int:
        """Read `keys` from PostgreSQL again and fill them, cached or not; how many were filled.

        The same order as a miss (versions and epoch first, then one SQL, then the guarded
        fill), so a write that lands meanwhile drops the fill. Not a lookup: no hit or miss
        is counted, and answers resting on these versions stay valid.
        """
        items = [self._item(kind, key) for key in dict.fromkeys(keys)]
        read = await self._read(items, entries=False)
        if read is None:
            return 0
        versions, _ = read
        for item in items:
            if item.version is not None:
                current = versions.get(item.version)
                item.seen = current.decode() if current is not None else ""
        fetched = await fetch([item.key for item in items])
        fill = [item for item in items if item.key in fetched]
        if fill and self.store.before_fill is not None:
            await self.store.before_fill(kind.name)
        # In slices: encoding thousands of rows at once would hold the event loop (and every
        # request waiting on it) for tens of milliseconds; each slice's round trip lets them in.
        for first in range(0, len(fill), REFRESH_SLICE):
            await self._fill(kind, fill[first : first + REFRESH_SLICE], fetched)
        return len(fill)

    def _note_unversioned_hit(self, remaining_ms: int) -> None:
        reads = self.reads
        if remaining_ms > 0:
            # No write retires TTL-only data: an answer built on it lives no longer than it.
            reads.ttl = min(reads.ttl, remaining_ms / 1000)
        else:
            reads.complete = False

    def _note_misses(self, kind: Kind[K], misses: list[_Item[K]], fetched: Mapping[K, Any]) -> None:
        reads = self.reads
        reads.ttl = min(reads.ttl, self.store.ttls[kind.ttl])
        for item in misses:
            if item.version is not None:
                # Filled under the token seen, or created with `fresh`; an absent key stays
                # absent until a write creates it. Either way the version tells later readers.
                filled = item.key in fetched and not item.seen
                if filled:
                    reads.versions[item.version] = item.fresh
                elif item.seen or item.version not in reads.versions:
                    # Not over the token a sibling under the same scope creates the version
                    # with: the answer rests on that token, for this absent key too.
                    reads.versions[item.version] = item.seen
            elif item.key not in fetched:
                reads.complete = False  # nothing would tell that it appeared

    def _item(self, kind: Kind[K], key: K) -> _Item[K]:
        # A key's Redis names never change: made once per process (6% of a 100-market batch).
        known = self.store.names
        found = known.get((kind.entry_name, key))
        if found is None:
            if len(known) >= NAMES_KEPT:
                known.clear()
            found = known[(kind.entry_name, key)] = self._names(kind, key)
        return _Item(key, *found)

    def _names(self, kind: Kind[K], key: K) -> tuple[str, str | None, str]:
        """The key's hash tag, its scope's version (None without a scope) and its entry."""
        names = self.store.keys
        entry_name = kind.name_of(key)
        if kind.family is not None:
            scope = Scope(kind.family, kind.scope_of(key))
            tag = names.tag(scope.family, scope.id)
            version: str | None = names.version(scope)
        else:
            tag, version = names.tag(kind.name, entry_name), None
        return tag, version, names.entry(tag, kind.entry_name, entry_name)

    async def _read(
        self, items: list[_Item[K]], entries: bool = True
    ) -> tuple[dict[str, bytes | None], dict[str, int]] | None:
        """Every entry and version of the batch, and the epoch if not known yet, in one round
        trip: one MGET on a single server, one per hash tag on a cluster (store.groups).

        With them, the remaining life (PTTL, ms) of entries no version guards, for answers.
        With `entries` False, the versions alone (a refresh rewrites the entries anyway).
        """
        wanted: dict[str, None] = {}
        for item in items:
            if entries:
                wanted[item.entry] = None
            if item.version is not None:
                wanted[item.version] = None
        unversioned = [item.entry for item in items if item.version is None and entries]
        if self.needed is not None:
            self.needed.update(wanted)
        values: dict[str, bytes | None] = {}
        if self.read_early:
            # Read ahead in this request: taken as read now (but entries whose remaining life
            # an answer needs, which only a PTTL now tells).
            early, keep = self.read_early, set(unversioned)
            for name in [name for name in wanted if name in early and name not in keep]:
                values[name] = early.pop(name)
                del wanted[name]
            if not wanted and not unversioned and self.epoch is not None:
                return values, {}
        ahead = [name for name in self.ahead if name not in wanted]
        self.ahead = ()
        epoch_key = self.store.keys.epoch
        groups = self.store.groups([*wanted, *ahead])
        ask_epoch = self.epoch is None
        if ask_epoch:
            # On a cluster the epoch is a slot of its own: a command of its own.
            if groups and not self.store.cluster:
                groups[0].insert(0, epoch_key)
            else:
                groups.insert(0, [epoch_key])

        def queue(pipeline: Pipeline) -> None:
            for names in groups:
                # Not pipeline.mget: redis-py's ClusterPipeline refuses it outright (one tag's
                # keys share a slot, so the raw command is routed to its node like any other).
                pipeline.execute_command("MGET", *names)
            for entry in unversioned:
                pipeline.pttl(entry)

        results = await self.store.run("read", queue)
        if results is None:
            self.reads.complete = False
            return None
        remaining = dict(zip(unversioned, results[len(groups) :], strict=True))
        for names, answer in zip(groups, results, strict=False):
            values.update(zip(names, answer, strict=True))
        if ask_epoch:
            epoch = values.pop(epoch_key)
            self.epoch = epoch.decode() if epoch is not None else "0"
        for name in ahead:
            self.read_early[name] = values.pop(name)
        return values, remaining

    def _hit(
        self, version: str | None, entry: str, read: dict[str, bytes | None]
    ) -> tuple[Any, str]:
        """The entry's value if it was filled under its version's current token in this epoch,
        else None; and the token seen ("" for a version absent or a key without one)."""
        if version is not None:
            current = read.get(version)
            seen = current.decode() if current is not None else ""
            if not seen:
                return None, seen
            expected = seen
        else:
            seen, expected = "", "-"
        raw = read.get(entry)
        if raw is None:
            return None, seen
        token, epoch, payload = raw.split(b"|", 2)
        if token.decode() != expected or epoch.decode() != self.epoch:
            return None, seen
        return self.store.decoded.decode(entry, raw, payload), seen

    async def _fill(self, kind: Kind[K], items: list[_Item[K]], rows: Mapping[K, Any]) -> None:
        """One FILL script for the batch on a single server, one per hash tag on a cluster."""
        store = self.store
        groups: dict[str, list[_Item[K]]] = {}
        for item in items:
            groups.setdefault(item.tag if store.cluster else "", []).append(item)
        head = [
            self.epoch or "0",
            str(int(store.ttls[kind.ttl] * 1000)),
            "" if kind.family is None else str(int(store.version_ttl * 1000)),
        ]
        scripts: list[tuple[list[str], list[str | bytes]]] = []
        for group in groups.values():
            keys: list[str] = []
            args: list[str | bytes] = list(head)
            for item in group:
                if item.version is not None:
                    keys.append(item.version)
                keys.append(item.entry)
                args += [item.seen, item.fresh, kind.payload(rows[item.key])]
            scripts.append((keys, args))

        def queue(pipeline: Pipeline) -> None:
            for keys, args in scripts:
                store.script(pipeline, FILL, keys, args)

        if await store.run("fill", queue) is None:
            self.reads.complete = False


def _share_fresh_tokens(items: list[_Item[K]]) -> None:
    """One fresh token per version missing from Redis, for every item of the batch under it:
    the fill creates the version once, and the answer notes one token for it, not the last
    item's (several entries under one scope: feed pages, leaderboard pages, wallets)."""
    tokens: dict[str, str] = {}
    for item in items:
        if item.version is not None and not item.seen:
            item.fresh = tokens.setdefault(item.version, item.fresh)
