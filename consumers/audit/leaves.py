"""The log as leaves: each audited partition's records as RFC 9162 leaf hashes, and its roots.

Every partition of the audited topics is a transparency log of its own (origin
``emining/<topic>/<partition>``, leaf ``i`` the record at its ``i``-th offset, hashed as
``schemas.tlog.record_leaf`` says). The completeness check (``consumers.audit.completeness``)
judges the checkpoints against these roots.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from consumers.audit.records import RawRecord
from schemas import tlog

TP = tuple[str, int]
Wanted = Callable[[str], bool]
"""Which origins (logs) to judge."""


def origin_of(topic: str, partition: int) -> str:
    return tlog.origin_for(topic, partition)


def of_topics(topics: Iterable[str]) -> Wanted:
    """The origins of every partition of ``topics``, present or not."""
    names = set(topics)

    def wanted(origin: str) -> bool:
        try:
            return tlog.parse_origin(origin)[0] in names
        except tlog.TlogError:
            return False

    return wanted


def leaf_hashes(records: Iterable[RawRecord]) -> dict[TP, tuple[array[int], bytes]]:
    """Per partition, the records' offsets and RFC 9162 leaf hashes (32 bytes each, in the
    records' order), as the checkpointer computes them (``tlog.PartitionLeaves``)."""
    found: dict[TP, tuple[tlog.PartitionLeaves, array[int], bytearray]] = {}
    for r in records:
        tp = (r.topic, r.partition)
        if (into := found.get(tp)) is None:
            into = found[tp] = (tlog.PartitionLeaves(*tp), array("q"), bytearray())
        leaves, offsets, hashes = into
        offsets.append(r.offset)
        hashes += leaves.leaf_hash(r.offset, r.timestamp_ms, r.key, r.value, r.headers)
    return {tp: (offsets, bytes(hashes)) for tp, (_, offsets, hashes) in found.items()}


@dataclass(slots=True)
class PartitionLeaves:
    """One partition's records as leaves: offsets and 32-byte leaf hashes, in offset order."""

    offsets: array[int] = field(default_factory=lambda: array("q"))
    hashes: bytearray = field(default_factory=bytearray)

    def __len__(self) -> int:
        return len(self.offsets)

    def leaf(self, index: int) -> bytes:
        return bytes(self.hashes[32 * index: 32 * index + 32])

    def all(self) -> list[bytes]:
        return [self.leaf(i) for i in range(len(self))]


class LeafTable:
    """Leaf hashes gathered per partition, possibly out of order (slices read by workers)."""

    def __init__(self) -> None:
        self._chunks: dict[TP, list[tuple[int, array[int], bytes]]] = {}

    def add_records(self, records: Iterable[RawRecord]) -> None:
        for tp, (offsets, hashes) in leaf_hashes(records).items():
            self.add_chunk(tp, offsets, hashes)

    def add_chunk(self, tp: TP, offsets: array[int], hashes: bytes) -> None:
        if offsets:
            self._chunks.setdefault(tp, []).append((offsets[0], offsets, hashes))

    def build(self) -> dict[TP, PartitionLeaves]:
        out: dict[TP, PartitionLeaves] = {}
        for tp, chunks in self._chunks.items():
            leaves = PartitionLeaves()
            for _, offsets, hashes in sorted(chunks, key=lambda c: c[0]):
                leaves.offsets.extend(offsets)
                leaves.hashes += hashes
            out[tp] = leaves
        return out


def leaves_of(records: Iterable[RawRecord]) -> dict[TP, PartitionLeaves]:
    table = LeafTable()
    table.add_records(records)
    return table.build()


class Frontier:
    """The right edge of a Merkle tree grown leaf by leaf: its RFC 9162 root at any size in
    O(log n), so every checkpoint of a log is checked in one pass over its leaves."""

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[tuple[int, bytes]] = []  # (height, root of a perfect subtree)

    def append(self, leaf_hash: bytes) -> None:
        height, node = 0, leaf_hash
        while self._stack and self._stack[-1][0] == height:
            _, left = self._stack.pop()
            node = tlog.node_hash(left, node)
            height += 1
        self._stack.append((height, node))
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return tlog.merkle_root([])
        node = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            node = tlog.node_hash(left, node)
        return node


def roots_at(leaves: PartitionLeaves, sizes: Iterable[int]) -> dict[int, bytes]:
    """The log's root at each of ``sizes`` (those within it), in one pass over its leaves."""
    frontier, out = Frontier(), {}
    for size in sorted({s for s in sizes if s <= len(leaves)}):
        while frontier.size < size:
            frontier.append(leaves.leaf(frontier.size))
        out[size] = frontier.root()
    return out
