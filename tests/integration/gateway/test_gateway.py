"""The HTTP gateway against the real broker: every path, every answer, nothing extra on the log."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from consumers.store import ViewStore
from consumers.store_batch import view_row
from consumers.views.families import FAMILIES
from consumers.views.models import ApprovalKind, ApprovalStatus, ApprovalView, ProjectView
from infra.compose.app import build_app
from producers.gateway_auth import ApiKeyStore
from producers.gateway_models import UnsignedEvent
from producers.gateway_receipts import Receipts, ReceiptState
from producers.gateway_state import GatewayState
from producers.keys import key_file_name, write_key
from schemas.alerts import PLATFORM_ORG
from schemas.common import Province
from schemas.envelope import format_time
from schemas.envelope_read import from_record
from schemas.events.examples import OPERATOR
from schemas.events.projects import ProjectStage
from schemas.signing import PrivateKey, Verifier, b64
from schemas.topics import APPROVALS, PROJECTS
from tests.integration.gateway.conftest import (
    closed_port,
    firm_org,
    publish_registry,
    running,
    schemathesis,
    unique_org,
)
from tests.kafka_support import settings_for
from transport.meta import key_partition
from transport.sender import RecordSender

pytestmark = pytest.mark.integration

MILESTONE = "pk.emining.project.milestone.reached"
GRANTED = "pk.emining.approval.licence.granted"
SCHEMATHESIS_EXCLUDED = "positive_data_acceptance"
"""A body can match the OpenAPI schema and still be refused with 422: the type's data schema,
cross-field rules and the envelope's formats are checked per type, past what one JSON Schema of
the request says. Every other check runs."""


def milestone(project_id: str = "PRJ-BA-CHG-0007", **changes) -> dict:
    data = {"project_id": project_id, "operator_uscc": OPERATOR, "milestone": "financial_close",
            "reached_on": "2026-06-15"}
    return {"type": MILESTONE, "subject": project_id, "data": data | changes}


async def refused(world, before, response, status):
    """The answer has ``status`` and the shared topics did not move."""
    assert response.status_code == status, response.text
    assert await world.topics.end_offsets() == before
    return response.json()


# -- 202 -----------------------------------------------------------------------------------------


async def test_an_unsigned_event_is_signed_custodially_and_lands_on_its_topic(world):
    event_id = str(uuid.uuid4())
    before = await world.topics.end_offsets()
    response = await world.client.post("/v1/events", headers=world.auth(world.firm_token),
                                       json=milestone() | {"id": event_id})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["id"] == event_id
    assert body["topic"] == PROJECTS
    assert body["source"] == f"{world.firm.org}/custodial-gateway"
    assert body["custody"] is True
    assert body["sequence"] >= 1
    after = await world.topics.end_offsets()
    assert after[(PROJECTS, body["partition"])] == body["offset"] + 1
    assert sum(after.values()) == sum(before.values()) + 1

    record = await world.topics.record(PROJECTS, body["partition"], body["offset"])
    env = from_record(record.key, record.value, record.headers)
    Verifier(world.firm.public_key).verify(env.signing_input(), env.signature)
    assert (env.id, env.source, env.sequence) == (event_id, body["source"], body["sequence"])
    assert env.type == f"{MILESTONE}.v1"
    assert record.key == b"PRJ-BA-CHG-0007"
    assert response.headers["X-Request-ID"]


async def test_a_presigned_event_is_verified_and_sent_byte_for_byte(world):
    event = world.presigned(GRANTED)
    response = await world.client.post("/v1/events", headers={"X-API-Key": world.agency_token},
                                       json=event)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body == {"id": event["id"], "topic": APPROVALS, "partition": body["partition"],
                    "offset": body["offset"], "source": event["source"], "sequence": 1,
                    "custody": False}
    record = await world.topics.record(APPROVALS, body["partition"], body["offset"])
    headers = dict(record.headers)
    assert headers["ce_signature"] == event["signature"].encode()
    assert headers["ce_time"] == event["time"].encode()
    env = from_record(record.key, record.value, record.headers)
    Verifier(world.agency.public_key).verify(env.signing_input(), env.signature)
    assert env.data_json == event["data"]


async def test_a_type_may_be_given_with_its_version_and_time_is_kept(world):
    when = datetime.now(UTC).replace(microsecond=123456)
    beijing = when.astimezone(timezone(timedelta(hours=8))).isoformat()
    event = milestone() | {"type": f"{MILESTONE}.v1", "time": beijing}
    response = await world.client.post("/v1/events", headers=world.auth(world.firm_token),
                                       json=event)
    assert response.status_code == 202, response.text
    body = response.json()
    record = await world.topics.record(PROJECTS, body["partition"], body["offset"])
    assert dict(record.headers)["ce_time"] == format_time(when).encode()
    assert format_time(when).endswith(".123456Z")


# -- 422 -----------------------------------------------------------------------------------------


async def test_a_field_of_the_wrong_type_is_named_and_nothing_is_published(world):
    before = await world.topics.end_offsets()
    response = await world.client.post("/v1/events", headers=world.auth(world.firm_token),
                                       json=milestone(reached_on=12345))
    body = await refused(world, before, response, 422)
    assert [p["loc"] for p in body["detail"]] == [["body", "data", "reached_on"]]
    assert body["detail"][0]["msg"]


async def test_an_unknown_type_a_bad_subject_and_bad_json_are_each_named(world):
    before = await world.topics.end_offsets()
    headers = world.auth(world.firm_token)
    unknown = await world.client.post("/v1/events", headers=headers,
                                      json=milestone() | {"type": "pk.emining.project.teleported"})
    body = await refused(world, before, unknown, 422)
    assert body["detail"][0]["loc"] == ["body", "type"]
    assert "unknown event type" in body["detail"][0]["msg"]

    mismatch = await world.client.post("/v1/events", headers=headers,
                                       json=milestone() | {"subject": "PRJ-BA-CHG-0008"})
    body = await refused(world, before, mismatch, 422)
    assert body["detail"][0]["loc"] == ["body", "subject"]
    assert "data.project_id" in body["detail"][0]["msg"]

    broken = await world.client.post("/v1/events", content=b'{"type": ',
                                     headers=headers | {"Content-Type": "application/json"})
    body = await refused(world, before, broken, 422)
    assert body["detail"][0]["type"] == "json_invalid"

    stray = await world.client.post("/v1/events", headers=headers,
                                    json=milestone() | {"colour": "red"})
    body = await refused(world, before, stray, 422)
    assert body["detail"] == [{"loc": ["body", "colour"], "msg": "Extra inputs are not permitted",
                               "type": "extra_forbidden"}]


async def test_presigned_schema_and_envelope_errors_name_their_field(world):
    before = await world.topics.end_offsets()
    headers = world.auth(world.agency_token)
    event = world.presigned(GRANTED)
    event["data"]["term_years"] = "three"
    body = await refused(world, before,
                         await world.client.post("/v1/events", headers=headers, json=event), 422)
    assert body["detail"][0]["loc"] == ["body", "data", "term_years"]

    event = world.presigned(GRANTED) | {"time": "2026-03-01 09:30"}
    body = await refused(world, before,
                         await world.client.post("/v1/events", headers=headers, json=event), 422)
    assert body["detail"][0]["loc"] == ["body", "time"]
    assert "RFC 3339" in body["detail"][0]["msg"]


# -- 403 -----------------------------------------------------------------------------------------


async def test_an_event_outside_the_province_authority_is_refused_with_the_grant(world):
    before = await world.topics.end_offsets()
    response = await world.client.post("/v1/events", headers=world.auth(world.firm_token),
                                       json=milestone("PRJ-PB-CHN-0001"))
    body = await refused(world, before, response, 403)
    assert "firm-projects does not cover PK-PB" in body["detail"]


async def test_a_presigned_event_of_another_organisations_source_is_refused(world):
    before = await world.topics.end_offsets()
    # Signed by the agency's own key, but naming the firm as its source, posted with the
    # agency's API key: the source is not the caller's.
    event = world.presigned(GRANTED, source=f"{world.firm.org}/ops")
    response = await world.client.post("/v1/events", headers=world.auth(world.agency_token),
                                       json=event)
    body = await refused(world, before, response, 403)
    assert f"belongs to {world.firm.org}" in body["detail"]


async def test_a_signature_that_does_not_verify_or_an_unknown_key_is_refused(world):
    before = await world.topics.end_offsets()
    headers = world.auth(world.agency_token)
    tampered = world.presigned(GRANTED)
    tampered["data"]["area_km2"] = "50.0000"
    body = await refused(world, before,
                         await world.client.post("/v1/events", headers=headers, json=tampered), 403)
    assert "does not verify" in body["detail"]

    stranger = PrivateKey.generate(world.agency.org)
    unknown_key = world.presigned(GRANTED, key=stranger)
    body = await refused(world, before,
                         await world.client.post("/v1/events", headers=headers, json=unknown_key),
                         403)
    assert f"key {stranger.keyid} is not a key of {world.agency.org}" in body["detail"]


async def test_an_organisation_without_a_custodial_key_must_presign(world):
    before = await world.topics.end_offsets()
    response = await world.client.post("/v1/events", headers=world.auth(world.agency_token),
                                       json=milestone())
    body = await refused(world, before, response, 403)
    assert "holds no key of" in body["detail"]


# -- 401 -----------------------------------------------------------------------------------------


async def test_a_missing_or_wrong_api_key_is_401_with_a_challenge(world):
    before = await world.topics.end_offsets()
    missing = await world.client.post("/v1/events", json=milestone())
    body = await refused(world, before, missing, 401)
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="emining"'
    assert "API key" in body["detail"]

    wrong = await world.client.post("/v1/events", json=milestone(),
                                    headers=world.auth("emk_" + "A" * 43))
    body = await refused(world, before, wrong, 401)
    assert 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
    assert body == {"detail": "this API key is not valid (revoked or mistyped)"}


async def test_a_revoked_key_is_refused_at_once(world):
    store = ApiKeyStore(world.settings.api_keys_path)
    org = unique_org("cn", "ent", "revoked")
    token = store.issue(org)
    before = await world.topics.end_offsets()
    # While valid, the key authenticates: the gateway judges the (unregistered) org, not the key.
    accepted_key = await world.client.post("/v1/events", json=milestone(),
                                           headers=world.auth(token))
    assert accepted_key.status_code == 403, accepted_key.text
    store.revoke(org)
    await refused(world, before, await world.client.post(
        "/v1/events", json=milestone(), headers=world.auth(token)), 401)


# -- 413 -----------------------------------------------------------------------------------------


async def test_a_body_over_the_limit_is_413_by_length_or_by_what_arrives(world):
    before = await world.topics.end_offsets()
    limit = world.settings.gateway_max_body_bytes
    big = milestone(note="x" * limit)
    declared = await world.client.post("/v1/events", json=big,
                                       headers=world.auth(world.firm_token))
    body = await refused(world, before, declared, 413)
    assert body == {"detail": f"the body is over the limit of {limit} bytes"}

    async def chunks():  # no Content-Length: the limit counts what actually arrives
        for _ in range(limit // 4096 + 2):
            yield b" " * 4096

    streamed = await world.client.post(
        "/v1/events", content=chunks(),
        headers=world.auth(world.firm_token) | {"Content-Type": "application/json"})
    assert "content-length" not in streamed.request.headers
    await refused(world, before, streamed, 413)


async def test_event_data_over_the_bus_limit_is_413_even_in_a_small_enough_body(world):
    before = await world.topics.end_offsets()
    event = world.presigned(GRANTED)
    event["data"]["conditions"] = [{"text": "é" * 900, "due_on": "2026-08-01"}] * 40
    response = await world.client.post("/v1/events", json=event,
                                       headers=world.auth(world.agency_token))
    assert len(response.request.content) < world.settings.gateway_max_body_bytes
    body = await refused(world, before, response, 413)
    assert "limit 65536" in body["detail"]


# -- 409 -----------------------------------------------------------------------------------------


async def test_the_same_id_twice_makes_one_record_and_repeats_the_first_answer(world):
    event = milestone() | {"id": str(uuid.uuid4())}
    headers = world.auth(world.firm_token)
    first = await world.client.post("/v1/events", headers=headers, json=event)
    assert first.status_code == 202, first.text
    before = await world.topics.end_offsets()
    changed = event | {"data": event["data"] | {"milestone": "first_ore"}}
    second = await world.client.post("/v1/events", headers=headers, json=changed)
    assert (await refused(world, before, second, 409)) == first.json()
    assert len(await world.topics.records_with_id(PROJECTS, event["id"])) == 1


async def test_concurrent_duplicates_make_exactly_one_record(world):
    headers = world.auth(world.agency_token)
    event = world.presigned(GRANTED)
    before = await world.topics.end_offsets()
    answers = await asyncio.gather(*(
        world.client.post("/v1/events", headers=headers, json=event) for _ in range(6)))
    assert sorted(a.status_code for a in answers) == [202] + [409] * 5
    assert len({a.text for a in answers}) == 1, "every answer carries the same receipt"
    after = await world.topics.end_offsets()
    assert sum(after.values()) == sum(before.values()) + 1
    assert len(await world.topics.records_with_id(APPROVALS, event["id"])) == 1


async def test_an_id_is_scoped_to_its_organisation(world):
    shared_id = str(uuid.uuid4())
    firm = await world.client.post("/v1/events", headers=world.auth(world.firm_token),
                                   json=milestone() | {"id": shared_id})
    assert firm.status_code == 202, firm.text
    agency_event = world.presigned(GRANTED) | {"id": shared_id}
    agency = await world.client.post("/v1/events", headers=world.auth(world.agency_token),
                                     json=agency_event)
    assert agency.status_code == 403, "re-labelling the id breaks the agency's signature"
    assert "does not verify" in agency.json()["detail"]


# -- the registry follows the log ----------------------------------------------------------------


async def test_an_organisation_onboarded_after_start_is_served_without_a_restart(world):
    # Refreshes on a failed check are rate-limited; earlier tests may have just used one.
    await asyncio.sleep(world.state.min_refresh_gap_s)
    newcomer = PrivateKey.generate(unique_org("cn", "ent", "gw-newcomer"))
    await publish_registry(world.kafka, world.operator, world.operator_chains,
                           [firm_org(newcomer.org)], {newcomer.org: newcomer.public_key})
    write_key(newcomer, world.settings.custody_path / key_file_name(newcomer.org))
    token = ApiKeyStore(world.settings.api_keys_path).issue(newcomer.org)
    response = await world.client.post("/v1/events", headers=world.auth(token), json=milestone())
    assert response.status_code == 202, response.text
    assert response.json()["source"] == f"{newcomer.org}/custodial-gateway"
    assert newcomer.org in world.state.registry.orgs


# -- 503 and a queued custodial event ------------------------------------------------------------


class _DropFirstSender(RecordSender):
    """Loses the next send's acknowledgement, as a broker that went away mid-request would."""

    drop_next = False

    async def send(self, records, results=None):
        if self.drop_next:
            self.drop_next = False
            lost = ["no acknowledgement within 0s"] * len(records)
            if results is not None:
                results[:] = lost
            return lost
        return await super().send(records, results)


