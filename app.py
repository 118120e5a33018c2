"""The HTTP service and its command line.

`create_app(settings)` builds the Starlette application: routes (/graphql, /healthz, /metrics),
the lifespan that opens and closes the pool and the cache, and the GraphQL view. `app` is what
`uvicorn app:app` serves: it reads the environment when the server starts it, never at import.
`python app.py migrate | seed | serve | ingest | export-schema` are the commands; each reads the
environment once, at its start.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from uvicorn.config import STARTUP_FAILURE

from cache.answers import Answers
from cache.embedded import start_redis
from cache.read_ahead import ReadAhead
from cache.store import connect as connect_cache
from cache.trigger_feed import connect_feed
from cache.warm import keep_markets_warm, warm_markets
from schema.schema import build_schema
from seed.demo import DEFAULT_SEED, DEFAULT_USERS
from settings import Settings, SettingsError
from sql.database import Database, create_pool
from sql.embedded import Embedded, start_postgres
from sql.migrate import migrate
from telemetry.logs import configure_logging
from telemetry.metrics import exposition, watch_pool
from web.api_keys import ApiKeys
from web.body_limit import BodyLimit
from web.graphiql import asset_routes
from web.health import healthz, readyz
from web.rate_limits import RateLimits
from web.request_scope import RequestScope
from web.view import GraphQLView

log = logging.getLogger("polycool")


# Seconds between a worker's writes of its pool gauges when several workers share /metrics.
POOL_GAUGES_EVERY = 5.0
# Cache names each process keeps for reading ahead, over every query (a Portfolio of 20
# positions reads 44): a pointer each, a few megabytes at most.
READ_AHEAD_NAMES = 500_000
# Tracked objects allocated (net of those freed) that set off a young garbage collection:
# a few dozen Portfolios' worth, where Python's default is 700.
YOUNG_COLLECTION_AT = 10_000


def database_url(settings: Settings) -> str:
    """For the commands: the embedded server, if started, stops when the command exits."""
    return settings.database_url or start_postgres(settings.data_dir).url


def servers(settings: Settings) -> tuple[str, str, list[Embedded]]:
    """PostgreSQL and Redis URLs, starting the embedded servers where no URL is set."""
    postgres, redis = settings.database_url, settings.redis_url
    embedded: list[Embedded] = []
    if postgres is None:
        embedded.append(start_postgres(settings.data_dir))
        postgres = embedded[-1].url
    if redis is None:
        embedded.append(start_redis(settings.data_dir))
        redis = embedded[-1].url
    return postgres, redis, embedded


def create_app(settings: Settings) -> Starlette:
    schema = build_schema(settings)
    release = hashlib.sha256(schema.as_str().encode()).hexdigest()[:16]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        postgres, redis, embedded = servers(settings)
        pool = await create_pool(postgres, settings)
        gauges = watch_pool(pool, POOL_GAUGES_EVERY if settings.metrics_dir else None)
        app.state.database = Database(pool, settings.pool_acquire_timeout)
        app.state.database_url = postgres
        app.state.redis_url = redis
        app.state.cache = connect_cache(settings, redis)
        app.state.answers = (
            Answers(app.state.cache, release=release) if settings.answer_cache else None
        )
        app.state.read_ahead = ReadAhead(READ_AHEAD_NAMES) if settings.read_ahead else None
        # The `triggers` subscription's reader of the stream (no connection until subscribed).
        app.state.triggers = connect_feed(
            redis,
            settings.trigger_stream_key,
            cluster=settings.redis_cluster,
            connect_timeout=max(settings.redis_timeout, 1.0),
        )
        background = [] if gauges is None else [gauges]
        try:
            try:
                await warm_markets(app.state.cache, app.state.database, settings.warm_markets)
            except asyncpg.UndefinedTableError:
                # Serve anyway: /readyz says what is missing, and a migrate fixes it live.
                log.error("the database is not migrated: run 'python app.py migrate'")
            if settings.refresh_markets:
                refresh = keep_markets_warm(
                    app.state.cache,
                    app.state.database,
                    settings.warm_markets,
                    settings.refresh_every,
                )
                background.append(asyncio.create_task(refresh))
            # What starting made (modules, the schema, its types and plans' machinery, the
            # pool) lives as long as the process: frozen, the garbage collector stops scanning
            # it in every full collection, which had made the slowest 1% of executed requests
            # two to three times slower (docs/benchmarks.md, "Optimisation steps").
            gc.freeze()
            # A request's objects are freed by reference counting when it ends
            # (schema/execution/executor.AcyclicExecutor), so a young collection finds next to
            # nothing to free; at Python's default of 700 objects it ran every few
            # requests, moved the objects of the requests in flight into the old generations,
            # and so set off full collections, which scan every cache (33 ms each, twice a
            # second under moving prices). At YOUNG_COLLECTION_AT, the requests in flight never
            # reach it; caches that grow do (docs/benchmarks.md, "Issue 11: garbage").
            gc.set_threshold(YOUNG_COLLECTION_AT, *gc.get_threshold()[1:])
            yield
        finally:
            for task in background:
                task.cancel()
            await app.state.triggers.close()
            await app.state.cache.close()
            await pool.close()
            for server in embedded:
                server.stop()

    async def metrics(request: Request) -> Response:
        return Response(exposition(settings.metrics_dir), media_type=CONTENT_TYPE_LATEST)

    view = GraphQLView(schema, settings)
    return Starlette(
        routes=[
            Route("/graphql", view, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", view),  # subscriptions (graphql-transport-ws)
            *asset_routes(settings.graphiql),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        # Outermost first: every request gets an id and a log line, then a key is required,
        # then it is counted against its rate limits, then its body is bounded.
        middleware=[
            Middleware(RequestScope),
            Middleware(ApiKeys, keys=settings.api_keys),
            *([Middleware(RateLimits, settings=settings)] if settings.rate_limit else []),
            Middleware(BodyLimit, max_bytes=settings.max_body_bytes),
        ],
        lifespan=lifespan,
    )


class _AppFromEnvironment:
    """`uvicorn app:app`: the app, built from the environment when uvicorn starts it.

    Built in the lifespan's startup, the first thing uvicorn sends: an invalid setting is
    answered with `lifespan.startup.failed` naming it, and uvicorn exits (status 3) before it
    listens, its parent too when it runs workers. Raising there would not do: in its default
    lifespan mode ("auto") uvicorn takes an exception at startup for an app that does not
    speak the lifespan protocol, and serves anyway, a 500 to every request.
    """

    def __init__(self) -> None:
        self._app: Starlette | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            try:
                settings = Settings.from_env(os.environ)
            except SettingsError as error:
                if scope["type"] != "lifespan":
                    raise  # uvicorn --lifespan off: nothing can refuse the start itself
                await receive()  # lifespan.startup
                await send({"type": "lifespan.startup.failed", "message": refusal(error)})
                return
            configure_logging(settings.log_level)
            self._app = create_app(settings)
        await self._app(scope, receive, send)


def refusal(error: SettingsError) -> str:
    return f"refusing to start: {error}"


app = _AppFromEnvironment()


async def _migrate(settings: Settings) -> None:
    connection = await asyncpg.connect(database_url(settings))
    try:
        applied = await migrate(connection)
    finally:
        await connection.close()
    print(f"migrations applied: {', '.join(applied) or 'none (up to date)'}")


async def _seed(settings: Settings, users: int, seed: int) -> None:
    from seed import seed_database  # the snapshot and generator are only needed here

    connection = await asyncpg.connect(database_url(settings))
    try:
        report = await seed_database(connection, users=users, seed=seed)
    finally:
        await connection.close()
    print(report)


async def _demo(settings: Settings, seed: int) -> None:
    import httpx

    from seed.activity import play_demo  # only the demo needs it

    app = create_app(settings)
    # The app's own lifespan and middleware: the demo's writes are the API's, cache scopes and
    # all. With keys configured, an admin key may send every one of its mutations.
    admin = next((key for role, key in settings.api_keys if role == "admin"), None)
    headers = {} if admin is None else {"Authorization": f"Bearer {admin}"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://demo", headers=headers
        ) as client,
    ):

        async def send(document: str, variables: dict[str, Any]) -> dict[str, Any]:
            response = await client.post(
                "/graphql", json={"query": document, "variables": variables}
            )
            answer = response.json()
            if answer.get("errors") or response.status_code != 200:
                raise RuntimeError(f"demo: {document.split('(')[0].strip()}: {answer}")
            data: dict[str, Any] = answer["data"]
            return data

        connection = await asyncpg.connect(app.state.database_url)
        try:
            report = await play_demo(connection, send, seed=seed)
        finally:
            await connection.close()
    print(report)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="app.py", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply pending SQL migrations")
    seed_command = commands.add_parser("seed", help="load the market snapshot and demo users")
    # The defaults make the demo user GraphiQL's tabs open with (seed/demo.py).
    seed_command.add_argument("--users", type=int, default=DEFAULT_USERS)
    seed_command.add_argument("--seed", type=int, default=DEFAULT_SEED)
    demo_command = commands.add_parser(
        "demo", help="after seed: resolve, trade and record wallet trades through the API"
    )
    demo_command.add_argument("--seed", type=int, default=DEFAULT_SEED)
    commands.add_parser("serve", help="run the HTTP service")
    commands.add_parser("ingest", help="run the price ingestion worker (docs/ingestion.md)")
    commands.add_parser("export-schema", help="print the GraphQL schema (SDL)")
    args = parser.parse_args(argv)

    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as error:
        print(f"app.py: {refusal(error)}", file=sys.stderr)
        return STARTUP_FAILURE
    configure_logging(settings.log_level)
    if args.command == "export-schema":
        print(build_schema().as_str())
    elif args.command == "migrate":
        asyncio.run(_migrate(settings))
    elif args.command == "seed":
        asyncio.run(_seed(settings, args.users, args.seed))
    elif args.command == "demo":
        asyncio.run(_demo(settings, args.seed))
    elif args.command == "ingest":
        from ingestion.worker import run_ingest  # the feed client is only needed here

        postgres, redis, embedded = servers(settings)
        try:
            asyncio.run(run_ingest(settings, postgres, redis))
        finally:
            for server in embedded:
                server.stop()
    elif args.command == "serve":
        import uvicorn
        from uvicorn.supervisors import Multiprocess

        if settings.graphiql:
            log.info("GraphiQL on http://%s:%s/graphql", settings.host, settings.port)
        # Our own request line (telemetry/logs.py) carries the id and counts; uvicorn's would
        # repeat it.
        options: dict[str, Any] = {
            "host": settings.host,
            "port": settings.port,
            "access_log": False,
            "log_config": None,
            # A WebSocket frame over the body limit is refused by uvicorn before it is buffered
            # whole (web/body_limit.py refuses the message again, whatever server runs the app).
            "ws_max_size": settings.max_body_bytes,
        }
        if settings.workers == 1:
            uvicorn.run(create_app(settings), **options)
            return 0
        # Several processes must share one PostgreSQL and, above all, one Redis (a cache per
        # worker would break freshness): embedded servers start here, once, and the workers
        # (each building `app` from the environment) are handed their URLs.
        postgres, redis, embedded = servers(settings)
        os.environ.update(DATABASE_URL=postgres, REDIS_URL=redis)
        # Each worker's metrics go to files that /metrics adds up (telemetry/metrics.py). A
        # directory of the operator's is emptied first: files of an earlier run would count again.
        metrics_dir = settings.metrics_dir or Path(tempfile.mkdtemp(prefix="polycool-metrics-"))
        for stale in metrics_dir.glob("*.db"):
            stale.unlink()
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        # uvicorn's supervisor, not uvicorn.run: run() returns 0 even when the workers failed to
        # start (the supervisor then stops them all), and a refused start must exit non-zero.
        config = uvicorn.Config("app:app", workers=settings.workers, **options)
        supervisor = Multiprocess(config, sockets=[config.bind_socket()])
        try:
            supervisor.run()
            if any(worker.exitcode == STARTUP_FAILURE for worker in supervisor.processes):
                return STARTUP_FAILURE
        finally:
            for server in embedded:
                server.stop()
            if settings.metrics_dir is None:
                shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
