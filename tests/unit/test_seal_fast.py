"""The publisher's one-pass sealing gives the very bytes of ``seal`` + ``to_record`` + ``hash``."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from schemas.base import EventData
from schemas.canonical import _is_plain_any, canonical_json, is_plain
from schemas.envelope import format_time, seal, to_record
from schemas.errors import RecordError
from schemas.sealing import Sealed, _fast, _reference, _time_text, new_event_id, seal_record
from schemas.signing import GENESIS_HASH, PrivateKey, Signer, Verifier, b64, signing_input
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


class _Probe(EventData):
    """Any subject, any data (the data is passed to the sealing functions directly)."""

    TYPE: ClassVar[str] = "pk.emining.test.probe"
    TOPIC: ClassVar[str] = "emining.test.probe"
    SUBJECT_FIELD: ClassVar[str] = "s"
    EXAMPLE: ClassVar[dict[str, Any]] = {"s": "x"}
    s: str


def _sealed_equal(a: Sealed, b: Sealed) -> None:
    assert a.envelope == b.envelope
    assert list(a.envelope.attributes.items()) == list(b.envelope.attributes.items())
    assert a.envelope.plain == b.envelope.plain
    assert a.record == b.record
    assert a.hash == b.hash


hexes = st.text("0123456789abcdef", min_size=64, max_size=64)
prevhashes = st.one_of(hexes, hexes, hexes, hexes.map(lambda h: h + "\n"), st.text(max_size=70))
_LOW, _HIGH = datetime(1, 1, 2), datetime(9999, 12, 30)  # noqa: DTZ001 - hypothesis: naive
times = st.one_of(
    st.datetimes(min_value=_LOW, max_value=_HIGH, timezones=st.just(UTC)),
    st.datetimes(min_value=_LOW, max_value=_HIGH, timezones=st.just(UTC)),
    st.datetimes(min_value=_LOW, max_value=_HIGH, timezones=st.sampled_from(
        [timezone(timedelta(hours=5)), timezone(timedelta(hours=-3, minutes=-30))])))
sources = st.sampled_from([f"{KEY.org}/sdk"] * 4 + [KEY.org, "urn:emining:pk:gov:Bad", "urn:é"])
sequences = st.one_of(st.integers(1, 2**66), st.integers(1, 2**66), st.integers(-3, 2**70),
                      st.sampled_from([10**20 - 1, 10**20]))
ids = st.one_of(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=130))


@settings(max_examples=400)
@given(st.dictionaries(st.text(max_size=8), values, max_size=6), st.text(max_size=12), ids,
       sequences, prevhashes, times, sources)
def test_fast_path_gives_the_reference_bytes_or_leaves_it_to_the_reference(
    data: dict[str, Any], subject: str, event_id: str, sequence: int, prevhash: str,
    time: datetime, source: str,
) -> None:
    """Attribute by attribute, byte by byte, the one-pass form is the reference path's; what it
    cannot vouch for (a non-UTC time, a lone surrogate, an attribute a reader would refuse)
    goes to the reference path, which raises the reference's error."""
    signer = KEY.signer()
    probe = _Probe(s=subject)
    args: dict[str, Any] = {"source": source, "signer": signer, "sequence": sequence,
                            "prevhash": prevhash, "event_id": event_id, "time": time}
    plain = is_plain(data)
    try:
        expected = _reference(probe, data, plain, **args)
    except (RecordError, UnicodeEncodeError, ValueError):  # rfc8785: a float, a big int
        expected = None
    fast = _fast(probe, data, **args) if plain else None
    if fast is not None:
        assert expected is not None
        _sealed_equal(fast, expected)
        assert fast.envelope.signing_input() == signing_input(
            {k: v for k, v in fast.envelope.attributes.items() if k != "signature"}, data)
        signer_check = Verifier(KEY.public_key)
        signer_check.verify(fast.envelope.signing_input(), fast.envelope.signature)
    elif expected is not None and plain and time.tzinfo is UTC and time.year >= 1000:
        # only a lone surrogate may send valid plain data with a UTC time elsewhere
        with pytest.raises(UnicodeEncodeError):
            (json.dumps(data, ensure_ascii=False) + subject + event_id + prevhash).encode()


def _strftime_form(moment: datetime) -> str:
    """``format_time`` as it was written: every signed time had this text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_ZONES = [UTC, timezone(timedelta(hours=5)), timezone(-timedelta(hours=3, minutes=30)),
          timezone(timedelta(seconds=37)), timezone(timedelta(hours=23, minutes=59))]


@settings(max_examples=500)
@given(st.datetimes(min_value=_LOW, max_value=_HIGH,
                    timezones=st.sampled_from(_ZONES) | st.timezones()))
def test_format_time_writes_what_strftime_wrote(moment: datetime) -> None:
    """Signed times are ``format_time``'s text: its faster form must not change a byte
    (years before 1000, sub-minute offsets and IANA zones included)."""
    assert format_time(moment) == _strftime_form(moment)


@given(st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=1))])))
def test_fast_time_text_is_format_time(moment: datetime) -> None:
    text = _time_text(moment)
    if moment.tzinfo is UTC and moment.year >= 1000:
        assert text == format_time(moment)
    else:
        assert text is None


def test_new_event_id_is_a_version_4_uuid_written_as_uuid_writes_it() -> None:
    ids = {new_event_id() for _ in range(2000)}
    assert len(ids) == 2000
    for text in ids:
        parsed = uuid.UUID(text)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == text


def test_seal_record_without_id_or_time_takes_the_fast_path_and_verifies() -> None:
    signer = KEY.signer()
    one = seal_record(_Probe(s="S-1"), source=f"{KEY.org}/sdk", signer=signer, sequence=1,
                      prevhash=GENESIS_HASH)
    assert uuid.UUID(one.envelope.id).version == 4
    assert one.envelope.attributes["time"].endswith("Z")
    assert one.record == to_record(one.envelope)
    assert one.hash == one.envelope.hash()
    Verifier(KEY.public_key).verify(one.envelope.signing_input(), one.envelope.signature)


def test_an_attribute_no_reader_accepts_raises_the_reference_error() -> None:
    args: dict[str, Any] = {"source": f"{KEY.org}/sdk", "signer": KEY.signer(),
                            "prevhash": GENESIS_HASH, "event_id": "e", "time": T0}
    with pytest.raises(RecordError, match="ce_sequence"):
        seal_record(_Probe(s="S"), **{**args, "sequence": 0})
    with pytest.raises(RecordError, match="ce_prevhash"):
        seal_record(_Probe(s="S"), **{**args, "sequence": 1, "prevhash": "AB" * 32})
    with pytest.raises(RecordError, match="ce_source"):
        seal_record(_Probe(s="S"), **{**args, "sequence": 1, "source": f"{KEY.org}/Bad"})
    with pytest.raises(RecordError, match="ce_id"):
        seal_record(_Probe(s="S"), **{**args, "sequence": 1, "event_id": "x" * 129})


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
