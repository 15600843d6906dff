"""CloudEvents 1.0 in Kafka binary mode: our events to records and back (``envelope_read``),
strictly checked.

The envelope has versions of its own (``ce_envelopeversion``), as event data has (``.v<N>`` in
the type): a record says which rules it was written under, readers know every version so far
and upcast older ones, and a version a reader does not know is refused by name.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from schemas.base import EventData
from schemas.canonical import is_plain, plain_json
from schemas.errors import RecordError
from schemas.signing import KEY_ID, Signer, event_hash, signing_input

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"
MAX_VALUE_BYTES = 64 * 1024
"""Largest event data accepted anywhere on the bus (gateway, SDK, consumers)."""

ATTRIBUTES = (
    "specversion",
    "envelopeversion",
    "id",
    "source",
    "type",
    "subject",
    "time",
    "dataschema",
    "datacontenttype",
    "sequence",
    "prevhash",
    "keyid",
    "signature",
)
"""Every attribute our events carry, in header order; writers write them all. Readers require
all of them except ``envelopeversion``, whose absence means envelope version 1.

These and only these are signed and hashed. Any other header on a record (``ce_partitionkey``,
which a stock CloudEvents SDK adds when it relays a record, ``ce_traceparent``, ...) is not
signed, so readers ignore it: it never becomes an attribute, breaks no signature and is not
trusted. ``docs/verify_event.py`` names the same list."""

ENVELOPE_VERSION = 2
"""The envelope version writers write, in ``ce_envelopeversion``.

1. No ``ce_envelopeversion`` header (every record written before it existed): ``ce_sequence``
   is a decimal of 1-20 digits, padded or not (``7``, ``00000000000000000007``).
2. ``ce_envelopeversion: 2``: ``ce_sequence`` is exactly 20 digits, zero-padded, so sequences
   sort as text in numeric order, as the CloudEvents sequence extension asks.

``ce_envelopeversion`` is signed like every attribute: it cannot be stripped to pass a record
off as another version. Readers upcast (``Envelope.current``) while the signature and the chain
hash keep covering the record as written (``Envelope.attributes``). Upgrade readers before
writers: a reader from before version 2 refuses version 2 records."""
OPTIONAL = frozenset({"envelopeversion"})

_HEADER = {a: "content-type" if a == "datacontenttype" else f"ce_{a}" for a in ATTRIBUTES}
_ATTRIBUTE_OF_HEADER = {h: a for a, h in _HEADER.items()}
_SOURCE = re.compile(r"^urn:emining:[a-z]{2}:[a-z]+:[a-z0-9][a-z0-9-]*(/[a-z0-9][a-z0-9-]*)?$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_SEQUENCE = re.compile(r"^(?=0*[1-9])[0-9]{1,20}$")  # ASCII only: str.isdigit accepts "²"
SEQUENCE_WIDTH = 20
"""Envelope version 2 writes sequences zero-padded to 20 digits (every 64-bit count fits)."""
_FIXED_SEQUENCE = re.compile(r"^(?=0*[1-9])[0-9]{20}$")
_FIXED_SEQUENCE_SINCE = 2
_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")


def dataschema_for(ce_type: str) -> str:
    return f"urn:emining:schema:{ce_type}"


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` and microseconds: one spelling per instant."""
    if moment.tzinfo is None:
        raise ValueError("event time must be timezone-aware")
    utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    if utc.year >= 1000:  # noqa: PLR2004 - ``isoformat`` pads a year to 4 digits, strftime not
        # the text strftime below writes ("+00:00" cut), ~35% faster: every stored time is this
        return utc.isoformat(timespec="microseconds")[:-6] + "Z"
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_time(text: str) -> str:
    """The one form of an event time that is signed: UTC, six fractional digits, ``Z``
    (``2026-02-01T11:00:00Z`` → ``2026-02-01T11:00:00.000000Z``)."""
    return format_time(datetime.fromisoformat(text))


