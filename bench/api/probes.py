"""What a run cost, read before and after it: counters of the server, PostgreSQL and Redis.

- The server's own counters (/metrics, one process only): SQL statements, Redis round trips,
  cache lookups per kind and result. The old design keeps the same metrics.
- PostgreSQL's view of the benchmark's database (pg_stat_database): transactions, which every
  system pays alike (a statement outside a transaction is one; asyncpg's pool adds its reset
  query on each release, which is one more).
- Redis's (the benchmark's own server): commands processed, from INFO commandstats.
- CPU seconds (psutil) of the server's process tree, of the PostgreSQL backends connected to the
  database, and of redis-server; resident memory of the server's tree, sampled every 0.2 s.
"""

from __future__ import annotations

import resource
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import psutil
import redis
from prometheus_client.parser import text_string_to_metric_families

Metrics = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@dataclass
class Snapshot:
    taken_at: float
    metrics: Metrics
    transactions: float
    redis_commands: float
    server_cpu: float
    postgres_cpu: dict[int, float]
    redis_cpu: float
    machine_cpu: float  # every process's, all cores
    children_cpu: float  # this process's finished children: the wrk runs


@dataclass
class Delta:
    seconds: float
    metrics: Metrics
    transactions: float
    redis_commands: float
    server_cpu: float
    postgres_cpu: float
    redis_cpu: float
    machine_cpu: float
    wrk_cpu: float

    @property
    def other_cpu(self) -> float:
        """CPU seconds spent by processes other than the server, PostgreSQL, Redis and wrk."""
        ours = self.server_cpu + self.postgres_cpu + self.redis_cpu + self.wrk_cpu
        return max(0.0, self.machine_cpu - ours)

    def metric(self, name: str, **labels: str) -> float:
        return self.metrics.get((name, tuple(sorted(labels.items()))), 0.0)

    def lookups(self) -> dict[str, tuple[float, float]]:
        """(hits, misses) per kind of cached data."""
        found: dict[str, list[float]] = {}
        for (name, labels), value in self.metrics.items():
            if name != "polycool_cache_lookups_total":
                continue
            by = dict(labels)
            pair = found.setdefault(by["kind"], [0.0, 0.0])
            pair[0 if by["result"] == "hit" else 1] += value
        return {kind: (hits, misses) for kind, (hits, misses) in found.items()}


@dataclass
class Probe:
    """Reads the counters of one running system."""

    database_url: str
    database: str
    redis_url: str
    server_pid: int
    metrics_url: str | None
    _redis: redis.Redis | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._redis = redis.Redis.from_url(self.redis_url)
        self._redis_pid = int(self._redis.info("server")["process_id"])

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()

    async def snapshot(self) -> Snapshot:
        connection = await asyncpg.connect(self.database_url)
        try:
            row = await connection.fetchrow(
                "SELECT xact_commit + xact_rollback AS transactions "
                "FROM pg_stat_database WHERE datname = current_database()"
            )
            backends = await connection.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
        finally:
            await connection.close()
        if row is None or self._redis is None:
            raise RuntimeError("the benchmark's database or Redis went away")
        stats: dict[str, Any] = self._redis.info("commandstats")
        commands = sum(float(entry["calls"]) for entry in stats.values())
        return Snapshot(
            taken_at=time.monotonic(),
            metrics=await scrape(self.metrics_url) if self.metrics_url else {},
            transactions=float(row["transactions"]),
            redis_commands=commands,
            server_cpu=tree_cpu(self.server_pid),
            postgres_cpu={b["pid"]: cpu(b["pid"]) for b in backends},
            redis_cpu=cpu(self._redis_pid),
            machine_cpu=machine_cpu(),
            children_cpu=children_cpu(),
        )


def delta(before: Snapshot, after: Snapshot) -> Delta:
    # A backend that connected during the run counts whole; one that left is lost (pools keep
    # theirs open, so this is rare).
    postgres = sum(
        seconds - before.postgres_cpu.get(pid, 0.0) for pid, seconds in after.postgres_cpu.items()
    )
    return Delta(
        seconds=after.taken_at - before.taken_at,
        metrics={k: v - before.metrics.get(k, 0.0) for k, v in after.metrics.items()},
        transactions=after.transactions - before.transactions - 1,  # the probe's own read
        # The probe's own INFO commands (one each time) are left out.
        redis_commands=after.redis_commands - before.redis_commands - 1,
        server_cpu=after.server_cpu - before.server_cpu,
        postgres_cpu=postgres,
        redis_cpu=after.redis_cpu - before.redis_cpu,
        machine_cpu=after.machine_cpu - before.machine_cpu,
        wrk_cpu=after.children_cpu - before.children_cpu,
    )


async def scrape(url: str) -> Metrics:
    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(url)).text
    found: Metrics = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def machine_cpu() -> float:
    times = psutil.cpu_times()
    return float(times.user + times.nice + times.system + times.irq + times.softirq)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu(pid: int) -> float:
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system)


def tree(pid: int) -> list[Any]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def tree_cpu(pid: int) -> float:
    total = 0.0
    for process in tree(pid):
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += float(times.user + times.system)
    return total


def tree_rss(pid: int) -> int:
    total = 0
    for process in tree(pid):
        try:
            total += int(process.memory_info().rss)
        except psutil.Error:
            continue
    return total


@contextmanager
def peak_rss(pid: int, every: float = 0.2) -> Iterator[list[int]]:
    """Samples the resident memory of `pid`'s tree while the block runs; [peak bytes]."""
    peak = [tree_rss(pid)]
    stopped = threading.Event()

    def sample() -> None:
        while not stopped.wait(every):
            peak[0] = max(peak[0], tree_rss(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peak
    finally:
        stopped.set()
        sampler.join()
        peak[0] = max(peak[0], tree_rss(pid))
