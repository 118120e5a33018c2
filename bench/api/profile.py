"""Where the service's CPU goes under load: py-spy on the paths the page measures.

Three loads, each profiled the same way: the warm Portfolio path (answers kept), its execution
path (ANSWER_CACHE=false), and the live-price workload at 1,000 users, the path the bot's reads
take once prices move (its price writes included, as they are in its CPU per request).
While wrk drives the load, py-spy samples the server process (idle threads left out, so a
sample is a moment the process was on the CPU) twice: once as collapsed stacks, which this
module sums up, and once as a flame graph (SVG) for people. Views of the same samples:

- by layer: each sample goes to the innermost frame that belongs to a known layer (graphql-core
  validation, Redis client, logging...), so the shares add up to 100%;
- by operation, inclusive: the share of samples with that operation anywhere on the stack
  (validation, execution, Redis round trips, the log line...); these overlap;
- by module and by function, exclusive: the innermost Python frame (C code, such as Decimal or
  orjson, counts in the Python frame that called it).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.api.load import run_wrk
from bench.api.servers import Running

RATE = 250  # samples per second

# Where a sample's time goes: the innermost frame that belongs to one of these layers names it
# (so the shares add up to 100%). The first layer with a prefix of the frame's file wins (files
# are relative to site-packages, the standard library or the checkout).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Decimal to string (schema/scalars.py)", ("schema/scalars.py",)),
    ("resolvers/ + domain/valuation.py", ("resolvers/", "domain/valuation.py")),
    ("schema/ (row -> Strawberry object, extensions)", ("schema/",)),
    ("cache/ (read-through, codec, store)", ("cache/",)),
    ("loaders/ + aiodataloader", ("loaders/", "aiodataloader")),
    ("redis-py (commands, pipeline, parser)", ("redis/",)),
    ("asyncpg", ("asyncpg/",)),
    (
        "sql/database.py + telemetry/metrics.py (counting)",
        ("sql/database.py", "telemetry/metrics.py"),
    ),
    ("graphql-core: validation", ("graphql/validation/", "graphql/utilities/type_info.py")),
    ("graphql-core: parsing", ("graphql/language/parser.py", "graphql/language/lexer.py")),
    ("graphql-core: AST visiting (validation rules, limits)", ("graphql/language/",)),
    ("graphql-core: execution", ("graphql/",)),
    ("Strawberry (view, schema, extensions, field wrappers)", ("strawberry/",)),
    ("stdlib json (response encoding)", ("json/",)),
    ("logging (the JSON request line)", ("logging/", "telemetry/logs.py")),
    ("prometheus_client (counters, histograms)", ("prometheus_client/",)),
    (
        "our HTTP edge (web/: middleware, view, error shaping)",
        ("web/",),
    ),
    ("Starlette", ("starlette/",)),
    ("uvicorn + h11", ("uvicorn/", "h11/")),
    ("asyncio (event loop, sockets, tasks)", ("asyncio/", "selectors.py")),
)
# What each operation costs, inclusive (a sample counts for every one of these on its stack);
# a prefix of a frame's file or function.
OPERATIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("GraphQL validation (graphql.validate, each request)", ("graphql/validation/validate.py",)),
    ("GraphQL parsing", ("graphql/language/parser.py",)),
    (
        "GraphQL execution (execute, resolvers, completion)",
        ("graphql/execution/execute.py", "graphql/execution/executor.py"),
    ),
    ("Redis round trips (redis-py)", ("redis/",)),
    ("PostgreSQL statements (asyncpg)", ("asyncpg/",)),
    ("cache reads: decoding entries (cache/codec.py)", ("cache/codec.py",)),
    ("DataLoader scheduling (aiodataloader)", ("aiodataloader",)),
    ("response encoding (stdlib json)", ("json/",)),
    ("the request's log line (logging)", ("logging/",)),
    ("Prometheus metrics", ("prometheus_client/",)),
    ("HTTP parsing and writing (h11)", ("h11/",)),
    (
        "socket writes (asyncio transports)",
        ("_SelectorSocketTransport.write", "StreamWriter.write"),
    ),
)

_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


@dataclass
class Profile:
    # The files' stem (docs/benchmarks/<name>.svg and .txt), and what ran, for the page.
    name: str
    load: str
    samples: int
    seconds: float
    rps_under_profiler: float
    layers: list[tuple[str, float]] = field(default_factory=list)
    operations: list[tuple[str, float]] = field(default_factory=list)
    modules: list[tuple[str, float]] = field(default_factory=list)
    functions: list[tuple[str, float]] = field(default_factory=list)
    flamegraph: Path | None = None
    collapsed: Path | None = None


def short(path: str) -> str:
    for marker in ("site-packages/", "/lib/python3.11/", "/work/main/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def parse_frame(frame: str) -> tuple[str, str]:
    match = _FRAME.match(frame)
    if match is None:
        return frame, ""
    return match["function"], short(match["file"])


def layer_of(frames: list[tuple[str, str]]) -> str:
    """The layer of the innermost frame that belongs to one."""
    for _, file in reversed(frames):
        for layer, needles in LAYERS:
            if file.startswith(needles):
                return layer
    return "other"


def module_of(file: str) -> str:
    """A package (graphql, strawberry, asyncio...) or one of the project's files."""
    parts = file.split("/")
    if len(parts) > 1 and parts[0] not in ("cache", "loaders", "resolvers", "schema", "writes"):
        return parts[0]
    return file


