"""Verify an E-Mining inclusion proof with stock libraries only (no E-Mining code).

    pip install cryptography
    python verify_proof.py proof.json [--platform-key B64] [--witness NAME=B64 ...]
                                      [--keys keys.json] [--min-cosignatures 1]

proof.json is what `emining audit prove EVENT_ID --out proof.json` wrote: one Kafka record (the
leaf), its index in its partition's log, an RFC 9162 inclusion path, the checkpoint the path
leads to (a C2SP signed note, signed by the platform) and the witnesses' cosignature lines.

The script checks, from first principles:
1. the leaf: the record's fields encoded as "emining-leaf/v1" and hashed as RFC 9162 leaves,
   SHA-256(0x00 || leaf);
2. the inclusion path from that leaf hash to the checkpoint's root (RFC 9162 section 2.1.3.2);
3. the checkpoint note: origin ``emining/<topic>/<partition>``, size, root, and the platform's
   Ed25519 signature (C2SP signed-note, key id SHA-256(name || "\\n" || 0x01 || key)[:4]);
4. each cosignature line (C2SP tlog-cosignature v1: key id with 0x04, the signed message
   "cosignature/v1\\ntime <t>\\n" followed by the checkpoint body).

5. the event: the proof's ``event_id`` is the record's ``ce_id`` header.

Trust comes from the keys: pass the platform's key and the witnesses' keys you obtained out of
band: --platform-key B64, --witness SIDE:NAME=B64 (SIDE is pk or cn, the side of the witness
organisation as you know it; NAME is the witness's key name or organisation URN), or
--keys FILE holding {"platform": "B64", "witnesses": {"NAME": {"key": "B64", "side": "pk"}}}.
--min-cosignatures counts DISTINCT trusted witness keys; --require-sides pk,cn requires
cosignatures by trusted keys of those sides. The sides in the proof are never believed.
Without trusted keys the script still checks the proof with the keys inside it, prints
"UNVERIFIED: keys taken from the proof itself" and exits 2: such a proof may be forged end to
end. Exit status 0 when everything verifies with trusted keys, 1 when a check fails.
"""

import argparse
import base64
import hashlib
import json
import struct
import sys
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

LEAF_PREFIX = b"emining-leaf/v1"
NULL = 0xFFFFFFFF
"""The length written for an absent key, value or header value."""
ED25519, COSIGNATURE_V1 = 0x01, 0x04
"""Signature type bytes of C2SP signed-note key ids: a note signature, a cosignature v1."""
DASH = "\u2014 "
PLATFORM_KEY_NAME = "emining-platform"
SIDES = ("pk", "cn")
UNVERIFIED = 2


class CheckError(Exception):
    """One check did not pass: the message says which."""


def b64d(text, what):
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, TypeError) as exc:
        raise CheckError(f"{what} is not valid base64") from exc


def _sized(raw, width):
    if raw is None:
        return struct.pack(">I", NULL)
    return struct.pack(">I" if width == 4 else ">H", len(raw)) + raw  # noqa: PLR2004


def leaf_bytes(leaf):
    """The record as the checkpointer hashed it: fields in a fixed order, each length-prefixed."""
    topic = leaf["topic"].encode()
    out = [LEAF_PREFIX, struct.pack(">H", len(topic)), topic,
           struct.pack(">IQq", leaf["partition"], leaf["offset"], leaf["timestamp_ms"])]
    for name in ("key", "value"):
        text = leaf.get(name)
        out.append(_sized(None if text is None else b64d(text, name), 4))
    headers = leaf.get("headers") or []
    out.append(struct.pack(">I", len(headers)))
    for name, value in headers:
        raw = name.encode()
        out += [struct.pack(">H", len(raw)), raw,
                _sized(None if value is None else b64d(value, f"header {name}"), 4)]
    return b"".join(out)


def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion(index, size, leaf, path):
    """RFC 9162, 2.1.3.2: the root the path leads to from ``leaf`` at ``index`` of ``size``."""
    if index >= size:
        raise CheckError(f"leaf index {index} is not below the tree size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise CheckError("the inclusion path is longer than the tree allows")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise CheckError("the inclusion path is shorter than the tree needs")
    return r


def key_id(name, kind, public_key):
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + public_key).digest()[:4]


def split_note(text):
    """A signed note's body (through its last newline) and its signature lines."""
    cut = text.rfind("\n\n")
    if cut < 0:
        raise CheckError("the checkpoint is not a signed note (no blank line before signatures)")
    body, sigs = text[:cut], text[cut + 2:]
    lines = [line for line in sigs.split("\n") if line]
    for line in lines:
        if not line.startswith(DASH):
            raise CheckError(f"not a signature line: {line!r}")
    return body + "\n", lines


