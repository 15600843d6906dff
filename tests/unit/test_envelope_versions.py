"""Envelope versions: version 2 writes fixed-width sequences; version 1 records still read,
upcast, and keep their signature and chain hash; unknown versions are refused by name."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.catalogue import model_for
from schemas.envelope import ENVELOPE_VERSION, Envelope, to_record, upcast_attributes
from schemas.envelope_read import from_record
from schemas.errors import RecordError, SignatureError
from schemas.signing import PrivateKey, Verifier, event_hash, signing_input
from tests.unit.helpers import sealed

KEY = PrivateKey.generate("urn:emining:pk:gov:ba-mmdd")
MODEL = model_for("pk.emining.approval.licence.granted")
DATA = MODEL.model_validate(MODEL.EXAMPLE)


def version_1(sequence: int) -> Envelope:
    """An event as written before envelope versions: no ce_envelopeversion, sequence as is."""
    env = sealed(DATA, KEY, sequence=sequence)
    attributes = {k: v for k, v in env.attributes.items()
                  if k not in ("envelopeversion", "signature")}
    attributes["sequence"] = str(sequence)
    attributes["signature"] = KEY.signer().sign(signing_input(attributes, env.data_json))
    return dataclasses.replace(env, attributes=attributes, plain=None)


def _verify(env: Envelope) -> None:
    Verifier(KEY.public_key).verify(env.signing_input(), env.signature)


def _headers(record, **changes: bytes | None):
    out = [(k, changes.get(k, v)) for k, v in record.headers]
    return [(k, v) for k, v in out if v is not None]


def test_writers_write_version_2_with_a_20_digit_sequence():
    record = to_record(sealed(DATA, KEY, sequence=42))
    headers = dict(record.headers)
    assert ENVELOPE_VERSION == 2
    assert headers["ce_envelopeversion"] == b"2"
    assert headers["ce_sequence"] == b"00000000000000000042"
    read = from_record(record.key, record.value, record.headers)
    assert (read.version, read.sequence) == (2, 42)
    assert read.current == read.attributes  # already current: nothing to upcast
    _verify(read)


def test_a_version_1_record_reads_upcast_and_keeps_its_signature_and_hash():
    old = version_1(7)
    record = to_record(old)
    headers = dict(record.headers)
    assert "ce_envelopeversion" not in headers
    assert headers["ce_sequence"] == b"7"
    read = from_record(record.key, record.value, record.headers)
    assert (read.version, read.sequence) == (1, 7)
    assert read.current["sequence"] == "00000000000000000007"
    assert read.current["envelopeversion"] == "2"
    assert read.attributes["sequence"] == "7"  # what the signature covers, unchanged
    _verify(read)
    assert read.hash() == event_hash(old.attributes, old.data_json)  # the next link's prevhash
    assert to_record(read) == record  # relayed as written: still version 1, still valid


def test_padded_sequences_without_a_version_are_version_1_too():
    """Records written zero-padded before ce_envelopeversion existed read as version 1."""
    env = sealed(DATA, KEY, sequence=9)
    attributes = {k: v for k, v in env.attributes.items()
                  if k not in ("envelopeversion", "signature")}
    attributes["signature"] = KEY.signer().sign(signing_input(attributes, env.data_json))
    record = to_record(dataclasses.replace(env, attributes=attributes, plain=None))
    read = from_record(record.key, record.value, record.headers)
    assert (read.version, read.sequence, read.current["sequence"]) == (
        1, 9, "00000000000000000009")
    _verify(read)


def test_the_version_is_signed_it_cannot_be_stripped_or_added():
    record = to_record(sealed(DATA, KEY, sequence=3))
    stripped = from_record(record.key, record.value, _headers(record, ce_envelopeversion=None))
    assert stripped.version == 1  # reads as version 1, but the signature no longer holds
    with pytest.raises(SignatureError):
        _verify(stripped)
    old = to_record(version_1(3))
    added = [*old.headers, ("ce_envelopeversion", b"2")]
    with pytest.raises(RecordError, match="ce_sequence must be a positive integer of 20 digits"):
        from_record(old.key, old.value, added)


@pytest.mark.parametrize("text", [b"3", b"1", b"02", b"two", b"\xd9\xa2"])
def test_an_envelope_version_the_reader_does_not_know_is_refused_by_name(text):
    record = to_record(sealed(DATA, KEY))
    with pytest.raises(RecordError) as caught:
        from_record(record.key, record.value, _headers(record, ce_envelopeversion=text))
    assert caught.value.reason == "bad_header"
    assert "ce_envelopeversion" in str(caught.value)
    assert "upgrade the reader" in str(caught.value)


def test_version_2_refuses_an_unpadded_sequence():
    record = to_record(sealed(DATA, KEY, sequence=12))
    with pytest.raises(RecordError, match=r"20 digits, zero-padded \(envelope version 2\)"):
        from_record(record.key, record.value, _headers(record, ce_sequence=b"12"))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(1, 2**64 - 1), min_size=2, max_size=30, unique=True))
def test_sequences_sort_as_text_exactly_as_numbers(numbers):
    written = [sealed(DATA, KEY, sequence=n).attributes["sequence"] for n in numbers]
    upcast = [upcast_attributes({"specversion": "1.0", "sequence": str(n)})["sequence"]
              for n in numbers]
    assert written == upcast
    assert [int(s) for s in sorted(written)] == sorted(numbers)
    assert {len(s) for s in written} == {20}
