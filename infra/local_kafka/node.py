"""One broker process: pid, ports, storage, TLS, spawn, wait, terminate."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from infra.local_kafka.config import java_command, new_cluster_id, tail
from infra.local_kafka.credentials import Credentials
from infra.local_kafka.errors import (
    BrokerError,
    BrokerStartError,
    BrokerStartTimeoutError,
    PortInUseError,
    StorageFormatError,
)
from infra.local_kafka.install import require_tool
from infra.local_kafka.probes import is_ready
from infra.local_kafka.state import ADMIN, HOST, LOG_TAIL_LINES, Layout, Ports, _write_atomic

if TYPE_CHECKING:
    from infra.settings import Settings
    from transport.access import KafkaAccess
import structlog

log = structlog.get_logger()


def _read_pid(layout: Layout) -> int | None:
    try:
        return int(layout.pid_file.read_text("utf-8").strip())
    except (OSError, ValueError):
        return None


def _proc_field(pid: int, name: str) -> str | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text("utf-8").splitlines():
            key, _, value = line.partition(":")
            if key == name:
                return value.strip()
    except OSError:
        return None
    return None


def _is_our_broker(pid: int, layout: Layout) -> bool:
    """Alive, not a zombie, and really the Kafka of this state dir (pids get reused)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    state = _proc_field(pid, "State")
    if state is not None and state.startswith("Z"):
        return False
    cmdline_path = Path(f"/proc/{pid}/cmdline")
    if cmdline_path.exists():
        try:
            args = cmdline_path.read_bytes().split(b"\0")
        except OSError:
            return False
        return b"kafka.Kafka" in args and str(layout.server_properties).encode() in args
    # No /proc (macOS): ask ps.
    proc = subprocess.run(  # noqa: S603 - fixed argv
        ["ps", "-o", "command=", "-p", str(pid)],  # noqa: S607 - ps is a POSIX base utility
        capture_output=True, text=True, check=False,
    )
    return "kafka.Kafka" in proc.stdout and str(layout.server_properties) in proc.stdout


def _live_pid(layout: Layout) -> int | None:
    pid = _read_pid(layout)
    if pid is not None and _is_our_broker(pid, layout):
        return pid
    return None


def _rss_bytes(pid: int) -> int | None:
    value = _proc_field(pid, "VmRSS")  # "123456 kB"
    if value is None:
        return None
    number, _, unit = value.partition(" ")
    return int(number) * 1024 if unit.strip().lower() == "kb" else int(number)


_LAUNCHER = """
"$@" >"$0" 2>&1 </dev/null &
pid=$!
echo "$pid"
if [ -n "${EMINING_OWNER_PID:-}" ]; then
  (
    while kill -0 "$EMINING_OWNER_PID" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do sleep 1; done
    kill -0 "$EMINING_OWNER_PID" 2>/dev/null || kill "$pid" 2>/dev/null
  ) >/dev/null 2>&1 </dev/null &
fi
"""


def _spawn_detached(
    cmd: list[str], *, cwd: Path, output: Path, owner_pid: int | None = None
) -> int:
    """Start ``cmd`` as a daemon (new session, reparented to init) and return its pid.

    A tiny ``sh`` starts the JVM in the background and exits at once, so the broker is never
    this Python process's child: no zombie, no ``Popen`` left to warn when it is collected.
    With ``owner_pid``, a watchdog stops the broker (SIGTERM) once that process is gone, so a
    killed test run leaves no broker behind.
    """
    env = dict(os.environ)
    env.pop("EMINING_OWNER_PID", None)
    if owner_pid is not None:
        env["EMINING_OWNER_PID"] = str(owner_pid)
    proc = subprocess.run(  # noqa: S603 - fixed argv, the command is passed as "$@"
        ["/bin/sh", "-c", _LAUNCHER, str(output), *cmd],
        cwd=cwd, env=env, check=True, start_new_session=True, capture_output=True, text=True,
    )
    return int(proc.stdout.strip())


def _log_tail_text(layout: Layout, lines: int = LOG_TAIL_LINES) -> str:
    parts: list[str] = []
    out = tail(layout.stdout_file, lines)
    if out:
        parts.append(f"--- {layout.stdout_file} (last {len(out)} lines)\n" + "\n".join(out))
    server = tail(layout.log_file, lines)
    if server:
        parts.append(f"--- {layout.log_file} (last {len(server)} lines)\n" + "\n".join(server))
    return "\n".join(parts) if parts else "(the broker wrote no log lines)"


def _pick_free_port(taken: set[int]) -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
        if port not in taken:
            return port


