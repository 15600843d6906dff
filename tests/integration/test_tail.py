"""``emining tail``: a topic's records with verdicts, as the caller's own Kafka principal.

Through the CLI against the session broker, with a private state dir (its own trust anchor, so
the registry it reads holds only this test's organisations; records other tests left on the
shared topics are signed under other anchors and show as refused, which is right).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from typer.testing import CliRunner

from infra.cli import app
from infra.kafka_settings import kafka_access as access_of
from infra.logging import configure_logging
from schemas.catalogue import model_for
from schemas.topics import APPROVALS, PARTICIPANTS
from tests.conftest import own_broker
from tests.integration.publishing.conftest import read_all
from tests.kafka_support import access_env
from transport.access import KafkaAccess

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("catalogue_applied")]

ROOT = Path(__file__).resolve().parents[2]
BA = "urn:emining:pk:gov:ba-mmdd"
FIRM = "urn:emining:cn:ent:mcc-resources"
FIRM_USCC = "91650100MA7XK3P2LA"
GRANTED = "pk.emining.approval.licence.granted"


class Cli:
    def __init__(self, env: dict[str, str | None]) -> None:
        self.env = env

    def as_user(self, username: str, password: str) -> Cli:
        return Cli({**self.env, "EMINING_KAFKA_USERNAME": username,
                    "EMINING_KAFKA_PASSWORD": password})

    async def __call__(self, *args: str, ok: bool = True) -> Any:
        def invoke() -> Any:
            result = CliRunner().invoke(app, list(args), env=self.env)
            configure_logging("warning")  # the CLI bound structlog to the runner's stderr
            return result

        result = await asyncio.to_thread(invoke)
        assert (result.exit_code == 0) == ok, (result.stdout, result.stderr)
        return result

    async def json(self, *args: str) -> Any:
        return json.loads((await self(*args, "--json")).stdout)

    async def lines(self, *args: str) -> list[dict[str, Any]]:
        out = (await self(*args, "--json")).stdout
        return [json.loads(line) for line in out.splitlines()]


@pytest.fixture
def cli(kafka_access: KafkaAccess, tmp_path: Path) -> Cli:
    return Cli({**access_env(kafka_access), "EMINING_STATE_DIR": str(tmp_path / "state"),
                "EMINING_TRUST_ANCHOR": None, "EMINING_KAFKA_PASSWORD_FILE": None,
                "EMINING_OPERATOR_KEY_FILE": None})


async def test_tail_verifies_each_record_as_the_callers_own_principal(
    cli: Cli, kafka_access: KafkaAccess, tmp_path: Path,
) -> None:
    await cli("participants", "init")
    keys = {org: (await cli.json("keys", "new", "--org", org, "--out",
                                 str(tmp_path / "keys")))["file"] for org in (BA, FIRM)}
    await cli("participants", "add", "--org", BA, "--name-en", "BA MMDD", "--side", "PK",
              "--role", "agency", "--key-file", keys[BA])
    firm = await cli.json("participants", "add", "--org", FIRM, "--name-en", "MCC Chagai",
                          "--side", "CN", "--role", "firm", "--uscc", FIRM_USCC,
                          "--key-file", keys[FIRM])
    await cli("participants", "grant", "--org", BA, "--grant-id", "ba-licensing",
              "--type", "pk.emining.approval.licence.*", "--province", "PK-BA")
    data = tmp_path / "granted.json"
    data.write_text(json.dumps(model_for(GRANTED).EXAMPLE))
    out = await cli.json("publish", GRANTED, "--as", BA, "--key", keys[BA],
                         "--subject", "BA-EL-2025-0153", "--data", str(data))

    # a forgery: the same record claiming a larger area, in the same partition
    [record] = [r for r in await read_all(kafka_access, APPROVALS)
                if (r.partition, r.offset) == (out["partition"], out["offset"])]
    forged = record.value.replace(b'"area_km2":"48.2500"', b'"area_km2":"148.2500"', 1)
    assert forged != record.value
    producer = AIOKafkaProducer(**kafka_access.aiokafka())
    await producer.start()
    try:
        meta = await producer.send_and_wait(APPROVALS, forged, key=record.key,
                                            headers=list(record.headers),
                                            partition=record.partition)
        garbage = await producer.send_and_wait(APPROVALS, b"\xff not json",
                                               partition=record.partition)
    finally:
        await producer.stop()

    seen = {(r["partition"], r["offset"]): r
            for r in await cli.lines("tail", APPROVALS, "--from-beginning", "--until-end")}
    genuine = seen[(out["partition"], out["offset"])]
    assert genuine["verdict"] == "ok"
    assert genuine["event"]["id"] == out["id"]
    assert genuine["event"]["org"] == BA
    assert genuine["event"]["subject"] == "BA-EL-2025-0153"
    assert seen[(meta.partition, meta.offset)]["verdict"] == "signature"
    assert seen[(meta.partition, meta.offset)]["event"]["id"] == out["id"]
    assert seen[(garbage.partition, garbage.offset)]["verdict"] not in ("ok", "signature")
    assert seen[(garbage.partition, garbage.offset)]["event"] is None

    # the text form: one line per record, the verdict at the end
    text = (await cli("tail", APPROVALS, "--from-beginning", "--until-end")).stdout
    [line] = [x for x in text.splitlines()
              if x.startswith(f"{APPROVALS}[{meta.partition}]@{meta.offset} ")]
    assert "REFUSED signature" in line
    assert GRANTED in line

    # the firm with its own credential: the registry yes (its own onboarding verified), the
    # shared topic no (firms read it through the API), as one line naming the refusal
    as_firm = cli.as_user(FIRM, firm["credential"]["password"])
    registry = await as_firm.lines("tail", PARTICIPANTS, "--from-beginning", "--until-end")
    onboarded = [r for r in registry if r["event"] and r["event"]["subject"] == FIRM
                 and r["event"]["type"] == "pk.emining.participant.onboarded.v1"]
    assert [r["verdict"] for r in onboarded][-1] == "ok"
    refused = await as_firm("tail", APPROVALS, "--from-beginning", ok=False)
    assert f"the broker refused READ of {APPROVALS} to User:{FIRM}" in refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.timeout(180)
def test_tail_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    """On a broker of its own: the session broker's registry, written by every test of the
    suite, takes tail longer to verify before its first line than this test should wait (a
    known cost, noted in the README)."""
    with own_broker(tmp_path / "kafka", what="tail") as settings:
        cli = Cli({**access_env(access_of(settings)), "EMINING_STATE_DIR": str(tmp_path / "s"),
                   "EMINING_TRUST_ANCHOR": None, "EMINING_KAFKA_PASSWORD_FILE": None,
                   "EMINING_OPERATOR_KEY_FILE": None})
        _interrupt_tail(cli, tmp_path)


def _interrupt_tail(cli: Cli, tmp_path: Path) -> None:
    async def onboard() -> None:  # a record on the registry for it to print first
        await cli("participants", "init")
        await cli("topics", "apply")
        key = await cli.json("keys", "new", "--org", BA, "--out", str(tmp_path / "keys"))
        await cli("participants", "add", "--org", BA, "--name-en", "BA MMDD", "--side", "PK",
                  "--role", "agency", "--key-file", key["file"])

    asyncio.run(onboard())
    env = {k: v for k, v in {**os.environ, **cli.env}.items() if v is not None}
    env |= {"PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    out = tmp_path / "tail.out"
    with out.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-c", "from infra.cli import main; main()", "tail", PARTICIPANTS,
             "--from-beginning"], cwd=ROOT, env=env, stdout=sink, stderr=subprocess.PIPE)
    try:
        # following the topic: its first record printed (the registry of a whole test session
        # can be long to verify on a busy machine: wait for it, boundedly)
        deadline = time.monotonic() + 60
        while not out.read_bytes().startswith(PARTICIPANTS.encode()):
            assert process.poll() is None, f"tail ended ({process.returncode}) before a record"
            assert time.monotonic() < deadline, "tail printed no record within 60 s"
            time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
    assert process.returncode == 0, err
    assert b"Traceback" not in err
    assert b"record(s)" in err
