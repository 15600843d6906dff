"""Completeness judged in memory: each tampering of a checkpointed log is found and named."""

from __future__ import annotations

import pytest

from consumers.audit.completeness import judge, no_checkpoints, proof_ranges
from consumers.audit.cosigned import read_checkpoints
from consumers.audit.findings import Kind
from consumers.audit.leaves import Frontier, leaves_of, of_topics, origin_of
from schemas import tlog
from schemas.signing import PrivateKey
from tests.unit.audit import parties as pa
from tests.unit.audit.tlogbus import (
    CN_WITNESS,
    CP_TOPIC,
    PK_WITNESS,
    TOPIC,
    Bus,
    records,
)


@pytest.fixture(scope="module")
def parties() -> pa.Parties:
    return pa.Parties.generate()


@pytest.fixture
def bus(parties) -> Bus:
    return Bus(parties, parties.operator)


def kinds(findings) -> list[Kind]:
    return sorted(f.kind for f in findings)


def test_frontier_gives_the_rfc9162_root_at_every_size():
    hashes = [tlog.leaf_hash(bytes([i])) for i in range(70)]
    frontier = Frontier()
    for i, h in enumerate(hashes):
        frontier.append(h)
        assert frontier.root() == tlog.merkle_root(hashes[: i + 1])


def test_proof_ranges_name_the_subtree_each_consistency_node_hashes():
    hashes = [tlog.leaf_hash(bytes([i])) for i in range(40)]
    for new in range(2, 41):
        for old in range(1, new):
            ranges = proof_ranges(old, new)
            proof = tlog.consistency_proof(hashes[:new], old)
            assert len(ranges) == len(proof)
            for (lo, hi), node in zip(ranges, proof, strict=True):
                assert tlog.merkle_root(hashes[lo:hi]) == node
                assert hi <= old or lo >= old
            fresh = sorted(r for r in ranges if r[0] >= old)  # they tile [old, new) exactly
            assert [lo for lo, _ in fresh] == [old] + [hi for _, hi in fresh[:-1]]
            assert fresh[-1][1] == new


def test_a_clean_checkpointed_log_has_no_finding(parties, bus):
    log = records(12) + records(7, partition=1)
    bus.checkpoint(log[:12], 5)
    bus.checkpoint(log[:12], 10)
    bus.checkpoint(log[12:], 7)
    findings, summary = bus.judge(parties, log)
    assert findings == []
    assert (summary.checkpoints, summary.valid, summary.cosigned_both) == (3, 3, 3)
    assert (summary.records_checkpointed, summary.records_pending) == (17, 2)
    assert {(h.origin, h.size, tuple(h.sides)) for h in summary.heads} == {
        (origin_of(TOPIC, 0), 10, ("CN", "PK")), (origin_of(TOPIC, 1), 7, ("CN", "PK"))}


def test_a_dropped_tail_is_named_with_both_counts(parties, bus):
    log = records(10)
    bus.checkpoint(log, 4)
    bus.checkpoint(log, 10)
    findings, _ = bus.judge(parties, log[:7])
    [found] = findings
    assert (found.kind, found.topic, found.partition, found.offset) == (
        Kind.TAIL_DROPPED, TOPIC, 0, 7)
    assert "tail dropped" in found.reason
    assert "covers 10 records, the log has 7" in found.reason


def test_a_checkpointed_partition_that_is_gone_lost_its_whole_log(parties, bus):
    log = records(6) + records(3, partition=1)
    bus.checkpoint(log[:6], 6)
    bus.checkpoint(log[6:], 3)
    judged = read_checkpoints(bus.checkpoints, bus.cosignatures, parties.trust_anchor,
                              parties.registry(), of_topics([TOPIC]))
    findings, summary = judge(leaves_of(log[:6]), {(TOPIC, 0): 0}, judged)  # partition 1 gone
    [found] = findings
    assert (found.kind, found.partition, found.offset) == (Kind.TAIL_DROPPED, 1, 0)
    assert "covers 3 records, the log has 0" in found.reason
    assert "no longer exists" in found.reason
    assert summary.logs == 1


def test_a_rewritten_record_is_placed_by_the_consistency_proofs_subtrees(parties, bus):
    log = records(15)
    for size in (5, 10, 15):
        bus.checkpoint(log, size)
    log[7] = log[7]._replace(value=b'{"n": 700}')
    findings, _ = bus.judge(parties, log)
    [found] = findings
    # the proof from 5 to 10 holds the subtrees [5, 6), [6, 8), [8, 10): 7 is in the second
    assert (found.kind, found.offset) == (Kind.LOG_REWRITTEN, 6)
    assert "records at offsets 6..7 differ from what the checkpoint of" in found.reason
    assert "(size 10)" in found.reason
    assert "rewritten or reordered" in found.reason


