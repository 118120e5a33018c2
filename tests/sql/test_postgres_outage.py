"""PostgreSQL stopped and started under the service: a retryable code, never an internal error.

The tests own a PostgreSQL server (tests/sql/postgres_server.py), migrated and seeded, which each
stops with a fast shutdown (every session ended, open transactions rolled back) and starts again
on the same port, as a restart or a failover would. The first tests hold a `Database` and check
what each failure becomes: SERVICE_UNAVAILABLE for PostgreSQL away, a transaction cut by the
shutdown (before or at its COMMIT) having written nothing; a statement PostgreSQL refuses stays
what it is. The last one is the issue's scenario, for real: two `python app.py serve` processes
and the ingestion worker (`python app.py ingest`, fed by the stand-in feed) through an outage.
Every wait has a deadline and asserts an outcome; nothing is timed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from errors import Unavailable
from seed import seed_database
from settings import ROOT
from sql.database import UNAVAILABLE_MESSAGE, Database
from sql.migrate import migrate
from tests.conftest import active_shares, contract_documents, unique_prefix
from tests.factories import insert_positions_on_real_markets, insert_user
from tests.ingestion.feed_server import FeedServer, both, eventually
from tests.server_processes import Server, metric_total, start_server, stop_server, wait_healthy
from tests.sql.postgres_server import PostgresServer, free_port, running_postgres

DOCUMENTS = contract_documents()
AWAY = "the database is away"
BACK = "the database is back"
WITHIN = 20.0  # seconds any one outcome may take to show (they take well under one)
HTTP_TIMEOUT = 5.0


@pytest.fixture(scope="module")
async def own_server() -> AsyncIterator[PostgresServer]:
    """A server of this module's own, migrated, with the real markets and 60 users (seed 7).
    The tests write only rows of their own (fresh Telegram ids), so they can share it."""
    with running_postgres() as server:
        async with connected(server) as db:
            await migrate(db)
            await seed_database(db, users=60, seed=7)
        yield server


@pytest.fixture
def postgres(own_server: PostgresServer) -> PostgresServer:
    """The module's server, running: a test that failed during its outage left it stopped."""
    if not own_server.is_running():
        own_server.start()
    return own_server


@asynccontextmanager
async def connected(server: PostgresServer) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the test's own; a new one each time, since a stop ends every session."""
    connection = await asyncpg.connect(server.url())
    try:
        yield connection
    finally:
        await connection.close()


@asynccontextmanager
async def database_on(
    server: PostgresServer, *, max_size: int = 2, acquire_timeout: float | None = None
) -> AsyncIterator[Database]:
    pool = await asyncpg.create_pool(server.url(), min_size=1, max_size=max_size)
    try:
        yield Database(pool, acquire_timeout)
    finally:
        await pool.close()


def new_telegram_id() -> int:
    return 8_100_000_000 + secrets.randbelow(10**9)


def outage_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage().split(" (")[0]
        for r in caplog.records
        if r.name == "sql.database" and r.getMessage().startswith((AWAY, BACK))
    ]


# --- What each failure becomes ------------------------------------------------------------------


@pytest.mark.parametrize("cut", ["before COMMIT", "at COMMIT"])
async def test_a_transaction_cut_by_a_shutdown_is_unavailable_and_wrote_nothing(
    postgres: PostgresServer, cut: str, caplog: pytest.LogCaptureFixture
) -> None:
    telegram_id = new_telegram_id()
    caplog.set_level(logging.WARNING, logger="sql.database")

    async def insert_then_stop(database: Database) -> None:
        async with database.transaction() as tx:
            await tx.execute("INSERT INTO app_user (telegram_id) VALUES ($1)", telegram_id)
            await asyncio.to_thread(postgres.stop)
            if cut == "before COMMIT":
                await tx.fetchval("SELECT count(*) FROM app_user")
            # else leaving the block sends COMMIT on the session the shutdown ended

    async with database_on(postgres) as database:
        with pytest.raises(Unavailable) as raised:
            await insert_then_stop(database)
        assert raised.value.code == "SERVICE_UNAVAILABLE"
        assert raised.value.message == UNAVAILABLE_MESSAGE
        await asyncio.to_thread(postgres.start)
        written = await database.fetchval(
            "SELECT count(*) FROM app_user WHERE telegram_id = $1", telegram_id
        )

    assert written == 0
    assert outage_lines(caplog) == [AWAY, BACK]


