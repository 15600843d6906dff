"""Signatures, canonical JSON and event hashes."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st
from nacl.signing import VerifyKey

from schemas.canonical import canonical_json
from schemas.errors import SignatureError
from schemas.signing import PrivateKey, Verifier, event_hash, key_id, signing_input

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_canonical_fast_path_equals_rfc8785(value):
    assert canonical_json(value) == rfc8785.dumps(value)


def test_key_file_round_trips_and_keyid_is_sha256_prefix():
    key = PrivateKey.generate("urn:emining:pk:gov:ba-mmdd")
    again = PrivateKey.from_json(key.to_json())
    assert again.seed == key.seed
    assert again.org == "urn:emining:pk:gov:ba-mmdd"

    assert key.keyid == hashlib.sha256(key.public_key).hexdigest()[:16] == key_id(key.public_key)


def test_key_file_with_wrong_keyid_is_refused():
    key = PrivateKey.generate("urn:emining:pk:gov:ba-mmdd")
    doc = json.loads(key.to_json())
    doc["keyid"] = "0" * 16
    with pytest.raises(SignatureError, match="keyid does not match"):
        PrivateKey.from_json(json.dumps(doc))


def test_signature_verifies_with_stock_libsodium_over_documented_input():
    key = PrivateKey.generate("urn:emining:cn:ent:mcc-resources")
    attrs = {"id": "e1", "source": "urn:emining:cn:ent:mcc-resources/x", "keyid": key.keyid}
    data = {"b": "中文", "a": 1}
    signature = key.signer().sign(signing_input(attrs, data))
    # the README's recipe, by hand: JCS of attributes-without-signature plus data
    message = rfc8785.dumps({**attrs, "data": data})
    VerifyKey(key.public_key).verify(message, base64.b64decode(signature))


def test_signature_fails_after_any_change():
    key = PrivateKey.generate("urn:emining:pk:gov:ba-mmdd")
    attrs = {"id": "e1", "type": "t"}
    signature = key.signer().sign(signing_input(attrs, {"x": "1"}))
    verifier = Verifier(key.public_key)
    verifier.verify(signing_input(attrs, {"x": "1"}), signature)
    with pytest.raises(SignatureError, match="does not verify"):
        verifier.verify(signing_input(attrs, {"x": "2"}), signature)
    with pytest.raises(SignatureError, match="does not verify"):
        verifier.verify(signing_input({**attrs, "id": "e2"}, {"x": "1"}), signature)
    with pytest.raises(SignatureError, match="not valid base64"):
        verifier.verify(signing_input(attrs, {"x": "1"}), "%%%")


def test_event_hash_covers_signature_but_signing_input_does_not():
    attrs = {"id": "e1", "signature": "AAAA"}
    assert signing_input(attrs, {}) == signing_input({**attrs, "signature": "BBBB"}, {})
    assert event_hash(attrs, {}) != event_hash({**attrs, "signature": "BBBB"}, {})