def test_without_a_usable_proof_the_range_runs_from_the_last_matching_checkpoint(parties, bus):
    log = records(15)
    bus.checkpoint(log, 5)
    bus.checkpoint(log, 10, proof=[])  # a proof that does not verify: also a fork
    log[7] = log[7]._replace(value=b'{"n": 700}')
    findings, _ = bus.judge(parties, log)
    assert kinds(findings) == [Kind.CHECKPOINT_FORK, Kind.LOG_REWRITTEN]
    rewritten = next(f for f in findings if f.kind is Kind.LOG_REWRITTEN)
    assert "records at offsets 5..9 differ" in rewritten.reason
    assert "(the checkpoint of size 5 still matches)" in rewritten.reason


def swap(log, i, j):
    a, b = log[i], log[j]  # same offsets, contents exchanged: the order changed
    log[i] = a._replace(key=b.key, value=b.value, headers=b.headers)
    log[j] = b._replace(key=a.key, value=a.value, headers=a.headers)


def test_two_records_swapped_are_caught_in_the_range_holding_both(parties, bus):
    log = records(12)
    bus.checkpoint(log, 9)
    bus.checkpoint(log, 12)
    swap(log, 2, 6)
    [found] = bus.judge(parties, log)[0]
    assert found.kind is Kind.LOG_REWRITTEN
    assert "offsets 0..8" in found.reason


def test_a_swap_across_subtrees_names_both_places(parties, bus):
    log = records(12)
    bus.checkpoint(log, 4)
    bus.checkpoint(log, 12)  # its proof from 4 holds the subtrees [4, 8) and [8, 12)
    swap(log, 5, 9)
    findings, _ = bus.judge(parties, log)
    assert [(f.kind, f.offset) for f in findings] == [
        (Kind.LOG_REWRITTEN, 4), (Kind.LOG_REWRITTEN, 8)]
    assert "offsets 4..7" in findings[0].reason
    assert "offsets 8..11" in findings[1].reason


def test_a_change_before_the_first_checkpoint_starts_at_offset_zero(parties, bus):
    log = records(6)
    bus.checkpoint(log, 6)
    log[0] = log[0]._replace(timestamp_ms=1)
    [found] = bus.judge(parties, log)[0]
    assert (found.kind, found.offset) == (Kind.LOG_REWRITTEN, 0)
    assert "offsets 0..5" in found.reason


def test_a_second_root_at_one_size_is_a_fork_not_a_rewrite(parties, bus):
    log = records(8)
    bus.checkpoint(log, 8)
    bus.checkpoint(log, 8, root=b"\x07" * 32, proof=[])
    findings, _ = bus.judge(parties, log)
    assert kinds(findings) == [Kind.CHECKPOINT_FORK]
    assert (findings[0].topic, findings[0].offset) == (CP_TOPIC, 1)
    assert "two histories of one size" in findings[0].reason


def test_an_inconsistent_successor_is_a_fork(parties, bus):
    log = records(9)
    bus.checkpoint(log, 3)
    other = records(9)
    other[1] = other[1]._replace(value=b"{}")  # the platform's other history
    bus.checkpoint(other, 9, proof=tlog.consistency_proof(
        [tlog.leaf_hash(tlog.record_leaf(*r[:7])) for r in other], 3))
    findings, _ = bus.judge(parties, log)
    assert Kind.CHECKPOINT_FORK in kinds(findings)
    fork = next(f for f in findings if f.kind is Kind.CHECKPOINT_FORK)
    assert "consistency proof" in fork.reason
    assert "does not verify" in fork.reason


def test_a_checkpoint_not_signed_by_the_platform_is_invalid(parties, bus):
    log = records(5)
    bus.checkpoint(log, 5, key=PrivateKey.generate(pa.OPERATOR_ORG))
    findings, summary = bus.judge(parties, log)
    assert kinds(findings) == [Kind.CHECKPOINT_INVALID]
    assert summary.valid == 0
    assert summary.records_pending == 5


def test_a_side_without_cosignature_is_a_warning_naming_it(parties, bus):
    log = records(5)
    bus.checkpoint(log, 5, witnesses=(PK_WITNESS,))
    findings, summary = bus.judge(parties, log)
    [found] = findings
    assert (found.kind, found.is_warning) == (Kind.COSIGNATURE_MISSING, True)
    assert "no valid cosignature from a CN-side witness" in found.reason
    assert summary.heads[0].sides == ["PK"]
    assert summary.uncosigned_heads == []


