"""The audit's judgement of an in-memory log: each tampering is found at its record, once."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime, timedelta

import pytest

from consumers.audit.columns import Columns
from consumers.audit.findings import Finding, Kind
from consumers.audit.inspect import Inspected, Inspector, Standing, event_hash_from
from consumers.audit.verify import fold_registry, verify_records
from schemas.catalogue import event_types
from schemas.envelope import seal
from schemas.participants import KeyRevoked, KeyRotated
from schemas.signing import GENESIS_HASH, PrivateKey, b64
from tests.unit.audit import parties as pa
from tests.unit.audit.logbuilder import LogBuilder
from tests.unit.audit.scenario import event, story
from transport.meta import key_partition

T = datetime(2025, 6, 1, 9, tzinfo=UTC)


@pytest.fixture(scope="module")
def parties() -> pa.Parties:
    return pa.Parties.generate()


@pytest.fixture
def log(parties: pa.Parties) -> LogBuilder:
    builder = LogBuilder(parties)
    builder.registry()
    builder.story(story(12))
    return builder


def _project(n: int = 900, uscc: str = pa.USCC[pa.FIRM_A]):
    return event("pk.emining.project.registered", project_id=f"PRJ-BA-CHG-{n:04d}",
                 operator_uscc=uscc)


def _audit(log: LogBuilder) -> list[Finding]:
    return verify_records(log.records, log.parties.trust_anchor, log.topics).findings


def _only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


def test_a_clean_story_has_no_findings(log):
    report = verify_records(log.records, log.parties.trust_anchor, log.topics)
    assert report.findings == []
    assert report.ok
    assert report.records == len(log.records)
    assert report.events == len(log.records)
    assert report.sources == len(log.links)


def test_a_forged_signature_is_caught_at_its_offset(log):
    env = log.seal(pa.FIRM_A, _project(), T)
    forged = dict(env.data_json, district="Quetta")  # altered after signing
    rec = log.append(log.topics.projects, env.subject.encode(),
                     json.dumps(forged, sort_keys=True).encode(),
                     [(h, v) for h, v in _headers(env)])
    found = _only(_audit(log))
    assert (found.topic, found.partition, found.offset) == (rec.topic, rec.partition, rec.offset)
    assert found.kind is Kind.BAD_SIGNATURE
    assert "does not verify" in found.reason
    assert found.event_id == env.id


def test_a_skipped_sequence_is_a_gap_at_the_next_event(log):
    log.seal(pa.FIRM_A, _project(901), T)  # sequence n: signed, never published
    rec = log.publish(pa.FIRM_A, _project(902), T)
    found = _only(_audit(log))
    assert found.kind is Kind.SEQUENCE_GAP
    assert found.offset == rec.offset
    assert "1 event(s) missing" in found.reason


def test_an_identical_copy_is_only_a_redelivery_warning(log):
    original = log.records[-1]
    copy = log.append(original.topic, original.key or b"", original.value or b"",
                      list(original.headers))  # type: ignore[arg-type]
    report = verify_records(log.records, log.parties.trust_anchor, log.topics)
    assert report.ok
    warning = _only(report.warnings)
    assert (warning.kind, warning.offset) == (Kind.REDELIVERY, copy.offset)


def test_an_old_sequence_under_a_new_id_is_a_replay(log):
    first = log.publish(pa.FIRM_A, _project(903), T)
    log.publish(pa.FIRM_A, _project(904), T)
    seq = log.links[f"{pa.FIRM_A}/app"].sequence - 1
    replay = log.seal(pa.FIRM_A, _project(903), T, sequence=seq, prevhash=GENESIS_HASH,
                      advance=False)
    rec = log.append_envelope(replay)
    found = _only(_audit(log))
    assert (found.kind, found.offset, found.partition) == (Kind.REPLAY, rec.offset, rec.partition)
    assert f"{first.topic}[{first.partition}]@{first.offset}" in found.reason


def test_a_lower_sequence_after_a_higher_one_in_a_partition_is_a_reorder(log):
    early = log.seal(pa.FIRM_A, _project(905), T)
    late = log.seal(pa.FIRM_A, _project(906), T)
    log.append_envelope(late, partition=0)
    rec = log.append_envelope(early, partition=0)
    found = _only(_audit(log))
    assert (found.kind, found.offset) == (Kind.REORDER, rec.offset)


def test_an_event_signed_by_another_org_rewriting_history_is_a_rewrite(log):
    victim = log.publish(pa.SD_MMD, _project(907, pa.USCC[pa.FIRM_B]), T, instance="x")
    env = log.seal(pa.SD_MMD, _project(907, pa.USCC[pa.FIRM_B]), T, instance="x",
                   key=log.parties.keys[pa.BA_MMDD], sequence=1, advance=False)
    rec = log.append_envelope(env)
    kinds = {(f.kind, f.offset, f.topic) for f in _audit(log)}
    assert (Kind.REWRITE, rec.offset, rec.topic) in kinds
    assert (Kind.UNAUTHORISED, victim.offset, victim.topic) in kinds  # sd-mmd: not a firm
    rewrite = next(f for f in _audit(log) if f.kind is Kind.REWRITE)
    assert pa.BA_MMDD in rewrite.reason


def test_a_revoked_key_signs_nothing_after_its_revocation(log, parties):
    stolen = PrivateKey.generate(pa.FIRM_A)
    log.publish(pa.OPERATOR_ORG, KeyRotated(
        org_id=pa.FIRM_A, old_keyid=parties.keys[pa.FIRM_A].keyid, new_keyid=stolen.keyid,
        new_public_key=b64(stolen.public_key), effective_at=T), T, instance="registry")
    log.publish(pa.OPERATOR_ORG, KeyRevoked(org_id=pa.FIRM_A, keyid=stolen.keyid,
                                           revoked_at=T + timedelta(days=1), reason="stolen"),
                T, instance="registry")
    log.publish(pa.FIRM_A, _project(908), T + timedelta(hours=1), key=stolen)  # still valid
    rec = log.publish(pa.FIRM_A, _project(909), T + timedelta(days=2), key=stolen)
    found = _only(_audit(log))
    assert (found.kind, found.offset) == (Kind.INVALID_KEY, rec.offset)
    assert "revoked" in found.reason


def test_an_event_outside_the_provinces_authority_is_unauthorised_but_chained(log):
    title = "BA-EL-2025-0999"
    rec = log.publish(pa.SD_MMD, event("pk.emining.approval.licence.granted",
                                      title_number=title), T)
    found = _only(_audit(log))
    assert (found.kind, found.offset, found.topic) == (Kind.UNAUTHORISED, rec.offset, rec.topic)
    assert "PK-BA" in found.reason


def test_a_broken_link_and_a_bad_genesis(log):
    broken = log.publish(pa.FIRM_A, _project(910), T, prevhash="f" * 64)
    genesis = log.publish(pa.FIRM_A, _project(911), T, prevhash="e" * 64, instance="new")
    found = {(f.kind, f.offset, f.topic) for f in _audit(log)}
    assert found == {(Kind.HASH_CHAIN_BROKEN, broken.offset, broken.topic),
                     (Kind.BAD_GENESIS, genesis.offset, genesis.topic)}


def test_a_registry_event_not_signed_by_the_trust_anchor(log, parties):
    revoked = KeyRevoked(org_id=pa.BA_MMDD, keyid=parties.keys[pa.BA_MMDD].keyid,
                         revoked_at=T, reason="x")
    rogue = log.publish(pa.FIRM_A, revoked, T, instance="registry")
    found = _only(_audit(log))
    assert (found.kind, found.topic, found.offset) == (Kind.BAD_SIGNATURE, rogue.topic,
                                                       rogue.offset)


def test_a_malformed_record_and_a_wrong_topic(log):
    bad = log.append(log.topics.shipments, b"k", b"{}", [("ce_id", b"x")])
    env = log.seal(pa.FIRM_A, _project(912), T)
    rec = log.append(log.topics.approvals, *_record_parts(env))
    found = {(f.kind, f.topic, f.offset) for f in _audit(log)}
    assert found == {(Kind.MALFORMED, bad.topic, bad.offset),
                     (Kind.WRONG_TOPIC, rec.topic, rec.offset)}


@pytest.mark.parametrize("cls", sorted(event_types().values(), key=lambda c: c.ce_type()),
                         ids=lambda c: c.TYPE)
def test_the_fast_event_hash_equals_the_reference(cls, parties):
    env = seal(cls.model_validate(cls.EXAMPLE), source=f"{pa.FIRM_A}/a",
               signer=parties.keys[pa.FIRM_A].signer(), sequence=3, prevhash="a" * 64, time=T)
    assert event_hash_from(env.signing_input(), env.signature, env) == env.hash()


def _headers(env):
    from schemas.envelope import to_record  # noqa: PLC0415

    return to_record(env).headers


def _record_parts(env):
    from schemas.envelope import to_record  # noqa: PLC0415

    rec = to_record(env)
    return rec.key, rec.value, rec.headers


def test_a_record_outside_its_keys_partition_is_named_at_its_offset(log):
    counts = dict.fromkeys(log.topics.shared, log.partitions)
    assert verify_records(log.records, log.parties.trust_anchor, log.topics, counts).ok
    env = log.seal(pa.FIRM_A, _project(903), T)
    home = key_partition(env.subject.encode(), log.partitions)
    rec = log.append_envelope(env, partition=(home + 1) % log.partitions)
    report = verify_records(log.records, log.parties.trust_anchor, log.topics, counts)
    found = _only(report.findings)
    assert (found.topic, found.partition, found.offset) == (rec.topic, rec.partition, rec.offset)
    assert found.kind is Kind.WRONG_PARTITION
    assert f"belongs in partition {home}" in found.reason


def _title(type_name: str, number: str = "BA-EL-2025-0991", **fields: object):
    return event(f"pk.emining.approval.licence.{type_name}", title_number=number,
                 holder_uscc=pa.USCC[pa.FIRM_A], **fields)


def test_an_impossible_step_is_an_invalid_transition_at_its_offset(log):
    """A validly signed grant after a refusal: the views refused it, the audit names it; the
    status stays refused, so the next step is judged from there too."""
    log.publish(pa.FIRM_A, _title("application.received", licensing_authority=pa.BA_MMDD), T)
    log.publish(pa.BA_MMDD, _title("refused"), T + timedelta(days=1))
    grant = log.publish(pa.BA_MMDD, _title("granted"), T + timedelta(days=2))
    again = log.publish(pa.BA_MMDD, _title("application.acknowledged"), T + timedelta(days=3))
    first, second = _audit(log)
    assert (first.kind, first.topic, first.partition, first.offset) == (
        Kind.INVALID_TRANSITION, grant.topic, grant.partition, grant.offset)
    assert first.reason == ("approval.licence.granted: refused → granted is not a step of a "
                            "mineral title (granted follows: (new), received, acknowledged, "
                            "resubmitted)")
    assert first.source == f"{pa.BA_MMDD}/app"
    assert (second.offset, second.reason.split(" is not")[0]) == (
        again.offset, "approval.licence.application.acknowledged: refused → acknowledged")
    report = verify_records(log.records, log.parties.trust_anchor, log.topics)
    assert not report.ok
    assert report.counts() == {"invalid_transition": 2}


def test_a_correction_that_would_make_the_history_impossible_is_a_finding(log):
    received = _title("application.received", licensing_authority=pa.BA_MMDD)
    log.publish(pa.FIRM_A, received, T)
    notice = log.seal(pa.BA_MMDD, _title("deficiency.notified"), T + timedelta(days=1))
    log.append_envelope(notice)
    log.publish(pa.FIRM_A, _title("application.resubmitted"), T + timedelta(days=2))
    log.publish(pa.BA_MMDD, _title("granted"), T + timedelta(days=3))
    assert _audit(log) == []
    fix = log.publish(pa.BA_MMDD, event(
        "pk.emining.approval.corrected", approval_ref="BA-EL-2025-0991",
        holder_uscc=pa.USCC[pa.FIRM_A], corrects_event_id=notice.id,
        corrected_type="pk.emining.approval.licence.deficiency.notified.v1",
        reason="did_not_occur", replacement=None), T + timedelta(days=4))
    found = _only(_audit(log))
    assert (found.kind, found.offset) == (Kind.INVALID_TRANSITION, fix.offset)
    assert found.reason == (
        "the corrected history would be impossible: approval.licence.application.resubmitted: "
        "received → resubmitted is not a step of a mineral title (resubmitted follows: "
        "deficient)")


def test_a_correction_keeping_the_history_possible_moves_the_status_it_leads_to(log):
    """A stage change corrected to lead to closure: the next stage change is then impossible."""
    project = _project(907)
    log.publish(pa.FIRM_A, project, T)
    own = {"project_id": project.project_id, "operator_uscc": project.operator_uscc}
    change = log.seal(pa.FIRM_A, event("pk.emining.project.stage.changed", **own,
                                       from_stage=project.stage.value,
                                       to_stage="construction"), T + timedelta(days=1))
    log.append_envelope(change)
    log.publish(pa.FIRM_A, event("pk.emining.project.corrected", **own,
                                 corrects_event_id=change.id,
                                 corrected_type="pk.emining.project.stage.changed.v1",
                                 reason="incorrect_data", replacement={"to_stage": "closure"}),
                T + timedelta(days=2))
    later = log.publish(pa.FIRM_A, event("pk.emining.project.stage.changed", **own,
                                         from_stage="construction", to_stage="production"),
                        T + timedelta(days=3))
    found = _only(_audit(log))
    assert (found.kind, found.offset) == (Kind.INVALID_TRANSITION, later.offset)
    assert found.reason.startswith("project.stage.changed: closure → production is not a step")


def _inspected(log: LogBuilder) -> list[Inspected]:
    participants = [r for r in log.records if r.topic == log.topics.participants]
    registry, _, _ = fold_registry(participants, log.parties.trust_anchor, log.topics)
    inspector = Inspector(registry, log.parties.trust_anchor, log.topics)
    return [inspector.inspect(r) for r in log.records if r.topic != log.topics.participants]


def test_a_slices_results_carry_one_object_per_repeated_name(log):
    """The parent keeps every record's result (200k and more), pickled over from a worker:
    each source and subject named again and again must arrive as one object, not one copy per
    record."""
    got = pickle.loads(pickle.dumps(Columns(_inspected(log))))
    assert all(got.standing_of(i) is Standing.AUTHENTIC for i in range(len(got)))
    assert len(got.topics) == 3  # projects, approvals, shipments
    by_value: dict[str, list[str]] = {}
    for source in got.source:
        by_value.setdefault(source, []).append(source)
    repeated = [same for same in by_value.values() if len(same) > 1]
    assert repeated
    assert all(all(x is same[0] for x in same) for same in repeated)
    subjects: dict[str, list[str]] = {}
    for subject in got.subject:
        if subject is not None:
            subjects.setdefault(subject, []).append(subject)
    repeated_subjects = [same for same in subjects.values() if len(same) > 1]
    assert repeated_subjects
    assert all(all(x is same[0] for x in same) for same in repeated_subjects)


def test_columns_give_back_each_record_as_inspected(log):
    """Every kind of row (authentic, malformed with empty hashes, a genesis link of zeros)
    survives the columns, and joining columns whose topics come in another order keeps each
    record's topic."""
    log.append(log.topics.projects, b"PRJ-X", b"not json", [])  # malformed
    items = _inspected(log)
    kinds = {item.standing for item in items}
    assert {Standing.AUTHENTIC, Standing.MALFORMED} <= kinds
    assert any(item.prevhash == GENESIS_HASH for item in items)
    cols = Columns(items)
    assert [cols.row(i) for i in range(len(cols))] == items
    backwards = list(reversed(items))  # topics met in another order
    joined = Columns(items[:1])
    joined.extend(Columns(backwards))
    assert [joined.row(i) for i in range(len(joined))] == items[:1] + backwards


def test_a_twenty_digit_sequence_is_judged_not_a_crash(log):
    """An envelope's sequence may have 20 digits (past a 64-bit integer): the audit keeps the
    number as it is and judges it, here a gap from the source's last event."""
    huge = 10**20 - 1
    last = log.links[f"{pa.FIRM_A}/app"].sequence
    rec = log.publish(pa.FIRM_A, _project(903), T, sequence=huge)
    found = _only(_audit(log))
    assert (found.kind, found.offset) == (Kind.SEQUENCE_GAP, rec.offset)
    assert f"jumps from sequence {last} " in found.reason
    assert f"to {huge}: {huge - last - 1} event(s) missing" in found.reason
