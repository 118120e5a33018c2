"""What operators and developers see: /metrics, the debug counts, request ids, cache warming."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path

import asyncpg
import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from settings import Settings
from tests.conftest import GraphQLClient, contract_documents, serving, unique_prefix
from tests.factories import insert_positions_on_real_markets, insert_user
from tests.server_processes import start_server, stop_server, wait_healthy

DOCUMENTS = contract_documents()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_count_cache_lookups_batches_and_request_costs(
    settings: Settings, seeded: str, db: asyncpg.Connection, new_telegram_id: Callable[[], str]
) -> None:
    telegram_id = new_telegram_id()
    await insert_positions_on_real_markets(db, await insert_user(db, telegram_id), 12)
    async with serving(settings.replace(cache_prefix=unique_prefix())) as client:
        gql = GraphQLClient(client)
        before = samples((await client.get("/metrics")).text)
        await gql(DOCUMENTS, {"telegramId": telegram_id}, "Portfolio")
        await gql(DOCUMENTS, {"telegramId": telegram_id}, "Portfolio")
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = samples(response.text)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    # The first read filled the loaders' entries and left its answer; the second was that
    # answer (cache/answers.py), so no loader ran.
    assert grew("polycool_cache_lookups_total", kind="answer", result="miss") == 1
    assert grew("polycool_cache_lookups_total", kind="answer", result="hit") == 1
    assert grew("polycool_cache_lookups_total", kind="user_positions", result="miss") == 1
    assert grew("polycool_cache_lookups_total", kind="user_positions", result="hit") == 0
    assert grew("polycool_cache_lookups_total", kind="market", result="miss") >= 1
    assert grew("polycool_loader_batch_size_sum", loader="user_positions") == 1
    assert grew("polycool_loader_batch_size_count", loader="market") == 1
    assert grew("polycool_request_sql_statements_count") == 3  # two queries, one /metrics
    assert grew("polycool_request_sql_statements_sum") == 3  # cold 3, warm 0
    # Cold: the answer's look-up, 3 loader reads, 3 fills, the answer kept; warm: the answer,
    # checked against the versions it rests on by the same script.
    assert grew("polycool_redis_round_trips_total") == 8 + 1
    assert grew("polycool_sql_statements_total") == 3


async def test_debug_counts_are_for_development_only(settings: Settings, seeded: str) -> None:
    for app_env, shown in (("development", True), ("production", False)):
        changed = settings.replace(
            app_env=app_env, cursor_secret="s3cret", cache_prefix=unique_prefix()
        )
        async with serving(changed) as http:
            response = await http.post(
                "/graphql",
                json={"query": "{ trendingMarkets(first: 1) { edges { cursor } } }"},
                headers={"X-Debug-Counts": "1", "X-Request-ID": "trace-42"},
            )
        assert response.status_code == 200
        assert response.headers["x-request-id"] == "trace-42"
        assert ("counts" in (response.json().get("extensions") or {})) is shown


async def test_warming_loads_the_most_traded_markets_at_start(
    settings: Settings, seeded: str, db: asyncpg.Connection
) -> None:
    top = [
        r["id"] for r in await db.fetch("SELECT id FROM market ORDER BY volume DESC, id LIMIT 40")
    ]
    async with serving(settings.replace(cache_prefix=unique_prefix(), warm_markets=40)) as http:
        answer = await GraphQLClient(http)(DOCUMENTS, {"ids": top}, "MarketsBatch")
    assert [m["id"] for m in answer.data["markets"]] == top
    assert answer.sql == 0
    assert answer.redis == 3  # the answer cache's look-up (a miss), the loader's read, the keep


async def portfolio_lines(
    settings: Settings,
    db: asyncpg.Connection,
    telegram_id: str,
    caplog: pytest.LogCaptureFixture,
) -> list[logging.LogRecord]:
    """The request lines of the same Portfolio asked twice, of a user with 4 positions (on 2
    markets: two outcomes each in the factory)."""
    await insert_positions_on_real_markets(db, await insert_user(db, telegram_id), 4)
    request_id = f"lines-{telegram_id}"
    async with serving(settings.replace(cache_prefix=unique_prefix())) as http:
        with caplog.at_level(logging.INFO, logger="polycool.request"):
            for _ in range(2):
                await http.post(
                    "/graphql",
                    json={
                        "query": DOCUMENTS,
                        "operationName": "Portfolio",
                        "variables": {"telegramId": telegram_id},
                    },
                    headers={"X-Request-ID": request_id},
                )
    return [r for r in caplog.records if getattr(r, "request_id", None) == request_id]


async def test_each_request_logs_one_line_with_its_id_operation_costs_and_status(
    settings: Settings,
    seeded: str,
    db: asyncpg.Connection,
    new_telegram_id: Callable[[], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    cold, warm = await portfolio_lines(settings, db, new_telegram_id(), caplog)
    for line in (cold, warm):
        assert line.operation == "Portfolio"  # type: ignore[attr-defined]
        assert line.status == 200  # type: ignore[attr-defined]
        assert line.duration_ms > 0  # type: ignore[attr-defined]
    assert (cold.sql, cold.redis, cold.cache_hits) == (3, 8, 0)  # type: ignore[attr-defined]
    # The answer, the user, their ACTIVE list, and its two markets.
    assert cold.cache_misses == 1 + 1 + 1 + 2  # type: ignore[attr-defined]
    # Served as a whole answer: one hit, no loader ran.
    assert (warm.sql, warm.redis, warm.cache_misses) == (0, 1, 0)  # type: ignore[attr-defined]
    assert warm.cache_hits == 1  # type: ignore[attr-defined]


async def test_an_executed_repeat_counts_the_hits_it_answered_at_once(
    settings: Settings,
    seeded: str,
    db: asyncpg.Connection,
    new_telegram_id: Callable[[], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Without kept answers, a repeat reads everything ahead and answers the list and its
    markets at once (cache/read_through.py, at_once): its line counts those hits too."""
    executing = settings.replace(answer_cache=False)
    cold, repeat = await portfolio_lines(executing, db, new_telegram_id(), caplog)
    # The user, their ACTIVE list, and its two markets: missed once, then hits.
    assert (cold.cache_hits, cold.cache_misses) == (0, 4)  # type: ignore[attr-defined]
    assert (repeat.sql, repeat.redis) == (0, 1)  # type: ignore[attr-defined]
    assert (repeat.cache_hits, repeat.cache_misses) == (4, 0)  # type: ignore[attr-defined]


