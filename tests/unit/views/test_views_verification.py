"""The verification stage: every kind of bad record becomes a reason, none crashes it."""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from datetime import UTC, datetime

from consumers.verification import Accepted, Reason, Rejected, VerificationStage
from producers.publisher import Draft
from schemas.envelope import seal
from schemas.participants import KeyRevoked
from schemas.signing import PrivateKey
from schemas.topics import APPROVALS, PROJECTS
from tests.integration.views import scenario
from tests.unit.views.harness import Log, Record, StaticRegistry, stage_for
from transport.meta import key_partition

XINJIANG = "urn:emining:cn:ent:xinjiang-example"
AT = datetime(2026, 5, 1, 9, tzinfo=UTC)


def _registration(log: Log) -> Record:
    data = scenario.event("pk.emining.project.registered", project_id="PRJ-BA-CHG-0042",
                          operator_uscc=scenario.FIRMS[XINJIANG], related_titles=[])
    return log.record(log.seal(XINJIANG, Draft(data, time=AT)))


def _check(record: Record, registry=None) -> Rejected | Accepted:
    return stage_for(registry or scenario.registry()).check(record)


def test_a_signed_event_within_authority_is_accepted():
    verdict = _check(_registration(Log()))
    assert isinstance(verdict, Accepted)
    assert verdict.own_only is True
    assert scenario.FIRMS[XINJIANG] in verdict.emitter_ids


def test_garbage_bytes_are_bad_json():
    record = replace(_registration(Log()), value=b"\xff\xfe\x00garbage{")
    verdict = _check(record)
    assert verdict == Rejected(Reason.BAD_JSON, verdict.detail)
    assert "not UTF-8 JSON" in verdict.detail


def test_a_record_without_headers_names_the_missing_ones():
    verdict = _check(replace(_registration(Log()), headers=()))
    assert isinstance(verdict, Rejected)
    assert verdict.reason is Reason.MISSING_HEADER
    assert "ce_id" in verdict.detail


def test_non_utf8_and_null_header_values_are_bad_headers_not_crashes():
    record = _registration(Log())
    broken = tuple((k, b"\xff\xfe" if k == "ce_id" else v) for k, v in record.headers)
    nulled = tuple((k, None if k == "ce_source" else v) for k, v in record.headers)
    assert _check(replace(record, headers=broken)).reason is Reason.BAD_HEADER
    assert _check(replace(record, headers=nulled)).reason is Reason.BAD_HEADER


def test_pathological_json_is_malformed_not_a_crash():
    verdict = _check(replace(_registration(Log()), value=b"[" * 60_000))
    assert isinstance(verdict, Rejected)
    assert verdict.reason is Reason.MALFORMED
    assert "RecursionError" in verdict.detail


def test_a_value_changed_after_signing_fails_the_signature():
    record = _registration(Log())
    verdict = _check(replace(record, value=record.value.replace(b"Chagai North", b"Chagai South")))
    assert verdict.reason is Reason.SIGNATURE
    assert "does not verify" in verdict.detail


async def test_a_key_the_registry_does_not_know_is_an_unknown_key_after_one_refresh():
    log = Log()
    record = _registration(log)
    impostor = PrivateKey.generate(XINJIANG)
    data = scenario.event("pk.emining.project.registered", project_id="PRJ-BA-CHG-0043",
                          operator_uscc=scenario.FIRMS[XINJIANG])
    forged = log.record(seal(data, source=f"{XINJIANG}/x", signer=impostor.signer(),
                             sequence=1, prevhash="0" * 64, time=AT))
    source = StaticRegistry(scenario.registry())
    stage = VerificationStage(source, [scenario.key_of(scenario.PLATFORM).public_key],
                              {PROJECTS: PROJECTS})
    verdicts = await stage.check_batch([record, forged, forged])
    assert isinstance(verdicts[0], Accepted)
    assert [v.reason for v in verdicts[1:]] == [Reason.UNKNOWN_KEY] * 2
    assert source.refreshes == 1, "one registry refresh per batch, then reject"


def test_an_organisation_not_in_the_registry_is_an_unknown_key():
    stranger = "urn:emining:cn:ent:stranger"
    log = Log()
    data = scenario.event("pk.emining.project.registered", project_id="PRJ-BA-CHG-0044")
    record = log.record(seal(data, source=f"{stranger}/x",
                             signer=PrivateKey.generate(stranger).signer(), sequence=1,
                             prevhash="0" * 64, time=AT))
    verdict = _check(record)
    assert verdict.reason is Reason.UNKNOWN_KEY
    assert "organisation" in verdict.detail


def test_an_event_signed_after_its_key_was_revoked_fails_the_signature():
    registry = scenario.registry()
    revoke = KeyRevoked(org_id=XINJIANG, keyid=scenario.key_of(XINJIANG).keyid,
                        revoked_at=datetime(2026, 1, 1, tzinfo=UTC), reason="laptop lost")
    registry.apply(revoke, datetime(2026, 1, 1, tzinfo=UTC))
    verdict = _check(_registration(Log()), registry)
    assert verdict.reason is Reason.SIGNATURE
    assert "revoked" in verdict.detail


def test_an_agency_deciding_outside_its_province_is_refused_on_authority():
    log = Log()
    data = scenario.event("pk.emining.approval.licence.granted", title_number="KP-EL-2025-0001")
    verdict = _check(log.record(log.seal(scenario.BA_MMDD, Draft(data, time=AT))))
    assert verdict.reason is Reason.AUTHORITY
    assert "does not cover PK-KP" in verdict.detail


def test_an_epa_granting_a_licence_is_refused_on_authority():
    log = Log()
    data = scenario.event("pk.emining.approval.licence.granted")
    verdict = _check(log.record(log.seal(scenario.BA_EPA, Draft(data, time=AT))))
    assert verdict.reason is Reason.AUTHORITY
    assert verdict.event_id is not None


def test_an_event_on_another_family_topic_is_refused():
    log = Log()
    record = log.record(log.seal(XINJIANG, Draft(scenario.event(
        "pk.emining.project.registered"), time=AT)), topic=APPROVALS)
    verdict = _check(record)
    assert verdict.reason is Reason.WRONG_TOPIC


def test_a_schema_violation_names_the_field():
    record = _registration(Log())
    verdict = _check(replace(record, value=record.value.replace(b'"cpec":true', b'"cpec":"x"')))
    assert verdict.reason is Reason.SCHEMA
    assert "cpec" in verdict.detail


async def test_a_record_outside_its_keys_partition_is_refused_as_any_stock_client_could_put_it():
    """librdkafka's default partitioner (CRC32) or a producer naming a partition puts a keyed
    record where the SDK (murmur2) would not: read order would then decide its subject."""
    log = Log()
    record = _registration(log)
    home = key_partition(record.key, 6)
    placed = dataclasses.replace(record, partition=home)
    elsewhere = dataclasses.replace(record, partition=(home + 1) % 6)
    stage = VerificationStage(StaticRegistry(scenario.registry()),
                              [scenario.key_of(scenario.PLATFORM).public_key],
                              {PROJECTS: PROJECTS}, {PROJECTS: 6})
    ok, wrong = await stage.check_batch([placed, elsewhere])
    assert isinstance(ok, Accepted)
    assert wrong.reason is Reason.WRONG_PARTITION
    assert f"belongs in partition {home} of {PROJECTS}" in wrong.detail
    assert f"not {(home + 1) % 6}" in wrong.detail
    assert key_partition(b"PRJ-BA-CHG-0007", 6) == key_partition(b"PRJ-BA-CHG-0007", 6)
