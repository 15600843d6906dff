"""Requests per second and latency of the HTTP gateway's custodial path, against a real broker.

    .venv/bin/python -m benchmarks.bench_gateway [--requests 3000] [--concurrency 32] [--json]
        [--bootstrap HOST:PORT] [--json-out FILE] [--profile FILE]

Starts ``emining serve``'s app (uvicorn, one worker) in a subprocess on a free loopback port and
drives it with ``httpx.AsyncClient`` from this process: each request is an unsigned event that
the gateway validates, checks against the registry, signs, sends with acks=all and records.
The broker is ``--bootstrap``, else EMINING_KAFKA_BOOTSTRAP (the credential from
EMINING_KAFKA_USERNAME/PASSWORD), else a throwaway local broker started for the run, as every
benchmark does. It writes to that broker: a throwaway operator key onboards a
``bench-*`` firm on the participants topic, and the events land on emining.projects.v1.

Each path's result has the server's CPU time per request (``server_cpu_ms_per_request``, every
thread of the uvicorn process, from ``/proc``) and this process's (the clients'). ``--profile
FILE`` runs the server under cProfile (the dump is written when it stops, and covers both paths;
``python -m benchmarks.profiles FILE``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import string
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from benchmarks.output import (
    add_json_out,
    broker,
    cpu_seconds,
    exit_on_sigterm,
    peak_rss_mb,
    print_json,
    quiet_logging,
    row,
    stdout_to_stderr,
    write_json_out,
)
from infra.kafka_admin.topics import apply_topics
from producers.gateway_auth import ApiKeyStore
from producers.keys import key_file_name, write_key
from producers.publisher import Draft, Publisher
from schemas.alerts import PLATFORM_ORG
from schemas.catalogue import model_for
from schemas.events.examples import OPERATOR
from schemas.participants import AuthorityGrantSpec, Organisation, RegistrySeed
from schemas.registry import seed_events
from schemas.signing import PrivateKey, b64
from schemas.topics import catalogue
from tests.kafka_support import access_env, settings_for
from transport import eventloop
from transport.access import KafkaAccess


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _onboard(kafka: KafkaAccess, root: Path) -> tuple[PrivateKey, PrivateKey]:
    """A fresh operator and one firm allowed project events in PK-BA, on the log."""
    await apply_topics(kafka, catalogue())
    operator = PrivateKey.generate(PLATFORM_ORG)
    firm = PrivateKey.generate(f"urn:emining:cn:ent:bench-{uuid.uuid4().hex[:8]}")
    org = Organisation.model_validate({
        "id": firm.org, "names": {"en": "Benchmark Mining"}, "side": "CN", "role": "firm",
        "uscc": OPERATOR,
        "authorities": [AuthorityGrantSpec.model_validate({
            "id": "bench", "event_types": ["pk.emining.project.*"], "provinces": ["PK-BA"],
            "own_only": True})],
    })
    events = seed_events(RegistrySeed(platform=PLATFORM_ORG, organisations=(org,)),
                         {firm.org: firm.public_key}, datetime.now(UTC) - timedelta(minutes=1))
    async with Publisher(kafka=kafka, key=operator, source=f"{PLATFORM_ORG}/bench",
                         state_dir=root / "operator") as pub:
        await pub.publish_many([Draft(e) for e in events])
    return operator, firm


RUN = "".join(random.choices(string.ascii_uppercase, k=3))
"""This run's district code in the project ids it registers: a project registered on the log
already (an earlier run on the same broker) would be refused with 409 ``subject_exists``."""
REGISTERED = "pk.emining.project.registered.v1"


def _event(i: int) -> dict[str, Any]:
    """A new project's registration (``i`` < 9,999): a step the gateway's lifecycle check
    allows (a milestone of a project never registered is refused with 409 before it is signed,
    which is not the custodial path)."""
    project = f"PRJ-BA-{RUN}-{i + 1:04d}"
    data = {**model_for(REGISTERED).EXAMPLE, "project_id": project}
    return {"type": REGISTERED, "subject": project, "data": json.loads(json.dumps(data))}


async def _drive(
    url: str, token: str | None, requests: int, concurrency: int, expect: int,
    server_pid: int | None = None,
) -> dict[str, Any]:
    latencies: list[float] = []
    failures: dict[int, int] = {}
    counter = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30.0,
                                 headers=auth) as client:

        async def worker() -> None:
            for i in counter:
                start = time.perf_counter()
                response = await client.post("/v1/events", json=_event(i))
                latencies.append(time.perf_counter() - start)
                if response.status_code != expect:
                    failures[response.status_code] = failures.get(response.status_code, 0) + 1

        for i in range(min(200, requests)):  # warm-up: events of their own (a repeat is a 409)
            await client.post("/v1/events", json=_event(requests + i))
        started, client_cpu = time.perf_counter(), cpu_seconds()
        server_cpu = cpu_seconds(server_pid) if server_pid else 0.0
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed, client_cpu = time.perf_counter() - started, cpu_seconds() - client_cpu
        server_cpu = cpu_seconds(server_pid) - server_cpu if server_pid else 0.0
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "requests": requests, "concurrency": concurrency, "seconds": round(elapsed, 3),
        "requests_per_s": round(requests / elapsed, 1),
        "p50_ms": round(cuts[49] * 1000, 2), "p90_ms": round(cuts[89] * 1000, 2),
        "p99_ms": round(cuts[98] * 1000, 2), "max_ms": round(max(latencies) * 1000, 2),
        "unexpected": failures,
        "server_cpu_ms_per_request": round(server_cpu / requests * 1000, 3),
        "client_cpu_ms_per_request": round(client_cpu / requests * 1000, 3),
    }


async def _wait_ready(url: str, server: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=url) as client:
        for _ in range(300):
            if server.poll() is not None:
                raise SystemExit(f"the gateway exited with {server.returncode}")
            try:
                if (await client.get("/v1/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("the gateway did not become healthy within 30 s")


async def run(kafka: KafkaAccess, requests: int, concurrency: int,
              profile: Path | None = None) -> dict[str, dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp:
        root = Path(tmp)
        operator, firm = await _onboard(kafka, root)
        settings = settings_for(kafka, state_dir=root / "state")
        write_key(firm, settings.custody_path / key_file_name(firm.org))
        token = ApiKeyStore(settings.api_keys_path).issue(firm.org)
        port = _free_port()
        env = os.environ | access_env(kafka) | {
            "EMINING_STATE_DIR": str(settings.state_dir),
            "EMINING_TRUST_ANCHOR": b64(operator.public_key),
            "EMINING_LOG_LEVEL": "warning",
        }
        profiler = ["-m", "cProfile", "-o", str(profile)] if profile else []
        server = subprocess.Popen(  # noqa: ASYNC220 - started once, before the measurement
            [sys.executable, *profiler, "-m", "uvicorn", "infra.compose.app:build_app", "--factory",
             "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
             "--loop", eventloop.chosen_loop(), "--http", "httptools",
             "--log-level", "warning"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            await _wait_ready(url, server)
            return {
                "custodial": await _drive(url, token, requests, concurrency, 202, server.pid),
                # The same requests without a key: HTTP + FastAPI + auth, no event work. On a
                # small machine this ceiling, set by client and server sharing the cores,
                # is what the custodial path is to be compared with.
                "refused_401": await _drive(url, None, requests, concurrency, 401, server.pid),
                "server": {"peak_rss_mb": peak_rss_mb(server.pid)},
            }
        finally:
            server.terminate()
            server.wait(timeout=15)


async def run_on(bootstrap: str | None, requests: int, concurrency: int,
                 profile: Path | None = None) -> dict[str, dict[str, Any]]:
    with broker(bootstrap) as kafka:
        return await run(kafka, requests, concurrency, profile)


TARGET = {"min_rate": 2_000, "max_p99_ms": 50, "max_rss_mb": 250}


def summary(result: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """``make bench``'s row: the custodial path; the 401 path (no event work) as the note."""
    custodial, refused = result["custodial"], result["refused_401"]
    return [row("gateway", f"gateway custodial, {custodial['concurrency']} clients",
                unit="req/s", rate=custodial["requests_per_s"], p50_ms=custodial["p50_ms"],
                p99_ms=custodial["p99_ms"], rss_mb=result["server"]["peak_rss_mb"],
                rss_of="server", target=TARGET,
                note=f"same requests refused 401 (HTTP only): {refused['requests_per_s']} req/s"
                     + (f"; unexpected {custodial['unexpected']}" if custodial["unexpected"]
                        else ""))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--bootstrap", default=None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--profile", type=Path, default=None, metavar="FILE",
                        help="run the server under cProfile, dump in FILE (rates lower)")
    add_json_out(parser)
    args = parser.parse_args()
    quiet_logging()
    exit_on_sigterm()
    with stdout_to_stderr():
        result = eventloop.run(run_on(args.bootstrap, args.requests, args.concurrency,
                                    args.profile and args.profile.resolve()))
    write_json_out(args.json_out, "gateway", result, summary(result))
    if args.json:
        print_json(result)
        return
    table = Table("path", "requests", "clients", "req/s", "p50 ms", "p90 ms", "p99 ms",
                  "max ms", "unexpected", "server CPU ms/req", "client CPU ms/req",
                  title="HTTP gateway (custodial: validate, check, sign, acks=all, receipt)")
    for path in ("custodial", "refused_401"):
        measured = result[path]
        table.add_row(path, *(str(measured[k]) for k in (
            "requests", "concurrency", "requests_per_s", "p50_ms", "p90_ms", "p99_ms",
            "max_ms", "unexpected", "server_cpu_ms_per_request",
            "client_cpu_ms_per_request")))
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
