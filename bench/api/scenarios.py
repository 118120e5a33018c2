"""The scenarios' request bodies, and one measured point: warm-up, counters, wrk, counters.

A point is one system, one scenario, one concurrency: `warmup` seconds of the same load
(discarded), then `seconds` measured, with the counters read on both sides and the server's
memory sampled throughout. For the service and the old design, one more request afterwards
carries X-Debug-Counts, so the table shows what a single request costs in that state.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.api.data import CLAIMABLE, BenchData
from bench.api.documents import (
    POSTGRAPHILE_CLAIMABLE,
    POSTGRAPHILE_LEADERBOARD,
    POSTGRAPHILE_MARKETS_BATCH,
    POSTGRAPHILE_PORTFOLIO,
    POSTGRAPHILE_SMART_TRADES,
    POSTGRAPHILE_TRADE_HISTORY,
    POSTGRAPHILE_TRENDING,
    body,
)
from bench.api.load import run_wrk, write_bodies
from bench.api.probes import Delta, Probe, delta, peak_rss
from bench.api.servers import Kind, Running

BATCH_SIZE = 100
BATCHES = 10
TRENDING_FIRST = 20
PAGE_FIRST = 20  # TradeHistory's, SmartTrades' and Leaderboard's first page
ENOUGH = 40  # answers a point should rest on (see measure)


@dataclass(frozen=True)
class Scenario:
    # "Portfolio", "MarketsBatch", "TrendingMarkets", "Mixed", and issue 12's "Claimable",
    # "TradeHistory", "SmartTrades", "Leaderboard"
    name: str
    positions: int | None = None

    @property
    def label(self) -> str:
        if self.name == "Portfolio":
            return f"Portfolio, {self.positions} positions"
        if self.name == "MarketsBatch":
            return f"MarketsBatch, {BATCH_SIZE} ids"
        if self.name == "TrendingMarkets":
            return f"TrendingMarkets, first {TRENDING_FIRST}"
        if self.name == "Claimable":
            return f"Claimable, {CLAIMABLE} positions in resolved markets (of {2 * CLAIMABLE})"
        if self.name == "TradeHistory":
            return f"TradeHistory, first {PAGE_FIRST}"
        if self.name == "SmartTrades":
            return f"SmartTrades, first {PAGE_FIRST} (default filters)"
        if self.name == "Leaderboard":
            return f"Leaderboard by SMARTSCORE, first {PAGE_FIRST}"
        return self.name


@dataclass
class Point:
    system: str
    scenario: str
    positions: int | None
    concurrency: int
    rps: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    requests: int
    failed: int
    socket_errors: int
    seconds: float
    # The server's own counters (None where it has none: PostGraphile, several workers).
    sql_per_request: float | None
    redis_round_trips_per_request: float | None
    # PostgreSQL's and Redis's own view, for every system alike.
    transactions_per_request: float
    transactions_per_second: float
    redis_commands_per_request: float
    server_cpu_ms_per_request: float
    postgres_cpu_ms_per_request: float
    redis_cpu_ms_per_request: float
    peak_rss_mb: float
    lookups: dict[str, tuple[float, float]] = field(default_factory=dict)
    sample_counts: dict[str, int] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def hit_ratio(self) -> float | None:
        """Every lookup, the service's whole answers (kind "answer") included."""
        return _ratio(self.lookups.values())

    @property
    def data_hit_ratio(self) -> float | None:
        """Lookups of data (users, positions, markets...): what the old design has too. With
        answers kept, these happen only when an answer missed, i.e. after something changed."""
        return _ratio(v for kind, v in self.lookups.items() if kind != "answer")


def _ratio(pairs: Iterable[tuple[float, float]]) -> float | None:
    counted = list(pairs)
    hits = sum(h for h, _ in counted)
    total = sum(h + m for h, m in counted)
    return hits / total if total else None


class Bodies:
    """Request files for every (kind of system, scenario), written once per run."""

    def __init__(self, data: BenchData, documents: dict[str, str], folder: Path, seed: int) -> None:
        self.data = data
        self.documents = documents
        self.folder = folder
        rng = random.Random(seed)
        ids = [market_id for market_id, _ in data.markets]
        self.batches = [rng.sample(ids, BATCH_SIZE) for _ in range(BATCHES)]

    def path(self, kind: Kind, scenario: Scenario) -> Path:
        flavour = "postgraphile" if kind == "postgraphile" else "contract"
        path = self.folder / f"{flavour}-{scenario.name}-{scenario.positions}.jsonl"
        if not path.exists():
            write_bodies(path, self.bodies(flavour == "postgraphile", scenario))
        return path

    def bodies(self, postgraphile: bool, scenario: Scenario) -> list[bytes]:
        documents = self.documents
        if scenario.name == "Portfolio":
            assert scenario.positions is not None
            users = self.data.by_size[scenario.positions]
            query = POSTGRAPHILE_PORTFOLIO if postgraphile else documents["Portfolio"]
            return [body(query, {"telegramId": str(t)}) for t in users]
        if scenario.name == "MarketsBatch":
            query = POSTGRAPHILE_MARKETS_BATCH if postgraphile else documents["MarketsBatch"]
            return [body(query, {"ids": batch}) for batch in self.batches]
        if scenario.name == "TrendingMarkets":
            query = POSTGRAPHILE_TRENDING if postgraphile else documents["TrendingMarkets"]
            return [body(query, {"first": TRENDING_FIRST})]
        # Issue 12's: the settled users' screens (bench/api/data.py), the shared feed's and
        # leaderboard's first pages.
        settled = self.data.settled
        if scenario.name == "Claimable":
            query = POSTGRAPHILE_CLAIMABLE if postgraphile else documents["Claimable"]
            return [body(query, {"telegramId": str(t)}) for t in settled]
        if scenario.name == "TradeHistory":
            query = POSTGRAPHILE_TRADE_HISTORY if postgraphile else documents["TradeHistory"]
            return [body(query, {"telegramId": str(t), "first": PAGE_FIRST}) for t in settled]
        if scenario.name == "SmartTrades":
            query = POSTGRAPHILE_SMART_TRADES if postgraphile else documents["SmartTrades"]
            return [body(query, {"first": PAGE_FIRST})]
        if scenario.name == "Leaderboard":
            if postgraphile:
                return [body(POSTGRAPHILE_LEADERBOARD, {"first": PAGE_FIRST})]
            return [body(documents["Leaderboard"], {"by": "SMARTSCORE", "first": PAGE_FIRST})]
        raise ValueError(f"no bodies for {scenario}")