def _v1_to_v2(attributes: dict[str, str]) -> dict[str, str]:
    """Version 1 to 2: the sequence zero-padded to 20 digits, the version named."""
    return attributes | {"envelopeversion": "2",
                         "sequence": attributes["sequence"].zfill(SEQUENCE_WIDTH)}


ENVELOPE_UPCASTERS: dict[int, Callable[[dict[str, str]], dict[str, str]]] = {1: _v1_to_v2}
"""``ENVELOPE_UPCASTERS[n]`` brings attributes of envelope version ``n`` to ``n + 1``."""


def envelope_version(attributes: dict[str, str]) -> int:
    """The envelope version the attributes were written under (no ``envelopeversion``: 1)."""
    text = attributes.get("envelopeversion")
    if text is None:
        return 1
    if text.isascii() and text.isdigit() and 1 < int(text) <= ENVELOPE_VERSION \
            and text == str(int(text)):
        return int(text)
    raise RecordError(
        "bad_header",
        f"ce_envelopeversion {text[:20]!r} is not an envelope version this reader knows "
        f"(2-{ENVELOPE_VERSION}, or none for 1): upgrade the reader",
    )


def upcast_attributes(attributes: dict[str, str]) -> dict[str, str]:
    """The attributes as the current envelope version writes them (a copy)."""
    current = dict(attributes)
    for version in range(envelope_version(attributes), ENVELOPE_VERSION):
        current = ENVELOPE_UPCASTERS[version](current)
    return current


def org_of(source: str) -> str:
    """The organisation a source (``<org urn>/<instance>``) publishes for."""
    return source.split("/", 1)[0]


class KafkaRecord(NamedTuple):
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class Envelope:
    """One signed event: its CloudEvents attributes (as on the wire) and its typed data."""

    attributes: dict[str, str]
    data: EventData
    data_json: dict[str, Any]
    plain: bool | None = field(default=None, compare=False)
    """``is_plain(data_json)`` when known (sealing computes it once for signature and hash)."""

    @property
    def version(self) -> int:
        """The envelope version the event was written under."""
        return envelope_version(self.attributes)

    @property
    def current(self) -> dict[str, str]:
        """The attributes upcast to the current envelope version (``sequence`` 20 digits), for
        showing, sorting and storing; the signature and the hash cover ``attributes``."""
        return upcast_attributes(self.attributes)

    @property
    def id(self) -> str:
        return self.attributes["id"]

    @property
    def source(self) -> str:
        return self.attributes["source"]

    @property
    def org(self) -> str:
        return org_of(self.attributes["source"])

    @property
    def type(self) -> str:
        return self.attributes["type"]

    @property
    def subject(self) -> str:
        return self.attributes["subject"]

    @property
    def time(self) -> datetime:
        return datetime.fromisoformat(self.attributes["time"])

    @property
    def sequence(self) -> int:
        return int(self.attributes["sequence"])

    @property
    def prevhash(self) -> str:
        return self.attributes["prevhash"]

    @property
    def keyid(self) -> str:
        return self.attributes["keyid"]

    @property
    def signature(self) -> str:
        return self.attributes["signature"]

    @property
    def topic(self) -> str:
        return self.data.destination_topic()

    def signing_input(self) -> bytes:
        return signing_input(self.attributes, self.data_json, plain=self.plain)

    def hash(self) -> str:
        return event_hash(self.attributes, self.data_json, plain=self.plain)


def _attributes(
    data: EventData, source: str, keyid: str, sequence: int, prevhash: str,
    event_id: str | None, time: datetime | None,
) -> dict[str, str]:
    """The attributes of ``data`` as the next link of ``source``'s chain, unsigned, checked."""
    ce_type = data.ce_type()
    attributes = {
        "specversion": SPECVERSION,
        "envelopeversion": str(ENVELOPE_VERSION),
        "id": event_id or str(uuid.uuid4()),
        "source": source,
        "type": ce_type,
        "subject": data.subject,
        "time": format_time(time or datetime.now(UTC)),
        "dataschema": dataschema_for(ce_type),
        "datacontenttype": CONTENT_TYPE,
        "sequence": str(sequence).zfill(SEQUENCE_WIDTH),
        "prevhash": prevhash,
        "keyid": keyid,
    }
    _check_attributes(attributes)  # never sign what every reader would refuse
    return attributes


