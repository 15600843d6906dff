"""The demo's moving parts: child services (gateway, views), publishing the scenario (its attacks
are sent raw by ``infra.demo.records``)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from infra import compose
from infra.demo.records import inject_attacks
from infra.demo.scenario import Scenario, Step
from infra.demo.setup import Deployment
from infra.kafka_settings import PROTOCOLS
from infra.settings import Settings
from producers.gateway_auth import ApiKeyStore
from producers.keys import key_file_name, write_key
from producers.publisher import Draft, Publisher
from transport.access import KafkaAccess

Progress = Callable[[str, int, int], None]
"""``(what, done, total)``: the demo's progress display."""


def emining_command() -> list[str]:
    """The ``emining`` executable of this interpreter's environment (the real CLI)."""
    script = Path(sys.executable).with_name("emining")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from infra.cli import main; main()"]


def demo_dir(settings: Settings) -> Path:
    return settings.state_dir / "demo"


SECURITY = {protocol: name for name, protocol in PROTOCOLS.items()}
"""``EMINING_KAFKA_SECURITY`` for each security protocol."""


def kafka_env(kafka: KafkaAccess) -> dict[str, str]:
    """``EMINING_KAFKA_*`` for a child acting as ``kafka``'s principal on its broker."""
    env = {"EMINING_KAFKA_BOOTSTRAP": kafka.bootstrap,
           "EMINING_KAFKA_SECURITY": SECURITY[kafka.protocol]}
    if kafka.sasl and kafka.username is not None and kafka.password is not None:
        env |= {"EMINING_KAFKA_USERNAME": kafka.username, "EMINING_KAFKA_PASSWORD": kafka.password}
    if kafka.ca_file is not None:
        env["EMINING_KAFKA_CA_FILE"] = str(kafka.ca_file.resolve())
    return env


def audit_env(kafka: KafkaAccess) -> dict[str, str]:
    """``EMINING_AUDIT_KAFKA_*`` for ``emining serve``: the principal its console's audit pages
    read the whole log as."""
    if not kafka.sasl or kafka.username is None or kafka.password is None:
        return {}
    return {"EMINING_AUDIT_KAFKA_USERNAME": kafka.username,
            "EMINING_AUDIT_KAFKA_PASSWORD": kafka.password}