def signature_lines(lines):
    """(name, key id, signature bytes) of each line."""
    out = []
    for line in lines:
        name, _, blob = line.rstrip("\n")[len(DASH):].rpartition(" ")
        raw = b64d(blob, f"signature of {name}")
        if len(raw) < 5:  # noqa: PLR2004
            raise CheckError(f"signature of {name} is too short")
        out.append((name, raw[:4], raw[4:]))
    return out


def ed25519_ok(public_key, signature, message):
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def parse_checkpoint(body):
    lines = body.rstrip("\n").split("\n")
    if len(lines) < 3:  # noqa: PLR2004
        raise CheckError("the checkpoint body has fewer than three lines")
    origin, size, root = lines[0], lines[1], lines[2]
    if not size.isdigit() or (size != "0" and size.startswith("0")):
        raise CheckError(f"checkpoint size {size!r} is not a decimal number")
    return origin, int(size), b64d(root, "checkpoint root")


def check_platform(body, lines, name, public_key):
    wanted = key_id(name, ED25519, public_key)
    for line_name, kid, sig in signature_lines(lines):
        if line_name == name and kid == wanted:
            if not ed25519_ok(public_key, sig, body.encode()):
                raise CheckError(f"the platform's signature ({name}) on the checkpoint does not "
                             "verify: the checkpoint was altered or not signed by this key")
            return
    raise CheckError(f"the checkpoint carries no signature by {name} with key id {wanted.hex()}")


def check_cosignature(body, line, name, public_key):
    """The cosignature's time if ``line`` is a valid v1 cosignature by ``public_key``."""
    parsed = signature_lines([line])[0]
    if parsed[0] != name:
        raise CheckError(f"cosignature line names {parsed[0]!r}, expected {name!r}")
    if parsed[1] != key_id(name, COSIGNATURE_V1, public_key):
        raise CheckError(f"cosignature of {name}: key id {parsed[1].hex()} is not the id of the "
                     "key given for it")
    stamped = parsed[2]
    if len(stamped) != 72:  # noqa: PLR2004 - u64 timestamp and a 64-byte Ed25519 signature
        raise CheckError(f"cosignature of {name} is not a timestamped Ed25519 signature")
    (moment,) = struct.unpack(">Q", stamped[:8])
    message = f"cosignature/v1\ntime {moment}\n{body}".encode()
    if not ed25519_ok(public_key, stamped[8:], message):
        raise CheckError(f"cosignature of {name} does not verify over this checkpoint")
    return moment


def _side(text, who):
    side = (text or "").strip().lower()
    if side not in SIDES:
        raise CheckError(f"witness {who}: side {text!r} is not one of {', '.join(SIDES)}")
    return side


def trusted_keys(args, proof):  # noqa: C901 - one pass over each source of keys
    """(platform key, {witness name or org: (key, side or None)}, whether given by the user)."""
    keys = proof.get("keys", {})
    given = {}
    platform_key = args.platform_key
    if args.keys:
        with open(args.keys, encoding="utf-8") as fh:
            doc = json.load(fh)
        platform_key = platform_key or doc.get("platform")
        for who, entry in (doc.get("witnesses") or {}).items():
            if isinstance(entry, dict):
                side = entry.get("side")
                given[who] = (entry.get("key"), None if side is None else _side(side, who))
            else:
                given[who] = (entry, None)
    for item in args.witness or []:
        side = None
        head, colon, rest = item.partition(":")
        if colon and head.lower() in SIDES:
            side, item = head.lower(), rest  # noqa: PLW2901
        who, sep, value = item.partition("=")
        if not sep or not who:
            raise CheckError(f"--witness {item!r}: give [pk:|cn:]NAME=BASE64")
        given[who] = (value, side)
    own = platform_key is None and not given
    if own:
        platform_key = keys.get("platform", {}).get("public_key")
        given = {w["key_name"]: (w["public_key"], None) for w in keys.get("witnesses", [])}
    if platform_key is None:
        raise CheckError("no platform key: pass --platform-key (or --keys)")
    if not isinstance(platform_key, str):
        raise CheckError("the platform key is base64 text")
    witnesses = {}
    for who, (value, side) in given.items():
        if not isinstance(value, str):
            raise CheckError(f"the key of {who} is base64 text")
        witnesses[who] = (b64d(value, f"key of {who}"), side)
    return b64d(platform_key, "platform key"), witnesses, not own


