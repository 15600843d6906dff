"""CloudEvents binary-mode records: round trips, strict parsing, tamper detection, stock SDK."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from cloudevents.v1.kafka import KafkaMessage, from_binary
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.envelope import ATTRIBUTES, MAX_VALUE_BYTES, to_record
from schemas.envelope_read import from_record
from schemas.errors import ContractError, RecordError
from schemas.signing import PrivateKey, Verifier
from tests.unit.helpers import T0, all_types, example, sealed

KEY = PrivateKey.generate("urn:emining:pk:gov:ba-mmdd")
TYPES = all_types()


def _parse_and_verify(key, value, headers):
    env = from_record(key, value, headers)
    Verifier(KEY.public_key).verify(env.signing_input(), env.signature)


def _record(cls=None, **kw):
    cls = cls or TYPES[0]
    return to_record(sealed(example(cls), KEY, **kw))


@settings(max_examples=200, deadline=None)
@given(
    cls=st.sampled_from(TYPES),
    sequence=st.integers(1, 2**40),
    offset=st.integers(0, 10**9),
    event_id=st.text(
        st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40
    ),
)
def test_record_event_record_is_byte_identical(cls, sequence, offset, event_id):
    env = sealed(
        example(cls),
        KEY,
        sequence=sequence,
        time=T0 + timedelta(microseconds=offset),
        event_id=event_id,
    )
    record = to_record(env)
    parsed = from_record(record.key, record.value, record.headers)
    assert parsed.data == env.data
    assert to_record(parsed) == record
    Verifier(KEY.public_key).verify(parsed.signing_input(), parsed.signature)


def test_every_attribute_travels_in_its_header():
    record = _record()
    names = [name for name, _ in record.headers]
    assert names == [("content-type" if a == "datacontenttype" else f"ce_{a}") for a in ATTRIBUTES]
    assert dict(record.headers)["ce_specversion"] == b"1.0"


@pytest.mark.parametrize("index", range(len(ATTRIBUTES)))
def test_any_changed_header_byte_is_caught(index):
    record = _record()
    name, value = record.headers[index]
    for position in range(0, len(value), max(1, len(value) // 7)):
        tampered = bytearray(value)
        tampered[position] ^= 0x01
        headers = list(record.headers)
        headers[index] = (name, bytes(tampered))
        with pytest.raises(ContractError):
            _parse_and_verify(record.key, record.value, headers)


def test_any_changed_value_byte_is_caught():
    record = _record()
    for position in range(len(record.value)):
        tampered = bytearray(record.value)
        tampered[position] ^= 0x01
        with pytest.raises(ContractError):
            _parse_and_verify(record.key, bytes(tampered), record.headers)


def _without(headers, name):
    return [(k, v) for k, v in headers if k != name]


@pytest.mark.parametrize(
    ("mutate", "reason", "needle"),
    [
        (
            lambda r: (r.value, _without(r.headers, "ce_signature")),
            "missing_header",
            "ce_signature",
        ),
        (lambda r: (r.value, [*r.headers[:-1], ("ce_signature", None)]), "bad_header", "no value"),
        (
            lambda r: (r.value, [(k, b"\xff\xfe" if k == "ce_id" else v) for k, v in r.headers]),
            "bad_header",
            "not UTF-8",
        ),
        (lambda r: (b"{not json", r.headers), "bad_json", "not UTF-8 JSON"),
        (lambda r: (b"[1, 2]", r.headers), "bad_json", "JSON object"),
        (lambda r: (b"\xff" * 10, r.headers), "bad_json", "not UTF-8 JSON"),
        (lambda r: (b" " * (MAX_VALUE_BYTES + 1), r.headers), "oversized", "limit"),
        (
            lambda r: (
                r.value,
                [(k, b"pk.emining.nothing.v1" if k == "ce_type" else v) for k, v in r.headers],
            ),
            "bad_header",
            "ce_dataschema",
        ),
        (
            lambda r: (
                r.value,
                [(k, b"2026-03-01T09:30:00+05:00" if k == "ce_time" else v) for k, v in r.headers],
            ),
            "bad_header",
            "ce_time",
        ),
        (
            lambda r: (r.value, [(k, b"0" if k == "ce_sequence" else v) for k, v in r.headers]),
            "bad_header",
            "ce_sequence",
        ),
        (
            lambda r: (r.value, [(k, "²".encode() if k == "ce_sequence" else v)
                                 for k, v in r.headers]),
            "bad_header",
            "ce_sequence",
        ),
        (
            lambda r: (r.value, [(k, b"2026-13-45T10:00:00Z" if k == "ce_time" else v)
                                 for k, v in r.headers]),
            "bad_header",
            "not a real moment",
        ),
        (
            lambda r: (
                r.value,
                [(k, b"text/plain" if k == "content-type" else v) for k, v in r.headers],
            ),
            "bad_header",
            "content-type",
        ),
    ],
)
def test_malformed_records_name_the_problem(mutate, reason, needle):
    record = _record()
    value, headers = mutate(record)
    with pytest.raises(RecordError) as caught:
        from_record(record.key, value, headers)
    assert caught.value.reason == reason
    assert needle in str(caught.value)


def test_unknown_type_is_named():
    record = _record()
    headers = [
        (
            k,
            b"pk.emining.nothing.v1"
            if k == "ce_type"
            else b"urn:emining:schema:pk.emining.nothing.v1"
            if k == "ce_dataschema"
            else v,
        )
        for k, v in record.headers
    ]
    expected = r"unknown event type 'pk\.emining\.nothing\.v1'"
    with pytest.raises(RecordError, match=expected) as caught:
        from_record(record.key, record.value, headers)
    assert caught.value.reason == "unknown_type"


def test_wrong_field_type_names_the_field():
    record = _record()
    doc = json.loads(record.value)
    field = min(doc)
    doc[field] = {"unexpected": ["object"]}
    with pytest.raises(RecordError, match=field) as caught:
        from_record(record.key, json.dumps(doc).encode(), record.headers)
    assert caught.value.reason in {"schema", "subject_mismatch"}


def test_subject_must_match_data_and_key():
    record = _record()
    headers = [(k, b"SOMETHING-ELSE" if k == "ce_subject" else v) for k, v in record.headers]
    with pytest.raises(RecordError) as caught:
        from_record(record.key, record.value, headers)
    assert caught.value.reason == "subject_mismatch"
    with pytest.raises(RecordError) as caught:
        from_record(b"other-key", record.value, record.headers)
    assert caught.value.reason == "key_mismatch"


def test_stock_cloudevents_sdk_reads_our_record():
    env = sealed(example(TYPES[0]), KEY, time=datetime(2026, 3, 1, tzinfo=UTC))
    record = to_record(env)
    message = KafkaMessage(headers=dict(record.headers), key=record.key, value=record.value)
    event = from_binary(message, data_unmarshaller=json.loads)
    assert event["id"] == env.id
    assert event["source"] == env.source
    assert event["type"] == env.type
    assert event["subject"] == env.subject
    assert event["sequence"] == str(env.sequence).zfill(20)
    assert event["signature"] == env.signature
    assert event["keyid"] == KEY.keyid
    assert event.get_data() == env.data_json


def test_sealing_refuses_attributes_no_reader_would_accept():
    data = example(TYPES[0])
    with pytest.raises(RecordError, match="ce_source"):
        sealed(data, KEY, source=f"{KEY.org}/Bad_Instance")
    with pytest.raises(RecordError, match="ce_id must be 1-128 characters"):
        sealed(data, KEY, event_id="x" * 129)
