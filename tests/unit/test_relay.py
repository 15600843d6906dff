"""A stock CloudEvents SDK (``cloudevents`` 2.x) relaying our events keeps their signature.

Each relay reads one of our records with the SDK and writes it back in binary mode, directly or
by way of structured mode, through both of the SDK's Kafka bindings: the 1.x API it still ships
(``cloudevents.v1.kafka``) and the 2.x one (``cloudevents.core.bindings.kafka``). The relayed
record must read, verify (ours and the stand-alone recipe) and hash as the original; a relay
that changes a signed attribute must be refused.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from cloudevents.v1 import kafka as ce_v1_kafka

from schemas.catalogue import model_for
from schemas.envelope import ATTRIBUTES, Envelope, KafkaRecord, to_record
from schemas.envelope_read import from_record
from schemas.errors import RecordError, SignatureError
from schemas.signing import PrivateKey, Verifier, b64, signing_input
from tests.unit.helpers import all_types, example, sealed

if TYPE_CHECKING:
    from collections.abc import Callable

SCRIPT = Path(__file__).parents[2] / "docs" / "verify_event.py"
KEY = PrivateKey.generate("urn:emining:pk:gov:ba-mmdd")
MODEL = model_for("pk.emining.approval.licence.granted")

Record = tuple[bytes, bytes, list[tuple[str, bytes]]]
"""What a Kafka client hands over: key, value, headers."""


def _wire(message: Any) -> Record:
    """A relay's ``KafkaMessage`` as the broker stores it (a string key is sent as UTF-8)."""
    key = message.key.encode() if isinstance(message.key, str) else message.key
    return key, message.value, list(message.headers.items())


def _changed_v1(event: Any, change: Any) -> Any:
    if change is not None:
        attributes = dict(event.get_attributes())
        change(attributes)
        event = type(event).create(attributes, event.get_data())
    return event


def _changed_core(event: Any, change: Any) -> Any:
    if change is not None:
        attributes = dict(event.get_attributes())
        change(attributes)
        event = CloudEvent(attributes, event.get_data())
    return event


def v1_binary(record: KafkaRecord, change: Any = None) -> Record:
    message = ce_v1_kafka.KafkaMessage(dict(record.headers), record.key, record.value)
    event = _changed_v1(ce_v1_kafka.from_binary(message), change)
    return _wire(ce_v1_kafka.to_binary(event))


def v1_structured(record: KafkaRecord, change: Any = None) -> Record:
    # The 1.x API keeps a bytes key as a bytes ``partitionkey``, which its structured writer
    # cannot put in JSON: a relay that goes structured hands it the key as text.
    message = ce_v1_kafka.KafkaMessage(dict(record.headers), record.key.decode(), record.value)
    structured = ce_v1_kafka.to_structured(ce_v1_kafka.from_binary(message))
    assert b'"signature"' in structured.value  # the attributes really travelled in the value
    event = _changed_v1(ce_v1_kafka.from_structured(structured), change)
    return _wire(ce_v1_kafka.to_binary(event))


def core_binary(record: KafkaRecord, change: Any = None) -> Record:
    message = ce_kafka.KafkaMessage(dict(record.headers), record.key, record.value)
    event = _changed_core(ce_kafka.from_binary(message, JSONFormat()), change)
    return _wire(ce_kafka.to_binary(event, JSONFormat()))


def core_structured(record: KafkaRecord, change: Any = None) -> Record:
    message = ce_kafka.KafkaMessage(dict(record.headers), record.key, record.value)
    structured = ce_kafka.to_structured(ce_kafka.from_binary(message, JSONFormat()), JSONFormat())
    assert structured.headers == {"content-type": b"application/cloudevents+json"}
    event = _changed_core(ce_kafka.from_structured(structured, JSONFormat()), change)
    return _wire(ce_kafka.to_binary(event, JSONFormat()))


RELAYS = [v1_binary, v1_structured, core_binary, core_structured]


def _version_1(env: Envelope) -> Envelope:
    """The event as written before envelope versions (no ce_envelopeversion, short sequence)."""
    attributes = {k: v for k, v in env.attributes.items()
                  if k not in ("envelopeversion", "signature")}
    attributes["sequence"] = str(int(attributes["sequence"]))
    attributes["signature"] = KEY.signer().sign(signing_input(attributes, env.data_json))
    return dataclasses.replace(env, attributes=attributes, plain=None)


def _event(kind: str) -> Envelope:
    if kind == "whole-second":  # the 2.x SDK writes ce_time as ...T09:30:00Z
        return sealed(MODEL.model_validate(MODEL.EXAMPLE), KEY, sequence=7,
                      time=datetime(2026, 3, 1, 9, 30, tzinfo=UTC))
    data = dict(MODEL.EXAMPLE)
    # Non-ASCII text: the SDK re-serialises the value with \u escapes and spaces.
    data["conditions"] = [{"due_on": "2026-08-01", "text": "کام شروع کریں 开工 — é"}]
    env = sealed(MODEL.model_validate(data), KEY, sequence=8,
                 time=datetime(2026, 3, 1, 9, 30, 0, 1000, tzinfo=UTC))
    return _version_1(env) if kind == "version-1" else env


EVENTS = ["whole-second", "non-ascii", "version-1"]


def _recipe(tmp_path: Path, record: Record) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "record.json"
    path.write_text(json.dumps({"headers": {k: v.decode() for k, v in record[2]},
                                "value": record[1].decode()}))
    return subprocess.run([sys.executable, str(SCRIPT), str(path), b64(KEY.public_key)],
                          capture_output=True, text=True, check=False)


