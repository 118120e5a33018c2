"""Price ingestion benchmark: the new worker against the old streamer, on one replay.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python -m bench.ingestion

(without the URLs, the embedded servers start). About two minutes, all on loopback. It creates
a database of its own on the server (dropped at the end), seeds the real markets and 200 users,
starts the API (`app.py serve`), then each writer in turn, pinned to one core: the new worker
(`app.py ingest`) and the old streamer (bench/old_streamer.py). Both face the same replay of
the 1,000 most traded markets' token ids (bench/replay.py), and are measured the same way:

- tick path: parse + coalesce alone, in this process, on one core (ticks per CPU second);
- steady: RATE ticks/s for SECONDS with 20 probe markets; each probe tick's lag runs from its
  send (loopback: its arrival) to the first GraphQL read, polled every 50 ms, that shows it;
  the writer's statements (its own count) and PostgreSQL's commits per second;
- final ticks: from the writer's first write once the steady replay stops, one last tick for
  200 markets, 20 a second; how many the database ends with (the old design drops a tick that
  arrives during its drain for a token it has already drained);
- flood: the replay as fast as the socket takes it; ticks/s the writer read, and its CPU use.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
from prometheus_client.parser import text_string_to_metric_families

from app import servers
from bench.old_streamer import OldStreamer
from bench.replay import Market, Probes, ReplayServer, both, flood, frame_pool, steady
from ingestion.coalescer import Coalescer, TrackedMarket
from ingestion.feed import parse_frame
from settings import ROOT, Settings
from sql.databases import scratch_database

MARKETS = 1000
PROBES = 20
PROBE_EVERY = 0.2  # seconds between two ticks of one probe market
PROBE_POLL = 0.05  # seconds between two GraphQL reads of the probe markets
FINAL_MARKETS = 200
FINAL_WAVE = 20
POOL_FRAMES = 4000
# A writer silent this long after its last statement is done (the old debounce is 10 s).
QUIET = 13.0
PROBE_QUERY = "query Probe($ids: [ID!]!) { markets(ids: $ids) { id outcomePrices } }"

Metrics = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@dataclass
class Design:
    name: str
    command: list[str]
    probe_base: int  # probe prices (base + k) / 10^4, distinct between designs
    tail: float  # seconds to wait for the last probes once the replay stops


@dataclass
class Result:
    name: str
    tick_path_rate: float = 0.0
    steady_ticks: int = 0
    steady_seconds: float = 0.0
    lags: list[float] = field(default_factory=list)
    probes_sent: int = 0
    writer_statements_steady: float = 0.0
    postgres_commits_steady: float = 0.0
    api_statements_steady: float = 0.0
    catch_up_statements: float = 0.0
    catch_up_seconds: float = 0.0
    flushes: float = 0.0
    flushes_within_two: float = 0.0
    flush_seconds_mean: float = 0.0
    markets_per_flush: float = 0.0
    final_kept: int = 0
    # The writer's own tick-to-commit histogram over the steady replay: (p50, p95) upper bounds.
    commit_lag: tuple[float | None, float | None] = (None, None)
    flood_ticks_sent: int = 0
    flood_ticks_read: float = 0.0
    flood_seconds: float = 0.0
    flood_cpu_seconds: float = 0.0


async def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ingestion", description=__doc__)
    parser.add_argument("--rate", type=float, default=20_000, help="steady ticks per second")
    parser.add_argument("--seconds", type=float, default=20, help="steady replay duration")
    parser.add_argument("--flood", type=float, default=8, help="flood duration")
    parser.add_argument("--interval", type=float, default=1.0, help="INGEST_FLUSH_INTERVAL")
    parser.add_argument("--users", type=int, default=200, help="seeded users (positions, TP/SL)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    settings = Settings.from_env(os.environ)
    postgres, redis_url, embedded = servers(settings)
    try:
        async with bench_database(postgres, args.users) as url:
            results = await run(args, url, redis_url)
    finally:
        for server in embedded:
            server.stop()
    print(report(args, results))
    if args.json:
        summary = [
            vars(r)
            | {"lags": None, "lag_p50": quantile(r.lags, 0.5), "lag_p95": quantile(r.lags, 0.95)}
            for r in results
        ]
        args.json.write_text(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())


async def run(args: argparse.Namespace, url: str, redis_url: str) -> list[Result]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            """
            SELECT id, clob_token_ids FROM market WHERE active AND NOT resolved
            ORDER BY volume DESC, id LIMIT $1
            """,
            MARKETS,
        )
    finally:
        await connection.close()
    markets = [Market(r["id"], r["clob_token_ids"][0], r["clob_token_ids"][1]) for r in rows]
    probes = markets[:: len(markets) // PROBES][:PROBES]
    ticking = [m for m in markets if m not in probes]
    pool, pool_ticks = frame_pool(ticking, POOL_FRAMES, random.Random(1))

    # The writer gets a core of its own; this process (the replay) and the API get the rest.
    cores = sorted(os.sched_getaffinity(0))
    writer_cores, other_cores = (cores[-1:], cores[:-1]) if len(cores) > 1 else ([], [])
    rates = await tick_path_rates(markets, pool, pool_ticks, writer_cores)
    if other_cores:
        os.sched_setaffinity(0, other_cores)

    environment = os.environ | {
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "CACHE_PREFIX": f"bench-{secrets.token_hex(4)}",
        "APP_ENV": "test",
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT": "false",
        "CACHE_WARM_MARKETS": "0",
        "HOST": "127.0.0.1",
        "INGEST_TOP_MARKETS": str(MARKETS),
        "INGEST_FLUSH_INTERVAL": str(args.interval),
    }
    api_port = free_port()
    designs = [
        Design("new worker", [sys.executable, "app.py", "ingest"], 1000, tail=5 * args.interval),
        Design("old streamer", [sys.executable, "-m", "bench.old_streamer"], 5000, tail=40),
    ]
    replay = Replay(probes, ticking, pool, pool_ticks)
    results = []
    serve = [sys.executable, "app.py", "serve"]
    with process(serve, environment | {"PORT": str(api_port)}, other_cores):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}") as api:
            await until(lambda: healthy(api), 30, "the API to start")
            for design, rate in zip(designs, rates, strict=True):
                print(f"{design.name}: measuring", file=sys.stderr)
                result = Result(design.name, tick_path_rate=rate)
                await measure(design, result, args, environment, writer_cores, api, url, replay)
                results.append(result)
    return results


@dataclass(frozen=True)
class Replay:
    probes: list[Market]
    ticking: list[Market]
    pool: list[str]
    pool_ticks: list[int]


async def measure(
    design: Design,
    result: Result,
    args: argparse.Namespace,
    environment: dict[str, str],
    cores: Sequence[int],
    api: httpx.AsyncClient,
    url: str,
    replay: Replay,
) -> None:
    feed = await ReplayServer().start()
    metrics_port = free_port()
    env = environment | {
        "FEED_URL": feed.url,
        "INGEST_METRICS_PORT": str(metrics_port),
        # The replay server serves one connection with no per-connection limit, and the old
        # design has no shards: both writers on one connection compare the designs, as before.
        "INGEST_TOKENS_PER_CONNECTION": "1000000",
    }
    async with (
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{metrics_port}") as client,
        running(design.command, env, cores) as writer,
    ):
        scrape = Scraper(client)
        await asyncio.wait_for(feed.connected.wait(), 30)
        wanted = {t for m in replay.probes + replay.ticking for t in (m.yes, m.no)}
        await until(lambda: wanted <= feed.subscribed, 30, "the writer's subscription")
        await until(scrape.read, 30, "the writer's /metrics")
        database = await asyncpg.connect(url)
        try:
            # Steady replay, probed through the API.
            probes = Probes(replay.probes, design.probe_base)
            stop_probing = asyncio.Event()
            prober = asyncio.create_task(probe(api, probes, stop_probing))
            before = await snapshot(scrape, api, database, writer.pid)
            result.steady_ticks = await steady(
                feed,
                replay.pool,
                replay.pool_ticks,
                rate=args.rate,
                seconds=args.seconds,
                probes=probes,
                probe_every=PROBE_EVERY,
            )
            after = await snapshot(scrape, api, database, writer.pid)
            seconds = result.steady_seconds = after.taken_at - before.taken_at
            result.writer_statements_steady = (
                writer_statements(after) - writer_statements(before)
            ) / seconds
            result.postgres_commits_steady = (after.commits - before.commits) / seconds
            result.api_statements_steady = (api_statements(after) - api_statements(before)) / (
                seconds
            )
            result.commit_lag = (
                bucket_quantile(before.writer, after.writer, 0.5),
                bucket_quantile(before.writer, after.writer, 0.95),
            )

            # The last ticks, sent once the writer writes again; the probes' tail meanwhile.
            final = await send_final(feed, scrape, replay.ticking, after)
            await until(lambda: probes.pending == 0, design.tail, None)
            stop_probing.set()
            await prober
            result.lags = probes.lags
            result.probes_sent = sum(map(len, probes.sent.values()))
            result.final_kept = await settle_final(database, scrape, final)
            settled = await snapshot(scrape, api, database, writer.pid)
            result.catch_up_statements = writer_statements(settled) - writer_statements(after)
            result.catch_up_seconds = scrape.moved_at - after.taken_at
            flush_stats(result, settled.writer)

            # Flood: as fast as the socket takes it.
            result.flood_ticks_sent = await flood(feed, replay.pool, replay.pool_ticks, args.flood)
            flooded = await snapshot(scrape, api, database, writer.pid)
            result.flood_seconds = flooded.taken_at - settled.taken_at
            result.flood_ticks_read = ticks_read(flooded) - ticks_read(settled)
            result.flood_cpu_seconds = flooded.cpu - settled.cpu
        finally:
            await database.close()
    await feed.stop()


def flush_stats(result: Result, found: Metrics) -> None:
    result.flushes = found.get(("polycool_ingest_flush_statements_count", ()), 0.0)
    result.flushes_within_two = found.get(
        ("polycool_ingest_flush_statements_bucket", (("le", "2.0"),)), 0.0
    )
    count = found.get(("polycool_ingest_flush_seconds_count", ()), 0.0)
    if count:
        result.flush_seconds_mean = found[("polycool_ingest_flush_seconds_sum", ())] / count
        result.markets_per_flush = found[("polycool_ingest_flush_markets_sum", ())] / count


async def send_final(
    feed: ReplayServer, scrape: Scraper, ticking: list[Market], after: Snapshot
) -> dict[str, Decimal]:
    """Once the writer writes again after the replay, a last tick for FINAL_MARKETS markets, in
    waves of FINAL_WAVE a second apart, while the writer is busy catching up."""
    await until(
        lambda: written_since(scrape, writer_statements(after)), 60, "a write after the replay"
    )
    rng = random.Random(7)
    chosen = rng.sample(ticking, FINAL_MARKETS)
    final = {m.id: Decimal(rng.randint(100, 900)) / 1000 for m in chosen}
    for start in range(0, FINAL_MARKETS, FINAL_WAVE):
        wave = chosen[start : start + FINAL_WAVE]
        await feed.send(orjson.dumps([both(m, final[m.id]) for m in wave]).decode())
        await asyncio.sleep(1.0)
    return final


async def settle_final(
    database: asyncpg.Connection, scrape: Scraper, final: dict[str, Decimal]
) -> int:
    """How many markets end at their final tick: waits for all, or for the writer to stay
    quiet longer than the old debounce (the old design may still write them), 60 s at most."""
    deadline = time.monotonic() + 60
    while True:
        rows = await database.fetch(
            "SELECT id, outcome_prices FROM market WHERE id = ANY($1::text[])", list(final)
        )
        kept = sum(
            1 for r in rows if list(r["outcome_prices"]) == [final[r["id"]], 1 - final[r["id"]]]
        )
        await scrape.read()
        quiet = time.monotonic() - scrape.moved_at > QUIET
        if kept == len(final) or quiet or time.monotonic() > deadline:
            return kept
        await asyncio.sleep(0.25)


async def probe(api: httpx.AsyncClient, probes: Probes, stop: asyncio.Event) -> None:
    """Read the probe markets through GraphQL every 50 ms until told to stop."""
    ids = [m.id for m in probes.markets]
    while not stop.is_set():
        response = await api.post(
            "/graphql", json={"query": PROBE_QUERY, "variables": {"ids": ids}}
        )
        at = time.monotonic()
        if response.status_code == 200:
            for market in response.json()["data"]["markets"]:
                if market and market["outcomePrices"]:
                    probes.observe(market["id"], Decimal(market["outcomePrices"][0]), at)
        else:
            probes.failed_reads += 1
            if probes.failed_reads == 1:
                print(f"a probe read failed: {response.status_code} {response.text[:300]}")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PROBE_POLL)


async def tick_path_rates(
    markets: list[Market], pool: list[str], pool_ticks: list[int], cores: Sequence[int]
) -> tuple[float, float]:
    """Ticks per CPU second through each design's tick path alone, on one core: parse, then
    coalesce (with a flush's `take` every ~20,000 ticks) or debounce; yielding to the event
    loop every 100 frames, as reading a socket would. CPU time, not wall time, so that other
    work on the machine does not count; the best of three runs of about 200,000 ticks."""
    if cores:
        os.sched_setaffinity(0, set(cores))
    frames = pool * max(1, 200_000 // sum(pool_ticks))
    ticks = sum(pool_ticks) * (len(frames) // len(pool))
    take_every = max(1, 20_000 * len(pool) // sum(pool_ticks))

    async def coalesce() -> float:
        coalescer = Coalescer()
        coalescer.track(TrackedMarket(m.id, (m.yes, m.no), None) for m in markets)
        started = time.process_time()
        for count, raw in enumerate(frames, 1):
            coalescer.offer(parse_frame(raw).ticks, 0.0)
            if count % take_every == 0:
                coalescer.take()
            if count % 100 == 0:
                await asyncio.sleep(0)
        return ticks / (time.process_time() - started)

    async def debounce() -> float:
        old = OldStreamer(None, None)  # type: ignore[arg-type]  # the tick path uses neither
        started = time.process_time()
        for count, raw in enumerate(frames, 1):
            old.on_frame(raw, 0.0)
            if count % 100 == 0:
                await asyncio.sleep(0)
        rate = ticks / (time.process_time() - started)
        old.stop()
        return rate

    return max([await coalesce() for _ in range(3)]), max([await debounce() for _ in range(3)])


@dataclass
class Snapshot:
    taken_at: float
    writer: Metrics
    api: Metrics
    commits: float
    cpu: float


@dataclass
class Scraper:
    """The writer's /metrics, remembering when its statement count last moved."""

    client: httpx.AsyncClient
    statements: float = -1.0
    moved_at: float = 0.0

    async def read(self) -> Metrics:
        found = await metrics(self.client)
        statements = writer_statements_of(found)
        if statements != self.statements:
            self.statements, self.moved_at = statements, time.monotonic()
        return found


async def snapshot(
    scrape: Scraper, api: httpx.AsyncClient, database: asyncpg.Connection, pid: int
) -> Snapshot:
    commits = await database.fetchval(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
    )
    return Snapshot(
        taken_at=time.monotonic(),
        writer=await scrape.read(),
        api=await metrics(api),
        commits=float(commits),
        cpu=cpu_seconds(pid),
    )


async def metrics(client: httpx.AsyncClient) -> Metrics:
    try:
        text = (await client.get("/metrics")).text
    except httpx.HTTPError:
        return {}
    found: Metrics = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def written_since(scrape: Scraper, statements: float) -> bool:
    return writer_statements_of(await scrape.read()) > statements


def writer_statements_of(found: Metrics) -> float:
    return found.get(("polycool_sql_statements_total", ()), 0.0)


def writer_statements(snap: Snapshot) -> float:
    return writer_statements_of(snap.writer)


def api_statements(snap: Snapshot) -> float:
    return writer_statements_of(snap.api)


def ticks_read(snap: Snapshot) -> float:
    return snap.writer.get(("polycool_ingest_ticks_total", ()), 0.0)


async def healthy(api: httpx.AsyncClient) -> bool:
    try:
        return (await api.get("/healthz")).status_code == 200
    except httpx.HTTPError:
        return False


async def until(check: Callable[[], Any], seconds: float, what: str | None) -> bool:
    """Poll `check` (sync or async) until true; False after `seconds`, or raise if `what`."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return True
        if time.monotonic() > deadline:
            if what is not None:
                raise TimeoutError(f"waited {seconds}s for {what}")
            return False
        await asyncio.sleep(0.05)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port: int = probe_socket.getsockname()[1]
    return port


@contextlib.contextmanager
def process(command: list[str], env: dict[str, str], cores: Sequence[int] = ()) -> Any:
    child = subprocess.Popen(command, cwd=ROOT, env=env)
    if cores:
        os.sched_setaffinity(child.pid, set(cores))
    try:
        yield child
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


@asynccontextmanager
async def running(
    command: list[str], env: dict[str, str], cores: Sequence[int]
) -> AsyncIterator[subprocess.Popen[bytes]]:
    with process(command, env, cores) as child:
        yield child


@asynccontextmanager
async def bench_database(server_url: str, users: int) -> AsyncIterator[str]:
    """A database of the benchmark's own: migrated, seeded, dropped at the end."""
    from seed import seed_database

    async with scratch_database(server_url, "bench") as url:
        connection = await asyncpg.connect(url)
        try:
            await seed_database(connection, users=users, seed=1)
        finally:
            await connection.close()
        yield url


def bucket_quantile(before: Metrics, after: Metrics, q: float) -> float | None:
    """From the tick-to-commit histogram's growth between two scrapes: the smallest bucket
    bound under which a fraction q of the observations fell (None without observations)."""
    name = "polycool_ingest_tick_to_commit_seconds_bucket"
    bounds = sorted(
        (float(dict(labels)["le"]), after[key] - before.get(key, 0.0))
        for key in after
        if key[0] == name
        for labels in [key[1]]
    )
    total = bounds[-1][1] if bounds else 0.0
    if not total:
        return None
    return next(bound for bound, count in bounds if count >= q * total)


def quantile(values: list[float], q: float) -> float | None:
    """The q-quantile by rank (no interpolation); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(args: argparse.Namespace, results: list[Result]) -> str:
    def percentile(values: list[float], q: float) -> str:
        value = quantile(values, q)
        return "none visible" if value is None else f"{value:.3f} s"

    rows: list[tuple[str, ...]] = [
        ("", *(r.name for r in results)),
        ("tick path alone (ticks per CPU second)", *(f"{r.tick_path_rate:,.0f}" for r in results)),
        (
            f"steady replay (ticks/s over {args.seconds:g} s)",
            *(f"{r.steady_ticks / r.steady_seconds:,.0f}" for r in results),
        ),
        ("probe ticks visible", *(f"{len(r.lags)} of {r.probes_sent}" for r in results)),
        ("tick-to-visible lag p50", *(percentile(r.lags, 0.5) for r in results)),
        ("tick-to-visible lag p95", *(percentile(r.lags, 0.95) for r in results)),
        (
            "writer's own, oldest unwritten tick to commit: p50; p95",
            *(
                "; ".join("-" if v is None else f"<= {v:g} s" for v in r.commit_lag)
                for r in results
            ),
        ),
        (
            "lag mean",
            *(f"{statistics.fmean(r.lags):.3f} s" if r.lags else "-" for r in results),
        ),
        (
            "writer statements/s during the replay",
            *(f"{r.writer_statements_steady:.1f}" for r in results),
        ),
        (
            "PostgreSQL commits/s during the replay (all clients)",
            *(f"{r.postgres_commits_steady:.1f}" for r in results),
        ),
        (
            "  of which the API's probe reads (statements/s)",
            *(f"{r.api_statements_steady:.1f}" for r in results),
        ),
        (
            "flushes; of them with <= 2 statements",
            *(f"{r.flushes:.0f}; {r.flushes_within_two:.0f}" for r in results),
        ),
        (
            "mean flush: markets, duration",
            *(
                f"{r.markets_per_flush:.0f}, {r.flush_seconds_mean * 1000:.0f} ms"
                if r.flushes
                else "-"
                for r in results
            ),
        ),
        (
            "after the replay (final ticks included): statements; last one at",
            *(f"{r.catch_up_statements:.0f}; {r.catch_up_seconds:.1f} s" for r in results),
        ),
        (
            f"final ticks kept (of {FINAL_MARKETS} markets)",
            *(str(r.final_kept) for r in results),
        ),
        (
            "flood: ticks/s sent; read by the writer",
            *(
                f"{r.flood_ticks_sent / r.flood_seconds:,.0f}; "
                f"{r.flood_ticks_read / r.flood_seconds:,.0f}"
                for r in results
            ),
        ),
        (
            "flood: writer CPU; ticks per CPU second",
            *(
                f"{r.flood_cpu_seconds / r.flood_seconds:.0%}; "
                f"{r.flood_ticks_read / max(r.flood_cpu_seconds, 1e-9):,.0f}"
                for r in results
            ),
        ),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


if __name__ == "__main__":
    asyncio.run(main())
