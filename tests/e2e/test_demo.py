"""``emining demo --json`` end to end on the session broker: its numbers, the audit, a re-run."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from infra.demo.records import end_offsets
from infra.demo.scenario import Scenario, generate
from producers.accounts import AccountStore
from schemas.topics import SHARED_TOPICS
from tests.kafka_support import access_env
from transport.access import KafkaAccess

SCALE = 0.2
RUN_TIMEOUT_S = 240

# the demo runs twice (then again to check it publishes nothing new), each bounded above
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2 * RUN_TIMEOUT_S + 60)]


def _emining() -> list[str]:
    script = Path(sys.executable).with_name("emining")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from infra.cli import main; main()"]


def _run_demo(state_dir: Path, kafka: KafkaAccess, seed: int) -> tuple[dict[str, Any], float]:
    env = {**os.environ, "EMINING_STATE_DIR": str(state_dir), **access_env(kafka)}
    env.pop("EMINING_VIEWS_GROUP", None)
    started = time.monotonic()
    done = subprocess.run(
        [*_emining(), "demo", "--json", "--no-keep-running", "--seed", str(seed),
         "--scale", str(SCALE)],
        env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False)
    took = time.monotonic() - started
    logs = state_dir / "demo" / "logs"
    detail = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(logs.glob("*.log"))
                       ) if logs.exists() else ""
    assert done.returncode == 0, f"demo exited {done.returncode}\n{done.stderr[-4000:]}\n{detail}"
    return json.loads(done.stdout), took


def _shared_ends(kafka: KafkaAccess) -> dict[str, dict[int, int]]:
    return asyncio.run(end_offsets(kafka, SHARED_TOPICS, 10.0))


def _check_numbers(summary: dict[str, Any], scenario: Scenario) -> None:
    expected = scenario.expected
    views = summary["views"]
    assert summary["check"]["views_match_scenario"], summary["check"]["mismatches"]
    assert views["projects_by_stage"] == expected.projects_by_stage()
    assert views["projects"] == len(expected.projects)
    held = [h["shipment_id"] for h in views["shipments"]["held"]]
    assert held == [expected.held_shipment_id] == list(expected.held())
    assert sorted(views["shipments"]["in_transit"]) == sorted(expected.in_transit())
    pending = {p["ref"]: p for p in views["pending_approvals"]}
    assert len(pending) == len(expected.pending)
    for want in expected.pending:
        assert pending[want.ref]["due_on"] == want.due_on.isoformat(), want.ref
    deemed = pending[expected.deemed_approved.file_number]
    assert deemed["deemed"]
    assert deemed["deadline"] == "deemed_approval_on"
    assert deemed["due_on"] == expected.deemed_approved.deemed_on.isoformat()


def _check_audit(summary: dict[str, Any], scenario: Scenario) -> None:
    audit = summary["audit"]
    assert audit["available"], audit
    assert audit["exit_code"] == 1  # violations exist: the forged records
    named = {a["event_id"]: a for a in audit["attacks"]}
    for attack in scenario.attacks:
        found = named[attack.event_id]
        assert found["found"], f"the audit did not name {attack.name}: {found}"
        assert found["expected_kind"] == attack.expected.audit_kind.value
        assert found["topic"] in SHARED_TOPICS
        assert found["offset"] >= 0
    # The auditor's console page verified the same log, read by serve as the audit principal.
    shown = summary["console_verify"]
    assert shown["available"], shown
    assert shown["records"] == audit["records"]
    assert shown["violations"] == audit["violations"] > 0


def _check_sign_ins(summary: dict[str, Any], state_dir: Path) -> None:
    """The printed sign-ins work: one per kind of person the console serves."""
    people = summary["sign_ins"]
    assert {p["role"] for p in people} == {"officer", "manager", "auditor", "operator"}

    async def check() -> None:
        store = AccountStore.at(state_dir / "accounts.sqlite")
        await store.open()
        try:
            for person in people:
                session = await store.sign_in(person["username"], person["password"], "e2e")
                assert session is not None, person["username"]
                assert session.user.org == person["org"]
        finally:
            await store.close()

    asyncio.run(check())


def _check_security(summary: dict[str, Any]) -> None:
    """The services ran as their own principals and the broker refused what the ACLs forbid."""
    sec = summary["broker_security"]
    assert sec["mode"] == "scram"
    assert sec["principals"]["services"] == {
        "gateway": "User:emining-gateway", "alerts": "User:emining-alerts",
        "audit": "User:emining-audit"}
    got = [(r["tried"].split(" ", 2)[:2], r["got"]) for r in sec["refusals"]]
    assert got == [
        (["write", "emining.participants.v1"], "TopicAuthorizationFailedError"),
        (["read", got[1][0][1]], "TopicAuthorizationFailedError"),
        (["read", "emining.projects.v1"], "GroupAuthorizationFailedError"),
        (["read", "emining.projects.v1"], "TopicAuthorizationFailedError"),
        (["write", "emining.projects.v1"], "TopicAuthorizationFailedError"),
        (["log", "in"], "_AUTHENTICATION"),
    ]
    assert got[1][0][1].startswith("emining.alerts.")
    assert sec["all_refused"]
    # the importing organisations ran `emining import` as themselves: their events arrived
    assert sec["principals"]["organisations"] >= 3


def test_demo_json_then_rerun_is_idempotent(kafka_access: KafkaAccess, tmp_path: Path) -> None:
    # A seed of its own: the session broker is shared, and ids are a function of the seed.
    seed = 100_000 + os.getpid() % 100_000
    scenario = generate(seed, scale=SCALE)

    first, took_first = _run_demo(tmp_path / "state", kafka_access, seed)
    published = first["published"]
    assert not published["skipped_already_on_log"]
    assert published["by_path"] == scenario.counts_by_path()
    assert published["attacks"] == len(scenario.attacks)
    _check_numbers(first, scenario)
    _check_audit(first, scenario)
    _check_security(first)
    assert first["report"]["available"] is False or Path(first["report"]["path"]).exists()
    alerts = first["alerts"]
    if alerts.get("available") and alerts.get("total"):
        # Each side reads its alerts in its own language.
        languages = Counter(info["language"] for side in alerts["by_side"].values()
                            for info in side.values())
        assert languages, alerts

    _check_sign_ins(first, tmp_path / "state")
    ends = _shared_ends(kafka_access)
    second, took_second = _run_demo(tmp_path / "state", kafka_access, seed)
    _check_sign_ins(second, tmp_path / "state")  # a new password each run, the old one ends
    assert {p["password"] for p in second["sign_ins"]}.isdisjoint(
        p["password"] for p in first["sign_ins"])
    assert second["published"]["skipped_already_on_log"]
    assert second["published"]["attacks"] == 0
    _check_numbers(second, scenario)
    _check_audit(second, scenario)
    # Nothing new on the shared record (tests run one at a time), the same forged records found.
    assert _shared_ends(kafka_access) == ends
    assert second["audit"]["attacks"] == first["audit"]["attacks"]
    print(f"demo: first run {took_first:.0f}s, second {took_second:.0f}s")  # noqa: T201
