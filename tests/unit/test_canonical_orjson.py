"""orjson writes the bytes the stdlib and ``rfc8785`` wrote, wherever it now writes them.

The fast paths (``schemas.canonical.plain_json``: canonical JSON, the record value, the sealed
data; ``consumers.stored_record._compact``: a stored record's text) must be byte-equal to what
they replace: signatures, hashes and the views digest are computed over these bytes, and records
written before the change must read and verify the same after it.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import rfc8785
from hypothesis import example, given, settings
from hypothesis import strategies as st

from consumers.stored_record import _COMPACT, StoredRecord
from schemas.canonical import canonical_json, is_plain, plain_json
from schemas.envelope import encode_value

# every code point, the controls, DEL, the bidi marks, astral planes and lone surrogates among them
texts = st.text(st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF), max_size=12)
ascii_keys = st.text(st.characters(min_codepoint=0, max_codepoint=0x7F), max_size=6)
plain_scalars = (st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | texts)
plain_values = st.recursive(
    plain_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ascii_keys, inner, max_size=5),
    max_leaves=25)
any_scalars = plain_scalars | st.floats(allow_nan=False, allow_infinity=False) | st.integers()
any_values = st.recursive(
    any_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=5),
    max_leaves=25)


def _stdlib(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


def _has_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, list):
        return any(_has_surrogate(v) for v in value)
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    return False


@settings(max_examples=600)
@given(plain_values)
def test_plain_json_is_rfc8785_or_declines_a_lone_surrogate(value: Any) -> None:
    assert is_plain(value)
    fast = plain_json(value)
    if _has_surrogate(value):
        assert fast is None, "orjson must refuse what is not UTF-8, never write it otherwise"
        return
    assert fast == rfc8785.dumps(value)
    assert fast == _stdlib(value)
    assert canonical_json(value) == fast
    assert canonical_json(value, plain=True) == fast


def test_the_escapes_of_every_control_character_del_and_quotes_are_rfc8785s() -> None:
    """The differences a generator might miss, written out: each control character, DEL, the
    quote and backslash, U+2028/9 (escaped by some writers, not by JCS), and non-ASCII keys."""
    doc = {"c": "".join(chr(i) for i in range(0x20)) + '\x7f"\\/\u2028\u2029\ufeff\U0001f600',
           "k": {"z": 1, "a": [True, None, -(2**53) + 1, 2**53 - 1], "B": "", "": 0}}
    assert plain_json(doc) == rfc8785.dumps(doc) == _stdlib(doc)
    assert b"\\u001f" in plain_json(doc)  # type: ignore[operator] - lower-case hex, as JCS


def test_nesting_orjson_refuses_goes_the_slow_way_with_the_same_bytes() -> None:
    deep: Any = "x"
    for _ in range(300):  # orjson stops at 255 levels
        deep = [deep]
    assert plain_json(deep) is None
    assert canonical_json(deep) == rfc8785.dumps(deep)
    assert encode_value({"d": deep}) == _stdlib({"d": deep})


@settings(max_examples=400)
@given(st.dictionaries(texts, any_values, max_size=5))
def test_the_record_value_is_what_json_dumps_wrote_for_any_data(data: dict[str, Any]) -> None:
    """Floats, big integers and non-ASCII keys included: those keep the stdlib's writing."""
    try:
        expected = _stdlib(data)
    except UnicodeEncodeError:
        return  # a lone surrogate: neither can write it (the caller refuses the data)
    assert encode_value(data) == expected
    assert encode_value(data, plain=is_plain(data)) == expected


headers = st.lists(st.tuples(texts, st.none() | st.binary(max_size=8)), max_size=4)


@settings(max_examples=400)
@example(b"k", b"v", [("del\x7f", b"1")], 5, True)  # ASCII, yet escaped by json alone
@example(None, None, [("\u00e9t\u00e9", None), ("\x00\n", b"")], -1, False)
@example(None, b"", [("\ud800", b"x")], 0, True)  # a lone surrogate
@given(st.binary(max_size=10) | st.none(), st.binary(max_size=20) | st.none(), headers,
       st.integers(-1, 2**62), st.booleans())
def test_a_stored_records_text_is_unchanged_byte_for_byte(
        key: bytes | None, value: bytes | None, names: list[tuple[str, bytes | None]],
        timestamp: int, with_value: bool) -> None:
    """Header names come from any producer: non-ASCII, DEL, controls, lone surrogates."""
    record = StoredRecord("emining.shipments", 3, 17, key, value, tuple(names), timestamp, 0)
    def enc(raw: bytes | None) -> str | None:
        return None if raw is None else base64.b64encode(raw).decode()

    expected = _COMPACT.encode({
        "topic": record.topic, "key": enc(key), "value": enc(value) if with_value else None,
        "headers": [[k, enc(v)] for k, v in names], "ts": timestamp, "tt": 0})
    assert record.dumps(value=with_value) == expected  # the old encoder's text


def test_keys_that_are_not_text_are_not_plain_and_keep_the_stdlib_writing() -> None:
    """Review finding: ``encode_value`` now asks ``is_plain``, which called ``isascii`` on every
    key; a dict with an integer key (written as text by ``json``) raised ``AttributeError``."""
    for doc in ({1: "a"}, {"a": {2: "b"}}, {None: 1}, {"x": [{3: 4}]}):
        assert not is_plain(doc)
        assert encode_value(doc) == _stdlib(doc)
    assert encode_value({1: "a"}) == b'{"1":"a"}'


_KEEP = """
import json, resource, sys
from schemas.canonical import plain_json
from tests.unit.helpers import all_types, example
docs = [example(c).model_dump(mode="json", exclude_none=True) for c in all_types()]
write = plain_json if sys.argv[1] == "orjson" else (
    lambda d: json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())
kept = [write(docs[i % len(docs)]) for i in range(40_000)]
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def test_values_kept_take_the_memory_the_stdlibs_did() -> None:
    """orjson's result keeps the ~4 KB block it was written in: 40,000 kept record values took
    ~150 MB more than json's (found by ``make bench``: the publishing benchmark's peak rose from
    248 to 361 MB). ``plain_json`` returns a copy of exactly its length."""
    import subprocess  # noqa: PLC0415 - only here: a fresh process for a clean peak
    import sys  # noqa: PLC0415

    def peak(writer: str) -> int:
        out = subprocess.run([sys.executable, "-c", _KEEP, writer], check=True,
                             capture_output=True, text=True)
        return int(out.stdout.split()[-1])

    assert peak("orjson") <= peak("json") + 25  # MB; without the copy ~+150