Shares = list[tuple[str, float]]


@dataclass
class Summary:
    samples: int
    layers: Shares
    operations: Shares
    modules: Shares
    functions: Shares


def summarise(collapsed: str) -> Summary:
    layers: Counter[str] = Counter()
    operations: Counter[str] = Counter()
    modules: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        # py-spy names the process or thread first ("process 123:..."): not a frame.
        frames = [f for f in (parse_frame(text) for text in stack.split(";")) if f[1]]
        if not frames:
            continue
        total += count
        layers[layer_of(frames)] += count
        for operation, needles in OPERATIONS:
            if any(f.startswith(needles) or n.startswith(needles) for n, f in frames):
                operations[operation] += count
        function, file = frames[-1]
        modules[module_of(file)] += count
        functions[f"{function} ({file})"] += count

    def shares(counter: Counter[str], top: int) -> Shares:
        return [(name, n / total) for name, n in counter.most_common(top)] if total else []

    return Summary(
        total,
        shares(layers, len(LAYERS) + 1),
        shares(operations, len(OPERATIONS)),
        shares(modules, 15),
        shares(functions, 25),
    )


def find_py_spy() -> str | None:
    """py-spy on the PATH, else beside this Python (the venv's bin/, where pip puts it)."""
    beside = Path(sys.executable).with_name("py-spy")
    return shutil.which("py-spy") or (str(beside) if beside.exists() else None)


async def profile_service(
    running: Running,
    bodies: Path,
    *,
    name: str,
    load: str,
    script: Path,
    folder: Path,
    seconds: float,
    concurrency: int = 10,
) -> Profile | None:
    """Profile `running` under wrk's load of `bodies` (`load` says what it is, `name` names
    the files); None when py-spy is missing."""
    spy = find_py_spy()
    if spy is None:
        return None
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    collapsed = folder / f"{name}.txt"
    flamegraph = folder / f"{name}.svg"
    wrk = asyncio.create_task(
        asyncio.to_thread(
            run_wrk,
            running.base_url,
            bodies,
            connections=concurrency,
            seconds=2 * seconds + 4,
            script=script,
        )
    )
    await asyncio.sleep(2)
    for output, form in ((collapsed, "raw"), (flamegraph, "flamegraph")):
        command = [spy, "record", "--pid", str(running.pid), "--rate", str(RATE)]
        command += ["--duration", str(round(seconds)), "--format", form, "--output", str(output)]
        command += ["--nolineno"] if form == "raw" else []
        await asyncio.to_thread(
            subprocess.run, command, capture_output=True, check=True, timeout=seconds + 60
        )
    result = await wrk
    summary = summarise(await asyncio.to_thread(collapsed.read_text))
    return Profile(
        name=name,
        load=load,
        samples=summary.samples,
        seconds=seconds,
        rps_under_profiler=result.rps,
        layers=summary.layers,
        operations=summary.operations,
        modules=summary.modules,
        functions=summary.functions,
        flamegraph=flamegraph,
        collapsed=collapsed,
    )
