"""The publisher's one-pass sealing: ``seal``, ``to_record`` and ``Envelope.hash`` in one, each
byte the same, faster (``tests/unit/test_seal_fast.py`` holds it to the reference path).

For plain data (``schemas.canonical.is_plain``: no floats, ASCII keys; every event type today)
the data's canonical JSON is written once and is the record value, the signed bytes' ``data``
and the hashed bytes' ``data``: every attribute name sorts after ``"data"``, so the canonical
form of the document is ``{"data":<data>,`` followed by the attributes' members, in the fixed
order of their names. What is the same for every event of a source (its source, key id) or of a
type (type, data schema) is checked and escaped once and cached; what changes per event (id,
time, sequence, previous hash, subject) is checked per event, with the checks of
``envelope._check_attributes``; anything those cannot vouch for takes the reference path, whose
errors are the ones raised.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from schemas.base import EventData
from schemas.canonical import is_plain, plain_json
from schemas.envelope import (
    _HEX64,
    _SOURCE,
    ATTRIBUTES,
    CONTENT_TYPE,
    ENVELOPE_VERSION,
    SEQUENCE_WIDTH,
    SPECVERSION,
    Envelope,
    KafkaRecord,
    _attributes,
    dataschema_for,
    encode_value,
    format_time,
    header_name,
)
from schemas.signing import KEY_ID, Signer, event_hash, signing_input

_ORDER = ("datacontenttype", "dataschema", "envelopeversion", "id", "keyid", "prevhash",
          "sequence", "signature", "source", "specversion", "subject", "time", "type")
"""The attribute names sorted: the order of the members written below."""
if tuple(sorted(ATTRIBUTES)) != _ORDER or not all(a > "data" for a in ATTRIBUTES):
    raise RuntimeError("the fast canonical form below writes the attributes in _ORDER, after "
                       '"data"')  # pragma: no cover - a guard on the constants

_STRING: Callable[[str], str] = json.encoder.encode_basestring
"""How ``canonical_json`` writes a string (``ensure_ascii=False``: UTF-8 as is)."""

(_H_SPEC, _H_ENV, _H_ID, _H_SOURCE, _H_TYPE, _H_SUBJECT, _H_TIME, _H_SCHEMA, _H_CT, _H_SEQ,
 _H_PREV, _H_KEYID, _H_SIG) = (header_name(a) for a in ATTRIBUTES)
if ATTRIBUTES[-1] != "signature" or len(ATTRIBUTES) != 13:  # noqa: PLR2004
    raise RuntimeError("the headers below are written in ATTRIBUTES' order")  # pragma: no cover
_SPEC_B, _ENV_B, _CT_B = SPECVERSION.encode(), str(ENVELOPE_VERSION).encode(), CONTENT_TYPE.encode()
_CT_MEMBER = f'"datacontenttype":{_STRING(CONTENT_TYPE)}'
_ENV_MEMBER = f'"envelopeversion":{_STRING(str(ENVELOPE_VERSION))}'
_SPEC_MEMBER = f'"specversion":{_STRING(SPECVERSION)}'
_MAX_SEQUENCE = 10**SEQUENCE_WIDTH
_CACHE_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class Sealed:
    """What a publisher needs of a newly signed event: its envelope, record and chain hash."""

    envelope: Envelope
    record: KafkaRecord
    hash: str


@dataclass(frozen=True, slots=True)
class _TypeParts:
    ce_type: str
    dataschema: str
    type_json: str
    schema_json: str
    type_b: bytes
    schema_b: bytes


@dataclass(frozen=True, slots=True)
class _SourceParts:
    """A source and key id that pass the envelope's checks, escaped and encoded once."""

    source_json: str
    keyid_json: str
    source_b: bytes
    keyid_b: bytes


_TYPES: dict[type[EventData], _TypeParts] = {}
_SOURCES: dict[tuple[str, str], _SourceParts | None] = {}


def _type_parts(cls: type[EventData]) -> _TypeParts:
    parts = _TYPES.get(cls)
    if parts is None:
        if len(_TYPES) >= _CACHE_LIMIT:
            _TYPES.clear()
        ce_type = cls.ce_type()
        schema = dataschema_for(ce_type)
        parts = _TYPES[cls] = _TypeParts(ce_type, schema, _STRING(ce_type), _STRING(schema),
                                         ce_type.encode(), schema.encode())
    return parts


def _source_parts(source: str, keyid: str) -> _SourceParts | None:
    """``None`` when the source or key id would not pass ``_check_attributes``."""
    key = (source, keyid)
    if key in _SOURCES:
        return _SOURCES[key]
    if len(_SOURCES) >= _CACHE_LIMIT:
        _SOURCES.clear()
    parts = None
    if _SOURCE.match(source) and KEY_ID.fullmatch(keyid):
        try:
            parts = _SourceParts(_STRING(source), _STRING(keyid), source.encode(),
                                 keyid.encode())
        except UnicodeEncodeError:  # pragma: no cover - the patterns admit ASCII only
            parts = None
    _SOURCES[key] = parts
    return parts