TRENDING = "{ trendingMarkets(first: 3) { edges { cursor } } }"


async def test_with_two_workers_metrics_add_up_over_both(
    seeded: str, redis_url: str, tmp_path: Path
) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {
        **os.environ,
        "DATABASE_URL": seeded,
        "REDIS_URL": redis_url,
        "APP_ENV": "test",
        "CACHE_PREFIX": unique_prefix(),
        "CACHE_WARM_MARKETS": "0",
        "RATE_LIMIT": "false",
        "GRAPHIQL": "false",
        "LOG_LEVEL": "WARNING",
        "POOL_MAX_SIZE": "3",
        "WORKERS": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    server = start_server("workers", env, tmp_path)
    try:
        wait_healthy([server])
        sent = 0
        # New connections, 20 at a time, until both workers have answered some: which worker
        # accepts a connection is the kernel's choice, and on a busy machine one may take a
        # hundred in a row (at most 1,000 sent).
        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=10) as http:
            while sent < 1000 and (sent < 100 or len(served_per_worker(metrics_dir)) < 2):
                answers = await asyncio.gather(
                    *(http.post("/graphql", json={"query": TRENDING}) for _ in range(20))
                )
                assert all(a.status_code == 200 for a in answers)
                sent += 20
                await asyncio.sleep(0.1)  # each request's histogram is written after its answer
            await asyncio.sleep(0.5)
            scraped = [samples((await http.get("/metrics")).text) for _ in range(4)]
    finally:
        stop_server(server)

    served = served_per_worker(metrics_dir)
    assert len(served) == 2, f"requests per worker: {served}"
    assert all(served.values()), f"requests per worker: {served}"
    # Whichever worker answers /metrics reports both workers' requests and pools.
    count = ("polycool_request_seconds_count", (("route", "/graphql"),))
    pool_max = ("polycool_pool_connections", (("state", "max"),))
    for metrics in scraped:
        assert metrics[count] == sent
        assert metrics[pool_max] == 2 * 3


async def test_request_durations_are_labelled_by_route_so_paths_cannot_grow_series(
    settings: Settings, seeded: str
) -> None:
    # Anyone, without a key, can send any path: labelled by the raw path, each one would be a
    # new Prometheus series kept for the life of the process.
    async with serving(settings.replace(cache_prefix=unique_prefix(), graphiql=True)) as http:
        for number in range(1000):
            await http.get(f"/probe/{number}/{os.urandom(4).hex()}")
        await http.get("/graphiql/graphiql.min.js")
        await http.get("/healthz")
        text = (await http.get("/metrics")).text
    paths = {
        labels["route"]
        for (name, pairs), _ in samples(text).items()
        if name == "polycool_request_seconds_count"
        for labels in [dict(pairs)]
    }
    assert "unmatched" in paths  # the 1,000 unknown paths, one series
    assert {"/healthz", "/graphiql/{name}"} <= paths  # known routes keep their own
    assert len(paths) <= 6, sorted(paths)  # the five routes and "unmatched", at most


def served_per_worker(metrics_dir: Path) -> dict[str, float]:
    """Seconds of /graphql requests per worker's file: a worker with a sum served requests."""
    return {
        path.name: value
        for path in metrics_dir.glob("histogram_*.db")
        for key, value, *_ in MmapedDict.read_all_values_from_file(str(path))  # type: ignore[no-untyped-call]
        # Multiprocess files keep buckets and sums.
        if '"polycool_request_seconds_sum"' in key and '"/graphql"' in key
    }
