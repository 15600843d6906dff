"""The compatibility rules, each with one compatible and one breaking case naming the path."""

from __future__ import annotations

import copy
from typing import Any

from schemas.catalogue import event_types
from schemas.compat import incompatibilities
from schemas.versions import json_schema


def obj(required: tuple[str, ...] = (), closed: bool = True, **props: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props, "required": list(required)}
    return schema | ({"additionalProperties": False} if closed else {})


def broken(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [str(i) for i in incompatibilities(old, new)]


STR = {"type": "string"}


# --- one rule at a time: (old, new) is compatible, (old, narrowed) names the path -------------


def test_removing_a_property_of_a_closed_model_breaks_and_of_an_open_one_does_not():
    old = obj(a=STR, b=STR)
    assert broken(old, obj(a=STR)) == [
        "$.b: property removed while the model forbids additional properties"
    ]
    assert broken(obj(closed=False, a=STR, b=STR), obj(closed=False, a=STR)) == []


def test_a_new_property_may_be_optional_but_not_required():
    assert broken(obj(a=STR), obj(a=STR, c=STR)) == []
    assert broken(obj(a=STR), obj(("c",), a=STR, c=STR)) == ["$.c: new property is required"]


def test_a_required_property_may_become_optional_but_not_the_reverse():
    assert broken(obj(("a",), a=STR), obj(a=STR)) == []
    assert broken(obj(a=STR), obj(("a",), a=STR)) == ["$.a: became required"]


def test_a_new_optional_property_on_an_open_model_must_accept_what_was_allowed():
    assert broken(obj(closed=False, a=STR), obj(closed=False, a=STR, c={})) == []
    assert broken(obj(closed=False, a=STR), obj(closed=False, a=STR, c=STR)) == [
        "$.c: type narrowed from any to string"
    ]


def test_types_may_widen_but_not_narrow():
    assert broken(obj(a={"type": "integer"}), obj(a={"type": "number"})) == []
    assert broken(obj(a=STR), obj(a={"type": "integer"})) == [
        "$.a: type narrowed from string to integer"
    ]


def test_enum_values_may_be_added_but_not_removed():
    old = obj(s={"enum": ["open", "closed"]})
    assert broken(old, obj(s={"enum": ["open", "closed", "held"]})) == []
    assert broken(old, obj(s={"enum": ["open"]})) == ['$.s: enum value(s) "closed" removed']


def test_a_const_may_become_an_enum_holding_it_but_may_not_change():
    assert broken(obj(k={"const": "a"}), obj(k={"enum": ["a", "b"]})) == []
    assert broken(obj(k={"const": "a"}), obj(k={"const": "b"})) == [
        '$.k: const changed from "a" to "b"'
    ]


def test_an_upper_bound_may_rise_or_go_but_not_fall_or_appear():
    old = obj(n={"type": "string", "maxLength": 10})
    assert broken(old, obj(n={"type": "string", "maxLength": 20})) == []
    assert broken(old, obj(n=STR)) == []
    assert broken(old, obj(n={"type": "string", "maxLength": 5})) == [
        "$.n: maxLength lowered from 10 to 5"
    ]
    assert broken(obj(n=STR), obj(n={"type": "string", "maxItems": 3})) == ["$.n: maxItems 3 added"]


def test_a_lower_bound_may_fall_but_not_rise():
    old = obj(q={"type": "number", "minimum": 1})
    assert broken(old, obj(q={"type": "number", "minimum": 0})) == []
    assert broken(old, obj(q={"type": "number", "minimum": 2})) == [
        "$.q: minimum raised from 1 to 2"
    ]


def test_a_pattern_may_be_dropped_but_not_changed_or_added():
    old = obj(p={"type": "string", "pattern": "^[A-Z]+$"})
    assert broken(old, obj(p=STR)) == []
    assert broken(old, obj(p={"type": "string", "pattern": "^[A-Z]{2}$"})) == [
        '$.p: pattern changed from "^[A-Z]+$" to "^[A-Z]{2}$"'
    ]
    assert broken(obj(p=STR), obj(p={"type": "string", "format": "date"})) == [
        '$.p: format added: "date"'
    ]


def test_nested_objects_are_compared_at_their_own_path():
    old = obj(names=obj(("en",), en=STR, zh=STR))
    assert broken(old, obj(names=obj(("en",), en=STR, zh=STR, ur=STR))) == []
    assert broken(old, obj(names=obj(("en", "zh"), en=STR, zh=STR))) == [
        "$.names.zh: became required"
    ]


def test_refs_into_defs_are_followed_and_reported_at_the_data_path():
    def with_point(lat: dict[str, Any]) -> dict[str, Any]:
        schema = obj(boundary={"type": "array", "items": {"$ref": "#/$defs/Point"}})
        return schema | {"$defs": {"Point": obj(("lat",), lat=lat)}}

    old = with_point({"type": "number", "maximum": 90})
    assert broken(old, with_point({"type": "number", "maximum": 90, "title": "Lat"})) == []
    assert broken(old, with_point({"type": "number", "maximum": 45})) == [
        "$.boundary[*].lat: maximum lowered from 90 to 45"
    ]


def test_recursive_refs_terminate():
    tree = {
        "$defs": {"Node": obj(kids={"type": "array", "items": {"$ref": "#/$defs/Node"}}, name=STR)},
        "$ref": "#/$defs/Node",
    }
    narrowed = copy.deepcopy(tree)
    narrowed["$defs"]["Node"]["properties"]["name"] = {"type": "string", "maxLength": 3}
    assert broken(tree, tree) == []
    assert broken(tree, narrowed) == ["$.name: maxLength 3 added"]


def test_a_nullable_field_may_not_lose_null_but_a_field_may_become_nullable():
    nullable = {"anyOf": [STR, {"type": "null"}], "default": None}
    assert broken(obj(a=STR), obj(a=nullable)) == []
    assert broken(obj(a=nullable), obj(a=STR)) == ["$.a: type narrowed from null to string"]


def test_a_constraint_inside_an_anyof_branch_is_found():
    def decimal(maximum: int) -> dict[str, Any]:
        return {"anyOf": [{"type": "number", "maximum": maximum}, {"type": "null"}]}

    assert broken(obj(d=decimal(10)), obj(d=decimal(12))) == []
    assert broken(obj(d=decimal(10)), obj(d=decimal(8))) == ["$.d: maximum lowered from 10 to 8"]


def test_closing_an_open_model_breaks():
    assert broken(obj(a=STR), obj(closed=False, a=STR)) == []
    assert broken(obj(closed=False, a=STR), obj(a=STR)) == [
        "$: additional properties are no longer allowed"
    ]


def test_array_items_and_tuple_positions_are_compared():
    old = obj(tags={"type": "array", "items": STR}, pos={"type": "array", "prefixItems": [STR]})
    assert broken(old, old) == []
    new = obj(
        tags={"type": "array", "items": {"enum": ["a"]}},
        pos={"type": "array", "prefixItems": [{"type": "integer"}]},
    )
    assert broken(old, new) == [
        "$.pos[0]: type narrowed from string to integer",
        "$.tags[*]: enum added where any value was accepted",
    ]


def test_an_unmodelled_keyword_change_is_reported_rather_than_trusted():
    old = obj(a={"type": "string", "not": {"const": "x"}})
    assert broken(old, obj(a=STR)) == []
    assert broken(old, obj(a={"type": "string", "not": {"const": "y"}})) == [
        "$.a: not changed: compatibility cannot be proven, treat as breaking"
    ]


def test_every_current_schema_is_compatible_with_itself():
    for cls in event_types().values():
        schema = json_schema(cls)
        assert incompatibilities(schema, schema) == [], cls.ce_type()
