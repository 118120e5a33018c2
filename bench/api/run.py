"""The API benchmark, end to end: `python -m bench.api` (or `make bench`).

Builds a database of its own on DATABASE_URL's server (default: the machine's PostgreSQL on
127.0.0.1:5432), migrates and seeds it (the 3,000 real markets, 10,000 users with seed 42, and
ten users each holding exactly 1, 10, 20, 50, 200 and 1,000 positions), starts a Redis of its
own (or uses REDIS_URL), then each system in turn on loopback: the service (warm, its execution
path with no whole answers kept, cold, two uvicorn workers), the old design
(bench/api/old_design.py; with its cache, and cold) and PostGraphile 4 on the same database. wrk
drives every scenario; counters are read around each point; py-spy profiles the live workload
and the Portfolio path, warm and executed (bench/api/profile.py); the mixed bot workload runs on
the service and the old design; the live-price workload (bench/api/live.py) on the service, the
old design and PostGraphile. Issue 11's targets compare points minutes apart, and the host's
speed drifts within minutes: the points they compare, and the live workload's service and
PostGraphile, are measured in `--rounds` rounds (3), and each target reads its median ratio.
Writes docs/benchmarks.md (between its markers), its plots and the raw results in
docs/benchmarks/, then drops the database and stops every process it started.

`--only issue-11` runs the points issue 11's targets read and the live workload only, and
writes its page to a folder of its own (not over docs/benchmarks.md's last full run).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import os
import platform
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import redis

from bench.api.agreement import agreement
from bench.api.data import SIZES, bench_database
from bench.api.documents import contract_documents
from bench.api.live import live
from bench.api.load import SCRIPT, require_wrk, write_bodies
from bench.api.mixed import mixed_bodies, price_updates, send_each_once, steady_state_bodies
from bench.api.probes import Probe
from bench.api.profile import find_py_spy, profile_service
from bench.api.report import (
    ROUNDED,
    Results,
    load_results,
    plain,
    plots,
    render,
    write_page,
)
from bench.api.scenarios import Bodies, Scenario, answer, measure
from bench.api.servers import BENCH, POSTGRAPHILE_CLI, Running, System, redis_server, running
from settings import ROOT

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"

SYSTEMS = (
    System("polycool", "Polycool, warm cache", "polycool"),
    System(
        "polycool-exec",
        "Polycool, execution path (ANSWER_CACHE=false)",
        "polycool",
        answer_cache=False,
    ),
    System("polycool-cold", "Polycool, cold cache", "polycool", cold=True),
    System("polycool-2w", "Polycool, warm, WORKERS=2", "polycool", workers=2),
    # Every writer bumps versions, so the TTLs of positions and prices only bound what changes
    # outside the service: a deployment may lengthen them (the defaults are the old system's).
    System(
        "polycool-ttl",
        "Polycool, warm, position/price TTLs 10 min",
        "polycool",
        versioned_ttl=600,
        mixed_only=True,
    ),
    System("old", "old design, its cache", "old"),
    System("old-cold", "old design, cold cache", "old", cold=True),
    System("postgraphile", "PostGraphile 4.14.1", "postgraphile"),
)
PORTFOLIOS = tuple(Scenario("Portfolio", n) for n in SIZES)
OTHERS = (Scenario("MarketsBatch"), Scenario("TrendingMarkets"))
# Issue 12's screens: settled positions, the trade history, the smart-wallet feed, the
# leaderboard (each at 10 connections, on every single-process system).
ISSUE_12 = tuple(
    Scenario(name) for name in ("Claimable", "TradeHistory", "SmartTrades", "Leaderboard")
)
SCENARIOS = (*PORTFOLIOS, *OTHERS, *ISSUE_12)
# The systems whose Portfolio (20 positions) py-spy profiles, and the files' names.
PROFILED = {"polycool": "profile-portfolio-20", "polycool-exec": "profile-portfolio-20-executed"}
SWEEP = (1, 5, 20, 50)  # concurrencies besides 10, for Portfolio with 20 positions
# What `--only NAME` runs: systems, scenarios (at 10 connections only), whether the live
# workload runs too.
ONLY = {
    "issue-11": (
        ("polycool", "polycool-exec", "polycool-cold", "old", "postgraphile"),
        ("Portfolio-20", "Portfolio-50", "MarketsBatch", "TrendingMarkets"),
        True,
    ),
    "issue-12": (
        ("polycool", "polycool-exec", "old", "postgraphile"),
        tuple(s.name for s in ISSUE_12),
        False,
    ),
}

INTRO = """# Benchmarks