def record_event_id(leaf):
    """The record's event id: its ``ce_id`` header (UTF-8)."""
    for header in leaf.get("headers") or []:
        name, value = header
        if name == "ce_id" and value is not None:
            try:
                return b64d(value, "header ce_id").decode("utf-8")
            except UnicodeDecodeError as exc:
                raise CheckError("the record's ce_id header is not UTF-8") from exc
    raise CheckError("the record carries no ce_id header: it is not the event of this proof")


def verify(proof, args):  # noqa: C901 - the checks in the order they are printed
    """Check everything; returns whether the keys were trusted (given by the user)."""
    leaf = proof["leaf"]
    index, size = int(proof["leaf_index"]), int(proof["tree_size"])
    path = [b64d(p, "inclusion path") for p in proof["inclusion_path"]]
    platform_key, witnesses, trusted = trusted_keys(args, proof)
    name = PLATFORM_KEY_NAME
    if not trusted:
        print("NOTE: no trusted keys given: using the keys inside the proof. Compare these key "
              "ids with the ones the platform and the witnesses publish:")
    print(f"  platform {name}: key id {key_id(name, ED25519, platform_key).hex()}")

    claimed, inside = proof.get("event_id"), record_event_id(leaf)
    if claimed != inside:
        raise CheckError(f"the proof is for event {claimed!r}, the record is event {inside!r}")
    body, lines = split_note(proof["checkpoint"]["note"])
    origin, cp_size, root = parse_checkpoint(body)
    expected = f"emining/{leaf['topic']}/{leaf['partition']}"
    if origin != expected:
        raise CheckError(f"the checkpoint is for {origin}, the record is on {expected}")
    if cp_size != size:
        raise CheckError(f"the proof says tree size {size}, the checkpoint {cp_size}")
    check_platform(body, lines, name, platform_key)
    print(f"OK  checkpoint {origin} size {cp_size} signed by the platform")

    hashed = leaf_hash(leaf_bytes(leaf))
    if root_from_inclusion(index, size, hashed, path) != root:
        raise CheckError(f"the record at offset {leaf['offset']} is not included in this "
                         "checkpoint: the record, its index or the path was altered")
    print(f"OK  record {leaf['topic']}[{leaf['partition']}] offset {leaf['offset']} is leaf "
          f"{index} of {size}, event {inside}")

    good, sides = set(), set()
    for cosig in proof.get("cosignatures", []):
        who = cosig["key_name"]
        found = witnesses.get(who) or witnesses.get(cosig.get("witness", ""))
        if found is None:
            print(f"--  cosignature by {who} ({cosig.get('witness')}): no trusted key, ignored")
            continue
        key, side = found
        moment = check_cosignature(body, cosig["line"], who, key)
        when = datetime.fromtimestamp(moment, UTC).isoformat()
        if key in good:
            print(f"--  cosignature by {who}: the same key again, counted once")
            continue
        good.add(key)
        if side is not None:
            sides.add(side)
        print(f"OK  cosigned by {who} ({cosig.get('witness')}, "
              f"{side.upper() + ' side (trusted)' if side else 'side not given'}, "
              f"key id {key_id(who, COSIGNATURE_V1, key).hex()}) at {when}")
    if len(good) < args.min_cosignatures:
        raise CheckError(f"{len(good)} distinct trusted witness key(s) cosigned, at least "
                         f"{args.min_cosignatures} required")
    required = {_side(s, "--require-sides") for s in (args.require_sides or "").split(",")
                if s.strip()}
    if required - sides:
        raise CheckError(f"no cosignature by a trusted key of side(s) "
                         f"{', '.join(sorted(required - sides))}")
    return trusted


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("proof", help="the proof JSON (emining audit prove --out)")
    parser.add_argument("--platform-key", help="the platform's Ed25519 public key, base64")
    parser.add_argument("--witness", action="append", metavar="[pk:|cn:]NAME=B64",
                        help="a witness's key and its side: NAME is its key name or "
                             "organisation URN")
    parser.add_argument("--keys", help='JSON: {"platform": B64, "witnesses": '
                                       '{NAME: {"key": B64, "side": "pk"}}}')
    parser.add_argument("--min-cosignatures", type=int, default=1,
                        help="distinct trusted witness keys required (default 1)")
    parser.add_argument("--require-sides", metavar="pk,cn",
                        help="sides that must have cosigned with a trusted key")
    args = parser.parse_args(argv)
    try:
        with open(args.proof, encoding="utf-8") as fh:
            proof = json.load(fh)
        trusted = verify(proof, args)
    except CheckError as exc:
        print(f"FAILED: {exc}")
        return 1
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"FAILED: not a readable proof: {exc!r}")
        return 1
    if not trusted:
        print("UNVERIFIED: keys taken from the proof itself")
        return UNVERIFIED
    print("VERIFIED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
