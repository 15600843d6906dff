"""schemas.tlog: RFC 9162 trees and proofs, leaf encoding, signed notes, checkpoints, cosignatures.

Known vectors: the RFC 6962 tree of transparency-dev/merkle (testonly/constants.go and
proof/verify_test.go) and the signed-note example of C2SP (signed-note.md). Cosignatures are
checked against an independent construction with the ``cryptography`` Ed25519 implementation.
"""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import tlog
from schemas.tlog import Checkpoint, MerkleLog, TlogError

LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    bytes.fromhex(h)
    for h in (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# (leaf index 0-based, size, proof) from transparency-dev/merkle proof/verify_test.go
INCLUSION = [
    (
        0,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        5,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (2, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        1,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
]
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]

LEAF_HASHES = [tlog.leaf_hash(leaf) for leaf in LEAVES]


def test_hashing_is_rfc9162() -> None:
    assert tlog.leaf_hash(b"") == h(
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    assert (
        tlog.node_hash(b"a" * 32, b"b" * 32)
        == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    )
    assert ROOTS[0] == tlog.EMPTY_ROOT


@pytest.mark.parametrize("size", range(9))
def test_roots_match_known_vectors(size: int) -> None:
    assert tlog.merkle_root(LEAF_HASHES[:size]) == ROOTS[size]
    log = MerkleLog()
    for leaf in LEAVES:
        log.append_data(leaf)
    assert log.root(size) == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_inclusion_known_vectors(index: int, size: int, proof: list[bytes]) -> None:
    assert tlog.inclusion_proof(LEAF_HASHES[:size], index) == proof
    log = MerkleLog()
    for lh in LEAF_HASHES:
        log.append(lh)
    assert log.inclusion_proof(index, size) == proof
    assert tlog.verify_inclusion(LEAF_HASHES[index], index, size, proof, ROOTS[size])
    # the corruptions of transparency-dev/merkle's verifier tests
    root, leaf = ROOTS[size], LEAF_HASHES[index]
    bad = [
        (leaf, index - 1, size, proof, root),
        (leaf, index + 1, size, proof, root),
        (leaf, index ^ 2, size, proof, root),
        (leaf, index, size * 2, proof, root),
        (leaf, index, size // 2, proof, root),
        (tlog.leaf_hash(b"WrongLeaf"), index, size, proof, root),
        (leaf, index, size, proof, tlog.EMPTY_ROOT),
        (leaf, index, size, [*proof, root], root),
        (leaf, index, size, [root, *proof], root),
        (leaf, index, size, proof[:-1], root),
    ]
    for args in bad:
        assert not tlog.verify_inclusion(*args), args


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_consistency_known_vectors(old: int, new: int, proof: list[bytes]) -> None:
    assert tlog.consistency_proof(LEAF_HASHES[:new], old) == proof
    log = MerkleLog()
    for lh in LEAF_HASHES:
        log.append(lh)
    assert log.consistency_proof(old, new) == proof
    assert tlog.verify_consistency(old, new, ROOTS[old], ROOTS[new], proof)
    if not proof:
        return
    r1, r2 = ROOTS[old], ROOTS[new]
    bad = [
        (old - 1, new, r1, r2, proof),
        (old + 1, new, r1, r2, proof),
        (old ^ 2, new, r1, r2, proof),
        (old, new * 2, r1, r2, proof),
        (old, new // 2, r1, r2, proof),
        (old, new, tlog.EMPTY_ROOT, r2, proof),
        (old, new, r1, tlog.EMPTY_ROOT, proof),
        (old, new, r2, r1, proof),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*proof, r1]),
        (old, new, r1, r2, [*proof, r2]),
        (old, new, r1, r2, [r1, *proof]),
        (old, new, r1, r2, [r2, *proof]),
        (old, new, r1, r2, [proof[0], *proof]),
        (old, new, r1, r2, proof[:-1]),
    ]
    for args in bad:
        assert not tlog.verify_consistency(*args), args


def test_consistency_edge_cases() -> None:
    r1, r2 = ROOTS[1], ROOTS[2]
    assert tlog.verify_consistency(0, 0, r1, r1, [])
    assert tlog.verify_consistency(0, 5, r1, r2, [])  # the empty tree precedes anything
    assert not tlog.verify_consistency(0, 5, r1, r2, [r1])
    assert not tlog.verify_consistency(1, 1, r1, r2, [])  # same size, different root: a fork
    assert not tlog.verify_consistency(2, 1, r2, r1, [])  # a shrink
    assert not tlog.verify_consistency(1, 2, r1, r2, [])
    assert not tlog.verify_consistency(1, 2, r1, r2, [b"short"])


def _flip(proof: list[bytes], i: int) -> list[bytes]:
    changed = bytearray(proof[i])
    changed[0] ^= 0x10
    return [*proof[:i], bytes(changed), *proof[i + 1 :]]


def test_every_proof_up_to_64_verifies_and_tampering_fails() -> None:
    hashes = [tlog.leaf_hash(f"leaf {i}".encode()) for i in range(64)]
    log = MerkleLog()
    roots = [tlog.EMPTY_ROOT]
    for lh in hashes:
        log.append(lh)
        roots.append(log.root())
    for size in range(1, 65):
        assert roots[size] == tlog.merkle_root(hashes[:size])
        for index in range(size):
            proof = log.inclusion_proof(index, size)
            assert proof == tlog.inclusion_proof(hashes[:size], index)
            assert tlog.verify_inclusion(hashes[index], index, size, proof, roots[size])
            other = (index + 1) % size
            if other != index:
                assert not tlog.verify_inclusion(hashes[index], other, size, proof, roots[size])
            assert not tlog.verify_inclusion(
                hashes[other] if other != index else hashes[0][::-1],
                index,
                size,
                proof,
                roots[size],
            )
            for i in range(len(proof)):
                assert not tlog.verify_inclusion(
                    hashes[index], index, size, _flip(proof, i), roots[size]
                )
        for old in range(size + 1):
            proof = log.consistency_proof(old, size)
            assert proof == tlog.consistency_proof(hashes[:size], old)
            assert tlog.verify_consistency(old, size, roots[old], roots[size], proof)
            if 0 < old < size:
                for i in range(len(proof)):
                    assert not tlog.verify_consistency(
                        old, size, roots[old], roots[size], _flip(proof, i)
                    )
                assert not tlog.verify_consistency(old, size, roots[old - 1], roots[size], proof)
                assert not tlog.verify_consistency(old, size, roots[old], roots[size - 1], proof)
                assert not tlog.verify_consistency(old + 1, size, roots[old], roots[size], proof)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.binary(max_size=8), min_size=1, max_size=300),
    st.data(),
)
def test_property_random_trees(leaves: list[bytes], data: st.DataObject) -> None:
    hashes = [tlog.leaf_hash(x) for x in leaves]
    log = MerkleLog()
    for lh in hashes:
        log.append(lh)
    size = data.draw(st.integers(1, len(hashes)))
    old = data.draw(st.integers(0, size))
    index = data.draw(st.integers(0, size - 1))
    root = tlog.merkle_root(hashes[:size])
    assert log.root(size) == root
    proof = log.inclusion_proof(index, size)
    assert tlog.verify_inclusion(hashes[index], index, size, proof, root)
    cproof = log.consistency_proof(old, size)
    assert tlog.verify_consistency(old, size, log.root(old), root, cproof)
    # a different leaf at the end (a rewritten tail) is not consistent with the old head
    if 0 < old < size:
        forged = MerkleLog()
        for lh in hashes[: size - 1]:
            forged.append(lh)
        forged.append(tlog.leaf_hash(b"rewritten"))
        assert not tlog.verify_consistency(old, size, log.root(old), forged.root(), cproof)


def test_merkle_log_handles_200k_leaves_quickly() -> None:
    log = MerkleLog()
    for i in range(200_000):
        log.append(hashlib.sha256(i.to_bytes(4, "big")).digest())
    root = log.root()
    proof = log.consistency_proof(123_457)
    assert tlog.verify_consistency(123_457, 200_000, log.root(123_457), root, proof)
    assert tlog.verify_inclusion(
        log.leaf(77_777), 77_777, 200_000, log.inclusion_proof(77_777), root
    )


def test_record_leaf_encoding_is_exact() -> None:
    leaf = tlog.record_leaf("t", 2, 7, -1, None, b"", [("a", b"xy"), ("b", None)])
    expected = b"".join(
        [
            b"emining-leaf/v1",
            b"\x00\x01t",  # u16 topic length, topic
            b"\x00\x00\x00\x02",  # u32 partition
            b"\x00\x00\x00\x00\x00\x00\x00\x07",  # u64 offset
            b"\xff" * 8,  # i64 timestamp -1
            b"\xff\xff\xff\xff",  # null key
            b"\x00\x00\x00\x00",  # empty value
            b"\x00\x00\x00\x02",  # two headers
            b"\x00\x01a\x00\x00\x00\x02xy",
            b"\x00\x01b\xff\xff\xff\xff",  # a null header value
        ]
    )
    assert leaf == expected


def test_record_leaf_is_unambiguous() -> None:
    base = tlog.record_leaf("emining.projects.v1", 0, 5, 1700000000000, b"k", b"v", [("h", b"1")])
    variants = [
        tlog.record_leaf("emining.projects.v1", 1, 5, 1700000000000, b"k", b"v", [("h", b"1")]),
        tlog.record_leaf("emining.projects.v1", 0, 6, 1700000000000, b"k", b"v", [("h", b"1")]),
        tlog.record_leaf("emining.projects.v1", 0, 5, 1700000000001, b"k", b"v", [("h", b"1")]),
        tlog.record_leaf("emining.projects.v1", 0, 5, 1700000000000, None, b"v", [("h", b"1")]),
        tlog.record_leaf("emining.projects.v1", 0, 5, 1700000000000, b"", b"v", [("h", b"1")]),
        tlog.record_leaf("emining.projects.v1", 0, 5, 1700000000000, b"kv", b"", [("h", b"1")]),
        tlog.record_leaf("emining.projects.v1", 0, 5, 1700000000000, b"k", b"v", [("h", b"2")]),
        tlog.record_leaf("emining.projects.v1", 0, 5, 1700000000000, b"k", b"v", []),
        tlog.record_leaf("emining.approvals.v1", 0, 5, 1700000000000, b"k", b"v", [("h", b"1")]),
    ]
    assert len({base, *variants}) == len(variants) + 1


def test_origin_round_trip() -> None:
    origin = tlog.origin_for("emining.projects.v1", 3)
    assert origin == "emining/emining.projects.v1/3"
    assert tlog.parse_origin(origin) == ("emining.projects.v1", 3)
    for bad in ("emining/x", "other/t/1", "emining/t/01", "emining//1"):
        with pytest.raises(TlogError):
            tlog.parse_origin(bad)


# --- signed notes: the C2SP signed-note.md example -----------------------------------------------

SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n"
    "\n"
    "— example.com/foo "
    "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)


def test_spec_note_vector_verifies() -> None:
    name, sig_type, public = tlog.parse_vkey(SPEC_VKEY)
    assert (name, sig_type) == ("example.com/foo", tlog.SIG_TYPE_ED25519)
    assert tlog.note_key_id(name, public).hex() == "530d903a"
    assert tlog.vkey(name, public) == SPEC_VKEY
    note = tlog.parse_note(SPEC_NOTE)
    assert note.text == "This is an example message.\n"
    assert note.render() == SPEC_NOTE
    assert tlog.verify_note_signature(SPEC_NOTE, name, public)
    assert not tlog.verify_note_signature(
        SPEC_NOTE.replace("example message", "example massage"), name, public
    )
    assert not tlog.verify_note_signature(SPEC_NOTE, "example.com/bar", public)


def _seed(n: int) -> bytes:
    return hashlib.sha256(f"seed {n}".encode()).digest()


def _raw_public(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def test_checkpoint_sign_parse_and_verify() -> None:
    cp = Checkpoint(tlog.origin_for("emining.shipments.v1", 0), 8, ROOTS[8])
    assert (
        cp.body() == f"emining/emining.shipments.v1/0\n8\n{base64.b64encode(ROOTS[8]).decode()}\n"
    )
    note = tlog.sign_checkpoint(cp, _seed(1))
    public = tlog.public_key_of(_seed(1))
    assert note.startswith(cp.body() + "\n— emining-platform ")
    assert Checkpoint.parse(note) == cp
    assert tlog.open_checkpoint(note, tlog.PLATFORM_KEY_NAME, public) == cp
    # independent verification with another Ed25519 implementation
    sig = tlog.parse_note(note).signatures[0]
    assert sig.key_id == hashlib.sha256(b"emining-platform\n\x01" + public).digest()[:4]
    Ed25519PublicKey.from_public_bytes(public).verify(sig.signature, cp.body().encode())
    with pytest.raises(TlogError):
        tlog.open_checkpoint(note, tlog.PLATFORM_KEY_NAME, tlog.public_key_of(_seed(2)))
    forged = note.replace("\n8\n", "\n9\n")
    with pytest.raises(TlogError):
        tlog.open_checkpoint(forged, tlog.PLATFORM_KEY_NAME, public)
    ext = Checkpoint("o", 0, tlog.EMPTY_ROOT, ("ext one",))
    assert Checkpoint.parse(ext.body()) == ext


@pytest.mark.parametrize(
    "text",
    [
        "o\n8\n",  # no root
        "o\n08\nAAAA\n",  # leading zero
        "o\n-1\n" + base64.b64encode(bytes(32)).decode() + "\n",
        "o\n1\n" + base64.b64encode(bytes(31)).decode() + "\n",  # short root
        "o\n1\n" + base64.b64encode(bytes(32)).decode(),  # no final newline
        "o\n1\n" + base64.b64encode(bytes(32)).decode() + "\n\t\n",  # control character
    ],
)
def test_bad_checkpoints_are_rejected(text: str) -> None:
    with pytest.raises(TlogError):
        Checkpoint.parse(text)


def test_bad_notes_are_rejected() -> None:
    for bad in (
        "text\n",
        "text\n\n",
        "text\n\n- name AAAAAAA=\n",
        "text\n\n— na me AAAAAAAA\n",
        "text\n\n— name AAAA\n",
    ):
        with pytest.raises(TlogError):
            tlog.parse_note(bad)


def test_cosignature_matches_an_independent_construction() -> None:
    private = Ed25519PrivateKey.from_private_bytes(_seed(3))
    public = _raw_public(private)
    cp = Checkpoint("emining/emining.projects.v1/0", 20852163, ROOTS[5])
    line = tlog.cosign(cp, "witness.pk/example", _seed(3), 1679315147)
    # rebuild it by hand from the spec
    message = b"cosignature/v1\ntime 1679315147\n" + cp.body().encode()
    key_id = hashlib.sha256(b"witness.pk/example\n\x04" + public).digest()[:4]
    sig = private.sign(message)  # Ed25519 is deterministic
    expected = (
        "— witness.pk/example "
        + base64.b64encode(key_id + struct.pack(">Q", 1679315147) + sig).decode()
        + "\n"
    )
    assert line == expected
    assert tlog.verify_cosignature(cp, line, "witness.pk/example", public)
    assert tlog.cosignature_time(cp.body(), line, "witness.pk/example", public) == 1679315147
    # another head, another key, another name, a changed time: all fail
    other = Checkpoint(cp.origin, cp.size, ROOTS[6])
    assert not tlog.verify_cosignature(other, line, "witness.pk/example", public)
    assert not tlog.verify_cosignature(cp, line, "witness.pk/example", tlog.public_key_of(_seed(4)))
    assert not tlog.verify_cosignature(cp, line, "witness.cn/example", public)
    raw = bytearray(base64.b64decode(line.split(" ")[2]))
    raw[11] ^= 1  # the low byte of the timestamp
    retimed = f"— witness.pk/example {base64.b64encode(bytes(raw)).decode()}\n"
    assert not tlog.verify_cosignature(cp, retimed, "witness.pk/example", public)
    # a cosignature is not a plain note signature (key id type 0x04 versus 0x01)
    note = tlog.sign_checkpoint(cp, _seed(1)) + line
    parsed = tlog.parse_note(note)
    assert len(parsed.signatures) == 2
    assert not tlog.verify_note_signature(parsed, "witness.pk/example", public)
