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


def canonical_time(text: str) -> str:
    """The signed form of ce_time: UTC with six fractional digits and Z (a relay may have
    written 2026-02-01T11:00:00Z for 2026-02-01T11:00:00.000000Z)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))  # noqa: FURB162 - before 3.11
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def signed_bytes(headers: dict, value: str) -> bytes:
    attributes = {}
    for name, text in headers.items():
        if name.startswith("ce_"):
            attributes[name[3:]] = text
        elif name.lower() == "content-type":
            attributes["datacontenttype"] = text
    attributes.pop("signature")
    attributes["time"] = canonical_time(attributes["time"])
    attributes["data"] = json.loads(value)
    return rfc8785.dumps(attributes)


def event_hash(headers: dict, value: str) -> str:
    """What the source's next event carries as ce_prevhash."""
    attributes = {n[3:]: t for n, t in headers.items() if n.startswith("ce_")}
    attributes["datacontenttype"] = headers["content-type"]
    attributes["time"] = canonical_time(attributes["time"])
    attributes["data"] = json.loads(value)
    return hashlib.sha256(rfc8785.dumps(attributes)).hexdigest()


def main() -> None:
    record = json.load(open(sys.argv[1], encoding="utf-8"))
    public_key = base64.b64decode(sys.argv[2])
    keyid = hashlib.sha256(public_key).hexdigest()[:16]
    if record["headers"]["ce_keyid"] != keyid:
        sys.exit(f"signed with key {record['headers']['ce_keyid']}, not {keyid}")
    signature = base64.b64decode(record["headers"]["ce_signature"])
    VerifyKey(public_key).verify(signed_bytes(record["headers"], record["value"]), signature)
    print(f"valid signature by {record['headers']['ce_source']}; "
          f"hash {event_hash(record['headers'], record['value'])}")


if __name__ == "__main__":
    main()
