"""``emining audit …`` through typer's runner against a real broker and a test topic set."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from infra.cli import app
from schemas.signing import b64
from tests.integration.audit.conftest import moved
from tests.kafka_support import access_env
from tests.unit.audit import parties as pa
from tests.unit.audit.scenario import event, story

pytestmark = pytest.mark.integration


def _args(bus) -> list[str]:
    t = bus.topics
    return ["--topic", f"projects={t.projects}", "--topic", f"approvals={t.approvals}",
            "--topic", f"shipments={t.shipments}", "--topic", f"participants={t.participants}"]


async def _invoke(runner: CliRunner, args: list[str], env: dict[str, str]):
    """The CLI runs its own event loop: give it a thread of its own."""
    return await asyncio.to_thread(runner.invoke, app, args, env=env)


def _env(kafka_access, parties, tmp_path) -> dict[str, str]:
    return {**access_env(kafka_access),
            "EMINING_TRUST_ANCHOR": b64(parties.operator.public_key),
            "EMINING_STATE_DIR": str(tmp_path / "cli-state")}


async def test_verify_json_passes_a_clean_log_and_flags_an_unauthorised_grant(
    kafka_access, bus, parties, tmp_path
):
    await bus.steps(story(5))
    runner = CliRunner()
    env = _env(kafka_access, parties, tmp_path)
    clean = await _invoke(runner, ["audit", "verify", "--json", *_args(bus)], env)
    assert clean.exit_code == 0, clean.output
    doc = json.loads(clean.stdout)
    assert doc["ok"] is True
    assert doc["violations"] == []
    assert doc["records"] > 100

    sindh = await bus.publisher(pa.SD_MMD)
    grant = await sindh.publish(moved(event("pk.emining.approval.licence.granted",
                                            title_number="BA-EL-2025-0555"), bus.topics),
                                time=datetime(2025, 5, 1, tzinfo=UTC))
    dirty = await _invoke(runner, ["audit", "verify", "--json", "--workers", "0", *_args(bus)],
                          env)
    assert dirty.exit_code == 1
    doc = json.loads(dirty.stdout)
    assert doc["ok"] is False
    [violation] = doc["violations"]
    assert violation["kind"] == "unauthorised"
    assert (violation["topic"], violation["partition"], violation["offset"]) == (
        grant.topic, grant.partition, grant.offset)
    assert violation["source"] == f"{pa.SD_MMD}/app"


async def test_verify_for_people_prints_the_violation_and_a_summary(
    kafka_access, bus, parties, tmp_path
):
    await bus.steps(story(2))
    sindh = await bus.publisher(pa.SD_MMD)
    await sindh.publish(moved(event("pk.emining.approval.licence.granted",
                                    title_number="BA-EL-2025-0556"), bus.topics),
                        time=datetime(2025, 5, 1, tzinfo=UTC))
    result = await _invoke(CliRunner(), ["audit", "verify", *_args(bus)],
                           _env(kafka_access, parties, tmp_path))
    assert result.exit_code == 1
    assert "unauthorised" in result.stdout
    assert "1 violation(s)" in result.stdout


def test_a_bad_topic_override_is_one_clear_error():
    result = CliRunner().invoke(app, ["audit", "verify", "--topic", "nonsense"])
    assert result.exit_code == 1
    assert "ROLE=NAME" in result.output


async def test_replay_json_prints_the_same_digest_every_time(kafka_access, bus, parties,
                                                             tmp_path):
    steps = story(3)
    await bus.steps(steps)
    env = _env(kafka_access, parties, tmp_path)
    runner = CliRunner()
    first = await _invoke(runner, ["audit", "replay", "--json", *_args(bus)], env)
    second = await _invoke(runner, ["audit", "replay", "--json", *_args(bus)], env)
    assert first.exit_code == second.exit_code == 0, first.output
    one, two = json.loads(first.stdout), json.loads(second.stdout)
    assert one["digest"] == two["digest"]
    assert len(one["digest"]) == 64
    assert one["applied"] == len(steps)
    assert one["state"]["projects"] == {"construction": 2, "exploration": 1}  # one refused

    project = steps[0].data.subject
    only = await _invoke(runner, ["audit", "replay", "--json", "--subject", project,
                                  *_args(bus)], env)
    doc = json.loads(only.stdout)
    assert doc["state"]["view"]["project_id"] == project
    assert [e["position"] for e in doc["state"]["timeline"]] == list(
        range(1, len(doc["state"]["timeline"]) + 1))

    before = await _invoke(runner, ["audit", "replay", "--json", "--as-of", "2020-01-01",
                                    "--include-late", *_args(bus)], env)
    assert json.loads(before.stdout)["applied"] == 0
