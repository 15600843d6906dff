"""Transparency-log primitives for cosigned checkpoints (issue 21).

Pure: ``hashlib``, ``struct``, ``base64`` and Ed25519 (PyNaCl, the project's signature
library). No I/O. Three parts, each following a public specification so that an auditor can
check everything with stock tools:

* **Merkle trees** (RFC 9162 §2.1): leaf hash ``SHA-256(0x00 || data)``, node hash
  ``SHA-256(0x01 || left || right)``, the root of the empty tree ``SHA-256("")``; inclusion and
  consistency proofs and their verification (§2.1.3, §2.1.4). :class:`MerkleLog` appends leaf
  hashes and answers roots and proofs at any size from cached complete subtrees
  (:mod:`schemas.tlog.merkle`).
* **Leaf data** (:func:`record_leaf`): one Kafka record as an unambiguous byte string
  (:mod:`schemas.tlog.leaf`).
* **Signed notes** (c2sp.org/signed-note), **checkpoints** (c2sp.org/tlog-checkpoint) and
  **Ed25519 cosignatures** (c2sp.org/tlog-cosignature, signature type ``0x04``)
  (:mod:`schemas.tlog.note`).

One log per partition: the origin of a partition's log is ``emining/<topic>/<partition>``
(:func:`origin_for`); the platform signs its checkpoints with the key name
``emining-platform`` (:data:`PLATFORM_KEY_NAME`). A malformed input raises :class:`TlogError`
(:mod:`schemas.tlog.errors`). Every name is importable from ``schemas.tlog`` itself.
"""

from __future__ import annotations

from schemas.tlog.errors import TlogError
from schemas.tlog.leaf import (
    LEAF_MAGIC,
    ORIGIN_PREFIX,
    PartitionLeaves,
    origin_for,
    parse_origin,
    record_leaf,
)
from schemas.tlog.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    LEAF_PREFIX,
    NODE_PREFIX,
    MerkleLog,
    RangeHash,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    merkle_root,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from schemas.tlog.note import (
    MAX_SIGNATURES,
    PLATFORM_KEY_NAME,
    SIG_TYPE_COSIGNATURE_V1,
    SIG_TYPE_ED25519,
    Checkpoint,
    Note,
    NoteSignature,
    b64,
    cosign,
    cosignature_message,
    cosignature_time,
    note_key_id,
    open_checkpoint,
    parse_note,
    parse_vkey,
    public_key_of,
    sign_checkpoint,
    sign_note,
    unb64,
    verify_cosignature,
    verify_note_signature,
    vkey,
)

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "LEAF_MAGIC",
    "LEAF_PREFIX",
    "MAX_SIGNATURES",
    "NODE_PREFIX",
    "ORIGIN_PREFIX",
    "PLATFORM_KEY_NAME",
    "SIG_TYPE_COSIGNATURE_V1",
    "SIG_TYPE_ED25519",
    "Checkpoint",
    "MerkleLog",
    "Note",
    "NoteSignature",
    "PartitionLeaves",
    "RangeHash",
    "TlogError",
    "b64",
    "consistency_proof",
    "cosign",
    "cosignature_message",
    "cosignature_time",
    "inclusion_proof",
    "leaf_hash",
    "merkle_root",
    "node_hash",
    "note_key_id",
    "open_checkpoint",
    "origin_for",
    "parse_note",
    "parse_origin",
    "parse_vkey",
    "public_key_of",
    "record_leaf",
    "sign_checkpoint",
    "sign_note",
    "unb64",
    "verify_consistency",
    "verify_cosignature",
    "verify_inclusion",
    "verify_note_signature",
    "vkey",
]
