"""What a Portfolio costs the cache: Redis commands cold and warm, CPU per warm request.

    .venv/bin/python -m bench.cache_costs [--against DIR ...] [--positions 1 20] [--rounds 3]

A database of its own on DATABASE_URL's server (the snapshot's markets, a user per size holding
that many ACTIVE positions, each on a market of its own, as the API benchmark's users do) and a
Redis of its own, so INFO commandstats counts this script's commands alone (commands run inside
Lua scripts included). Then, per size, in this checkout and in each `--against` checkout (another
commit, e.g. `git archive <commit> | tar -x -C DIR`), alternating, `--rounds` times:

- Redis commands of one cold request (an empty cache: a key prefix of its own) and of the same
  request again, with whole answers kept (the service's default) and without (ANSWER_CACHE=false);
- CPU per warm request with ANSWER_CACHE=false: the app called in-process (httpx's ASGI
  transport, one request at a time, TTLs of an hour so nothing expires during the loop); the
  process's CPU (server and client: the client's share is the same in every checkout) and
  redis-server's (INFO cpu), divided by the requests;
- the same per cold request (every TTL 1 ms, so each lookup misses and the request fills, as
  docs/benchmarks.md's "cold cache"), over a tenth as many requests.

Each measurement runs in a process of its own, importing the checkout's code; the machine is
shared, so read the spread of the rounds, not one number.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent
# Not the request's: the measurement's INFO, and what a connection's first use sends (HELLO;
# from Redis 7.2, redis-py's two CLIENT SETINFO, which 7.0 refuses and does not count).
OWN_COMMANDS = {"info", "hello", "client|setinfo"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", type=Path, action="append", default=[])
    parser.add_argument("--positions", type=int, nargs="+", default=[1, 20])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--requests", type=int, default=1000, help="warm requests per CPU run; a tenth cold"
    )
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("DATABASE_URL must name a PostgreSQL server (a database is made there)")
    checkouts = [*(path.resolve() for path in args.against), HERE]
    asyncio.run(orchestrate(url, checkouts, args.positions, args.rounds, args.requests))


async def orchestrate(
    server_url: str, checkouts: list[Path], sizes: list[int], rounds: int, requests: int
) -> None:
    from bench.api.servers import redis_server
    from sql.databases import scratch_database

    results: dict[tuple[str, int], list[dict[str, Any]]] = {}
    async with scratch_database(server_url, "cache_costs") as database_url:
        holders = await seed(database_url, sizes)
        with tempfile.TemporaryDirectory() as folder, redis_server(Path(folder)) as redis_url:
            for number in range(rounds):
                for size, telegram_id in holders.items():
                    for checkout in checkouts:
                        measured = measure_in(
                            checkout, database_url, redis_url, telegram_id, requests
                        )
                        results.setdefault((str(checkout), size), []).append(measured)
                        print(f"round {number + 1}, {size} positions, {checkout}: {measured}")
    report(results)


async def seed(database_url: str, sizes: list[int]) -> dict[int, str]:
    """The snapshot's markets and, per size, a user holding that many positions."""
    import asyncpg

    from seed import seed_database

    connection = await asyncpg.connect(database_url)
    try:
        await seed_database(connection, users=10, seed=7)
        holders = {}
        for size in sizes:
            telegram_id = 9_000_000_000 + secrets.randbelow(10**9)
            user_id = await connection.fetchval(
                "INSERT INTO app_user (telegram_id, username) VALUES ($1, 'costs') RETURNING id",
                telegram_id,
            )
            await connection.execute(
                """
                INSERT INTO position (user_id, market_id, outcome, shares, entry_price, opened_at)
                SELECT $1, id, outcomes[1], 10, 0.5, now() - make_interval(mins => n::int)
                FROM (
                    SELECT id, outcomes, row_number() OVER (ORDER BY id) AS n FROM market
                    WHERE active AND outcome_prices IS NOT NULL
                ) AS m
                WHERE n <= $2
                """,
                user_id,
                size,
            )
            holders[size] = str(telegram_id)
    finally:
        await connection.close()
    return holders