def seal(
    data: EventData,
    *,
    source: str,
    signer: Signer,
    sequence: int,
    prevhash: str,
    event_id: str | None = None,
    time: datetime | None = None,
) -> Envelope:
    """Build and sign an envelope for ``data`` as the next link of ``source``'s chain."""
    data_json = data.model_dump(mode="json", exclude_none=True)
    attributes = _attributes(data, source, signer.keyid, sequence, prevhash, event_id, time)
    plain = is_plain(data_json)
    attributes["signature"] = signer.sign(signing_input(attributes, data_json, plain=plain))
    return Envelope(attributes=attributes, data=data, data_json=data_json, plain=plain)


def encode_value(data_json: dict[str, Any], *, plain: bool | None = None) -> bytes:
    """The record value: compact JSON with sorted keys (already canonical for our data).

    Plain data (``is_plain``; ``plain`` when the caller knows) is written by orjson, byte for
    byte what ``json.dumps`` below writes for it; anything else (floats) as before."""
    if plain if plain is not None else is_plain(data_json):
        fast = plain_json(data_json)
        if fast is not None:
            return fast
    return json.dumps(data_json, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def header_name(attribute: str) -> str:
    """The Kafka header carrying a CloudEvents attribute (binary mode)."""
    return _HEADER[attribute]


def to_record(envelope: Envelope) -> KafkaRecord:
    """The record as written: an older envelope version stays that version (it is signed so)."""
    headers = [(_HEADER[a], envelope.attributes[a].encode()) for a in ATTRIBUTES
               if a in envelope.attributes]
    return KafkaRecord(
        topic=envelope.topic,
        key=envelope.subject.encode(),
        value=encode_value(envelope.data_json, plain=envelope.plain),
        headers=headers,
    )


def _check_attributes(a: dict[str, str]) -> None:
    version = envelope_version(a)
    fixed = version >= _FIXED_SEQUENCE_SINCE
    checks = (
        ("specversion", a["specversion"] == SPECVERSION, f"must be {SPECVERSION}"),
        (
            "datacontenttype",
            a["datacontenttype"].split(";")[0].strip() == CONTENT_TYPE,
            f"content-type must be {CONTENT_TYPE}",
        ),
        ("id", 0 < len(a["id"]) <= 128, "must be 1-128 characters"),  # noqa: PLR2004
        (
            "source",
            bool(_SOURCE.match(a["source"])),
            "must be urn:emining:<side>:<class>:<org>[/<instance>]",
        ),
        ("time", bool(_TIME.match(a["time"])), "must be RFC 3339 UTC ending in Z"),
        (
            "sequence",
            bool((_FIXED_SEQUENCE if fixed else _SEQUENCE).match(a["sequence"])),
            ("must be a positive integer" + (" of 20 digits, zero-padded" if fixed else "")
             + f" (envelope version {version})"),
        ),
        ("prevhash", bool(_HEX64.match(a["prevhash"])), "must be 64 lowercase hex digits"),
        ("keyid", KEY_ID.fullmatch(a["keyid"]), "must be 16 lowercase hex digits"),
        ("dataschema", a["dataschema"] == dataschema_for(a["type"]), "does not match the type"),
    )
    for name, ok, why in checks:
        if not ok:
            raise RecordError("bad_header", f"{_HEADER[name]} {why} (got {a[name][:80]!r})")
    try:
        datetime.fromisoformat(a["time"])
    except ValueError as exc:
        raise RecordError("bad_header", f"ce_time is not a real moment ({exc}): {a['time']!r}") \
            from exc