def test_a_cosignature_with_the_wrong_key_is_bad_and_leaves_the_side_missing(parties, bus):
    log = records(5)
    body = bus.checkpoint(log, 5, witnesses=(PK_WITNESS,))
    root = tlog.Checkpoint.parse(body).root
    bus.cosign(origin_of(TOPIC, 0), 5, root, body, CN_WITNESS,
               key=PrivateKey.generate(CN_WITNESS))
    findings, _ = bus.judge(parties, log)
    assert kinds(findings) == [Kind.BAD_COSIGNATURE, Kind.COSIGNATURE_MISSING]
    assert "does not verify" in next(f for f in findings
                                     if f.kind is Kind.BAD_COSIGNATURE).reason


def test_a_witness_cosigning_another_root_reveals_a_fork(parties, bus):
    log = records(5)
    body = bus.checkpoint(log, 5)
    other = tlog.Checkpoint(origin_of(TOPIC, 0), 5, b"\x01" * 32, ()).body()
    bus.cosign(origin_of(TOPIC, 0), 5, b"\x01" * 32, other, CN_WITNESS)
    assert body != other
    findings, _ = bus.judge(parties, log)
    assert kinds(findings) == [Kind.CHECKPOINT_FORK]
    assert findings[0].source == CN_WITNESS


def test_the_newest_checkpoint_cosigned_by_nobody_is_a_head_to_show(parties, bus):
    log = records(6)
    bus.checkpoint(log, 3)
    bus.checkpoint(log, 6, witnesses=())
    findings, summary = bus.judge(parties, log)
    assert kinds(findings) == [Kind.COSIGNATURE_MISSING]
    assert "PK or CN" in findings[0].reason
    assert [h.size for h in summary.uncosigned_heads] == [6]


def test_a_signed_refusal_is_reported_and_a_forged_one_is_not(parties, bus):
    log = records(8)
    bus.checkpoint(log, 8)
    bus.refuse(origin_of(TOPIC, 0), CN_WITNESS)
    bus.refuse(origin_of(TOPIC, 0), PK_WITNESS, key=PrivateKey.generate(PK_WITNESS))
    findings, summary = bus.judge(parties, log)
    [found] = findings
    assert (found.kind, found.source, found.is_warning) == (
        Kind.WITNESS_REFUSAL, CN_WITNESS, True)
    assert f"refused the checkpoint at test.checkpoints:0:1 of {origin_of(TOPIC, 0)}" in (
        found.reason)
    assert "fork (another root at size 8)" in found.reason
    assert summary.refusals == 1


def test_no_checkpoints_is_one_warning():
    log = records(4)
    findings, summary = no_checkpoints(CP_TOPIC, {(TOPIC, 0): 0}, leaves_of(log))
    [found] = findings
    assert (found.kind, found.is_warning) == (Kind.NO_CHECKPOINTS, True)
    assert "completeness not proven" in found.reason
    assert summary.records_pending == 4


def test_a_cosigned_head_whose_checkpoint_was_removed_still_shows_the_dropped_tail(parties, bus):
    log = records(10)
    bus.checkpoint(log, 5)
    bus.checkpoint(log, 10)
    del bus.checkpoints[-1]  # the operator removed the checkpoint of 10 ...
    findings, _ = bus.judge(parties, log[:8])  # ... and the last two records
    assert kinds(findings) == [Kind.CHECKPOINT_FORK, Kind.TAIL_DROPPED]  # one per head
    [missing] = [f for f in findings if f.kind is Kind.CHECKPOINT_FORK]
    assert missing.source in {PK_WITNESS, CN_WITNESS}
    assert "cosigned head whose checkpoint is missing from emining.checkpoints.v1" in (
        missing.reason)
    [tail] = [f for f in findings if f.kind is Kind.TAIL_DROPPED]
    assert "a witness cosigned 10 records" in tail.reason
    assert "the log has 8: 2 record(s) at the end are gone" in tail.reason


def test_a_cosigned_head_whose_checkpoint_was_removed_still_shows_a_rewrite(parties, bus):
    log = records(10)
    bus.checkpoint(log, 5)
    bus.checkpoint(log, 10)
    del bus.checkpoints[-1]
    log[7] = log[7]._replace(value=b'{"n": "changed"}')
    findings, _ = bus.judge(parties, log)
    assert Kind.LOG_REWRITTEN in kinds(findings)
    assert Kind.TAIL_DROPPED not in kinds(findings)


def test_a_forged_cosignature_of_an_unknown_head_is_not_a_head(parties, bus):
    log = records(6)
    bus.checkpoint(log, 6)
    other = tlog.Checkpoint(origin_of(TOPIC, 0), 9, b"\x02" * 32, ()).body()
    bus.cosign(origin_of(TOPIC, 0), 9, b"\x02" * 32, other, CN_WITNESS,
               key=PrivateKey.generate(CN_WITNESS))
    findings, _ = bus.judge(parties, log)
    assert kinds(findings) == []
