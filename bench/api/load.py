"""Load from wrk (Debian's package): POST bodies read from a file, percentiles from its Lua.

wrk is closed-loop: `connections` clients, each sending its next request when the previous
answer arrives, for `seconds`, on loopback only. The Lua script cycles through a file of
request bodies (one JSON body per line, so a mixed workload is a sequence written in advance)
and counts answers that are not 200 or carry GraphQL `errors`; its `done` prints one JSON line
with the percentiles wrk's own summary lacks (p95).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import orjson

SCRIPT = r"""
local bodies = {}
local next_body = 0
local path = "/graphql"
local threads = {}
failed = 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(args[1], "r"))
  for line in file:lines() do
    bodies[#bodies + 1] = line
  end
  file:close()
  path = args[2]
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  next_body = next_body % #bodies + 1
  return wrk.format(nil, path, nil, bodies[next_body])
end

function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    failed = failed + 1
  end
end

function done(summary, latency, requests)
  local failures = 0
  for _, thread in ipairs(threads) do
    failures = failures + (thread:get("failed") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"p50":%d,"p90":%d,"p95":%d,"p99":%d,' ..
    '"mean":%.1f,"max":%d,"failed":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(95), latency:percentile(99), latency.mean, latency.max, failures,
    e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    failed: int  # not 200, or a GraphQL error in the body
    socket_errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def require_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit(
            "wrk is not installed: install it from Debian's packages "
            "(`apt-get install -y wrk`), then run the benchmark again."
        )
    return found


def write_bodies(path: Path, bodies: Iterable[bytes]) -> Path:
    path.write_bytes(b"".join(b + b"\n" for b in bodies))
    return path


def run_wrk(
    url: str,
    bodies: Path,
    *,
    connections: int,
    seconds: float,
    script: Path,
    path: str = "/graphql",
) -> WrkResult:
    """One wrk run against `url` (loopback only), one thread, `connections` connections."""
    if not url.startswith(("http://127.0.0.1:", "http://localhost:")):
        raise ValueError(f"load is only sent to loopback, not to {url}")
    if not script.exists():
        script.write_text(SCRIPT)
    command = [
        require_wrk(),
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "60s",
        "-s",
        str(script),
        url,
        "--",
        str(bodies),
        path,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH "):
            found = orjson.loads(line[6:])
            return WrkResult(
                requests=found["requests"],
                seconds=found["duration_us"] / 1e6,
                p50_ms=found["p50"] / 1000,
                p90_ms=found["p90"] / 1000,
                p95_ms=found["p95"] / 1000,
                p99_ms=found["p99"] / 1000,
                mean_ms=found["mean"] / 1000,
                max_ms=found["max"] / 1000,
                failed=found["failed"],
                socket_errors=found["socket_errors"],
            )
    raise RuntimeError(f"wrk printed no result: {done.stdout}\n{done.stderr}")