async def test_an_unacknowledged_custodial_event_is_queued_then_delivered_once(world, tmp_path):
    flaky = _DropFirstSender(world.kafka, timeout_s=5.0)
    state, app = _gateway_on(world, tmp_path, flaky)
    event = milestone() | {"id": str(uuid.uuid4())}
    headers = world.auth(world.firm_token)
    async with state.running(), running(app) as client:
        before = await world.topics.end_offsets()
        flaky.drop_next = True
        first = await client.post("/v1/events", headers=headers, json=event)
        assert first.status_code == 503
        assert "is signed" in first.json()["detail"]
        assert "send the same id again" in first.json()["detail"]
        assert await world.topics.end_offsets() == before

        retry = await client.post("/v1/events", headers=headers, json=event)
        assert retry.status_code == 202, retry.text
        receipt = retry.json()
        assert receipt["partition"] is not None
        record = await world.topics.record(PROJECTS, receipt["partition"], receipt["offset"])
        assert dict(record.headers)["ce_id"] == event["id"].encode()

        again = await client.post("/v1/events", headers=headers, json=event)
        assert again.status_code == 409
        assert again.json() == receipt
    assert len(await world.topics.records_with_id(PROJECTS, event["id"])) == 1


# -- a crash between signing and the receipt ------------------------------------------------------


