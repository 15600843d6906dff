"""Snapshots and the version check: what passes, what fails and why, and upcasting v1 data."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from schemas import catalogue
from schemas.base import EventData
from schemas.catalogue import UPCASTERS, resolve_type
from schemas.compat import incompatibilities
from schemas.envelope import to_record
from schemas.envelope_read import from_record
from schemas.participants import OrganisationOnboarded
from schemas.signing import PrivateKey
from schemas.topics import PROJECTS
from schemas.versions import Snapshot, check, json_schema, parse_snapshot, upcast
from tests.unit.helpers import sealed

STR = {"type": "string"}


def snapshot_of(schema: dict[str, Any], revision: int = 1) -> Snapshot:
    ce_type = f"{schema['x-emining-type']}.v{schema['x-emining-version']}"
    return Snapshot(ce_type, revision, schema)


ONBOARDED = {OrganisationOnboarded.ce_type(): OrganisationOnboarded}


def failures_of(old: dict[str, Any]) -> list[str]:
    report = check(ONBOARDED, [snapshot_of(old)], {})
    return [f.message for f in report.failures]


def test_snapshot_names_carry_type_version_and_revision():
    first = parse_snapshot("pk.emining.project.registered.v2.json", "{}")
    later = parse_snapshot("pk.emining.project.registered.v2.r3.json", "{}")
    assert (first.type_name, first.version, first.revision) == (
        "pk.emining.project.registered",
        2,
        1,
    )
    assert (later.revision, later.filename) == (3, "pk.emining.project.registered.v2.r3.json")
    with pytest.raises(ValueError, match="not a snapshot name"):
        parse_snapshot("registered.json", "{}")


def test_a_model_that_dropped_a_released_property_fails_the_check():
    old = json_schema(OrganisationOnboarded)
    old["properties"]["legacy_code"] = STR
    assert failures_of(old)[0] == (
        "$.legacy_code: property removed while the model forbids additional properties"
    )


def test_a_model_that_added_a_required_property_fails_the_check():
    old = json_schema(OrganisationOnboarded)
    del old["properties"]["role"]
    old["required"].remove("role")
    assert failures_of(old)[0] == "$.role: new property is required"


def test_a_model_that_narrowed_an_enum_fails_the_check_with_a_version_hint():
    old = json_schema(OrganisationOnboarded)
    old["$defs"]["Side"]["enum"].append("XX")
    assert failures_of(old) == [
        '$.side: enum value(s) "XX" removed',
        "breaking change: bump VERSION to 2 and add "  # noqa: ISC004 - one message, split to fit
        "UPCASTERS[('pk.emining.participant.onboarded', 1)]",
    ]


def test_a_moved_topic_fails_the_check():
    old = json_schema(OrganisationOnboarded) | {"x-emining-topic": "emining.old.v1"}
    assert failures_of(old)[0].startswith("x-emining-topic changed from 'emining.old.v1'")


def test_a_compatible_change_asks_for_a_new_revision_and_a_doc_change_does_not():
    old = json_schema(OrganisationOnboarded)
    del old["properties"]["uscc"]
    report = check(ONBOARDED, [snapshot_of(old)], {})
    assert report.ok
    assert [s.filename for s in report.to_write] == ["pk.emining.participant.onboarded.v1.r2.json"]
    reworded = json_schema(OrganisationOnboarded) | {"description": "Reworded."}
    assert check(ONBOARDED, [snapshot_of(reworded)], {}).to_write == []


def test_every_revision_of_the_version_is_checked_not_only_the_latest():
    first = json_schema(OrganisationOnboarded)
    first["properties"]["legacy_code"] = STR
    report = check(
        ONBOARDED, [snapshot_of(first), snapshot_of(json_schema(OrganisationOnboarded), 2)], {}
    )
    assert [f.snapshot for f in report.failures][:1] == ["pk.emining.participant.onboarded.v1.json"]


def test_a_released_type_may_not_vanish_from_the_catalogue():
    gone = json_schema(OrganisationOnboarded) | {"x-emining-type": "pk.emining.participant.gone"}
    report = check(
        ONBOARDED, [snapshot_of(gone), snapshot_of(json_schema(OrganisationOnboarded))], {}
    )
    assert [f.ce_type for f in report.failures] == ["pk.emining.participant.gone.v1"]


# --- a breaking change done right: v1 -> v2 with one upcaster -------------------------------


class WidgetCountedV1(EventData):
    TYPE: ClassVar[str] = "pk.emining.test.widget.counted"
    VERSION: ClassVar[int] = 1
    TOPIC: ClassVar[str] = PROJECTS
    SUBJECT_FIELD: ClassVar[str] = "widget_id"
    EXAMPLE: ClassVar[dict[str, Any]] = {"widget_id": "W-1", "count": "12"}
    widget_id: str
    count: str


class WidgetCounted(EventData):
    TYPE: ClassVar[str] = "pk.emining.test.widget.counted"
    VERSION: ClassVar[int] = 2
    TOPIC: ClassVar[str] = PROJECTS
    SUBJECT_FIELD: ClassVar[str] = "widget_id"
    EXAMPLE: ClassVar[dict[str, Any]] = {"widget_id": "W-1", "count": 12, "unit": "pieces"}
    widget_id: str
    count: int
    unit: str


def upcast_v1_v2(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "count": int(data["count"]), "unit": "pieces"}


WIDGETS = {WidgetCounted.ce_type(): WidgetCounted}
RELEASED = [snapshot_of(json_schema(WidgetCountedV1)), snapshot_of(json_schema(WidgetCounted))]
STEP = (WidgetCounted.TYPE, 1)


def test_the_v2_widget_would_break_v1_data_which_is_why_it_is_a_new_version():
    found = incompatibilities(json_schema(WidgetCountedV1), json_schema(WidgetCounted))
    assert [str(i) for i in found] == [
        "$.count: type narrowed from string to integer",
        "$.unit: new property is required",
    ]


def test_an_old_version_with_its_upcaster_passes_the_check():
    report = check(WIDGETS, RELEASED, {STEP: upcast_v1_v2})
    assert (report.failures, report.notices) == ([], [])


def test_an_old_version_without_an_upcaster_fails_the_check():
    report = check(WIDGETS, RELEASED, {})
    assert [f.message for f in report.failures] == [
        "no upcaster from v1 to v2: add UPCASTERS[('pk.emining.test.widget.counted', 1)]"
    ]


def test_an_upcaster_whose_output_the_model_refuses_fails_the_check():
    report = check(WIDGETS, RELEASED, {STEP: lambda d: {**d, "count": int(d["count"])}})
    assert [f.message for f in report.failures] == [
        "example upcast to v2 is invalid: unit: Field required"
    ]


def test_upcast_walks_the_chain_without_touching_the_input():
    data = {"widget_id": "W-9", "count": "3"}
    assert upcast(WidgetCounted.TYPE, 1, 2, data, {STEP: upcast_v1_v2})["count"] == 3
    assert data["count"] == "3"


def test_resolve_type_upcasts_v1_records_with_a_registered_upcaster(monkeypatch):
    known = catalogue._by_name()
    monkeypatch.setattr(catalogue, "_by_name", lambda: {**known, WidgetCounted.TYPE: WidgetCounted})
    monkeypatch.setitem(UPCASTERS, STEP, upcast_v1_v2)
    model, data = resolve_type(
        "pk.emining.test.widget.counted.v1", {"widget_id": "W-2", "count": "7"}
    )
    assert model is WidgetCounted
    assert model.model_validate(data) == WidgetCounted(widget_id="W-2", count=7, unit="pieces")


def test_a_signed_v1_record_reads_as_v2_while_keeping_the_signed_v1_data(monkeypatch):
    known = catalogue._by_name()
    monkeypatch.setattr(catalogue, "_by_name", lambda: {**known, WidgetCounted.TYPE: WidgetCounted})
    monkeypatch.setitem(UPCASTERS, STEP, upcast_v1_v2)
    key = PrivateKey.generate("urn:emining:cn:ent:example-mining")
    record = to_record(sealed(WidgetCountedV1(widget_id="W-3", count="5"), key))
    envelope = from_record(record.key, record.value, record.headers)
    assert envelope.type == "pk.emining.test.widget.counted.v1"
    assert envelope.data == WidgetCounted(widget_id="W-3", count=5, unit="pieces")
    assert envelope.data_json == {"widget_id": "W-3", "count": "5"}
