"""Starting the service: an invalid setting refuses the start, however the service is started.

The process must end, with a non-zero status and the variable's name, before it answers any
request: a service that starts and answers every request with a bare 500 (what `uvicorn app:app`
did, its lifespan "auto" mode swallowing the error) looks healthy to a process supervisor.
Each case runs the real command in a subprocess and knocks on its port while it lives.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from settings import ROOT

DEADLINE = 30.0  # seconds a refused start may take to end (imports, embedded servers)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Ended:
    status: int | None  # None: still running at the deadline (then killed)
    output: str
    answered: bool  # a TCP connection to its port succeeded while it ran


def start(command: list[str], env: dict[str, str], port: int) -> Ended:
    """Run `command` until it ends or DEADLINE passes, trying its port all the while."""
    # A session of its own: uvicorn's workers are killed with it if it outlives the deadline.
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    answered = False
    deadline = time.monotonic() + DEADLINE
    while process.poll() is None and time.monotonic() < deadline:
        with socket.socket() as knock:
            knock.settimeout(0.2)
            answered |= knock.connect_ex(("127.0.0.1", port)) == 0
        time.sleep(0.05)
    status = process.poll()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    output, _ = process.communicate(timeout=10)
    return Ended(status, output.decode(), answered)


@pytest.fixture
def base_env(database_url: str, redis_url: str, tmp_path: Path) -> dict[str, str]:
    """A valid environment: the tests' own servers, so a refusal is the setting's doing."""
    unset = ("API_KEYS", "APP_ENV", "WORKERS", "PROMETHEUS_MULTIPROC_DIR")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    return {
        **env,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CACHE_WARM_MARKETS": "0",
        "CACHE_REFRESH_MARKETS": "false",
        "DATA_DIR": str(tmp_path / "data"),
    }


def uvicorn(port: int, *more: str) -> list[str]:
    return [sys.executable, "-m", "uvicorn", "app:app", "--port", str(port), *more]


def serve() -> list[str]:
    return [sys.executable, "app.py", "serve"]


# (what is wrong, the variable the refusal must name)
INVALID = [
    ({"APP_ENV": "production"}, "API_KEYS"),  # the defect as found: production with no keys
    ({"CACHE_TTL_PRICES": "soon"}, "CACHE_TTL_PRICES"),
    ({"RATE_LIMIT_PER_USER": "many"}, "RATE_LIMIT_PER_USER"),
]


@pytest.mark.parametrize(("invalid", "named"), INVALID, ids=[n for _, n in INVALID])
def test_uvicorn_refuses_an_invalid_setting_before_serving(
    base_env: dict[str, str], invalid: dict[str, str], named: str
) -> None:
    port = free_port()
    ended = start(uvicorn(port), {**base_env, **invalid}, port)
    assert ended.status not in (None, 0), ended.output
    assert named in ended.output
    assert not ended.answered, f"it listened on {port} before refusing:\n{ended.output}"


@pytest.mark.parametrize(("invalid", "named"), INVALID[:2], ids=[n for _, n in INVALID[:2]])
def test_serve_with_workers_refuses_an_invalid_setting_before_serving(
    base_env: dict[str, str], invalid: dict[str, str], named: str
) -> None:
    port = free_port()
    env = {**base_env, **invalid, "WORKERS": "2", "PORT": str(port), "HOST": "127.0.0.1"}
    ended = start(serve(), env, port)
    assert ended.status not in (None, 0), ended.output
    assert named in ended.output
    assert "Traceback" not in ended.output  # a sentence naming the variable, not a stack
    assert not ended.answered


def test_uvicorn_workers_stop_when_the_setting_is_invalid(base_env: dict[str, str]) -> None:
    # uvicorn's own --workers: each worker refuses, and uvicorn's parent stops rather than
    # restarting them (it exits 0 in that case: uvicorn's choice, outside the app's reach).
    port = free_port()
    env = {**base_env, "APP_ENV": "production"}
    ended = start(uvicorn(port, "--workers", "2"), env, port)
    assert ended.status is not None, f"still running after {DEADLINE}s:\n{ended.output}"
    assert "API_KEYS" in ended.output


@pytest.mark.parametrize(
    "command", ["uvicorn", "serve", "serve-workers"], ids=["uvicorn", "serve", "serve-workers"]
)
def test_an_unreachable_database_refuses_the_start(base_env: dict[str, str], command: str) -> None:
    # Not a malformed value but an unusable one: the pool cannot open, so no process serves.
    port = free_port()
    env = {**base_env, "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/none"}
    if command == "uvicorn":
        ended = start(uvicorn(port), env, port)
    else:
        workers = "2" if command == "serve-workers" else "1"
        ended = start(serve(), {**env, "WORKERS": workers, "PORT": str(port)}, port)
    assert ended.status not in (None, 0), ended.output
    assert not ended.answered