def child_env(settings: Settings, kafka: KafkaAccess) -> dict[str, str]:
    """The children's environment: this one, pinned to our state dir, broker, credential and
    views group."""
    env = dict(os.environ)
    env["EMINING_STATE_DIR"] = str(settings.state_dir.resolve())
    for name in ("EMINING_KAFKA_USERNAME", "EMINING_KAFKA_PASSWORD",
                 "EMINING_KAFKA_PASSWORD_FILE", "EMINING_KAFKA_CA_FILE",
                 "EMINING_AUDIT_KAFKA_USERNAME", "EMINING_AUDIT_KAFKA_PASSWORD",
                 "EMINING_AUDIT_KAFKA_PASSWORD_FILE"):
        env.pop(name, None)  # replaced by the credential this process resolved
    env |= kafka_env(kafka)
    # One views group per state dir: another deployment on the same broker keeps its own.
    tag = hashlib.sha256(str(settings.state_dir.resolve()).encode()).hexdigest()[:10]
    # Under emining-views*: the group prefix the view consumer's principals may use.
    env.setdefault("EMINING_VIEWS_GROUP", f"emining-views-demo-{tag}")
    env.setdefault("EMINING_LOG_FORMAT", "json")
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(slots=True)
class Services:
    """The gateway (``emining serve``) and the views consumer (``emining views run``)."""

    port: int
    logs: Path
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, env: dict[str, str],
              principals: dict[str, dict[str, str]] | None = None) -> None:
        """Start both children with ``env``, each overlaid with its own credential, if any."""
        self.logs.mkdir(parents=True, exist_ok=True)
        commands = {
            "serve": [*emining_command(), "serve", "--host", "127.0.0.1", "--port",
                      str(self.port)],
            "views": [*emining_command(), "views", "run"],
        }
        for name, command in commands.items():
            log = (self.logs / f"{name}.log").open("ab")
            # A session of their own: a Ctrl-C in the terminal reaches only us; we stop them.
            self.children[name] = subprocess.Popen(  # noqa: S603 - our own CLI
                command, env=env | (principals or {}).get(name, {}), stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
            log.close()

    def check_alive(self) -> None:
        for name, child in self.children.items():
            if child.poll() is not None:
                raise RuntimeError(f"`emining {name}` exited with {child.returncode}: see "
                                   f"{self.logs / (name + '.log')}")

    def stop(self, timeout_s: float = 8.0) -> None:
        """SIGTERM each child, wait, then SIGKILL whatever is left."""
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for child in self.children.values():
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self.children.clear()

    async def wait_healthy(self, timeout_s: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(base_url=self.url, timeout=5.0) as client:
            while True:
                self.check_alive()
                try:
                    answer = await client.get("/v1/health")
                    if answer.status_code == 200:  # noqa: PLR2004
                        body: dict[str, Any] = answer.json()
                        return body
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the gateway did not become healthy in {timeout_s:.0f}s; "
                                       f"see {self.logs / 'serve.log'}")
                await asyncio.sleep(0.3)


def gateway_credentials(settings: Settings, dep: Deployment, orgs: Sequence[str]
                        ) -> dict[str, str]:
    """An API key per organisation posting over HTTP (replaced each run: only hashes are kept)
    and its key in the gateway's custody (kept if already there)."""
    store = ApiKeyStore(settings.api_keys_path)
    tokens = {org: store.issue(org, replace=True) for org in orgs}
    custody = settings.custody_path
    custody.mkdir(parents=True, exist_ok=True)
    custody.chmod(0o700)
    for org in orgs:
        target = custody / key_file_name(org)
        if not target.exists():
            write_key(dep.keys[org], target)
    return tokens


@dataclass(slots=True)
class PublishTally:
    published: dict[str, int] = field(default_factory=lambda: {"sdk": 0, "import": 0, "http": 0})
    path_seconds: dict[str, float] = field(
        default_factory=lambda: {"sdk": 0.0, "import": 0.0, "http": 0.0})
    attacks: int = 0
    resumed_at_batch: int = 0
    skipped: bool = False
    seconds: float = 0.0


def marker_path(settings: Settings, scenario: Scenario) -> Path:
    return demo_dir(settings) / f"published-seed{scenario.seed}-scale{scenario.scale:g}.json"


def read_marker(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"done_batches": [], "attacks_done": False}
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if "batches_done" in loaded:  # the first marker format: a count of leading batches
        loaded["done_batches"] = list(range(int(loaded.pop("batches_done"))))
    return loaded


def write_marker(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
    tmp.replace(path)


class ScenarioPublisher:
    """Publishes a scenario batch by batch along its real paths, resumable via a marker file."""

    def __init__(self, settings: Settings, dep: Deployment, scenario: Scenario, env: dict[str, str],
                 gateway_url: str, tokens: dict[str, str],
                 org_access: dict[str, KafkaAccess] | None = None) -> None:
        self.settings, self.dep, self.scenario, self.env = settings, dep, scenario, env
        self.org_access = org_access or {}
        """Each importing organisation's own credential (``emining import`` runs as it)."""
        self.gateway_url, self.tokens = gateway_url, tokens
        self.files = demo_dir(settings) / "import"
        self.keys_dir = demo_dir(settings) / "keys"

    async def publish(self, on_progress: Progress) -> PublishTally:  # noqa: C901, PLR0915
        """Every batch in order, except that monthly returns (the import path) wait and go as
        one file per organisation until a later event about the same subject needs them first,
        as an ERP export would: every subject's events keep their order, and there are a few
        ``emining import`` runs instead of one per batch."""
        started = time.monotonic()
        marker = marker_path(self.settings, self.scenario)
        state = read_marker(marker)
        done_batches: set[int] = set(state["done_batches"])
        batches = self.scenario.batches()
        tally = PublishTally(resumed_at_batch=len(done_batches))
        if len(done_batches) >= len(batches) and state["attacks_done"]:
            tally.skipped = True
            return tally
        total = len(self.scenario.steps)
        done = sum(len(b.steps) for i, b in enumerate(batches) if i in done_batches)
        self.files.mkdir(parents=True, exist_ok=True)
        waiting: list[int] = []
        """Import batches not sent yet."""

        async def flush() -> None:
            nonlocal done
            if not waiting:
                return
            on_progress("publishing (import)", done, total)
            clock = time.monotonic()
            steps = [s for i in waiting for s in batches[i].steps]
            await self._import(waiting[0], steps)
            tally.published["import"] += len(steps)
            tally.path_seconds["import"] += time.monotonic() - clock
            done += len(steps)
            done_batches.update(waiting)
            waiting.clear()
            save()

        def save() -> None:
            state["done_batches"] = sorted(done_batches)
            write_marker(marker, state)

        def clashes(steps: Sequence[Step]) -> bool:
            held = {(s.subject, s.org) for i in waiting for s in batches[i].steps}
            subjects = {subject for subject, _ in held}
            return any(s.subject in subjects and (s.path != "import" or (s.subject, s.org)
                                                  not in held) for s in steps)

        async with AsyncExitStack() as stack:
            sdk: dict[str, Publisher] = {}
            client = await stack.enter_async_context(
                httpx.AsyncClient(base_url=self.gateway_url, timeout=30.0))
            for index, batch in enumerate(batches):
                if index in done_batches:
                    continue
                if clashes(batch.steps):
                    await flush()
                if batch.path == "import":
                    waiting.append(index)
                    continue
                on_progress(f"publishing ({batch.path})", done, total)
                clock = time.monotonic()
                if batch.path == "sdk":
                    for org in batch.by_org():
                        if org not in sdk:
                            sdk[org] = await stack.enter_async_context(compose.publisher(
                                self.settings, self.dep.keys[org], "demo", self.dep.registry))
                    await asyncio.gather(*(sdk[org].publish_many(
                        [Draft(s.data, s.event_id, s.time) for s in steps])
                        for org, steps in batch.by_org().items()))
                else:
                    await asyncio.gather(*(self._post(client, org, steps)
                                           for org, steps in batch.by_org().items()))
                tally.published[batch.path] += len(batch.steps)
                tally.path_seconds[batch.path] += time.monotonic() - clock
                done += len(batch.steps)
                done_batches.add(index)
                save()
            await flush()
            on_progress("publishing", done, total)
        if not state["attacks_done"]:
            on_progress("injecting the attacks", 0, len(self.scenario.attacks))
            tally.attacks = await inject_attacks(self.dep, self.scenario.attacks,
                                                 self.settings.client_timeout_s)
            state["attacks_done"] = True
            save()
        tally.seconds = time.monotonic() - started
        return tally

    async def _import(self, first_batch: int, all_steps: Sequence[Step]) -> None:
        """One ``emining import`` subprocess per organisation, all at once."""
        by_org: dict[str, list[Step]] = {}
        for step in all_steps:
            by_org.setdefault(step.org, []).append(step)

        async def one(org: str, steps: list[Step]) -> None:
            name = key_file_name(org).removesuffix(".key")
            path = self.files / f"{first_batch:04d}-{name}.jsonl"
            path.write_text("".join(json.dumps(s.import_row(), ensure_ascii=False) + "\n"
                                    for s in steps), encoding="utf-8")
            process = await asyncio.create_subprocess_exec(
                *emining_command(), "import", str(path), "--as", org,
                "--key", str(self.keys_dir / key_file_name(org)), "--json",
                env=self.env | (kafka_env(self.org_access[org]) if org in self.org_access
                                else {}),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await communicate(process)
            if process.returncode != 0:
                detail = err.decode()[-2000:] or out.decode()
                raise RuntimeError(f"`emining import {path} --as {org}` failed "
                                   f"({process.returncode}): {detail}")
            summary = json.loads(out.decode())
            if summary.get("published") != len(steps):
                raise RuntimeError(f"`emining import {path}` published {summary}, "
                                   f"expected {len(steps)}")

        await asyncio.gather(*(one(org, steps) for org, steps in by_org.items()))

    async def _post(self, client: httpx.AsyncClient, org: str, steps: tuple[Step, ...]) -> None:
        headers = {"Authorization": f"Bearer {self.tokens[org]}"}
        for step in steps:
            answer = await client.post("/v1/events", json=step.http_body(), headers=headers)
            # 409 with the first answer: this organisation already sent that id (a resumed
            # run). Any other refusal (an impossible step, say) is the demo's own bug.
            repeated = answer.status_code == 409 and "id" in answer.json()  # noqa: PLR2004
            if answer.status_code != 202 and not repeated:  # noqa: PLR2004
                raise RuntimeError(f"POST /v1/events as {org} ({step.type}, {step.event_id}): "
                                   f"{answer.status_code} {answer.text[:500]}")


async def communicate(process: asyncio.subprocess.Process) -> tuple[bytes, bytes]:
    """``process.communicate()``; when cancelled (Ctrl-C), the child is stopped and reaped."""
    try:
        return await process.communicate()
    except BaseException:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 5.0)
            except TimeoutError:
                process.kill()
                await process.wait()
        raise