class _Crash(Exception):  # noqa: N818 - stands for the process dying, not an error it reports
    """The process dies here: nothing after it runs (the test stops the state as a restart)."""


def _crash_at_next_settle(monkeypatch) -> list[tuple[ReceiptState, dict]]:
    """The next receipt settlement dies before it is written; returns what it was to write."""
    original = Receipts.settle
    lost: list[tuple[ReceiptState, dict]] = []

    def settle(self, org, event_id, state, answer):
        monkeypatch.setattr(Receipts, "settle", original)
        lost.append((state, answer))
        raise _Crash(f"died before settling {event_id} as {state}")

    monkeypatch.setattr(Receipts, "settle", settle)
    return lost


def _gateway_on(world, root: Path, sender: RecordSender):
    """A gateway (state and app) on its own chains and receipts under ``root``."""
    from fastapi import FastAPI  # noqa: PLC0415

    from producers.gateway import create_gateway  # noqa: PLC0415

    state = GatewayState(
        sender=sender, load_registry=world.state._load_registry,
        trust_anchor=[world.operator.public_key], api_keys=world.state.api_keys,
        custody_dir=world.state.custody.custody_dir, chain_dir=root / "chains",
        receipts_dir=root / "gateway", max_body_bytes=world.state.max_body_bytes,
    )
    app = FastAPI()
    app.include_router(create_gateway(state))
    return state, app


