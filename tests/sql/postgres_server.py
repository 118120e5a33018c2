"""A PostgreSQL server a test owns: stopped with a fast shutdown and started again, same port.

`initdb` then `pg_ctl` in a folder of the test's, listening on 127.0.0.1 and a free port with
trust authentication, its socket in its own folder. The binaries are the machine's (Debian's
/usr/lib/postgresql/<version>/bin, newest first), else those of the pgserver wheel, which every
install has. PostgreSQL refuses to run as root, and CI runs as root: there every command runs
as `nobody`, in a folder of the system's temporary directory that `nobody` owns (pytest's
tmp_path lies under a folder only root may enter). `hung()` stops the postmaster with SIGSTOP for
a block, for a connect that hangs rather than fails. Every wait is bounded, and
`running_postgres` stops the server and removes its folder whatever happens.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

COMMAND_TIMEOUT = 60.0
UNPRIVILEGED = "nobody"


def postgres_binaries() -> Path:
    """The folder of initdb and pg_ctl: the machine's newest PostgreSQL, else pgserver's."""
    installed = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    if installed:
        return installed[-1].parent
    from pgserver._commands import POSTGRES_BIN_PATH  # only on a machine without PostgreSQL

    folder: Path = POSTGRES_BIN_PATH
    return folder


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class PostgresServer:
    """One server in `folder` on `port`; `stop()` is a fast shutdown, `start()` brings it back."""

    folder: Path
    port: int
    binaries: Path
    user: pwd.struct_passwd | None  # who runs the commands: None for this process's own user

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def log_file(self) -> Path:
        return self.folder / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "--encoding=UTF8", "--no-sync")  # fmt: skip
        settings = {
            "port": str(self.port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.folder}'",
            # Nothing here must survive a crash of the machine; the test's writes go faster.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
        }
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log_file), "-w", "-t", "30",
                  "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """`fast`: every session is ended (its transaction rolled back), then the server stops."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    @contextmanager
    def hung(self) -> Iterator[None]:
        """The postmaster stopped (SIGSTOP) for the block: the kernel still accepts connections,
        nobody answers them; sessions already open go on (their backends run on)."""
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(pid, signal.SIGCONT)

    def is_running(self) -> bool:
        return self._command("pg_ctl", "-D", str(self.data), "status").returncode == 0

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_file.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return "(no PostgreSQL log)"
        return "\n".join([f"--- PostgreSQL log, last {len(text)} lines ---", *text])

    def _run(self, program: str, *args: str) -> None:
        done = self._command(program, *args)
        if done.returncode != 0:
            raise RuntimeError(
                f"{program} {' '.join(args)} exited with {done.returncode}: "
                f"{done.stderr.decode(errors='replace')}\n{self.log_tail()}"
            )

    def _command(self, program: str, *args: str) -> subprocess.CompletedProcess[bytes]:
        # As `nobody`, the working directory must be one it may enter (pg_ctl checks).
        return subprocess.run(
            [str(self.binaries / program), *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=COMMAND_TIMEOUT,
            user=None if self.user is None else self.user.pw_uid,
            group=None if self.user is None else self.user.pw_gid,
            cwd=self.folder,
        )


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """A new server, initialised and started; stopped and removed when the block ends."""
    user = pwd.getpwnam(UNPRIVILEGED) if os.geteuid() == 0 else None
    folder = Path(tempfile.mkdtemp(prefix="polycool-postgres-"))
    if user is not None:
        os.chown(folder, user.pw_uid, user.pw_gid)
    server = PostgresServer(folder, free_port(), postgres_binaries(), user)
    try:
        server.init()
        server.start()
        yield server
    finally:
        try:
            if server.data.exists() and server.is_running():
                server.stop("immediate")
        finally:
            shutil.rmtree(folder, ignore_errors=True)