async def measure(
    running: Running,
    probe: Probe,
    scenario: Scenario,
    bodies: Path,
    *,
    concurrency: int,
    seconds: float,
    warmup: float,
    script: Path,
    longest: float = 20.0,
) -> Point:
    url = running.base_url
    if warmup > 0:
        warm = await asyncio.to_thread(
            run_wrk, url, bodies, connections=concurrency, seconds=warmup, script=script
        )
        # A slow point runs longer, up to `longest`, so that its percentiles rest on at least
        # ENOUGH answers (wrk measures from the first request, so leftovers of the warm-up
        # that are still running count against the point).
        if warm.rps * seconds < ENOUGH:
            seconds = min(longest, max(seconds, ENOUGH / max(warm.rps, 1e-9)))
    before = await probe.snapshot()
    with peak_rss(running.pid) as peak:
        result = await asyncio.to_thread(
            run_wrk, url, bodies, connections=concurrency, seconds=seconds, script=script
        )
    after = await probe.snapshot()
    change = delta(before, after)
    requests = max(1, result.requests)
    counted = running.system.counted
    point = Point(
        system=running.system.key,
        scenario=scenario.name,
        positions=scenario.positions,
        concurrency=concurrency,
        rps=result.rps,
        p50_ms=result.p50_ms,
        p90_ms=result.p90_ms,
        p95_ms=result.p95_ms,
        p99_ms=result.p99_ms,
        max_ms=result.max_ms,
        requests=result.requests,
        failed=result.failed,
        socket_errors=result.socket_errors,
        seconds=result.seconds,
        sql_per_request=(
            change.metric("polycool_sql_statements_total") / requests if counted else None
        ),
        redis_round_trips_per_request=(
            change.metric("polycool_redis_round_trips_total") / requests if counted else None
        ),
        transactions_per_request=change.transactions / requests,
        transactions_per_second=change.transactions / max(change.seconds, 1e-9),
        redis_commands_per_request=change.redis_commands / requests,
        server_cpu_ms_per_request=change.server_cpu * 1000 / requests,
        postgres_cpu_ms_per_request=change.postgres_cpu * 1000 / requests,
        redis_cpu_ms_per_request=change.redis_cpu * 1000 / requests,
        peak_rss_mb=peak[0] / 2**20,
        lookups=change.lookups() if counted else {},
        extra={
            "wrk_cpu_ms_per_request": change.wrk_cpu * 1000 / requests,
            # Cores' worth of CPU used meanwhile by anything else on the machine.
            "other_cpu_cores": change.other_cpu / max(change.seconds, 1e-9),
            # Python's cyclic garbage collector in the server (prometheus-client's own
            # collector, one process): its full collections scan every object the process
            # keeps, and what it frees is what reference cycles held.
            **(garbage(change, requests) if counted else {}),
        },
    )
    if running.system.kind != "postgraphile":
        point.sample_counts = await debug_counts(url, bodies)
    return point


def garbage(change: Delta, requests: int) -> dict[str, float]:
    full = change.metric("python_gc_collections_total", generation="2")
    freed = sum(
        change.metric("python_gc_objects_collected_total", generation=str(generation))
        for generation in range(3)
    )
    return {
        "full_collections_per_second": full / max(change.seconds, 1e-9),
        "cyclic_garbage_per_request": freed / requests,
    }


async def debug_counts(url: str, bodies: Path) -> dict[str, int] | None:
    """What one more request costs now, by the server's own count (X-Debug-Counts)."""
    first = first_body(bodies)
    async with httpx.AsyncClient(base_url=url, timeout=180) as client:
        answer = await client.post(
            "/graphql",
            content=first,
            headers={"Content-Type": "application/json", "X-Debug-Counts": "1"},
        )
    counts: dict[str, int] | None = orjson.loads(answer.content).get("extensions", {}).get("counts")
    return counts


async def answer(url: str, bodies: Path) -> Any:
    """The JSON answer to the first body of a file (to check that systems agree)."""
    first = first_body(bodies)
    async with httpx.AsyncClient(base_url=url, timeout=180) as client:
        response = await client.post(
            "/graphql", content=first, headers={"Content-Type": "application/json"}
        )
    return orjson.loads(response.content)


def first_body(bodies: Path) -> bytes:
    with bodies.open("rb") as file:
        return file.readline().rstrip(b"\n")