def _receipt(root: Path, org: str, event_id: str):
    receipts = Receipts(root / "gateway")
    try:
        return receipts.get(org, event_id)
    finally:
        receipts.close()


async def test_a_crash_after_the_acknowledgement_answers_the_retry_from_the_chain_store(
    world, tmp_path, monkeypatch
):
    event = milestone() | {"id": str(uuid.uuid4())}
    headers = world.auth(world.firm_token)
    state, app = _gateway_on(world, tmp_path, RecordSender(world.kafka, timeout_s=5.0))
    lost = _crash_at_next_settle(monkeypatch)
    async with state.running(), running(app) as client:
        with pytest.raises(_Crash):
            await client.post("/v1/events", headers=headers, json=event)
    [(settling, first)] = lost
    assert settling is ReceiptState.ACCEPTED
    assert first["partition"] is not None, "the broker acknowledged it before the crash"
    assert _receipt(tmp_path, world.firm.org, event["id"]).state is ReceiptState.PENDING
    landed = await world.topics.end_offsets()

    state, app = _gateway_on(world, tmp_path, RecordSender(world.kafka, timeout_s=5.0))
    async with state.running(), running(app) as client:
        retry = await client.post("/v1/events", headers=headers, json=event)
        assert retry.status_code == 409, retry.text
        assert retry.json() == first, "the answer the first request would have had"
        again = await client.post("/v1/events", headers=headers, json=event)
        assert (again.status_code, again.json()) == (409, first)
    assert await world.topics.end_offsets() == landed, "nothing signed or sent again"
    [record] = await world.topics.records_with_id(PROJECTS, event["id"])
    assert (record.partition, record.offset) == (first["partition"], first["offset"])