def _verify(record: Record) -> Envelope:
    env = from_record(*record)
    Verifier(KEY.public_key).verify(env.signing_input(), env.signature)
    return env


@pytest.mark.parametrize("kind", EVENTS)
@pytest.mark.parametrize("relay", RELAYS, ids=lambda r: r.__name__)
def test_a_relayed_event_reads_verifies_and_keeps_its_chain_hash(relay, kind, tmp_path):
    env = _event(kind)
    record = to_record(env)
    relayed = relay(record)
    assert relayed[1] != record.value  # the SDK re-serialised the data: JCS must absorb it
    again = _verify(relayed)  # (a) our reader, (b) our verifier
    assert again.attributes == env.attributes
    assert again.data_json == env.data_json
    assert again.hash() == env.hash()  # (d) the next event's prevhash still links
    result = _recipe(tmp_path, relayed)  # (c) stock libraries only
    assert result.returncode == 0, result.stderr
    assert f"valid signature by {env.source}; hash {env.hash()}" in result.stdout


@pytest.mark.parametrize("relay", RELAYS, ids=lambda r: r.__name__)
def test_every_event_type_survives_the_relay(relay):
    for cls in all_types():
        env = sealed(example(cls), KEY, time=datetime(2026, 3, 1, tzinfo=UTC))
        again = _verify(relay(to_record(env)))
        assert (again.type, again.hash()) == (env.type, env.hash())


def test_the_2x_sdk_rewrites_the_time_and_adds_a_partitionkey_header():
    """What the relays above really did to the record, so those tests prove something."""
    env = _event("whole-second")
    relayed = dict(core_binary(to_record(env))[2])
    assert relayed["ce_time"] == b"2026-03-01T09:30:00Z"
    assert env.attributes["time"] == "2026-03-01T09:30:00.000000Z"
    assert relayed["ce_partitionkey"] == env.subject.encode()
    assert "ce_partitionkey" not in dict(to_record(env).headers)
    structured = dict(core_structured(to_record(env))[2])
    assert structured["ce_partitionkey"] == env.subject.encode()


def _set(name: str, value: str) -> Callable[[dict[str, Any]], None]:
    def change(attributes: dict[str, Any]) -> None:
        attributes[name] = value
    return change


def _drop(name: str) -> Callable[[dict[str, Any]], None]:
    def change(attributes: dict[str, Any]) -> None:
        del attributes[name]
    return change


LATER = datetime(2026, 3, 1, 9, 30, 0, 1, tzinfo=UTC)  # one microsecond on: another event


@pytest.mark.parametrize(("name", "change"), [
    ("time", lambda a: a.update(time=LATER if isinstance(a["time"], datetime)
                                else "2026-03-01T09:30:00.000001Z")),
    ("id", _set("id", "another-id")),
    ("sequence", _set("sequence", "00000000000000000008")),
    ("prevhash", _set("prevhash", "f" * 64)),
    ("envelopeversion", _drop("envelopeversion")),
], ids=lambda v: v if isinstance(v, str) else "")
@pytest.mark.parametrize("relay", RELAYS, ids=lambda r: r.__name__)
def test_a_relay_that_changes_a_signed_attribute_is_refused(relay, name, change, tmp_path):
    env = _event("whole-second")
    relayed = relay(to_record(env), change)
    read = from_record(*relayed)  # well formed: only the signature tells
    assert read.attributes.get(name) != env.attributes[name]
    with pytest.raises(SignatureError):
        Verifier(KEY.public_key).verify(read.signing_input(), read.signature)
    result = _recipe(tmp_path, relayed)
    assert result.returncode != 0
    assert "BadSignatureError" in result.stderr


@pytest.mark.parametrize("relay", RELAYS, ids=lambda r: r.__name__)
def test_a_relay_that_changes_the_subject_is_refused(relay, tmp_path):
    env = _event("whole-second")
    relayed = relay(to_record(env), _set("subject", "BA-EL-2025-0154"))
    assert dict(relayed[2])["ce_subject"] == b"BA-EL-2025-0154"
    with pytest.raises(RecordError) as caught:
        from_record(*relayed)
    assert caught.value.reason == "subject_mismatch"
    result = _recipe(tmp_path, relayed)
    assert result.returncode != 0
    assert "BadSignatureError" in result.stderr


@pytest.mark.parametrize("relay", [v1_binary, core_binary], ids=lambda r: r.__name__)
def test_extension_headers_a_relay_adds_are_neither_signed_nor_trusted(relay, tmp_path):
    """An unknown ce_ header (a relay's partitionkey, a trace id) does not break the signature,
    and is not taken as an attribute: it reaches neither the envelope nor the chain hash."""
    env = _event("whole-second")
    added = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
             "relayhop": "urn:example:relay-7"}
    relayed = relay(to_record(env), lambda a: a.update(added))
    headers = dict(relayed[2])
    assert {headers[f"ce_{k}"] for k in added} == {v.encode() for v in added.values()}
    again = _verify(relayed)
    assert set(again.attributes) == set(env.attributes)  # partitionkey (2.x) left out too
    assert again.hash() == env.hash()
    result = _recipe(tmp_path, relayed)
    assert result.returncode == 0, result.stderr
    assert f"hash {env.hash()}" in result.stdout


def test_the_recipe_signs_exactly_the_envelope_attributes():
    """docs/verify_event.py names the signed attributes itself (it may not import ours): they
    must be ``schemas.envelope.ATTRIBUTES``, header for header."""
    spec = importlib.util.spec_from_file_location("verify_event", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    assert tuple(recipe.ATTRIBUTES) == ATTRIBUTES