What the API costs under load, against the old design and PostGraphile, on the same data and
machine, in one command:

```sh
make bench          # or: .venv/bin/python -m bench.api   (about 22 minutes)
```

It needs wrk (`apt-get install -y wrk`), redis-server, Node.js 20 with npm (PostGraphile 4,
`bench/package-lock.json`) and the `bench` extra (`pip install '.[bench]'`: matplotlib, psutil,
py-spy); `make bench` installs the last two. Everything runs on 127.0.0.1: a database of its own
on DATABASE_URL's server (default the machine's PostgreSQL), dropped at the end; a Redis of its
own, the first `redis-server` on PATH (the machine table names its version); each system in turn,
alone on the machine with PostgreSQL, Redis and wrk.

How to read the tables:

- **req/s, p50/p95/p99**: wrk, one thread, closed loop, 10 connections unless said otherwise.
- **SQL/req, Redis RT/req**: the server's own counters (`polycool_sql_statements_total`,
  `polycool_redis_round_trips_total` on /metrics), divided by the requests; the old design keeps
  the same counters. "–" where a system has none (PostGraphile, several workers).
- **PG xact/req, PG xact/s**: PostgreSQL's own count of transactions in the benchmark's
  database (`pg_stat_database`), the same for every system. pg_stat_statements needs
  `shared_preload_libraries`, which the machine's server does not load. asyncpg's pool sends
  its reset query (`RESET ALL; UNLISTEN *; ...`) each time a connection goes back to the pool:
  one more transaction per statement for the service and the old design.
- **Redis cmds/req**: commands processed by the benchmark's Redis (INFO commandstats).
- **CPU ms/req**: CPU time (user + system) of the server's processes, of the PostgreSQL
  backends connected to the database, and of redis-server, divided by the requests.
- **peak RSS**: the server's processes, sampled every 0.2 s.
- **one request: SQL / Redis**: `X-Debug-Counts` on one request after the point (its state:
  warm after a warm run, cold in a cold one).
- **cold cache**: every `CACHE_TTL_*` set to 1 ms, so each lookup misses and the request pays
  the SQL and the fills; the same for the old design. PostGraphile has no cache.
- **execution path**: the service with ANSWER_CACHE=false: no whole answers kept, every query
  executes through the loaders and Redis (no SQL once warm): the path a read takes once
  something it read has changed, which under moving prices is most reads.