async def test_a_crash_before_the_acknowledgement_delivers_the_signed_event_once(
    world, tmp_path, monkeypatch
):
    event = milestone() | {"id": str(uuid.uuid4())}
    unsigned_id = str(uuid.uuid4())
    headers = world.auth(world.firm_token)
    flaky = _DropFirstSender(world.kafka, timeout_s=5.0)
    state, app = _gateway_on(world, tmp_path, flaky)
    before = await world.topics.end_offsets()
    lost = _crash_at_next_settle(monkeypatch)
    async with state.running(), running(app) as client:
        flaky.drop_next = True
        with pytest.raises(_Crash):
            await client.post("/v1/events", headers=headers, json=event)
    [(settling, queued)] = lost
    assert (settling, queued["partition"]) == (ReceiptState.QUEUED, None)
    assert await world.topics.end_offsets() == before
    receipts = Receipts(tmp_path / "gateway")  # and one claim whose request died before signing
    assert receipts.claim(world.firm.org, unsigned_id) is None
    receipts.close()

    state, app = _gateway_on(world, tmp_path, RecordSender(world.kafka, timeout_s=5.0))
    async with state.running(), running(app) as client:
        assert _receipt(tmp_path, world.firm.org, event["id"]).state is ReceiptState.QUEUED
        assert _receipt(tmp_path, world.firm.org, unsigned_id) is None
        retry = await client.post("/v1/events", headers=headers, json=event)
        assert retry.status_code == 202, retry.text
        receipt = retry.json()
        assert receipt == queued | {"partition": receipt["partition"], "offset": receipt["offset"]}
        assert receipt["partition"] is not None
        again = await client.post("/v1/events", headers=headers, json=event)
        assert (again.status_code, again.json()) == (409, receipt)
        fresh = await client.post("/v1/events", headers=headers,
                                  json=milestone() | {"id": unsigned_id})
        assert fresh.status_code == 202, fresh.text
    after = await world.topics.end_offsets()
    assert sum(after.values()) == sum(before.values()) + 2
    [record] = await world.topics.records_with_id(PROJECTS, event["id"])
    assert (record.partition, record.offset) == (receipt["partition"], receipt["offset"])


# -- a receipt a power loss took back --------------------------------------------------------------


def _lose_receipt(root: Path, org: str, event_id: str) -> None:
    """What a power loss can do: the receipts commit without an fsync, the chain store with one
    (another file), so the receipt's row goes and the chain store keeps the event."""
    receipts = Receipts(root / "gateway")
    try:
        receipts._db.execute("DELETE FROM receipts WHERE org = ? AND event_id = ?",
                             (org, event_id))
        assert receipts.get(org, event_id) is None
    finally:
        receipts.close()


