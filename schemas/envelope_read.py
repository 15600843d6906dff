"""A Kafka record back to an ``Envelope``: its headers read, every attribute strictly checked,
older envelope versions upcast, the data validated against its type.
"""

from __future__ import annotations

import json

from pydantic import ValidationError

from schemas.canonical import is_plain
from schemas.catalogue import resolve_type
from schemas.envelope import (
    _ATTRIBUTE_OF_HEADER,
    _HEADER,
    ATTRIBUTES,
    MAX_VALUE_BYTES,
    OPTIONAL,
    Envelope,
    _check_attributes,
    canonical_time,
)
from schemas.errors import RecordError


def _read_headers(
    headers: list[tuple[str, bytes | None]] | tuple[tuple[str, bytes | None], ...],
) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for name, raw in headers:
        attribute = _ATTRIBUTE_OF_HEADER.get(name.lower())
        if attribute is None:
            continue  # not one of ATTRIBUTES: unsigned (a relay's extension), so never read
        if raw is None:
            raise RecordError("bad_header", f"header {name} has no value")
        if attribute in attributes:
            raise RecordError("bad_header", f"header {name} appears twice")
        try:
            attributes[attribute] = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RecordError("bad_header", f"header {name} is not UTF-8") from exc
    missing = [_HEADER[a] for a in ATTRIBUTES if a not in attributes and a not in OPTIONAL]
    if missing:
        raise RecordError("missing_header", f"missing header(s) {', '.join(missing)}")
    return attributes


def _validation_detail(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "data"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def from_record(
    key: bytes | None,
    value: bytes | None,
    headers: list[tuple[str, bytes | None]] | tuple[tuple[str, bytes | None], ...],
) -> Envelope:
    """Read one Kafka record as an envelope, or raise ``RecordError`` naming what is wrong.

    Checks the envelope and the data's schema only; signature, authority and chain are the
    verification stage's job, since they need the registry and per-source state.
    """
    attributes = _read_headers(headers)
    _check_attributes(attributes)
    # Signed in one form: a relay may write the same moment otherwise (a stock CloudEvents SDK
    # drops zero microseconds), so the signature and the chain cover the canonical form.
    attributes["time"] = canonical_time(attributes["time"])
    if value is None:
        raise RecordError("bad_json", "record has no value")
    if len(value) > MAX_VALUE_BYTES:
        raise RecordError("oversized", f"value is {len(value)} bytes, limit {MAX_VALUE_BYTES}")
    try:
        data_json = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordError("bad_json", f"value is not UTF-8 JSON: {exc}") from exc
    if not isinstance(data_json, dict):
        raise RecordError("bad_json", "value must be a JSON object")
    model, current_json = resolve_type(attributes["type"], data_json)
    try:
        data = model.model_validate(current_json)
    except ValidationError as exc:
        raise RecordError("schema", f"{attributes['type']}: {_validation_detail(exc)}") from exc
    if data.subject != attributes["subject"]:
        raise RecordError(
            "subject_mismatch",
            f"ce_subject {attributes['subject']!r} but "
            f"data.{data.SUBJECT_FIELD} is {data.subject!r}",
        )
    if key is not None and key != attributes["subject"].encode():
        raise RecordError("key_mismatch", "record key differs from ce_subject")
    # one walk of the data for both canonical forms (signature and hash) instead of one each
    return Envelope(attributes=attributes, data=data, data_json=data_json,
                    plain=is_plain(data_json))