async def test_postgresql_away_is_unavailable_and_a_statement_it_refuses_is_not(
    postgres: PostgresServer,
) -> None:
    telegram_id = new_telegram_id()
    async with database_on(postgres, acquire_timeout=2.0) as database:
        await database.execute("INSERT INTO app_user (telegram_id) VALUES ($1)", telegram_id)
        await asyncio.to_thread(postgres.stop)
        for _ in range(2):  # every attempt while it is away, not only the first
            with pytest.raises(Unavailable):
                await database.fetchval("SELECT 1")
        await asyncio.to_thread(postgres.start)

        assert await database.fetchval("SELECT 1") == 1
        with pytest.raises(asyncpg.UniqueViolationError):
            await database.execute("INSERT INTO app_user (telegram_id) VALUES ($1)", telegram_id)
        with pytest.raises(asyncpg.PostgresSyntaxError):
            await database.fetch("SELEC 1")


async def test_a_connect_that_hangs_is_unavailable_not_busy(postgres: PostgresServer) -> None:
    async with database_on(postgres, max_size=2, acquire_timeout=0.5) as database:
        # One connection held, one free to open: the wait is for PostgreSQL, not for the pool.
        async with database.connection():
            with postgres.hung(), pytest.raises(Unavailable):
                await database.fetchval("SELECT 1")
        assert await database.fetchval("SELECT 1") == 1


# --- Two servers and the worker through an outage ---------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int
    request_id: str
    body: dict[str, Any]
    text: str

    @property
    def data(self) -> Any:
        return self.body.get("data")

    @property
    def errors(self) -> list[dict[str, Any]]:
        return list(self.body.get("errors") or [])


async def ask(http: httpx.AsyncClient, operation: str, **variables: Any) -> Reply:
    response = await http.post(
        "/graphql",
        json={"query": DOCUMENTS, "variables": variables, "operationName": operation},
        headers={"X-Debug-Counts": "1"},
    )
    return Reply(
        response.status_code, response.headers["x-request-id"], response.json(), response.text
    )


async def ok(http: httpx.AsyncClient, operation: str, **variables: Any) -> Reply:
    reply = await ask(http, operation, **variables)
    assert reply.status == 200
    assert reply.errors == [], reply.errors
    return reply


def assert_unavailable(reply: Reply) -> None:
    """One error, retryable, with the request's id, and nothing of the connection in it."""
    assert reply.status == 200  # a GraphQL answer with its error (web/view.py)
    assert [e["extensions"] for e in reply.errors] == [
        {"code": "SERVICE_UNAVAILABLE", "requestId": reply.request_id}
    ], reply.errors
    assert reply.errors[0]["message"] == UNAVAILABLE_MESSAGE
    for detail in ("127.0.0.1", "asyncpg", "connect call", "refused", "errno"):
        assert detail not in reply.text.lower(), f"{detail!r} leaked: {reply.text}"


def log_records(process: Server) -> list[dict[str, Any]]:
    """The process's JSON log lines; any other line (a warning printed raw) as a RAW record."""
    process.log_file.flush()
    records = []
    for line in process.log_path.read_text(errors="replace").splitlines():
        try:
            records.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            records.append({"level": "RAW", "message": line})
    return records


def outage_log(process: Server) -> list[str]:
    """The process's outage lines in order: AWAY or BACK for each."""
    return [
        line
        for record in log_records(process)
        if record.get("logger") == "sql.database"
        for line in (AWAY, BACK)
        if str(record.get("message", "")).startswith(line)
    ]


async def until_logged(process: Server, line: str) -> None:
    await eventually(
        lambda: line in outage_log(process), WITHIN, f"{line!r} in the log of {process.name}"
    )