def _time_text(moment: datetime) -> str | None:
    """``format_time(moment)`` for a plain ``datetime`` in UTC from year 1000 on (the one form
    the fast path vouches for); ``None`` for anything else (the reference path checks it)."""
    if type(moment) is datetime and moment.tzinfo is UTC and moment.year >= 1000:  # noqa: PLR2004
        return format_time(moment)
    return None


def new_event_id() -> str:
    """A random (version 4) UUID as text, as ``str(uuid.uuid4())`` writes it, in a third of
    the time."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # RFC 4122 variant
    x = raw.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def seal_record(
    data: EventData,
    *,
    source: str,
    signer: Signer,
    sequence: int,
    prevhash: str,
    event_id: str | None = None,
    time: datetime | None = None,
) -> Sealed:
    """``seal``, ``to_record`` and ``Envelope.hash`` in one, each byte the same, faster."""
    data_json = data.model_dump(mode="json", exclude_none=True)
    plain = is_plain(data_json)
    if plain:
        sealed = _fast(data, data_json, source, signer, sequence, prevhash, event_id, time)
        if sealed is not None:
            return sealed
    return _reference(data, data_json, plain, source, signer, sequence, prevhash, event_id,
                      time)


def _fast(
    data: EventData, data_json: dict[str, Any], source: str, signer: Signer, sequence: int,
    prevhash: str, event_id: str | None, time: datetime | None,
) -> Sealed | None:
    """The one-pass form, or ``None`` when an attribute needs the reference path's check (or
    a text cannot be UTF-8, a lone surrogate)."""
    src = _source_parts(source, signer.keyid)
    moment = _time_text(time or datetime.now(UTC))
    eid = event_id or new_event_id()
    if (src is None or moment is None or type(sequence) is not int
            or not 0 < sequence < _MAX_SEQUENCE or not 0 < len(eid) <= 128  # noqa: PLR2004
            or not _HEX64.match(prevhash)):
        return None
    kind = _type_parts(type(data))
    subject = data.subject
    seq = str(sequence).zfill(SEQUENCE_WIDTH)
    value = plain_json(data_json)
    if value is None:
        return None
    try:
        head = b'{"data":' + value + b","
        front = (f'{_CT_MEMBER},"dataschema":{kind.schema_json},{_ENV_MEMBER},'
                 f'"id":{_STRING(eid)},"keyid":{src.keyid_json},'
                 f'"prevhash":{_STRING(prevhash)},"sequence":"{seq}"').encode()
        back = (f'"source":{src.source_json},{_SPEC_MEMBER},"subject":{_STRING(subject)},'
                f'"time":"{moment}","type":{kind.type_json}}}').encode()
        signature = signer.sign(head + front + b"," + back)
        digest = hashlib.sha256(
            head + front + b',"signature":"' + signature.encode() + b'",' + back).hexdigest()
        subject_b, eid_b = subject.encode(), eid.encode()
    except UnicodeEncodeError:
        return None
    attributes = {
        "specversion": SPECVERSION, "envelopeversion": str(ENVELOPE_VERSION), "id": eid,
        "source": source, "type": kind.ce_type, "subject": subject, "time": moment,
        "dataschema": kind.dataschema, "datacontenttype": CONTENT_TYPE, "sequence": seq,
        "prevhash": prevhash, "keyid": signer.keyid, "signature": signature,
    }
    headers = [
        (_H_SPEC, _SPEC_B), (_H_ENV, _ENV_B), (_H_ID, eid_b), (_H_SOURCE, src.source_b),
        (_H_TYPE, kind.type_b), (_H_SUBJECT, subject_b), (_H_TIME, moment.encode()),
        (_H_SCHEMA, kind.schema_b), (_H_CT, _CT_B), (_H_SEQ, seq.encode()),
        (_H_PREV, prevhash.encode()), (_H_KEYID, src.keyid_b), (_H_SIG, signature.encode()),
    ]
    envelope = Envelope(attributes=attributes, data=data, data_json=data_json, plain=True)
    return Sealed(envelope, KafkaRecord(data.destination_topic(), subject_b, value, headers),
                  digest)


def _reference(
    data: EventData, data_json: dict[str, Any], plain: bool, source: str, signer: Signer,
    sequence: int, prevhash: str, event_id: str | None, time: datetime | None,
) -> Sealed:
    """``seal`` + ``to_record`` + ``hash``, written out (``_attributes`` checks them all and
    raises the errors)."""
    attributes = _attributes(data, source, signer.keyid, sequence, prevhash, event_id, time)
    attributes["signature"] = signer.sign(signing_input(attributes, data_json, plain=plain))
    envelope = Envelope(attributes=attributes, data=data, data_json=data_json, plain=plain)
    record = KafkaRecord(
        topic=data.destination_topic(),
        key=attributes["subject"].encode(),
        value=encode_value(data_json, plain=plain),
        headers=[(header_name(a), attributes[a].encode()) for a in ATTRIBUTES],
    )
    return Sealed(envelope, record, event_hash(attributes, data_json, plain=plain))

