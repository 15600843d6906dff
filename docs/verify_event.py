"""Verify one E-Mining event with stock libraries only (no E-Mining code): the README's recipe.

    pip install pynacl rfc8785
    python verify_event.py record.json PUBLIC_KEY_BASE64

record.json holds one Kafka record as {"headers": {"ce_id": "...", ...}, "value": "<the value>"}
(for example from `kcat -C -t emining.approvals.v1 -J`, headers and value copied over).
"""

import base64
import hashlib
import json
import sys
from datetime import UTC, datetime

import rfc8785
from nacl.signing import VerifyKey

ATTRIBUTES = (
    "specversion", "envelopeversion", "id", "source", "type", "subject", "time", "dataschema",
    "datacontenttype", "sequence", "prevhash", "keyid", "signature",
)
"""The signed attributes, and the only ones: ce_<name> headers, datacontenttype from content-type.
Any other header (a relay's ce_partitionkey, ce_traceparent...) is not signed: leave it out, and
do not trust it. ce_envelopeversion is absent on envelope version 1 records."""
HEADERS = {"content-type" if a == "datacontenttype" else f"ce_{a}": a for a in ATTRIBUTES}


def canonical_time(text: str) -> str:
    """The signed form of ce_time: UTC with six fractional digits and Z (a relay may have
    written 2026-02-01T11:00:00Z for 2026-02-01T11:00:00.000000Z)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))  # noqa: FURB162 - before 3.11
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def attributes_of(headers: dict) -> dict:
    """The envelope's attributes, time in its canonical form; other headers ignored."""
    attributes = {}
    for name, text in headers.items():
        attribute = HEADERS.get(name.lower())
        if attribute is None:
            continue  # not signed, so not an attribute of the event: do not use it
        if attribute in attributes:
            sys.exit(f"header {name} appears twice")
        attributes[attribute] = text
    attributes["time"] = canonical_time(attributes["time"])
    return attributes


def signed_bytes(headers: dict, value: str) -> bytes:
    attributes = attributes_of(headers)
    attributes.pop("signature")
    attributes["data"] = json.loads(value)
    return rfc8785.dumps(attributes)


def event_hash(headers: dict, value: str) -> str:
    """What the source's next event carries as ce_prevhash."""
    attributes = attributes_of(headers)
    attributes["data"] = json.loads(value)
    return hashlib.sha256(rfc8785.dumps(attributes)).hexdigest()


def main() -> None:
    record = json.load(open(sys.argv[1], encoding="utf-8"))
    headers, value = record["headers"], record["value"]
    attributes = attributes_of(headers)
    public_key = base64.b64decode(sys.argv[2])
    keyid = hashlib.sha256(public_key).hexdigest()[:16]
    if attributes["keyid"] != keyid:
        sys.exit(f"signed with key {attributes['keyid']}, not {keyid}")
    signature = base64.b64decode(attributes["signature"])
    VerifyKey(public_key).verify(signed_bytes(headers, value), signature)
    print(f"valid signature by {attributes['source']}; hash {event_hash(headers, value)}")


if __name__ == "__main__":
    main()