def unexpected_log(process: Server, since: int) -> list[str]:
    """Warnings, errors and tracebacks after the first `since` lines, but the outage's own."""
    return [
        str(record)
        for record in log_records(process)[since:]
        if "exception" in record
        or "Traceback" in str(record.get("message"))
        or (
            record.get("level") in ("WARNING", "ERROR", "CRITICAL", "RAW")
            and not str(record.get("message")).startswith((AWAY, BACK))
        )
    ]


def start_worker(env: dict[str, str], log_dir: Path) -> Server:
    """`python app.py ingest`, logging to a file, as test_stress.py starts `serve`."""
    log_path = log_dir / "worker.log"
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "app.py", "ingest"],
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    return Server("worker", "", process, log_path, log_file)


@dataclass(frozen=True)
class Ticked:
    """A two-outcome market the worker follows, moved by the test through the feed."""

    id: str
    yes: str
    no: str


@dataclass(frozen=True)
class Rows:
    """What the outage test reads and writes."""

    holder_id: int
    holder: str  # the holder's Telegram id; its Portfolio is what Redis holds
    buy: dict[str, str]  # RecordTrade's input: 5 more shares of the holder's first position
    ticked: list[Ticked]  # none of them the holder's: their ticks leave its Portfolio cached
    unread: list[str]  # markets nobody reads before the outage
    stranger: str  # a Telegram id nobody has
    newcomer: str  # one that upsertUser creates once the outage is over


@dataclass(frozen=True)
class Scene:
    """The outage test's rows, and the processes serving them."""

    rows: Rows
    postgres: PostgresServer
    feed: FeedServer
    a: httpx.AsyncClient
    b: httpx.AsyncClient
    worker_metrics: httpx.AsyncClient

    async def worker_total(self, name: str) -> float:
        return metric_total((await self.worker_metrics.get("/metrics")).text, name)

    async def send_ticks(self, yes: Decimal) -> dict[str, list[Decimal]]:
        """Both outcomes of every ticked market to yes / 1 - yes; the prices they mean."""
        events = (both(m.yes, m.no, yes, Decimal("0.005")) for m in self.rows.ticked)
        await self.feed.publish(*events)
        return {m.id: [yes, 1 - yes] for m in self.rows.ticked}

    async def written(self, wanted: dict[str, list[Decimal]]) -> bool:
        async with connected(self.postgres) as db:
            rows = await db.fetch(
                "SELECT id, outcome_prices FROM market WHERE id = ANY($1::text[])", list(wanted)
            )
        return {r["id"]: list(r["outcome_prices"]) for r in rows} == wanted


async def prepare(db: asyncpg.Connection) -> Rows:
    """The holder and its positions, the markets to tick, the markets left unread."""
    holder = str(new_telegram_id())
    holder_id = await insert_user(db, holder)
    await insert_positions_on_real_markets(db, holder_id, 4)
    positions = await db.fetch(
        "SELECT market_id, outcome FROM position WHERE user_id = $1 ORDER BY id", holder_id
    )
    held = [row["market_id"] for row in positions]
    # Among the 20 most traded open markets, which the worker follows (INGEST_TOP_MARKETS).
    rows = await db.fetch(
        """
        SELECT id, clob_token_ids FROM (
            SELECT * FROM market WHERE active AND NOT resolved ORDER BY volume DESC, id LIMIT 20
        ) AS top
        WHERE cardinality(clob_token_ids) = 2 AND NOT id = ANY($1::text[])
        ORDER BY volume DESC, id LIMIT 3
        """,
        held,
    )
    ticked = [Ticked(row["id"], *row["clob_token_ids"]) for row in rows]
    unread = await db.fetch(
        "SELECT id FROM market WHERE NOT id = ANY($1::text[]) ORDER BY id DESC LIMIT 5",
        held + [market.id for market in ticked],
    )
    buy = {"telegramId": holder, "marketId": held[0], "outcome": positions[0]["outcome"]}
    return Rows(
        holder_id,
        holder,
        {**buy, "side": "BUY", "shares": "5", "price": "0.5"},
        ticked,
        [row["id"] for row in unread],
        stranger=str(new_telegram_id()),
        newcomer=str(new_telegram_id()),
    )