- **old design**: `bench/api/old_design.py`: the service's stack and SQL files, but resolvers
  without loaders (one Redis read, and on a miss one query, per position's market) and a write
  that wipes every user's cached positions (SCAN + UNLINK). Its answers are checked to be the
  service's, byte for byte.
- **slow points** run longer (up to 20 s) so that their percentiles rest on about 40 answers;
  "none in 20 s" means no request finished in the window.
- **mixed workload** (`bench/api/mixed.py`): 85% Portfolio and 10% PositionHistory for 1,000
  users drawn from the 10,000, 2.5% RecordTrade and 2.5% SetTpSl, and UpdateMarketPrices for 50
  of the 1,000 most traded markets every second beside wrk; 10 s of warm-up, then 20 s measured.
  The hit ratio depends on how often a user comes back within the TTLs (30 s for positions, 20 s
  for prices), so on the throughput: a faster server sees a higher one on the same workload.
- **live prices** (`bench/api/live.py`): 1,000 users holding 10 ACTIVE positions each on the
  300 most traded markets; wrk cycles through their Portfolios while every market they hold
  gets a new price every second (UpdateMarketPrices for the service, as deployed, and the old
  design; an UPDATE for PostGraphile). With 1,000 users most reads take the execution path; the
  second row, 100 users, is the regime where a kept answer survives the rest of its second.
- **others' CPU**: cores' worth of CPU used during the point by processes other than the server,
  PostgreSQL, Redis and wrk (another job on the machine); above ~0.15 the point is pessimistic.
- **settings**: the Python servers run with APP_ENV=test, RATE_LIMIT=false, LOG_LEVEL=INFO (the
  JSON request line, to a file) and POOL_ACQUIRE_TIMEOUT=30 (so the old design's N+1 queues
  behind the pool of 10 instead of failing), each with a fresh CACHE_PREFIX and an emptied Redis.
- **the old audit's claims** (latency −60 %, database load −40 %, hit ratio +15 points): the
  audit is not in the repository; its claims are read as what the redesign gains over the old
  design, and set against the new design measured against the old one.
- **PostGraphile**: `postgraphile` 4.14.1 on the same database (`--disable-query-log`, pool of
  10 as the service's), answering the same data through its generated schema, with the derived
  values as computed columns (`bench/api/data.py`, `bench/api/documents.py`).
- **issue 12's screens** (Claimable, TradeHistory, SmartTrades, Leaderboard): resolved markets,
  settled users' positions and trades, and wallet trades put in the database by SQL before any
  system starts (`bench/api/data.py`); the old design keeps the feed 5 minutes and the
  leaderboard 1 hour and queries each smart trade's market by its token.
"""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--duration", type=float, default=5, help="seconds measured per point")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of load before each")
    parser.add_argument("--mixed-duration", type=float, default=20)
    parser.add_argument("--mixed-warmup", type=float, default=10)
    parser.add_argument("--profile-seconds", type=float, default=8, help="0: no profile")
    parser.add_argument(
        "--systems",
        default=",".join(s.key for s in SYSTEMS),
        help="comma-separated, of: " + ", ".join(s.key for s in SYSTEMS),
    )
    parser.add_argument(
        "--scenarios",
        help="comma-separated, of: "
        + ", ".join(scenario_key(s) for s in SCENARIOS)
        + " (default all; when given, at 10 connections only)",
    )
    parser.add_argument("--no-mixed", action="store_true")
    parser.add_argument("--mixed-only", action="store_true", help="only the mixed workload")
    parser.add_argument("--no-live", action="store_true")
    parser.add_argument("--live-only", action="store_true", help="only the live-price workload")
    parser.add_argument("--live-duration", type=float, default=15)
    parser.add_argument("--live-warmup", type=float, default=5)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="how many times issue 11's targets are measured (the points they compare, and the "
        "live workload's service and PostGraphile at 1,000 users); each target reads the "
        "median of its rounds' ratios",
    )
    parser.add_argument(
        "--only",
        choices=sorted(ONLY),
        help="issue-11: the systems and scenarios its targets read, no mixed workload, no "
        "profile, and the live workload; issue-12: its four rows (Claimable, TradeHistory, "
        "SmartTrades, Leaderboard) on the service, its execution path, the old design and "
        "PostGraphile, nothing else; the page goes to $TMPDIR/polycool-bench-ISSUE/ unless "
        "--output says otherwise",
    )
    parser.add_argument("--output", type=Path, help="default docs/benchmarks.md")
    parser.add_argument("--keep", action="store_true", help="keep the run's folder (logs)")
    parser.add_argument(
        "--render",
        type=Path,
        metavar="RESULTS_JSON",
        help="only write the page and plots again from an earlier run's results.json",
    )
    args = parser.parse_args(argv)
    if args.only is not None:
        systems, scenarios, with_live = ONLY[args.only]
        args.systems, args.scenarios = ",".join(systems), ",".join(scenarios)
        args.no_mixed, args.profile_seconds = True, 0
        args.no_live = args.no_live or not with_live
    if args.output is None:
        partial = Path(tempfile.gettempdir()) / f"polycool-bench-{args.only}" / "benchmarks.md"
        args.output = ROOT / "docs" / "benchmarks.md" if args.only is None else partial
    known = {scenario_key(s) for s in SCENARIOS}
    if args.scenarios is not None and not set(args.scenarios.split(",")) <= known:
        parser.error(f"--scenarios {args.scenarios!r}: expected some of {', '.join(known)}")
    return args


def scenario_key(scenario: Scenario) -> str:
    """A scenario as --scenarios names it: Portfolio-20, MarketsBatch."""
    return scenario.name + ("" if scenario.positions is None else f"-{scenario.positions}")


def plan(system: System, chosen: str | None) -> list[tuple[Scenario, int]]:
    """Which points each system runs: all of them for the main rows, fewer for variants (the
    execution path: each scenario at 10 connections, not the concurrency sweep); with
    `chosen` (--scenarios), those scenarios at 10 connections only."""
    if system.workers > 1:
        points = [(Scenario("Portfolio", 20), c) for c in (10, 20, 50)]
        points += [(s, 10) for s in OTHERS]
    else:
        points = [(s, 10) for s in SCENARIOS]
        if not system.cold and system.answer_cache:
            points += [(Scenario("Portfolio", 20), c) for c in SWEEP]
    if chosen is None:
        return points
    wanted = set(chosen.split(","))
    return [(s, c) for s, c in points if scenario_key(s) in wanted and c == 10]


def compared(system: System, chosen: str | None) -> list[Scenario]:
    """The scenarios whose answers agreement.py compares across systems: Portfolio 20 as
    always, and issue 12's that this run measures on `system` (first asked before the point,
    so the service's answer is a cold one)."""
    measured = {scenario_key(s) for s, _ in plan(system, chosen)}
    return [Scenario("Portfolio", 20)] + [s for s in ISSUE_12 if scenario_key(s) in measured]


def check_tools(systems: Sequence[System]) -> None:
    require_wrk()
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise SystemExit(
            "matplotlib is missing: `.venv/bin/pip install '.[bench]'` (or `make bench`)"
        ) from None
    if any(s.kind == "postgraphile" for s in systems) and (
        shutil.which("node") is None or not POSTGRAPHILE_CLI.exists()
    ):
        raise SystemExit("PostGraphile is missing: `npm ci --prefix bench` (Node.js 20, npm)")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render is not None:
        write_results(args.output, load_results(args.render))
        return 0
    wanted = set(args.systems.split(","))
    systems = [s for s in SYSTEMS if s.key in wanted]
    check_tools(systems)
    log(f"the page goes to {args.output}")
    folder = Path(tempfile.mkdtemp(prefix="polycool-bench-api-"))
    try:
        asyncio.run(run(args, systems, folder))
    finally:
        if args.keep:
            print(f"logs kept in {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


async def run(args: argparse.Namespace, systems: list[System], folder: Path) -> None:
    started = time.monotonic()
    server_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    documents = contract_documents()
    script = folder / "post.lua"
    script.write_text(SCRIPT)
    argv = " ".join(shlex.quote(a) for a in sys.argv[1:])
    results = Results(
        command=f"python -m bench.api {argv}".strip(),
        machine=[],
        systems=systems,
        duration=args.duration,
        warmup=args.warmup,
    )
    with ExitStack() as stack:
        given_redis = os.environ.get("REDIS_URL")
        redis_url = given_redis or stack.enter_context(redis_server(folder))
        async with bench_database(server_url, args.users, args.seed) as data:
            log(f"database ready: {data.seeded_users:,} users, {data.seeded_positions:,} positions")
            results.machine = await machine(data.url, redis_url)
            bodies = Bodies(data, documents, folder, args.seed)
            # system key -> scenario key -> the answer to its first body (agreement.py)
            answers: dict[str, dict[str, Any]] = {}
            points = not (args.mixed_only or args.live_only)

            async def measured(
                system: System, wanted: list[tuple[Scenario, int]], round_: int
            ) -> None:
                """`wanted`'s points on a server of its own; the first round also asks for the
                answers agreement.py compares and takes the profiles."""
                if given_redis is None:
                    redis.Redis.from_url(redis_url).flushall()
                prefix = f"bench-{system.key}-{secrets.token_hex(3)}"
                with running(system, data.url, redis_url, prefix, folder) as server:
                    probe = Probe(
                        data.url,
                        data.url.rsplit("/", 1)[1],
                        redis_url,
                        server.pid,
                        f"{server.base_url}/metrics" if system.counted else None,
                    )
                    try:
                        if round_ == 1:
                            answers[system.key] = {
                                scenario_key(s): await answer(
                                    server.base_url, bodies.path(system.kind, s)
                                )
                                for s in compared(system, args.scenarios)
                            }
                        for scenario, concurrency in wanted:
                            log(f"{system.label}: {scenario.label}, {concurrency} connections")
                            point = await measure(
                                server,
                                probe,
                                scenario,
                                bodies.path(system.kind, scenario),
                                concurrency=concurrency,
                                seconds=args.duration,
                                warmup=args.warmup,
                                script=script,
                            )
                            log(f"  {point.rps:,.0f} req/s, p95 {point.p95_ms:.2f} ms")
                            if round_ > 1:
                                point.extra["round"] = round_
                            results.points.append(point)
                        if round_ == 1 and system.key in PROFILED and args.profile_seconds > 0:
                            await profiled(system, server)
                    finally:
                        probe.close()

            async def profiled(system: System, server: Running) -> None:
                log(f"{system.label}: profiling Portfolio, 20 positions, with py-spy")
                found = await profile_service(
                    server,
                    bodies.path("polycool", Scenario("Portfolio", 20)),
                    name=PROFILED[system.key],
                    load=f"{system.label}: Portfolio, 20 positions, 10 connections",
                    script=script,
                    folder=args.output.parent / "benchmarks",
                    seconds=args.profile_seconds,
                )
                if found is None:
                    missing = "py-spy not found: no profile this run"
                    if missing not in results.notes:
                        results.notes.append(missing)
                else:
                    results.profiles.append(found)

            for system in systems:
                if not system.mixed_only and points:
                    await measured(system, plan(system, args.scenarios), 1)
            # Each system's points come minutes after the last system's, and the host's speed
            # drifts within minutes: the points issue 11's targets compare are measured again,
            # a round at a time, and each target reads its median ratio (report.py).
            for round_ in range(2, args.rounds + 1) if points else ():
                log(f"round {round_} of {args.rounds}: the points of issue 11's targets again")
                for system in systems:
                    again = [
                        (s, c)
                        for s, c in plan(system, args.scenarios)
                        if c == 10 and (system.key, s) in ROUNDED
                    ]
                    if again:
                        await measured(system, again, round_)
            if points:
                results.agreement = agreement(answers)
            if not (args.no_mixed or args.live_only):
                await mixed(args, systems, data, documents, folder, script, redis_url, results)
            if not (args.no_live or args.mixed_only):
                await live(
                    systems,
                    data,
                    documents,
                    folder,
                    script,
                    redis_url,
                    results,
                    seconds=args.live_duration,
                    warmup=args.live_warmup,
                    seed=args.seed,
                    flush_redis=given_redis is None,
                    profile=(args.output.parent / "benchmarks", args.profile_seconds),
                    rounds=args.rounds,
                )
    results.seconds = time.monotonic() - started
    busy = [
        p
        for p in results.points + results.mixed + results.live
        if p.extra.get("other_cpu_cores", 0) > 0.15
    ]
    if busy:
        worst = max(p.extra["other_cpu_cores"] for p in busy)
        results.notes.append(
            f"{len(busy)} points ran while other processes used more than 0.15 of a core "
            f"(at most {worst:.2f}): see the last column; their numbers are pessimistic."
        )
    if find_py_spy() is None:
        results.notes.append("py-spy missing: `pip install '.[bench]'`")
    write_results(args.output, results)


async def mixed(
    args: argparse.Namespace,
    systems: list[System],
    data: Any,
    documents: dict[str, str],
    folder: Path,
    script: Path,
    redis_url: str,
    results: Results,
) -> None:
    sequence = mixed_bodies(data, documents, args.seed)
    warm = write_bodies(folder / "mixed-warmup.jsonl", sequence[:10_000])
    measured = write_bodies(folder / "mixed.jsonl", sequence[10_000:])
    steady = steady_state_bodies(data, documents, args.seed)
    for system in systems:
        if system.key not in ("polycool", "polycool-ttl", "old"):
            continue
        if not os.environ.get("REDIS_URL"):
            redis.Redis.from_url(redis_url).flushall()
        prefix = f"bench-mixed-{system.key}-{secrets.token_hex(3)}"
        with running(system, data.url, redis_url, prefix, folder) as server:
            probe = Probe(data.url, "", redis_url, server.pid, f"{server.base_url}/metrics")
            try:
                log(f"{system.label}: mixed workload")
                async with price_updates(server.base_url, data, documents, args.seed) as feed:
                    await send_each_once(server.base_url, steady, concurrency=10)
                    await measure_warmup(server.base_url, warm, script, args.mixed_warmup)
                    before = feed.sent
                    point = await measure(
                        server,
                        probe,
                        Scenario("Mixed"),
                        measured,
                        concurrency=10,
                        seconds=args.mixed_duration,
                        warmup=0,
                        script=script,
                    )
                    point.extra["price_updates"] = feed.sent - before
                    point.extra["price_update_failures"] = feed.failed
                log(f"  {point.rps:,.0f} req/s, hit ratio {point.data_hit_ratio} (data)")
                results.mixed.append(point)
            finally:
                probe.close()


async def measure_warmup(url: str, bodies: Path, script: Path, seconds: float) -> None:
    from bench.api.load import run_wrk

    await asyncio.to_thread(run_wrk, url, bodies, connections=10, seconds=seconds, script=script)


async def machine(database_url: str, redis_url: str) -> list[tuple[str, str]]:
    connection = await asyncpg.connect(database_url)
    try:
        postgres = await connection.fetchval("SHOW server_version")
        preload = await connection.fetchval("SHOW shared_preload_libraries")
    finally:
        await connection.close()
    client = redis.Redis.from_url(redis_url)
    redis_version = client.info("server")["redis_version"]
    client.close()
    return [
        *await asyncio.to_thread(host),
        ("PostgreSQL", f"{postgres} (shared_preload_libraries: '{preload}')"),
        ("Redis", f"{redis_version} (the benchmark's own server, nothing persisted)"),
    ]


def host() -> list[tuple[str, str]]:
    """The machine, the tools and the versions of the service's stack."""
    import psutil

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )

    def version(package: str) -> str:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    def output(*command: str) -> str:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        return (done.stdout or done.stderr).split("\n")[0].strip()

    package = BENCH / "node_modules" / "postgraphile" / "package.json"
    postgraphile = orjson.loads(package.read_bytes())["version"] if package.exists() else "-"
    stack = ["strawberry-graphql", "graphql-core", "starlette", "uvicorn", "asyncpg", "redis"]
    stack += ["aiodataloader", "orjson"]
    commit = output("git", "-C", str(ROOT), "rev-parse", "--short", "HEAD")
    dirty = output("git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no")
    return [
        ("service commit", f"{commit}{' with uncommitted changes' if dirty else ''}"),
        ("CPU", f"{os.cpu_count()} cores, {cpu}"),
        ("memory", f"{psutil.virtual_memory().total / 2**30:.0f} GiB"),
        ("OS", platform.platform()),
        ("Python", platform.python_version()),
        ("Node.js / PostGraphile", f"{output('node', '--version')} / {postgraphile}"),
        ("load generator", output("wrk", "-v")),
        ("service stack", ", ".join(f"{p} {version(p)}" for p in stack)),
        (
            "uvicorn's loop and parser; Redis's parser",
            ", ".join(f"{p} {version(p)}" for p in ("uvloop", "httptools", "hiredis")),
        ),
    ]


def write_results(output: Path, results: Results) -> None:
    folder = output.parent / "benchmarks"
    folder.mkdir(parents=True, exist_ok=True)
    # The raw results first: a plot that fails must not lose the run (--render redraws).
    (folder / "results.json").write_bytes(orjson.dumps(plain(results), option=orjson.OPT_INDENT_2))
    images = plots(results, folder)
    write_page(output, render(results, SCENARIOS, images), INTRO)
    log(f"wrote {output} and {folder}/ in {results.seconds / 60:.1f} min")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
