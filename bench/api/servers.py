"""The processes the benchmark starts, on loopback only, and stops whatever happens.

Each is its own process group (so a uvicorn master and its workers stop together), its output
goes to a log file in the run's folder, and `stop` ends it by its id: SIGTERM, then SIGKILL
after 15 s.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

from settings import ROOT

BENCH = ROOT / "bench"
POSTGRAPHILE_CLI = BENCH / "node_modules" / "postgraphile" / "cli.js"

Kind = Literal["polycool", "old", "postgraphile"]


@dataclass(frozen=True)
class System:
    """One row of the tables: which server, how it is configured."""

    key: str
    label: str
    kind: Kind
    workers: int = 1
    cold: bool = False  # every cache entry expires after 1 ms: each lookup misses
    # CACHE_TTL_POSITIONS and CACHE_TTL_PRICES, when not the defaults (the old system's).
    versioned_ttl: float | None = None
    mixed_only: bool = False  # a row of the mixed workload only
    # False: ANSWER_CACHE=false, no whole answers kept, so every query executes (the path a
    # read takes once something it read changed); the loaders' cache still answers.
    answer_cache: bool = True

    @property
    def counted(self) -> bool:
        """One process serving /metrics with the service's counters (not PostGraphile)."""
        return self.kind != "postgraphile" and self.workers == 1


@dataclass
class Running:
    system: System
    process: subprocess.Popen[bytes]
    base_url: str

    @property
    def pid(self) -> int:
        return self.process.pid


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextlib.contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """A Redis of the benchmark's own, so FLUSHALL and INFO commandstats concern it alone."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found: install Debian's redis-server, or set REDIS_URL")
    port = free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(folder)]
    process = spawn(command, dict(os.environ), folder / "redis.log")
    try:
        url = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield url
    finally:
        stop(process)


def environment(
    system: System, database_url: str, redis_url: str, prefix: str, port: int
) -> dict[str, str]:
    env = dict(os.environ) | {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CACHE_PREFIX": prefix,
        "APP_ENV": "test",
        "RATE_LIMIT": "false",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "INFO",
        # The old design's N+1 queues behind the pool of 10: measure its latency, not
        # SERVICE_BUSY errors (the service itself never waits that long).
        "POOL_ACQUIRE_TIMEOUT": "30",
    }
    env.pop("API_KEYS", None)
    if system.workers > 1:
        env["WORKERS"] = str(system.workers)
    if system.cold:
        for name in ("PRICES", "POSITIONS", "MARKETS", "MARKET_LISTS", "USERS", "WALLETS"):
            env[f"CACHE_TTL_{name}"] = "0.001"
        env["CACHE_REFRESH_MARKETS"] = "false"  # nothing may stay cached
    if not system.answer_cache:
        env["ANSWER_CACHE"] = "false"
    if system.versioned_ttl is not None:
        for name in ("PRICES", "POSITIONS"):
            env[f"CACHE_TTL_{name}"] = str(system.versioned_ttl)
    return env


def command(system: System, database_url: str, port: int) -> list[str]:
    if system.kind == "postgraphile":
        node = shutil.which("node")
        if node is None or not POSTGRAPHILE_CLI.exists():
            raise SystemExit(
                "PostGraphile is not installed: `npm ci --prefix bench` (Node.js 20 and npm)"
            )
        return [
            node,
            str(POSTGRAPHILE_CLI),
            "--connection",
            database_url,
            "--schema",
            "public",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--disable-graphiql",
            "--disable-query-log",
            "--max-pool-size",
            "10",
        ]
    if system.kind == "old":
        return [sys.executable, "-m", "bench.api.old_design"]
    return [sys.executable, "app.py", "serve"]


@contextlib.contextmanager
def running(
    system: System, database_url: str, redis_url: str, prefix: str, folder: Path
) -> Iterator[Running]:
    port = free_port()
    env = environment(system, database_url, redis_url, prefix, port)
    process = spawn(command(system, database_url, port), env, folder / f"{system.key}.log")
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_ready(base_url, process, system)
        yield Running(system, process, base_url)
    finally:
        stop(process)


def wait_ready(base_url: str, process: subprocess.Popen[bytes], system: System) -> None:
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=base_url, timeout=2) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{system.label} exited at start (see its log)")
            with contextlib.suppress(httpx.HTTPError):
                if system.kind == "postgraphile":
                    answer = client.post("/graphql", json={"query": "{ __typename }"})
                else:
                    answer = client.get("/healthz")
                if answer.status_code == 200:
                    return
            time.sleep(0.1)
    raise RuntimeError(f"{system.label} did not answer within 60 s")