async def test_a_receipt_taken_back_after_the_202_is_answered_from_the_chain_store(
    world, tmp_path
):
    """The retry of an acknowledged event whose receipt was lost gets 409 with the first answer:
    the id is not signed again, nothing new lands."""
    event = milestone() | {"id": str(uuid.uuid4())}
    headers = world.auth(world.firm_token)
    state, app = _gateway_on(world, tmp_path, RecordSender(world.kafka, timeout_s=5.0))
    async with state.running(), running(app) as client:
        answered = await client.post("/v1/events", headers=headers, json=event)
        assert answered.status_code == 202, answered.text
    first = answered.json()
    _lose_receipt(tmp_path, world.firm.org, event["id"])
    landed = await world.topics.end_offsets()

    state, app = _gateway_on(world, tmp_path, RecordSender(world.kafka, timeout_s=5.0))
    async with state.running(), running(app) as client:
        retry = await client.post("/v1/events", headers=headers, json=event)
        assert (retry.status_code, retry.json()) == (409, first), retry.text
        fresh = await client.post("/v1/events", headers=headers,
                                  json=milestone() | {"id": str(uuid.uuid4())})
        assert fresh.status_code == 202, fresh.text  # a new id is signed as before
    assert sum((await world.topics.end_offsets()).values()) == sum(landed.values()) + 1
    [record] = await world.topics.records_with_id(PROJECTS, event["id"])
    assert (record.partition, record.offset) == (first["partition"], first["offset"])
    assert fresh.json()["sequence"] == first["sequence"] + 1  # the chain went on, no fork


async def test_a_queued_events_lost_receipt_is_delivered_from_the_outbox_once(world, tmp_path):
    """Signed, not acknowledged, and its receipt lost: the signed event is delivered from the
    outbox (when the organisation's publisher opens again, at the retry) and the retry is
    answered with its receipt (409: the id is taken), never signed again."""
    flaky = _DropFirstSender(world.kafka, timeout_s=5.0)
    event = milestone() | {"id": str(uuid.uuid4())}
    headers = world.auth(world.firm_token)
    state, app = _gateway_on(world, tmp_path, flaky)
    before = await world.topics.end_offsets()
    async with state.running(), running(app) as client:
        flaky.drop_next = True
        queued = await client.post("/v1/events", headers=headers, json=event)
        assert queued.status_code == 503, queued.text
    _lose_receipt(tmp_path, world.firm.org, event["id"])

    state, app = _gateway_on(world, tmp_path, RecordSender(world.kafka, timeout_s=5.0))
    async with state.running(), running(app) as client:
        retry = await client.post("/v1/events", headers=headers, json=event)
        assert retry.status_code == 409, retry.text
        assert retry.json()["partition"] is not None
        signed = retry.json()
        assert (signed["id"], signed["custody"]) == (event["id"], True)
        assert f"source {signed['source']}, sequence {signed['sequence']}" in \
            queued.json()["detail"]  # the very event the first request signed
        again = await client.post("/v1/events", headers=headers, json=event)
        assert (again.status_code, again.json()) == (409, retry.json())
    assert sum((await world.topics.end_offsets()).values()) == sum(before.values()) + 1
    [record] = await world.topics.records_with_id(PROJECTS, event["id"])
    assert (record.partition, record.offset) == (retry.json()["partition"],
                                                 retry.json()["offset"])


async def test_a_lost_receipt_of_an_event_still_in_the_outbox_gets_where_it_landed(
    world, tmp_path
):
    """The organisation's publisher still open, its event signed and waiting, the receipt lost
    (and, as after a restart, no longer watched): the retry delivers it and answers 202 with the
    place it landed, not a receipt without one."""
    flaky = _DropFirstSender(world.kafka, timeout_s=5.0)
    event = milestone() | {"id": str(uuid.uuid4())}
    headers = world.auth(world.firm_token)
    state, app = _gateway_on(world, tmp_path, flaky)
    async with state.running(), running(app) as client:
        flaky.drop_next = True
        queued = await client.post("/v1/events", headers=headers, json=event)
        assert queued.status_code == 503, queued.text
        _lose_receipt(tmp_path, world.firm.org, event["id"])
        state.custody._queued.discard((world.firm.org, event["id"]))
        retry = await client.post("/v1/events", headers=headers, json=event)
        assert retry.status_code == 202, retry.text
        landed = retry.json()
        assert landed["partition"] is not None
        assert landed["offset"] is not None
        again = await client.post("/v1/events", headers=headers, json=event)
        assert (again.status_code, again.json()) == (409, landed)
    [record] = await world.topics.records_with_id(PROJECTS, event["id"])
    assert (record.partition, record.offset) == (landed["partition"], landed["offset"])


