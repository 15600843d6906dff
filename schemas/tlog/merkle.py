"""RFC 9162 Merkle trees (§2.1): hashes, roots, inclusion and consistency proofs.

Leaf hash ``SHA-256(0x00 || data)``, node hash ``SHA-256(0x01 || left || right)``, the root of
the empty tree ``SHA-256("")``; inclusion and consistency proofs and their verification
(§2.1.3, §2.1.4). :class:`MerkleLog` appends leaf hashes and answers roots and proofs at any
size from cached complete subtrees. Pure: ``hashlib`` only, no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from schemas.tlog.errors import TlogError

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""RFC 9162: the hash of an empty tree is the hash of the empty string."""


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


RangeHash = Callable[[int, int], bytes]
"""``MTH(D[lo:hi])`` for ``lo < hi``."""


def _list_range_hash(leaf_hashes: Sequence[bytes]) -> RangeHash:
    def mth(lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            return leaf_hashes[lo]
        k = _split(hi - lo)
        return node_hash(mth(lo, lo + k), mth(lo + k, hi))

    return mth


def _path(mth: RangeHash, index: int, lo: int, hi: int) -> list[bytes]:
    """RFC 9162 PATH(m, D[lo:hi]), leaf first."""
    if hi - lo == 1:
        return []
    k = _split(hi - lo)
    if index < lo + k:
        return [*_path(mth, index, lo, lo + k), mth(lo + k, hi)]
    return [*_path(mth, index, lo + k, hi), mth(lo, lo + k)]


def _subproof(mth: RangeHash, m: int, lo: int, hi: int, *, whole: bool) -> list[bytes]:
    """RFC 9162 SUBPROOF(m, D[lo:hi], b) with ``m`` counted from ``lo``."""
    n = hi - lo
    if m == n:
        return [] if whole else [mth(lo, hi)]
    k = _split(n)
    if m <= k:
        return [*_subproof(mth, m, lo, lo + k, whole=whole), mth(lo + k, hi)]
    return [*_subproof(mth, m - k, lo + k, hi, whole=False), mth(lo, lo + k)]


def merkle_root(leaf_hashes: Sequence[bytes]) -> bytes:
    """The RFC 9162 Merkle tree hash over the given leaf hashes (in order)."""
    if not leaf_hashes:
        return EMPTY_ROOT
    return _list_range_hash(leaf_hashes)(0, len(leaf_hashes))


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of all ``leaf_hashes``."""
    if not 0 <= index < len(leaf_hashes):
        raise TlogError(f"leaf index {index} outside a tree of size {len(leaf_hashes)}")
    return _path(_list_range_hash(leaf_hashes), index, 0, len(leaf_hashes))


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """The proof that the tree of the first ``old_size`` leaves is a prefix of all of them.

    Empty when ``old_size`` is 0 or equals the size (nothing to prove)."""
    size = len(leaf_hashes)
    if not 0 <= old_size <= size:
        raise TlogError(f"old size {old_size} outside 0..{size}")
    if old_size in (0, size):
        return []
    return _subproof(_list_range_hash(leaf_hashes), old_size, 0, size, whole=True)


def _hashes_ok(*hashes: bytes) -> bool:
    return all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in hashes)


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does ``proof`` place leaf hash ``leaf`` at ``index`` under ``root``?"""
    if not 0 <= index < size or not _hashes_ok(leaf, root, *proof):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: is the tree (``old_size``, ``old_root``) a prefix of the new one?

    Edge cases as in transparency-dev/merkle: a shrink is never consistent; equal sizes need
    equal roots and an empty proof; the empty tree is a prefix of anything (empty proof)."""
    if not 0 <= old_size <= new_size:
        return False
    if not _hashes_ok(old_root, new_root, *proof):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    return bool(proof) and _consistent_path(old_size, new_size, old_root, new_root, proof)


def _consistent_path(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2 steps 2-7 for ``0 < old_size < new_size`` and a non-empty proof."""
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # an exact power of two: the old root is a subtree
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


@dataclass(slots=True)
class MerkleLog:
    """An append-only list of leaf hashes with its complete subtrees cached.

    ``levels[h][i]`` is the hash of the complete subtree of ``2**h`` leaves starting at leaf
    ``i * 2**h``. Appending costs amortised O(1) hashes; the root at any size costs O(log n)
    and a proof O(log² n) lookups, so 200k leaves (about 400k hashes, a few MB) are cheap.

    :meth:`extend` only stores the leaf hashes: the subtrees above them are hashed, in one pass
    per level, when a root or a proof is next asked for (the checkpointer appends every record
    and asks for roots only at its cadence)."""

    levels: list[list[bytes]] = field(default_factory=lambda: [[]])
    stale: bool = False
    """Leaves were added by :meth:`extend` whose subtrees are not hashed yet."""

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def append(self, leaf: bytes) -> None:
        """Append one leaf hash (use :func:`leaf_hash` on the leaf data first)."""
        if len(leaf) != HASH_SIZE:
            raise TlogError("a leaf hash is 32 bytes")
        if self.stale:
            self._settle()
        self.levels[0].append(leaf)
        h = 0
        while len(self.levels[h]) % 2 == 0:
            below = self.levels[h]
            if len(self.levels) == h + 1:
                self.levels.append([])
            self.levels[h + 1].append(node_hash(below[-2], below[-1]))
            h += 1

    def extend(self, leaves: Sequence[bytes]) -> None:
        """Append leaf hashes (32 bytes each), in order; their subtrees are hashed later."""
        if any(len(leaf) != HASH_SIZE for leaf in leaves):
            raise TlogError("a leaf hash is 32 bytes")
        self.levels[0].extend(leaves)
        self.stale = True

    def _settle(self) -> None:
        """Hash the complete subtrees :meth:`extend` left out, level by level."""
        levels, sha256 = self.levels, hashlib.sha256
        h = 0
        while len(levels[h]) >= 2:  # noqa: PLR2004 - a pair makes a node above
            below = levels[h]
            if len(levels) == h + 1:
                levels.append([])
            above = levels[h + 1]
            above.extend(sha256(NODE_PREFIX + below[i] + below[i + 1]).digest()
                         for i in range(2 * len(above), len(below) - 1, 2))
            h += 1
        self.stale = False

    def append_data(self, data: bytes) -> bytes:
        """Append the leaf for ``data``; returns its leaf hash."""
        h = leaf_hash(data)
        self.append(h)
        return h

    def _mth(self, lo: int, hi: int) -> bytes:
        if self.stale:
            self._settle()
        n = hi - lo
        if n & (n - 1) == 0 and lo % n == 0:  # a complete, aligned subtree: cached
            return self.levels[n.bit_length() - 1][lo // n]
        k = _split(n)
        return node_hash(self._mth(lo, lo + k), self._mth(lo + k, hi))

    def _check_size(self, size: int | None) -> int:
        n = self.size if size is None else size
        if not 0 <= n <= self.size:
            raise TlogError(f"size {n} outside 0..{self.size}")
        return n

    def root(self, size: int | None = None) -> bytes:
        """The tree head over the first ``size`` leaves (default: all)."""
        n = self._check_size(size)
        return EMPTY_ROOT if n == 0 else self._mth(0, n)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        n = self._check_size(size)
        if not 0 <= index < n:
            raise TlogError(f"leaf index {index} outside a tree of size {n}")
        return _path(self._mth, index, 0, n)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        n = self._check_size(new_size)
        if not 0 <= old_size <= n:
            raise TlogError(f"old size {old_size} outside 0..{n}")
        if old_size in (0, n):
            return []
        return _subproof(self._mth, old_size, 0, n, whole=True)

    def leaf(self, index: int) -> bytes:
        return self.levels[0][index]
