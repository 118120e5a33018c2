"""What the service measures: per-request counts for tests and logs, Prometheus for operators.

`RequestCounts` lives in a ContextVar holding a mutable object: the tasks that graphql-core and
aiodataloader spawn inherit the context, so their statements and round trips land in the
request that caused them. Only database.py and cache/ call `count_sql` / `count_redis`.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from prometheus_client import Counter, Histogram


@dataclass
class RequestCounts:
    """What one request cost: statements sent to PostgreSQL, round trips to Redis."""

    sql: int = 0
    redis: int = 0


request_counts: ContextVar[RequestCounts | None] = ContextVar("request_counts", default=None)

SQL_STATEMENTS = Counter("polycool_sql_statements_total", "SQL statements sent to PostgreSQL")
REDIS_ROUND_TRIPS = Counter("polycool_redis_round_trips_total", "Round trips to Redis")
REDIS_ERRORS = Counter(
    "polycool_redis_errors_total", "Redis commands that failed or timed out", ["operation"]
)
CACHE_LOOKUPS = Counter(
    "polycool_cache_lookups_total", "Cache lookups by kind of data and result", ["kind", "result"]
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
REQUEST_SECONDS = Histogram("polycool_request_seconds", "HTTP request duration", ["path"])


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