def measure_in(
    checkout: Path, database_url: str, redis_url: str, telegram_id: str, requests: int
) -> dict[str, Any]:
    """One child process in `checkout`: its counts and CPU, as JSON."""
    arguments = [str(checkout), database_url, redis_url, telegram_id, str(requests)]
    done = subprocess.run(
        [sys.executable, __file__, "--child", *arguments],
        cwd=checkout,
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def report(results: dict[tuple[str, int], list[dict[str, Any]]]) -> None:
    print(
        "\ncheckout | positions | commands cold/warm (answers) | cold/warm (no answers) | "
        "CPU µs per warm request (no answers), median [min-max] | Redis CPU µs | "
        "the same per cold request"
    )
    for (checkout, size), runs in results.items():
        first = runs[0]
        print(
            f"{checkout} | {size} | {first['answers']['cold']}/{first['answers']['warm']} | "
            f"{first['loaders']['cold']}/{first['loaders']['warm']} | "
            f"{spread(runs, 'cpu_us')} | {spread(runs, 'redis_cpu_us')} | "
            f"cold: {spread(runs, 'cold_cpu_us')} | {spread(runs, 'cold_redis_cpu_us')}"
        )
        print(f"    by command, cold (no answers): {first['loaders']['cold_by_command']}")


def spread(runs: list[dict[str, Any]], name: str) -> str:
    values = [run[name] for run in runs]
    return f"{statistics.median(values):.0f} [{min(values):.0f}-{max(values):.0f}]"


# The child: runs in the checkout it measures, with that checkout's code.


def child(database_url: str, redis_url: str, telegram_id: str, requests: int) -> None:
    counts = {
        name: asyncio.run(count_commands(database_url, redis_url, telegram_id, answers))
        for name, answers in (("answers", True), ("loaders", False))
    }
    warm = cpu_per_request(database_url, redis_url, telegram_id, requests, ttl=3600.0)
    cpu_us, redis_cpu_us = asyncio.run(warm)
    cold = cpu_per_request(database_url, redis_url, telegram_id, requests // 10, ttl=0.001)
    cold_cpu_us, cold_redis_cpu_us = asyncio.run(cold)
    print(
        json.dumps(
            {
                **counts,
                "cpu_us": cpu_us,
                "redis_cpu_us": redis_cpu_us,
                "cold_cpu_us": cold_cpu_us,
                "cold_redis_cpu_us": cold_redis_cpu_us,
            }
        )
    )


def app_settings(database_url: str, redis_url: str, **changes: Any) -> Any:
    from settings import Settings

    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        cache_prefix=f"costs-{secrets.token_hex(4)}",
        app_env="test",
        graphiql=False,
        warm_markets=0,
        refresh_markets=False,
        rate_limit=False,
        **changes,
    )


def portfolio(telegram_id: str) -> dict[str, Any]:
    from bench.api.documents import contract_documents

    query = contract_documents()["Portfolio"]
    return {"query": query, "variables": {"telegramId": telegram_id}, "operationName": "Portfolio"}


def answered(response: Any) -> None:
    if response.status_code != 200 or "errors" in response.json():
        raise RuntimeError(f"Portfolio failed: {response.status_code} {response.text[:500]}")


def commands(client: Any) -> dict[str, int]:
    stats: dict[str, dict[str, int]] = client.info("commandstats")
    return {
        name.removeprefix("cmdstat_"): stat["calls"]
        for name, stat in stats.items()
        if name.removeprefix("cmdstat_") not in OWN_COMMANDS
    }


def difference(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {
        name: calls - before.get(name, 0)
        for name, calls in sorted(after.items())
        if calls != before.get(name, 0)
    }


async def count_commands(
    database_url: str, redis_url: str, telegram_id: str, answers: bool
) -> dict[str, Any]:
    import httpx
    import redis

    from app import create_app

    app = create_app(app_settings(database_url, redis_url, answer_cache=answers))
    counted = redis.Redis.from_url(redis_url)
    by_request = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://costs") as http:
            for _ in ("cold", "warm"):
                before = commands(counted)
                answered(await http.post("/graphql", json=portfolio(telegram_id)))
                by_request.append(difference(before, commands(counted)))
    counted.close()
    cold, warm = by_request
    return {
        "cold": sum(cold.values()),
        "warm": sum(warm.values()),
        "cold_by_command": cold,
        "warm_by_command": warm,
    }


async def cpu_per_request(
    database_url: str, redis_url: str, telegram_id: str, requests: int, ttl: float
) -> tuple[float, float]:
    """CPU per request, of this process and of redis-server, in µs; every TTL `ttl` s."""
    import httpx
    import redis

    from app import create_app

    settings = app_settings(
        database_url,
        redis_url,
        answer_cache=False,
        ttl_prices=ttl,
        ttl_positions=ttl,
        ttl_markets=ttl,
        ttl_market_lists=ttl,
        ttl_users=ttl,
    )
    app = create_app(settings)
    body = portfolio(telegram_id)
    server = redis.Redis.from_url(redis_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://costs") as http:
            for _ in range(20):  # the cache filled (if it keeps), every code path run once
                answered(await http.post("/graphql", json=body))
            redis_before = redis_cpu(server)
            started = time.process_time()
            for _ in range(requests):
                await http.post("/graphql", json=body)
            used = time.process_time() - started
            redis_used = redis_cpu(server) - redis_before
    server.close()
    return used / requests * 1e6, redis_used / requests * 1e6


def redis_cpu(client: Any) -> float:
    info: dict[str, float] = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--child":
    # Run as a file, in the checkout measured: its packages, not this file's folder, come first.
    checkout, database, redis_url, telegram, count = sys.argv[2:7]
    sys.path[0] = checkout
    child(database, redis_url, telegram, int(count))
elif __name__ == "__main__":
    main()
