"""The publisher's one-pass sealing gives the very bytes of ``seal`` + ``to_record`` + ``hash``."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nacl.signing import SigningKey

from schemas.canonical import _is_plain_any, canonical_json, is_plain
from schemas.envelope import _fast_seal, encode_value, seal, seal_record, to_record
from schemas.signing import GENESIS_HASH, PrivateKey, Signer, b64, event_hash, signing_input
from tests.unit.helpers import T0, all_types, example

KEY = PrivateKey.generate("urn:emining:pk:gov:ba-mmdd")
ATTRS = {
    "specversion": "1.0", "envelopeversion": "2", "id": "e-1",
    "source": "urn:emining:pk:gov:ba-mmdd/x", "type": "pk.emining.t.v1", "subject": "S-1",
    "time": "2026-03-01T09:30:00.000000Z", "dataschema": "urn:emining:schema:pk.emining.t.v1",
    "datacontenttype": "application/json", "sequence": "00000000000000000007",
    "prevhash": GENESIS_HASH, "keyid": KEY.keyid,
}

scalars = (st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.text()
           | st.floats(allow_nan=False, allow_infinity=False))
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=20)


@pytest.mark.parametrize("cls", all_types(), ids=lambda c: c.ce_type())
def test_seal_record_is_seal_to_record_and_hash_for_every_event_type(cls: Any) -> None:
    signer = KEY.signer()
    args: dict[str, Any] = {"source": f"{KEY.org}/sdk", "signer": signer, "sequence": 42,
                            "prevhash": "ab" * 32, "event_id": "ev-42",
                            "time": T0 + timedelta(microseconds=7)}
    data = example(cls)
    one = seal_record(data, **args)
    env = seal(data, **args)
    assert one.envelope == env
    assert one.envelope.attributes == env.attributes
    assert one.record == to_record(env)
    assert one.hash == env.hash()
    assert one.envelope.plain is True  # every catalogue example takes the fast path


@given(st.dictionaries(st.text(max_size=8), values, max_size=6))
def test_fast_seal_bytes_equal_the_general_canonical_form(data: dict[str, Any]) -> None:
    signer = KEY.signer()
    attributes = dict(ATTRS)
    if not is_plain(data):
        return  # the fast path is taken only for plain data
    out = _fast_seal(attributes, data, signer)
    try:
        expected_value = encode_value(data)
    except UnicodeEncodeError:  # a lone surrogate: left to the general path
        assert out is None
        assert "signature" not in attributes
        return
    assert out is not None
    value, digest = out
    unsigned = {k: v for k, v in attributes.items() if k != "signature"}
    assert attributes["signature"] == signer.sign(signing_input(unsigned, data))
    assert value == expected_value
    assert digest == event_hash(attributes, data)


@given(values)
def test_is_plain_fast_paths_agree_with_the_general_walk(value: Any) -> None:
    assert is_plain(value) == _is_plain_any(value)


def test_is_plain_refuses_floats_big_ints_and_non_ascii_keys_at_any_depth() -> None:
    assert is_plain({"a": [{"b": "x", "c": 1}], "d": None, "e": True})
    assert not is_plain({"a": [{"b": "x", "c": 1.5}]})
    assert not is_plain({"a": ["x", 2**53]})
    assert not is_plain({"a": {"ü": "x"}})


def test_signer_signature_is_pynacl_signing_key_signature() -> None:
    message = b'{"data":{},"id":"x"}'
    expected = b64(SigningKey(KEY.seed).sign(message).signature)
    assert Signer(KEY.keyid, SigningKey(KEY.seed)).sign(message) == expected
    assert KEY.signer().sign(message) == expected


def test_a_changed_data_byte_changes_the_hash_and_signature() -> None:
    cls = all_types()[0]
    args: dict[str, Any] = {"source": f"{KEY.org}/sdk", "signer": KEY.signer(), "sequence": 1,
                            "prevhash": GENESIS_HASH, "event_id": "a", "time": T0}
    a = seal_record(example(cls), **args)
    b = seal_record(example(cls), **{**args, "event_id": "b"})
    assert a.hash != b.hash
    assert a.envelope.signature != b.envelope.signature
    assert a.hash == hashlib.sha256(
        canonical_json({**a.envelope.attributes, "data": a.envelope.data_json})).hexdigest()
