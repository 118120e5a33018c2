"""What the service measures: per-request counts for tests and logs, Prometheus for operators.

With several workers (WORKERS > 1) prometheus-client runs in its multiprocess mode: `serve`
names a directory in PROMETHEUS_MULTIPROC_DIR before the workers start, each worker's metrics
live in files there, and whichever worker answers /metrics adds them all up.

`RequestCounts` lives in a ContextVar holding a mutable object: the tasks that graphql-core and
aiodataloader spawn inherit the context, so their statements and round trips land in the
request that caused them. Only sql/database.py and cache/ call `count_sql` / `count_redis`.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector


@dataclass
class RequestCounts:
    """What one request cost and did: statements, round trips, cache hits; for its log line."""

    sql: int = 0
    redis: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    operation: str | None = None


request_counts: ContextVar[RequestCounts | None] = ContextVar("request_counts", default=None)

SQL_STATEMENTS = Counter("polycool_sql_statements_total", "SQL statements sent to PostgreSQL")
REDIS_ROUND_TRIPS = Counter("polycool_redis_round_trips_total", "Round trips to Redis")
REDIS_ERRORS = Counter(
    "polycool_redis_errors_total", "Redis commands that failed or timed out", ["operation"]
)
CACHE_LOOKUPS = Counter(
    "polycool_cache_lookups_total", "Cache lookups by kind of data and result", ["kind", "result"]
)
CACHE_DECODED = Counter(
    "polycool_cache_decoded_total",
    "Cache hits by kind: decoded, or reused (the same bytes were decoded before in this process)",
    ["kind", "result"],
)
LOST_INVALIDATIONS = Counter(
    "polycool_cache_lost_invalidations_total",
    "Invalidations that could not reach Redis (answered by moving the cache epoch)",
)
LOADER_BATCH_SIZE = Histogram(
    "polycool_loader_batch_size",
    "Keys per loader batch",
    ["loader"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000),
)


@dataclass(frozen=True)
class KindMetrics:
    """A kind's children of the cache metrics, found once: `labels()` takes a lock and checks
    its arguments on every call, five times per batch."""

    batch_size: Any
    hits: Any
    misses: Any
    reused: Any
    decoded: Any


@functools.cache
def kind_metrics(kind: str) -> KindMetrics:
    return KindMetrics(
        batch_size=LOADER_BATCH_SIZE.labels(kind),
        hits=CACHE_LOOKUPS.labels(kind, "hit"),
        misses=CACHE_LOOKUPS.labels(kind, "miss"),
        reused=CACHE_DECODED.labels(kind, "reused"),
        decoded=CACHE_DECODED.labels(kind, "decoded"),
    )


REQUEST_SQL = Histogram(
    "polycool_request_sql_statements",
    "SQL statements per HTTP request",
    buckets=(0, 1, 2, 3, 4, 5, 8, 13, 21, 50),
)
REQUEST_REDIS = Histogram(
    "polycool_request_redis_round_trips",
    "Redis round trips per HTTP request",
    buckets=(0, 1, 2, 3, 4, 5, 8, 13, 21, 50),
)
POOL_CONNECTIONS = Gauge(
    "polycool_pool_connections",
    "PostgreSQL pool connections by state",
    ["state"],
    multiprocess_mode="livesum",  # several workers: the sum over the live ones
)
# By route, never by the raw path: a client could otherwise create series at will.
# "plan": a query answered by its plan; "dropped": a plan that met an error, so graphql-core
# answered; "graphql-core": no plan (mutations, introspection, EXECUTION_PLANS=false).
EXECUTIONS = Counter("polycool_executions_total", "Operations executed, by path", ["path"])
REQUEST_SECONDS = Histogram("polycool_request_seconds", "HTTP request duration by route", ["route"])


# Children found once, as kind_metrics' (a route or a path is one of a handful of labels):
# `labels()` costs 1 us a call, twice per request, for an increment of 0.4 us.
@functools.cache
def execution_path(path: str) -> Any:
    return EXECUTIONS.labels(path)


@functools.cache
def request_seconds(route: str) -> Any:
    return REQUEST_SECONDS.labels(route)


# The ingestion worker (ingestion/, docs/ingestion.md).
INGEST_TICKS = Counter("polycool_ingest_ticks_total", "Price ticks read from the feed")
INGEST_TICKS_COALESCED = Counter(
    "polycool_ingest_ticks_coalesced_total",
    "Ticks replaced by a newer tick of the same token before a flush wrote them",
)
INGEST_TICKS_UNTRACKED = Counter(
    "polycool_ingest_ticks_untracked_total", "Ticks of tokens the worker does not follow, dropped"
)
INGEST_MALFORMED = Counter(
    "polycool_ingest_malformed_total", "Frames or events of the feed that could not be read"
)
INGEST_REFUSED = Counter(
    "polycool_ingest_refused_prices_total",
    "Markets whose assembled prices failed the sum check (or lacked an outcome), not written",
)
INGEST_RECONNECTS = Counter(
    "polycool_ingest_reconnects_total", "Feed connections lost or refused, then retried"
)
INGEST_SUBSCRIBED_TOKENS = Gauge(
    "polycool_ingest_subscribed_tokens", "Token ids the worker follows on the feed"
)
INGEST_FLUSH_MARKETS = Histogram(
    "polycool_ingest_flush_markets",
    "Markets written per flush",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000),
)
INGEST_FLUSH_SECONDS = Histogram(
    "polycool_ingest_flush_seconds",
    "Duration of a flush: write, TP/SL, commit, cache invalidation",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
INGEST_FLUSH_STATEMENTS = Histogram(
    "polycool_ingest_flush_statements",
    "SQL statements per flush",
    buckets=(0, 1, 2, 3, 4, 5, 10),
)
INGEST_FLUSH_FAILURES = Counter(
    "polycool_ingest_flush_failures_total", "Flushes that failed (their prices were kept)"
)
INGEST_LAG_SECONDS = Histogram(
    "polycool_ingest_tick_to_commit_seconds",
    "Per written market: from the arrival of its oldest unwritten tick to the flush's commit",
    buckets=(0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30),
)
INGEST_SHARDS = Gauge(
    "polycool_ingest_shards",
    "Feed connections the followed tokens are sharded over (INGEST_TOKENS_PER_CONNECTION each)",
)
INGEST_CONNECTIONS_OPEN = Gauge(
    "polycool_ingest_connections_open", "Feed connections open now (at most one per shard)"
)
INGEST_SHARD_MOVES = Counter(
    "polycool_ingest_shard_moves_total",
    "Tokens subscribed on one shard's connection after leaving another's (compaction)",
)
INGEST_RESOLUTIONS = Counter(
    "polycool_ingest_resolutions_total",
    "market_resolved events by result: resolved, unchanged (already so), rejected, unknown",
    ["result"],
)
TRIGGERS_RELAYED = Counter(
    "polycool_triggers_relayed_total", "Triggered TP/SL levels published to the Redis stream"
)
TRIGGER_RELAY_FAILURES = Counter(
    "polycool_trigger_relay_failures_total",
    "Relays of triggered levels that failed (the levels wait in the outbox)",
)


def count_sql() -> None:
    SQL_STATEMENTS.inc()
    counts = request_counts.get()
    if counts is not None:
        counts.sql += 1


def count_redis() -> None:
    REDIS_ROUND_TRIPS.inc()
    counts = request_counts.get()
    if counts is not None:
        counts.redis += 1


def watch_pool(pool: Any, every: float | None) -> asyncio.Task[None] | None:
    """Pool gauges (asyncpg keeps the numbers). One process: read when /metrics is scraped.
    Several workers: /metrics reads what each worker wrote to the multiprocess directory, where
    a gauge's function cannot run, so each worker writes its numbers `every` seconds instead."""
    states = {"open": pool.get_size, "idle": pool.get_idle_size, "max": pool.get_max_size}
    if every is None:
        for state, read in states.items():
            POOL_CONNECTIONS.labels(state).set_function(read)
        return None

    async def write_every() -> None:
        while True:
            for state, read in states.items():
                POOL_CONNECTIONS.labels(state).set(read())
            await asyncio.sleep(every)

    return asyncio.create_task(write_every(), context=contextvars.Context())


def exposition(metrics_dir: Path | None) -> bytes:
    """/metrics: this process's registry, or with several workers all of theirs, summed."""
    if metrics_dir is None:
        return generate_latest()
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(metrics_dir))  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def count_cache(hits: int, misses: int) -> None:
    counts = request_counts.get()
    if counts is not None:
        counts.cache_hits += hits
        counts.cache_misses += misses
