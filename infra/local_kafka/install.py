"""Kafka's jars and command-line tools, fetched from Maven Central once."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

from infra.local_kafka.config import kafka_version
from infra.local_kafka.errors import (
    BrokerError,
    JarFetchError,
    JavaNotFoundError,
    MavenNotFoundError,
)
from infra.local_kafka.state import POM, TOOLS_POM, Phase, _locked, _write_atomic

if TYPE_CHECKING:
    from infra.settings import Settings
import structlog

log = structlog.get_logger()


def require_tool(name: str) -> str:
    """Absolute path of ``java`` or ``mvn``, or the error that says how to get it."""
    found = shutil.which(name)
    if found is not None:
        return found
    if name == "java":
        raise JavaNotFoundError(
            "no `java` on PATH: install a JDK 17+ (Debian: apt-get install openjdk-17-jre-headless)"
            " or set EMINING_KAFKA_BOOTSTRAP to an existing Kafka cluster"
        )
    if name == "mvn":
        raise MavenNotFoundError(
            "no `mvn` on PATH: install Maven 3.8+ (Debian: apt-get install maven) to fetch the"
            " Kafka jars, or set EMINING_KAFKA_BOOTSTRAP to an existing Kafka cluster"
        )
    raise BrokerError(f"no `{name}` on PATH")


def _pom_digest(pom: Path = POM) -> str:
    return hashlib.sha256(pom.read_bytes()).hexdigest()


_UNREACHABLE = re.compile(
    r"Could not transfer|UnknownHost|Unknown host|Connection refused|Connect to .* failed"
    r"|Network is unreachable|timed out|Could not resolve",
    re.IGNORECASE,
)


def ensure_jars(settings: Settings, on_phase: Phase | None = None) -> Path:
    """The ``libs`` folder for the pinned Kafka version, fetched from Maven Central once."""
    return _ensure_fetched(settings, POM, "libs", "complete.json", "jars", on_phase)


TOOLS = {
    "kafka-consumer-groups": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
    "kafka-console-consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
    "kafka-console-producer": "org.apache.kafka.tools.ConsoleProducer",
    "kafka-topics": "org.apache.kafka.tools.TopicCommand",
    "kafka-acls": "org.apache.kafka.tools.AclCommand",
    "kafka-get-offsets": "org.apache.kafka.tools.GetOffsetShell",
}
"""Kafka's own command-line tools (``bin/<name>.sh`` of a Kafka distribution) → main class."""


def ensure_tools(settings: Settings, on_phase: Phase | None = None) -> Path:
    """The ``tools`` folder (Kafka's command-line tools, the broker's version), fetched once."""
    return _ensure_fetched(settings, TOOLS_POM, "tools", "tools.json", "command-line tools",
                           on_phase)


def _ensure_fetched(settings: Settings, pom: Path, folder: str, marker_name: str, what: str,
                    on_phase: Phase | None) -> Path:
    version = kafka_version()
    home = settings.cache_dir.expanduser().resolve() / f"kafka-{version}"
    libs = home / folder
    marker = home / marker_name
    digest = _pom_digest(pom)

    def cached() -> bool:
        try:
            data = json.loads(marker.read_text("utf-8"))
        except (OSError, ValueError):
            return False
        return bool(data.get("pom_sha256") == digest and libs.is_dir())

    if cached():
        return libs
    with _locked(home / ".lock"):
        if cached():  # another process fetched them while we waited for the lock
            return libs
        require_tool("java")
        mvn = require_tool("mvn")
        if on_phase is not None:
            on_phase(f"fetching Kafka {version} {what} from Maven Central")
        staging = home / f"{folder}.partial-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        cmd = [
            mvn, "-B", "-q", "-f", str(pom), "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}", "-DincludeScope=runtime",
        ]
        started = time.monotonic()
        try:
            proc = subprocess.run(  # noqa: S603 - fixed argv, no shell
                cmd, capture_output=True, text=True, check=False,
                timeout=settings.kafka_fetch_timeout_s,
            )
        except subprocess.TimeoutExpired as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise JarFetchError(
                f"mvn did not finish within {settings.kafka_fetch_timeout_s:.0f}s fetching Kafka"
                f" {version} {what}: is Maven Central (repo.maven.apache.org) reachable?"
            ) from exc
        if proc.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            output = (proc.stdout + proc.stderr).strip().splitlines()
            last = "\n".join(output[-15:])
            why = (
                "Maven Central unreachable"
                if _UNREACHABLE.search(proc.stdout + proc.stderr)
                else f"mvn exited {proc.returncode}"
            )
            raise JarFetchError(
                f"could not fetch Kafka {version} {what} ({why}); mvn said:\n{last}")
        jars = {jar.name: jar.stat().st_size for jar in staging.glob("*.jar")}
        shutil.rmtree(libs, ignore_errors=True)
        staging.replace(libs)
        _write_atomic(
            marker,
            json.dumps(
                {
                    "kafka_version": version,
                    "pom_sha256": digest,
                    "jars": len(jars),
                    "bytes": sum(jars.values()),
                },
                indent=2,
            ),
        )
        log.info(
            "kafka_jars_fetched", version=version, what=what, jars=len(jars),
            bytes=sum(jars.values()),
            libs=str(libs),
            seconds=round(time.monotonic() - started, 1),
        )
    return libs


# --------------------------------------------------------------------------- probes
