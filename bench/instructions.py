"""Instructions per executed request, counted by callgrind: repeatable where seconds are not.

    .venv/bin/python -m bench.instructions [--against DIR ...] [--positions 20] [--requests 250]
        [--document Portfolio|MarketsBatch]

On a shared machine the CPU seconds of the same code move by a fifth between runs; callgrind
(valgrind) counts the instructions a process executes, the same for the same code and inputs
whatever else the machine does. A database of its own on DATABASE_URL's server and a Redis of
its own, seeded as bench/cache_costs.py seeds them (a user holding `--positions` positions, each
on a market of its own). Then, in this checkout and each `--against` checkout (another commit,
`git archive <commit> | tar -x -C DIR`), the app is called in-process (httpx's ASGI transport)
with ANSWER_CACHE=false, warm (the user's Portfolio, or a MarketsBatch of the `--positions`
markets the user holds): under callgrind once for a fifth of `--requests` requests and
once for all of them; the difference over the requests between is one executed request's
instructions, start-up and warm-up left out (the in-process client's share is in it, the same
in every checkout). Needs valgrind (`apt-get install -y valgrind`); about two minutes per
checkout.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
DOCUMENTS = ("Portfolio", "MarketsBatch")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", type=Path, action="append", default=[])
    parser.add_argument("--positions", type=int, default=20)
    parser.add_argument("--requests", type=int, default=250)
    parser.add_argument("--document", choices=DOCUMENTS, default="Portfolio")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("DATABASE_URL must name a PostgreSQL server (a database is made there)")
    checkouts = [*(path.resolve() for path in args.against), HERE]
    asyncio.run(orchestrate(url, checkouts, args.positions, args.requests, args.document))


async def orchestrate(
    server_url: str, checkouts: list[Path], size: int, requests: int, document: str
) -> None:
    from bench.api.servers import redis_server
    from bench.cache_costs import seed
    from sql.databases import scratch_database

    async with scratch_database(server_url, "instructions") as database_url:
        telegram_id = (await seed(database_url, [size]))[size]
        with tempfile.TemporaryDirectory() as folder, redis_server(Path(folder)) as redis_url:
            asked = f"{size} positions" if document == "Portfolio" else f"{size} ids"
            print(f"checkout | instructions per executed {document} ({asked})")
            for checkout in checkouts:
                few, many = (
                    counted(checkout, database_url, redis_url, telegram_id, n, document)
                    for n in (requests // 5, requests)
                )
                per_request = (many - few) / (requests - requests // 5)
                print(f"{checkout} | {per_request:,.0f}", flush=True)


def counted(
    checkout: Path, database_url: str, redis_url: str, telegram_id: str, n: int, document: str
) -> int:
    """The instructions of a child process making `n` warm requests in `checkout`."""
    with tempfile.TemporaryDirectory() as folder:
        done = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={folder}/callgrind.out",
                sys.executable,
                __file__,
                "--child",
                str(checkout),
                database_url,
                redis_url,
                telegram_id,
                str(n),
                document,
            ],
            cwd=checkout,
            check=True,
            capture_output=True,
            text=True,
        )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no count: {done.stderr[-2000:]}")
    return int(found.group(1))


async def child(
    database_url: str, redis_url: str, telegram_id: str, requests: int, document: str
) -> None:
    import asyncpg
    import httpx

    from app import create_app
    from bench.api.documents import contract_documents
    from bench.cache_costs import answered, app_settings, portfolio

    hour = 3600.0
    settings = app_settings(
        database_url,
        redis_url,
        answer_cache=False,
        ttl_prices=hour,
        ttl_positions=hour,
        ttl_markets=hour,
        ttl_market_lists=hour,
        ttl_users=hour,
    )
    app = create_app(settings)
    body = portfolio(telegram_id)
    if document == "MarketsBatch":
        connection = await asyncpg.connect(database_url)
        try:
            held = await connection.fetch(
                "SELECT p.market_id FROM position AS p JOIN app_user AS u ON u.id = p.user_id "
                "WHERE u.telegram_id = $1 ORDER BY p.market_id",
                int(telegram_id),
            )
        finally:
            await connection.close()
        body = {
            "query": contract_documents()["MarketsBatch"],
            "variables": {"ids": [row["market_id"] for row in held]},
            "operationName": "MarketsBatch",
        }
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://costs") as http:
            for _ in range(20):  # the cache filled, every code path run once
                answered(await http.post("/graphql", json=body))
            for _ in range(requests):
                await http.post("/graphql", json=body)


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--child":
    # Run as a file, in the checkout measured: its packages, not this file's folder, come first.
    checkout, database, redis_url, telegram, count, document = sys.argv[2:8]
    sys.path[0] = checkout
    asyncio.run(child(database, redis_url, telegram, int(count), document))
elif __name__ == "__main__":
    main()
