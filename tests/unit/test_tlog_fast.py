"""The checkpointer's fast paths make the same bytes and roots as the reference functions."""

from __future__ import annotations

import random

import pytest

from schemas.tlog import (
    MerkleLog,
    PartitionLeaves,
    TlogError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    merkle_root,
    record_leaf,
)

Header = tuple[str, bytes | None]


def _field(rng: random.Random) -> bytes | None:
    return rng.choice([None, b"", rng.randbytes(rng.randrange(1, 300))])


def test_partition_leaves_match_record_leaf_byte_for_byte() -> None:
    rng = random.Random(21)
    for topic, partition in (("emining.projects.v1", 0), ("t", 5), ("ünï.çødé", 4294967295)):
        fast = PartitionLeaves(topic, partition)
        for _ in range(300):
            offset = rng.choice([0, rng.randrange(1 << 40), (1 << 64) - 1])
            ts = rng.choice([-1, 0, rng.randrange(1 << 43), (1 << 63) - 1, -(1 << 63)])
            headers: list[Header] = [(rng.choice(["emining-sig", "ce_id", "", "ñame"]),
                                      _field(rng)) for _ in range(rng.randrange(0, 14))]
            key, value = _field(rng), _field(rng)
            want = record_leaf(topic, partition, offset, ts, key, value, headers)
            assert fast.leaf(offset, ts, key, value, headers) == want
            assert fast.leaf_hash(offset, ts, key, value, headers) == leaf_hash(want)


def test_partition_leaves_known_vector() -> None:
    # written out by hand from the README's field list, independently of the code
    want = (b"emining-leaf/v1" + b"\x00\x01t" + b"\x00\x00\x00\x02"
            + (7).to_bytes(8, "big") + (-1).to_bytes(8, "big", signed=True)
            + b"\xff\xff\xff\xff" + b"\x00\x00\x00\x02hi"
            + b"\x00\x00\x00\x01" + b"\x00\x01n" + b"\x00\x00\x00\x00")
    assert PartitionLeaves("t", 2).leaf(7, -1, None, b"hi", [("n", b"")]) == want


@pytest.mark.parametrize(("offset", "ts"), [(-1, 0), (1 << 64, 0), (0, 1 << 63)])
def test_partition_leaves_refuse_out_of_range(offset: int, ts: int) -> None:
    with pytest.raises(TlogError):
        PartitionLeaves("t", 0).leaf_hash(offset, ts, None, None, [])


def test_partition_leaves_refuse_bad_topic_and_partition() -> None:
    with pytest.raises(TlogError):
        PartitionLeaves("", 0)
    with pytest.raises(TlogError):
        PartitionLeaves("t", 1 << 32)


@pytest.mark.parametrize("chunks", [[1], [2, 3], [5, 1, 7, 64], [100, 1, 1, 27, 300]])
def test_extend_then_root_equals_the_reference(chunks: list[int]) -> None:
    """``extend`` defers the subtree hashing; roots and proofs at every size still match."""
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(sum(chunks))]
    lazy, eager, at = MerkleLog(), MerkleLog(), 0
    for n in chunks:
        lazy.extend(leaves[at:at + n])
        for leaf in leaves[at:at + n]:
            eager.append(leaf)
        at += n
        assert lazy.root() == eager.root() == merkle_root(leaves[:at])
    lazy.append(leaf_hash(b"one more"))  # append after extend settles the levels first
    every = [*leaves, leaf_hash(b"one more")]
    assert lazy.root() == merkle_root(every)
    for size in range(1, len(every) + 1, 7):
        assert lazy.root(size) == merkle_root(every[:size])
        assert lazy.consistency_proof(size // 2, size) == consistency_proof(every[:size],
                                                                            size // 2)
        assert lazy.inclusion_proof(size - 1, size) == inclusion_proof(every[:size], size - 1)


def test_extend_refuses_a_bad_leaf_hash() -> None:
    log = MerkleLog()
    with pytest.raises(TlogError):
        log.extend([b"\x00" * 32, b"short"])
    assert log.size == 0
