"""Server processes a test starts: `python app.py serve`, or a test's own runner, on a free port.

Each writes its log to a file of the test's (shown when the test fails), is healthy once
GET /healthz answers (uvicorn answers after the lifespan has run), and is stopped by SIGTERM,
then SIGKILL if it lingers. Every wait is bounded.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import pytest

from settings import ROOT

START_TIMEOUT = 30.0
SERVE = ("app.py", "serve")


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]

    def log_tail(self, lines: int = 40) -> str:
        self.log_file.flush()
        text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        header = f"--- server {self.name} ({self.url}), last {len(text)} log lines ---"
        return "\n".join([header, *text])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_server(
    name: str, env: dict[str, str], log_dir: Path, command: Sequence[str] = SERVE
) -> Server:
    """`python <command>` from the checkout, with HOST and PORT set; not yet healthy."""
    port = free_port()
    log_path = log_dir / f"server-{name}.log"
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, *command],
        cwd=ROOT,
        env={**env, "HOST": "127.0.0.1", "PORT": str(port)},
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    return Server(name, f"http://127.0.0.1:{port}", process, log_path, log_file)


def wait_healthy(servers: list[Server]) -> None:
    """Until GET /healthz answers on every server (uvicorn answers once the lifespan is done)."""
    deadline = time.monotonic() + START_TIMEOUT
    waiting = list(servers)
    with httpx.Client(timeout=1.0) as http:
        while waiting:
            server = waiting[0]
            if server.process.poll() is not None:
                pytest.fail(f"server {server.name} exited at start\n{server.log_tail()}")
            try:
                if http.get(server.url + "/healthz").status_code == 200:
                    waiting.pop(0)
                    continue
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server {server.name} not healthy in {START_TIMEOUT:.0f}s\n"
                            f"{server.log_tail()}")  # fmt: skip
            time.sleep(0.1)


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)
    server.log_file.close()


@contextmanager
def running_servers(
    specs: Sequence[tuple[str, dict[str, str], Sequence[str]]], log_dir: Path
) -> Iterator[dict[str, Server]]:
    """Servers by name, each `(name, env, command)`, all healthy; every one started is stopped
    at the end, also when a later one fails to start."""
    started: dict[str, Server] = {}
    try:
        for name, env, command in specs:
            started[name] = start_server(name, env, log_dir, command)
        wait_healthy(list(started.values()))
        yield started
    finally:
        for server in started.values():
            stop_server(server)


def metric_total(text: str, name: str) -> float:
    """The sum of a Prometheus counter's samples in /metrics output (every label set)."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith((name + " ", name + "{"))
    )