@pytest.fixture
def processes() -> Iterator[list[Server]]:
    """The servers and the worker the test starts, stopped however it ends."""
    started: list[Server] = []
    yield started
    for process in started:
        stop_server(process)


async def test_postgresql_stopped_and_started_under_two_servers_and_the_worker(
    postgres: PostgresServer,
    redis_url: str,
    tmp_path: Path,
    processes: list[Server],
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with connected(postgres) as db:
        rows = await prepare(db)
    feed = await FeedServer().start()
    metrics_port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": postgres.url(),
        "REDIS_URL": redis_url,
        "CACHE_PREFIX": unique_prefix(),  # one for the servers and the worker
        "APP_ENV": "test",  # X-Debug-Counts answers outside production only
        "GRAPHIQL": "false",
        "LOG_LEVEL": "WARNING",  # the outage's lines, not one per request
        "RATE_LIMIT": "false",
        "CACHE_WARM_MARKETS": "0",
        # Off: its timer re-reads markets, and what Redis holds would depend on when it ran.
        "CACHE_REFRESH_MARKETS": "false",
        "POOL_MAX_SIZE": "4",
        "FEED_URL": feed.url,
        "INGEST_FLUSH_INTERVAL": "0.1",
        "INGEST_REFRESH_INTERVAL": "0.5",
        "INGEST_TOP_MARKETS": "20",
        "INGEST_METRICS_PORT": str(metrics_port),
    }
    try:
        processes += [start_server(name, env, tmp_path) for name in ("A", "B")]
        wait_healthy(processes)
        processes.append(start_worker(env, tmp_path))
        async with (
            httpx.AsyncClient(base_url=processes[0].url, timeout=HTTP_TIMEOUT) as a,
            httpx.AsyncClient(base_url=processes[1].url, timeout=HTTP_TIMEOUT) as b,
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{metrics_port}", timeout=HTTP_TIMEOUT
            ) as worker_metrics,
        ):
            scene = Scene(rows, postgres, feed, a, b, worker_metrics)
            cached = await before_the_outage(scene)
            logged_before = [len(log_records(process)) for process in processes]
            await asyncio.to_thread(postgres.stop)
            last_ticks = await during_the_outage(scene, cached, processes)
            await asyncio.to_thread(postgres.start)
            await after_the_outage(scene, last_ticks)
        for process, since in zip(processes, logged_before, strict=True):
            await until_logged(process, BACK)
            assert outage_log(process) == [AWAY, BACK], process.log_tail()
            assert unexpected_log(process, since) == [], process.log_tail()
    except BaseException:
        with capsys.disabled():
            print("\n" + "\n".join(p.log_tail() for p in processes) + "\n" + postgres.log_tail())
        raise
    finally:
        await feed.stop()


async def before_the_outage(scene: Scene) -> list[Any]:
    """The worker subscribed and writing; the holder's Portfolio held in Redis, its answers."""
    tokens = {token for market in scene.rows.ticked for token in (market.yes, market.no)}
    await eventually(
        lambda: tokens <= scene.feed.subscribed_open(),
        WITHIN,
        "the worker subscribed to the ticked markets",
    )
    first = await scene.send_ticks(Decimal("0.41"))
    await eventually(lambda: scene.written(first), WITHIN, "the first ticks written")
    cached = []
    for http in (scene.a, scene.b):
        await ok(http, "Portfolio", telegramId=scene.rows.holder)
        again = await ok(http, "Portfolio", telegramId=scene.rows.holder)
        assert again.body["extensions"]["counts"]["sql"] == 0
        cached.append(again.data)
    return cached


