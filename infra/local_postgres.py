"""A throwaway PostgreSQL cluster from Debian's packages, for tests and benchmarks of the views.

``apt-get install postgresql`` puts the server in ``/usr/lib/postgresql/<version>/bin`` and
creates a ``postgres`` system user. PostgreSQL refuses to run as root, so when started by root
the cluster directory is given to that user and the server runs as it (``runuser``). The cluster
listens on a free loopback port with trust authentication, lives in its own temporary directory
and is removed by ``stop``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from schemas.errors import EminingError

SERVER_USER = "postgres"


class PostgresUnavailableError(EminingError):
    """No PostgreSQL server binaries here, or the cluster would not start."""


def bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` with ``initdb`` and ``pg_ctl``."""
    found = [p for p in Path("/usr/lib/postgresql").glob("*/bin")
             if (p / "initdb").exists() and (p / "pg_ctl").exists()]
    return max(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
               default=None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalPostgres:
    """``with LocalPostgres() as url:`` a running cluster's SQLAlchemy URL."""

    def __init__(self, *, durable: bool = False) -> None:
        found = bin_dir()
        if found is None:
            raise PostgresUnavailableError(
                "PostgreSQL server not installed (apt-get install -y postgresql)")
        self._bin = found
        self._durable = durable
        self._root = Path(tempfile.mkdtemp(prefix="emining-pg-"))
        self.port = _free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam(SERVER_USER)
            except KeyError as exc:
                raise PostgresUnavailableError(
                    f"running as root needs the {SERVER_USER} system user") from exc
            os.chown(self._root, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", SERVER_USER, "--"]

    @property
    def url(self) -> str:
        return f"postgresql://{SERVER_USER}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        result = subprocess.run([*self._as, *args], capture_output=True, text=True, check=False)  # noqa: S603 - fixed binaries, our own arguments
        if result.returncode != 0:
            raise PostgresUnavailableError(f"{Path(args[0]).name} failed: "
                                           f"{(result.stderr or result.stdout).strip()[-800:]}")

    def start(self) -> str:
        data = self._root / "data"
        self._run(str(self._bin / "initdb"), "-D", str(data), "-U", SERVER_USER,
                  "--auth=trust", "--encoding=UTF8", "--no-instructions")
        options = [f"-p {self.port}", "-c listen_addresses=127.0.0.1",
                   f"-c unix_socket_directories={self._root}", "-c max_connections=50"]
        if not self._durable:  # a test cluster: a crash may lose it, it is thrown away anyway
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self._run(str(self._bin / "pg_ctl"), "-D", str(data), "-l", str(self._root / "log"),
                  "-w", "-t", "60", "-o", " ".join(options), "start")
        return self.url

    def stop(self) -> None:
        try:
            self._run(str(self._bin / "pg_ctl"), "-D", str(self._root / "data"), "-m", "fast",
                      "-w", "stop")
        finally:
            shutil.rmtree(self._root, ignore_errors=True)

    def __enter__(self) -> str:
        try:
            return self.start()
        except BaseException:
            shutil.rmtree(self._root, ignore_errors=True)
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