async def test_with_the_broker_down_health_and_posts_are_503_and_nothing_is_recorded(world,
                                                                                     tmp_path):
    nowhere = dataclasses.replace(world.kafka, bootstrap=f"127.0.0.1:{closed_port()}")
    settings = settings_for(
        nowhere, state_dir=tmp_path / "state",
        trust_anchor=b64(world.operator.public_key), client_timeout_s=1.0,
    )
    write_key(world.firm, settings.custody_path / key_file_name(world.firm.org))
    token = ApiKeyStore(settings.api_keys_path).issue(world.firm.org)
    before = await world.topics.end_offsets()
    async with running(build_app(settings)) as client:
        health = await client.get("/v1/health")
        assert health.status_code == 503
        assert health.json()["status"] == "unavailable"
        assert health.json()["broker"] == "unreachable"
        posted = await client.post("/v1/events", headers=world.auth(token), json=milestone())
        assert posted.status_code == 503
        assert "unreachable" in posted.json()["detail"]
        assert "nothing was signed or sent" in posted.json()["detail"]
    assert await world.topics.end_offsets() == before
    assert not list((tmp_path / "state" / "chains").glob("*.sqlite")), "nothing was signed"


# -- operations ------------------------------------------------------------------------------------


async def test_health_is_ok_when_the_broker_answers(world):
    response = await world.client.get("/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["broker"]) == ("ok", "reachable")
    assert body["registry_organisations"] >= 2


async def test_metrics_count_requests_by_outcome(world):
    registry = world.app.state.metrics  # the process's one registry, served on /metrics

    def accepted() -> float:
        return registry.get_sample_value(
            "emining_gateway_requests_total", {"outcome": "accepted"}) or 0.0

    def answered(status: str) -> float:
        return registry.get_sample_value("emining_http_requests_total", {
            "method": "POST", "route": "/v1/events", "status": status}) or 0.0

    start, http_start = accepted(), answered("202")
    response = await world.client.post("/v1/events", headers=world.auth(world.firm_token),
                                       json=milestone())
    assert response.status_code == 202
    assert accepted() == start + 1
    assert answered("202") == http_start + 1
    # Metrics are the platform operator's: not the public's, not a firm's.
    assert (await world.client.get("/metrics")).status_code == 401
    assert (await world.client.get("/metrics", headers=world.auth(world.firm_token))
            ).status_code == 403
    operator = ApiKeyStore(world.settings.api_keys_path).issue(PLATFORM_ORG, replace=True)
    text = (await world.client.get("/metrics", headers=world.auth(operator))).text
    assert 'emining_gateway_requests_total{outcome="accepted"}' in text
    assert "emining_gateway_request_seconds_bucket" in text
    assert ('emining_http_requests_total{method="POST",route="/v1/events",status="202"}'
            in text)
    assert "emining_http_request_duration_seconds_bucket" in text
    assert "emining_view" not in text  # the view consumer's metrics are its own process's


async def test_the_openapi_document_describes_both_forms_and_every_answer(world):
    spec = (await world.client.get("/openapi.json")).json()
    post = spec["paths"]["/v1/events"]["post"]
    assert set(post["responses"]) == {"202", "401", "403", "409", "413", "422", "503"}
    refs = post["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert [r["$ref"].rsplit("/", 1)[1] for r in refs] == ["UnsignedEvent", "SignedCloudEvent"]
    assert (await world.client.get("/docs")).status_code == 200


# -- the OpenAPI contract under generated input ----------------------------------------------------


async def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(world, tmp_path):
    before = await world.topics.end_offsets()
    returncode, report = await schemathesis(
        world.app,
        "--header", f"Authorization: Bearer {world.firm_token}",
        "--checks", "all", "--exclude-checks", SCHEMATHESIS_EXCLUDED,
        "--include-path-regex", "^/(v1/events|v1/health|metrics)$",  # the gateway's own
        "--max-examples", "40", "--seed", "20260301", "--workers", "1",
        "--phases", "examples,coverage,fuzzing",
        "--report", "junit", "--report-dir", str(tmp_path), timeout_s=90)
    assert returncode == 0, report[-6000:]
    assert "POST /v1/events" in report
    # Only the schema's own example is a valid event: whatever reached the log is that one.
    after = await world.topics.end_offsets()
    accepted = [
        await world.topics.record(topic, partition, offset)
        for (topic, partition), end in after.items()
        for offset in range(before[(topic, partition)], end)
    ]
    assert accepted, "the documented example is accepted"
    example = UnsignedEvent.model_config["json_schema_extra"]["examples"][0]
    for record in accepted:
        env = from_record(record.key, record.value, record.headers)
        assert env.data_json == example["data"]
        Verifier(world.firm.public_key).verify(env.signing_input(), env.signature)


async def test_concurrent_custodial_events_of_one_org_form_one_gap_free_chain(world):
    headers = world.auth(world.firm_token)
    answers = await asyncio.gather(*(
        world.client.post("/v1/events", headers=headers, json=milestone(f"PRJ-BA-CHG-{i:04d}"))
        for i in range(1, 41)))
    assert [a.status_code for a in answers] == [202] * 40
    sequences = sorted(a.json()["sequence"] for a in answers)
    assert sequences == list(range(sequences[0], sequences[0] + 40))
    for answer in answers[:3]:
        body = answer.json()
        record = await world.topics.record(PROJECTS, body["partition"], body["offset"])
        assert dict(record.headers)["ce_id"] == body["id"].encode()
        assert int(dict(record.headers)["ce_sequence"]) == body["sequence"]


async def test_a_step_the_files_lifecycle_forbids_is_refused_before_anything_is_sent(world):
    """The views say the application was withdrawn: the agency's grant is refused at the door
    (409 invalid_transition, naming from what), nothing is published. While the views are
    behind the subject's partition the gateway does not judge: the consumers do."""
    title = "BA-EL-2025-0991"
    counts = len([tp for tp in await world.topics.end_offsets() if tp[0] == APPROVALS])
    home = key_partition(title.encode(), counts)
    neighbour = next(t for t in (f"BA-EL-2025-{n:04d}" for n in range(900, 990))
                     if key_partition(t.encode(), counts) == home)
    first = await world.client.post(  # a record on the title's partition, for the lag below
        "/v1/events", headers={"X-API-Key": world.agency_token},
        json=world.presigned(GRANTED, changes={"title_number": neighbour}))
    assert first.status_code == 202, first.text
    ends = await world.topics.end_offsets()
    withdrawn = ApprovalView(ref=title, kind=ApprovalKind.TITLE, holder_uscc=OPERATOR,
                             status=ApprovalStatus.WITHDRAWN, updated_at=datetime.now(UTC))
    views = ViewStore(world.settings.views_store_url)
    await views.open(check_version=False)

    async def applied_up_to(lag: int) -> None:
        async with views.writing() as (conn, tables):
            await conn.execute(tables.offsets.delete())
            await conn.execute(tables.offsets.insert(), [
                {"topic": t, "log_partition": p, "next_offset": max(end - lag, 0)}
                for (t, p), end in ends.items() if t == APPROVALS])

    try:
        async with views.writing() as (conn, tables):
            await conn.execute(tables.view("approvals").insert().values(
                **view_row(FAMILIES[APPROVALS], title, withdrawn)))
        await applied_up_to(0)
        before = await world.topics.end_offsets()
        event = world.presigned(GRANTED, changes={"title_number": title})
        answer = await world.client.post("/v1/events",
                                         headers={"X-API-Key": world.agency_token}, json=event)
        body = await refused(world, before, answer, 409)
        assert body["detail"].startswith(
            "approval.licence.granted: withdrawn → granted is not a step of a mineral title")
        await applied_up_to(1)  # the views one record behind: it may make the grant possible
        again = world.presigned(GRANTED, changes={"title_number": title})
        late = await world.client.post("/v1/events",
                                       headers={"X-API-Key": world.agency_token}, json=again)
        assert late.status_code == 202, late.text
    finally:
        await views.close()


async def test_an_event_the_views_would_refuse_on_its_subject_is_refused_at_the_door(world):
    """A firm speaking for another firm's project (403 party_mismatch) or registering one that
    exists (409 subject_exists) is refused before anything is sent, as the consumers would;
    its own project it may report on."""
    theirs, mine = "PRJ-BA-CHG-0555", "PRJ-BA-CHG-0556"
    other = "91310000MA1FL8QW3Y"  # another firm's USCC
    views = ViewStore(world.settings.views_store_url)
    await views.open(check_version=False)
    ends = await world.topics.end_offsets()
    try:
        async with views.writing() as (conn, tables):
            for project, operator in ((theirs, other), (mine, OPERATOR)):
                doc = ProjectView(project_id=project, operator_uscc=operator,
                                  province=Province.BALOCHISTAN,
                                  stage=ProjectStage.CONSTRUCTION, updated_at=datetime.now(UTC))
                await conn.execute(tables.view("projects").insert().values(
                    **view_row(FAMILIES[PROJECTS], project, doc)))
            await conn.execute(tables.offsets.delete())
            await conn.execute(tables.offsets.insert(), [
                {"topic": t, "log_partition": p, "next_offset": end}
                for (t, p), end in ends.items() if t == PROJECTS])
        before = await world.topics.end_offsets()
        headers = world.auth(world.firm_token)
        answer = await world.client.post("/v1/events", headers=headers, json=milestone(theirs))
        body = await refused(world, before, answer, 403)
        assert body["detail"] == (f"the event names {OPERATOR} but {theirs} is registered to "
                                  f"{other}")
        ok = await world.client.post("/v1/events", headers=headers, json=milestone(mine))
        assert ok.status_code == 202, ok.text
    finally:
        await views.close()
