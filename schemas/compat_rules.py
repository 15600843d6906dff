"""Keyword-level rules of the compatibility check: types, values, bounds, patterns, the rest.

Each rule compares one old and one new schema object at one data path, with combinators and
references already taken apart by ``schemas.compat``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

Schema = dict[str, Any] | bool

ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "examples",
        "default",
        "$comment",
        "deprecated",
        "readOnly",
        "writeOnly",
        "$schema",
        "$id",
        "$defs",
        "definitions",
        "discriminator",
        "$anchor",
    }
)
"""Keywords that never change which instances a schema accepts."""

_UPPER = ("maxLength", "maxItems", "maxProperties", "maximum", "exclusiveMaximum")
_LOWER = ("minLength", "minItems", "minProperties", "minimum", "exclusiveMinimum")
_HANDLED = frozenset(
    {
        "type",
        "enum",
        "const",
        "pattern",
        "format",
        "multipleOf",
        "uniqueItems",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "prefixItems",
        "$ref",
        *_UPPER,
        *_LOWER,
    }
)
_NARROWER_WHEN_DROPPED = frozenset({"patternProperties", "minContains"})
"""Dropping a constraint accepts more, except these: without ``patternProperties`` the matching
names fall to ``additionalProperties``, and ``minContains`` defaults to 1. Any other change to a
keyword this module does not model is reported."""
_JSON_TYPES: dict[type, str] = {  # bool before int: True is an int in Python
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}


@dataclass(frozen=True, slots=True)
class Incompatibility:
    """One way old data could fail the new schema, at a JSONPath into the data (``$.a[*].b``)."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def significant(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k not in ANNOTATIONS and not k.startswith("x-")}


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _json_type(value: Any) -> str:
    return next((name for kind, name in _JSON_TYPES.items() if isinstance(value, kind)), "null")


def _values(schema: dict[str, Any]) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    enum = schema.get("enum")
    return list(enum) if isinstance(enum, list) else None


def _types(schema: dict[str, Any]) -> set[str] | None:
    kind = schema.get("type")
    if kind is not None:
        return {kind} if isinstance(kind, str) else set(kind)
    values = _values(schema)
    return None if values is None else {_json_type(v) for v in values}


def _accepts(kinds: set[str], kind: str) -> bool:
    return kind in kinds or (kind == "integer" and "number" in kinds)


def same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def type_changes(old: dict[str, Any], new: dict[str, Any], path: str) -> list[Incompatibility]:
    new_types = _types(new)
    if new_types is None:
        return []
    old_types = _types(old)
    if old_types is None:
        return [Incompatibility(path, f"type narrowed from any to {'|'.join(sorted(new_types))}")]
    lost = sorted(t for t in old_types if not _accepts(new_types, t))
    if not lost:
        return []
    was, now = "|".join(sorted(old_types)), "|".join(sorted(new_types))
    return [Incompatibility(path, f"type narrowed from {was} to {now}")]


def value_changes(old: dict[str, Any], new: dict[str, Any], path: str) -> list[Incompatibility]:
    new_values, old_values = _values(new), _values(old)
    if new_values is None:
        return []
    if old_values is None:
        keyword = "const" if "const" in new else "enum"
        return [Incompatibility(path, f"{keyword} added where any value was accepted")]
    lost = [v for v in old_values if not any(same(v, n) for n in new_values)]
    if not lost:
        return []
    if "const" in old and "const" in new:
        reason = f"const changed from {_show(old['const'])} to {_show(new['const'])}"
    else:
        reason = f"enum value(s) {', '.join(_show(v) for v in lost)} removed"
    return [Incompatibility(path, reason)]


def bound_changes(old: dict[str, Any], new: dict[str, Any], path: str) -> list[Incompatibility]:
    found: list[Incompatibility] = []
    for keyword in (*_UPPER, *_LOWER):
        if keyword not in new:
            continue
        now, was = new[keyword], old.get(keyword)
        if was is None:
            found.append(Incompatibility(path, f"{keyword} {_show(now)} added"))
        elif (now < was) if keyword in _UPPER else (now > was):
            verb = "lowered" if keyword in _UPPER else "raised"
            found.append(Incompatibility(path, f"{keyword} {verb} from {was} to {now}"))
    return found


def other_changes(old: dict[str, Any], new: dict[str, Any], path: str) -> list[Incompatibility]:
    found: list[Incompatibility] = []
    for keyword in ("pattern", "format"):
        if keyword in new and old.get(keyword) != new[keyword]:
            change = f"changed from {_show(old[keyword])} to" if keyword in old else "added:"
            found.append(Incompatibility(path, f"{keyword} {change} {_show(new[keyword])}"))
    if "multipleOf" in new:
        step = old.get("multipleOf")
        if step is None or Fraction(str(step)) % Fraction(str(new["multipleOf"])) != 0:
            found.append(
                Incompatibility(
                    path, f"multipleOf {new['multipleOf']} does not divide the old {step}"
                )
            )
    if new.get("uniqueItems") is True and old.get("uniqueItems") is not True:
        found.append(Incompatibility(path, "uniqueItems added"))
    old_rest, new_rest = significant(old), significant(new)
    for keyword in sorted((old_rest.keys() | new_rest.keys()) - _HANDLED):
        dropped = keyword not in new_rest and keyword not in _NARROWER_WHEN_DROPPED
        if not dropped and not same(old_rest.get(keyword), new_rest.get(keyword)):
            found.append(
                Incompatibility(
                    path, f"{keyword} changed: compatibility cannot be proven, treat as breaking"
                )
            )
    return found