def port_is_free(port: int) -> bool:
    """True if a server could bind ``127.0.0.1:port`` now (SO_REUSEADDR, like the JVM)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def load_ports(layout: Layout) -> Ports | None:
    """The ports persisted for this state dir, if any."""
    try:
        data = json.loads(layout.ports_file.read_text("utf-8"))
        return Ports(broker=int(data["broker"]), controller=int(data["controller"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def ensure_ports(layout: Layout) -> Ports:
    """Reuse the persisted ports (error if one is now taken) or pick and persist free ones."""
    ports = load_ports(layout)
    if ports is None:
        broker = _pick_free_port(set())
        ports = Ports(broker=broker, controller=_pick_free_port({broker}))
        layout.root.mkdir(parents=True, exist_ok=True)
        _write_atomic(layout.ports_file, json.dumps(asdict(ports), indent=2) + "\n")
        log.info("broker_ports_picked", broker=ports.broker, controller=ports.controller)
        return ports
    for role, port in (("client", ports.broker), ("controller", ports.controller)):
        if not port_is_free(port):
            raise PortInUseError(
                f"port {port} (the local broker's {role} listener, persisted in"
                f" {layout.ports_file}) is in use by another process: stop that process, or"
                f" delete {layout.ports_file} to pick new ports"
            )
    return ports


def ensure_cluster_id(layout: Layout) -> str:
    """The cluster id of this state dir, created once and kept."""
    try:
        existing = layout.cluster_id_file.read_text("utf-8").strip()
    except OSError:
        existing = ""
    if existing:
        return existing
    cluster_id = new_cluster_id()
    layout.root.mkdir(parents=True, exist_ok=True)
    _write_atomic(layout.cluster_id_file, cluster_id + "\n")
    return cluster_id


def _format_storage(
    settings: Settings, layout: Layout, *, java: str, libs: Path, credentials: Credentials
) -> None:
    """Format KRaft storage once, with the admin's SCRAM credential in the first metadata."""
    if (layout.data_dir / "meta.properties").exists():
        return
    cluster_id = ensure_cluster_id(layout)
    cmd = java_command(
        java=java, libs=libs, heap="-Xmx256m", main_class="kafka.tools.StorageTool",
        args=["format", "-t", cluster_id, "-c", str(layout.server_properties),
              "--ignore-formatted",
              "--add-scram", f"SCRAM-SHA-512=[name={ADMIN},password={credentials.admin}]"],
    )
    # The password must not show in /proc/<pid>/cmdline: the JVM reads its arguments from a
    # 0600 file instead (the java launcher's @argfile), removed right after.
    argfile = layout.node_root / ".format.args"  # one per node: nodes format at once
    _write_atomic(argfile, "\n".join(_argfile_quote(a) for a in cmd[1:]) + "\n", private=True)
    try:
        proc = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [cmd[0], f"@{argfile}"], capture_output=True, text=True, check=False,
            cwd=layout.root, timeout=settings.kafka_start_timeout_s,
        )
    except subprocess.TimeoutExpired as exc:
        raise StorageFormatError("kafka StorageTool format did not finish in time") from exc
    finally:
        argfile.unlink(missing_ok=True)
    if proc.returncode != 0:
        last = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-LOG_TAIL_LINES:])
        raise StorageFormatError(f"kafka StorageTool format exited {proc.returncode}:\n{last}")
    log.info("broker_storage_formatted", cluster_id=cluster_id, data_dir=str(layout.data_dir))


def _argfile_quote(arg: str) -> str:
    """One argument of a java @argfile: quoted, with backslashes and quotes escaped."""
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


MAKE_CERTS = Path(__file__).resolve().parent.parent / "tls" / "make-certs.sh"


def ensure_tls(layout: Layout) -> None:
    """A local CA and a broker certificate for 127.0.0.1/localhost, made once (openssl)."""
    if (layout.tls_dir / "broker.pem").exists() and (layout.tls_dir / "ca.pem").exists():
        return
    openssl = require_tool("openssl")
    proc = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [require_tool("bash"), str(MAKE_CERTS), str(layout.tls_dir)], capture_output=True,
        text=True,
        check=False, env={**os.environ, "OPENSSL": openssl},
    )
    if proc.returncode != 0:
        raise BrokerError(f"{MAKE_CERTS} failed:\n{(proc.stdout + proc.stderr).strip()}")
    log.info("broker_tls_made", tls_dir=str(layout.tls_dir))


def _wait_ready(settings: Settings, layout: Layout, *, pid: int, access: KafkaAccess) -> None:
    bootstrap = access.bootstrap
    deadline = time.monotonic() + settings.kafka_start_timeout_s
    while True:
        if is_ready(access, timeout_s=2.0):
            return
        if not _is_our_broker(pid, layout):
            layout.pid_file.unlink(missing_ok=True)
            raise BrokerStartError(
                f"the Kafka broker (pid {pid}) exited before it was ready:\n"
                + _log_tail_text(layout)
            )
        if time.monotonic() >= deadline:
            _terminate(pid, layout, timeout_s=10.0)
            layout.pid_file.unlink(missing_ok=True)
            raise BrokerStartTimeoutError(
                f"the Kafka broker (pid {pid}) did not answer on {bootstrap} within"
                f" {settings.kafka_start_timeout_s:.0f}s (EMINING_KAFKA_START_TIMEOUT_S); it was"
                " stopped:\n" + _log_tail_text(layout)
            )
        time.sleep(0.2)


def _terminate(pid: int, layout: Layout, *, timeout_s: float) -> bool:
    """SIGTERM, wait up to ``timeout_s``, then SIGKILL. True if it stopped cleanly."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _is_our_broker(pid, layout):
            return True
        time.sleep(0.1)
    log.warning("broker_killed", pid=pid, after_s=timeout_s)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline and _is_our_broker(pid, layout):
        time.sleep(0.1)
    return False


# --------------------------------------------------------------------------- public API
