"""Backward compatibility of JSON Schemas: can the new schema read everything the old one accepted?

Confluent Schema Registry's BACKWARD meaning, decided conservatively over the keywords pydantic
emits: whatever this module does not understand well enough to prove safe is reported, never
waved through. Annotations (titles, descriptions, examples, defaults, ``x-*``) are ignored.
"""

from __future__ import annotations

import json
import re
from typing import Any

from schemas.compat_rules import (
    ANNOTATIONS,
    Incompatibility,
    Schema,
    bound_changes,
    other_changes,
    same,
    significant,
    type_changes,
    value_changes,
)

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def incompatibilities(old: Schema, new: Schema) -> list[Incompatibility]:
    """Everything that stops ``new`` reading data valid under ``old`` (empty: compatible)."""
    old_root = old if isinstance(old, dict) else {}
    new_root = new if isinstance(new, dict) else {}
    found = _Checker(old_root, new_root).compare(old, new, "$", frozenset())
    return list(dict.fromkeys(found))


def child_path(path: str, name: str) -> str:
    return f"{path}.{name}" if _IDENTIFIER.match(name) else f"{path}[{json.dumps(name)}]"


def _branches(schema: dict[str, Any]) -> list[Schema] | None:
    """``anyOf``/``oneOf`` alternatives, each with the schema's other constraints folded in.

    ``oneOf`` is read as ``anyOf``: pydantic emits it for discriminated unions, whose branches
    are disjoint by their discriminator ``const``.
    """
    key = "anyOf" if "anyOf" in schema else "oneOf" if "oneOf" in schema else None
    if key is None:
        return None
    rest = {k: v for k, v in significant(schema).items() if k != key}
    return [{"allOf": [rest, b]} if rest else b for b in schema[key]]


def _conjuncts(schema: dict[str, Any]) -> list[Schema]:
    rest = {k: v for k, v in schema.items() if k != "allOf"}
    return ([rest] if significant(rest) else []) + list(schema["allOf"])


class _Checker:
    def __init__(self, old_root: dict[str, Any], new_root: dict[str, Any]) -> None:
        self.old_root = old_root
        self.new_root = new_root

    def compare(
        self, old: Schema, new: Schema, path: str, stack: frozenset[tuple[str, str]]
    ) -> list[Incompatibility]:
        old, old_ref = _resolve(old, self.old_root)
        new, new_ref = _resolve(new, self.new_root)
        if old_ref or new_ref:
            if (old_ref, new_ref) in stack:
                return []  # a recursive model meets itself again: judged on the way in
            stack = stack | {(old_ref, new_ref)}
        if isinstance(old, bool):
            if not old:
                return []  # nothing was ever valid, so nothing can fail
            old = {}
        if isinstance(new, bool):
            return [] if new else [Incompatibility(path, "no value is accepted any more")]
        if not significant(new):
            return []
        return self._combined(old, new, path, stack)

    def _combined(
        self, old: dict[str, Any], new: dict[str, Any], path: str, stack: frozenset[tuple[str, str]]
    ) -> list[Incompatibility]:
        if "allOf" in new:
            return [e for part in _conjuncts(new) for e in self.compare(old, part, path, stack)]
        if "allOf" in old:
            parts = [_resolve(part, self.old_root)[0] for part in _conjuncts(old)]
            merged = _merge(parts)
            if merged is not None:
                return self.compare(merged, new, path, stack)
            trials = [self.compare(part, new, path, stack) for part in parts]
            return min(trials, key=len) if trials else []
        old_branches = _branches(old)
        if old_branches is not None:
            return [e for b in old_branches for e in self.compare(b, new, path, stack)]
        new_branches = _branches(new)
        if new_branches is not None:
            trials = [self.compare(old, b, path, stack) for b in new_branches]
            return min(trials, key=len) if trials else [Incompatibility(path, "anyOf is empty")]
        return self._simple(old, new, path, stack)

    def _simple(
        self, old: dict[str, Any], new: dict[str, Any], path: str, stack: frozenset[tuple[str, str]]
    ) -> list[Incompatibility]:
        found = type_changes(old, new, path)
        if found:
            return found  # the remaining keywords would only restate it
        found += value_changes(old, new, path) + bound_changes(old, new, path)
        found += other_changes(old, new, path)
        found += self._objects(old, new, path, stack)
        found += self._arrays(old, new, path, stack)
        return found

    def _objects(
        self, old: dict[str, Any], new: dict[str, Any], path: str, stack: frozenset[tuple[str, str]]
    ) -> list[Incompatibility]:
        found: list[Incompatibility] = []
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        old_extra = old.get("additionalProperties", True)
        new_extra = new.get("additionalProperties", True)
        for name in old_props.keys() | new_props.keys():
            where = child_path(path, name)
            if name not in new_props and new_extra is False:
                found.append(
                    Incompatibility(
                        where, "property removed while the model forbids additional properties"
                    )
                )
            elif name not in old_props and old_extra is False:
                continue  # old data never carried it
            else:
                found += self.compare(
                    old_props.get(name, old_extra), new_props.get(name, new_extra), where, stack
                )
        old_required = set(old.get("required", []))
        for name in sorted(set(new.get("required", [])) - old_required):
            reason = "became required" if name in old_props else "new property is required"
            found.append(Incompatibility(child_path(path, name), reason))
        if new_extra is False and old_extra is not False:
            found.append(Incompatibility(path, "additional properties are no longer allowed"))
        elif old_extra is not False:
            found += self.compare(old_extra, new_extra, f"{path}.*", stack)
        return sorted(found, key=lambda i: i.path)

    def _arrays(
        self, old: dict[str, Any], new: dict[str, Any], path: str, stack: frozenset[tuple[str, str]]
    ) -> list[Incompatibility]:
        old_prefix, new_prefix = old.get("prefixItems", []), new.get("prefixItems", [])
        old_items, new_items = old.get("items", True), new.get("items", True)
        found: list[Incompatibility] = []
        for index in range(max(len(old_prefix), len(new_prefix))):
            was = old_prefix[index] if index < len(old_prefix) else old_items
            now = new_prefix[index] if index < len(new_prefix) else new_items
            found += self.compare(was, now, f"{path}[{index}]", stack)
        return found + self.compare(old_items, new_items, f"{path}[*]", stack)


def _merge(parts: list[Schema]) -> dict[str, Any] | None:
    """One schema equal to the conjunction of ``parts``, or None when keywords would clash."""
    merged: dict[str, Any] = {}
    for part in parts:
        if part is False:
            return None
        if not isinstance(part, dict):
            continue
        if "allOf" in part or "$ref" in part:
            return None  # left to the caller's looser reading
        for key, value in part.items():
            if key not in merged or same(merged[key], value):
                merged[key] = value
            elif key == "required":
                merged[key] = sorted({*merged[key], *value})
            elif key == "properties" and not merged[key].keys() & value.keys():
                merged[key] = {**merged[key], **value}
            elif key not in ANNOTATIONS:
                return None
    return merged


def _resolve(schema: Schema, root: dict[str, Any]) -> tuple[Schema, str]:
    """Follow local ``$ref``s; sibling constraints of a ``$ref`` are kept as a conjunction."""
    pointer = ""
    while isinstance(schema, dict) and "$ref" in schema:
        pointer = schema["$ref"]
        if not pointer.startswith("#"):
            raise ValueError(f"only local $refs are supported, got {pointer!r}")
        target: Any = root
        for part in filter(None, pointer[1:].split("/")):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        siblings = {k: v for k, v in significant(schema).items() if k != "$ref"}
        schema = {"allOf": [target, siblings]} if siblings else target
    return schema, pointer