async def during_the_outage(
    scene: Scene, cached: list[Any], processes: list[Server]
) -> dict[str, list[Decimal]]:
    """What Redis holds is served; what needs SQL is SERVICE_UNAVAILABLE; not ready; every
    process says the database is away; the worker reads each round of ticks, fails to write
    it and keeps it. Returns the last round's prices."""
    for http, answer in zip((scene.a, scene.b), cached, strict=True):
        held = await ok(http, "Portfolio", telegramId=scene.rows.holder)
        assert held.data == answer
        assert held.body["extensions"]["counts"]["sql"] == 0

    needs_sql = [
        await ask(scene.a, "Portfolio", telegramId=scene.rows.stranger),
        await ask(scene.b, "MarketsBatch", ids=scene.rows.unread),
        await ask(scene.a, "UpsertUser", input={"telegramId": scene.rows.newcomer}),
        await ask(scene.b, "RecordTrade", input=scene.rows.buy),
    ]
    for reply in needs_sql:
        assert_unavailable(reply)
    assert needs_sql[0].data == {"user": None}  # a nullable field: null beside its error
    assert [reply.data for reply in needs_sql[1:]] == [None, None, None]

    for http in (scene.a, scene.b):
        ready = await http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["postgres"].startswith("unreachable")

    ticks = await scene.worker_total("polycool_ingest_ticks_total")
    for yes in (Decimal("0.52"), Decimal("0.63"), Decimal("0.74")):
        last = await scene.send_ticks(yes)
        ticks += 2 * len(last)
        failures = await scene.worker_total("polycool_ingest_flush_failures_total")

        async def read_then_failed(ticks: float = ticks, failures: float = failures) -> bool:
            return (
                await scene.worker_total("polycool_ingest_ticks_total") >= ticks
                and await scene.worker_total("polycool_ingest_flush_failures_total") > failures
            )

        await eventually(read_then_failed, WITHIN, "a round read, and a flush of it failed")

    for process in processes:
        await until_logged(process, AWAY)
    return last


async def after_the_outage(scene: Scene, last_ticks: dict[str, list[Decimal]]) -> None:
    """Ready again; the held ticks written and served; the failed writes wrote nothing; the
    failed reads answer; a write on one server is read on the other."""
    for http in (scene.a, scene.b):

        async def ready(http: httpx.AsyncClient = http) -> bool:
            return (await http.get("/readyz")).status_code == 200

        await eventually(ready, WITHIN, "ready again")
    await eventually(lambda: scene.written(last_ticks), WITHIN, "the held ticks written")

    async with connected(scene.postgres) as db:
        shares = await active_shares(db, scene.rows.holder_id)
        newcomers = await db.fetchval(
            "SELECT count(*) FROM app_user WHERE telegram_id = $1", int(scene.rows.newcomer)
        )
    assert newcomers == 0  # the failed upsertUser wrote nothing (nor the failed trade, below)

    stranger = await ok(scene.a, "Portfolio", telegramId=scene.rows.stranger)
    assert stranger.data == {"user": None}
    markets = (await ok(scene.b, "MarketsBatch", ids=scene.rows.unread)).data["markets"]
    assert [market["id"] for market in markets] == scene.rows.unread

    await ok(scene.a, "Portfolio", telegramId=scene.rows.newcomer)  # null, cached as such
    await ok(scene.b, "UpsertUser", input={"telegramId": scene.rows.newcomer})
    user = (await ok(scene.a, "Portfolio", telegramId=scene.rows.newcomer)).data["user"]
    assert user is not None
    assert user["telegramId"] == scene.rows.newcomer

    trade = await ok(scene.a, "RecordTrade", input=scene.rows.buy)
    position_id = trade.data["recordTrade"]["position"]["id"]
    portfolio = await ok(scene.b, "Portfolio", telegramId=scene.rows.holder)
    async with connected(scene.postgres) as db:
        shares_now = await active_shares(db, scene.rows.holder_id)
    assert shares_now[position_id] == shares[position_id] + 5  # this trade's 5 only
    served = {p["id"]: Decimal(p["shares"]) for p in portfolio.data["user"]["positions"]}
    assert served == shares_now

    for http in (scene.a, scene.b):

        async def fresh(http: httpx.AsyncClient = http) -> bool:
            reply = await ok(http, "MarketsBatch", ids=list(last_ticks))
            served = {
                m["id"]: [Decimal(p) for p in m["outcomePrices"]] for m in reply.data["markets"]
            }
            return served == last_ticks

        await eventually(fresh, WITHIN, "the held ticks served")
