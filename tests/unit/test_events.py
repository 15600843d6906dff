"""The event catalogue as a whole: names, examples, subjects and authority scopes of every type."""

from __future__ import annotations

import re
from types import ModuleType
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.base import EventData, Scope
from schemas.catalogue import event_types
from schemas.common import Province, TitleType
from schemas.errors import RecordError
from schemas.events import (
    ApprovalCorrected,
    BorderCrossed,
    EnvironmentalApprovalFiled,
    ExportApprovalDecided,
    LicenceApplicationReceived,
    LicenceAssigned,
    LicenceGranted,
    LotAssayed,
    OwnershipChanged,
    ProductionReported,
    ProjectCorrected,
    ProjectRegistered,
    RoyaltyPaid,
    ShipmentCorrected,
    ShipmentPlanned,
)
from schemas.events.examples import OPERATOR, PARTNER
from schemas.events.registry import (
    ALL_EVENTS,
    BY_CE_TYPE,
    BY_TOPIC,
    CORRECTIONS,
    MODULES,
    check_correction,
    event_class,
    parse,
)
from schemas.events.shipments_border import BorderCrossing
from schemas.topics import APPROVALS, PROJECTS, SHARED_TOPICS, SHIPMENTS

IRREGULAR_PAST = {"withdrawn", "paid", "held"}
TYPE_GRAMMAR = re.compile(r"pk\.emining\.(project|approval|shipment)(\.[a-z0-9]+)+")


def example(cls: type[EventData], **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = dict(vars(cls)["EXAMPLE"])
    data.update(changes)
    return data


def is_past_tense(word: str) -> bool:
    return word.endswith("ed") or word in IRREGULAR_PAST


def _declared_in(module: ModuleType) -> set[type[EventData]]:
    """The concrete event classes ``module`` defines (those naming their own ``TYPE``)."""
    return {cls for cls in vars(module).values()
            if isinstance(cls, type) and issubclass(cls, EventData)
            and cls.__module__ == module.__name__ and "TYPE" in vars(cls)}


def test_every_event_type_is_unique_and_registered_once() -> None:
    types = [cls.ce_type() for cls in ALL_EVENTS]
    defined = set().union(*(_declared_in(module) for module in MODULES))
    assert len(types) == len(set(types)) == len(BY_CE_TYPE) == len(defined) > 0
    assert set(ALL_EVENTS) == defined
    assert all(BY_CE_TYPE[cls.ce_type()] is cls for cls in ALL_EVENTS)


def test_each_module_registers_the_types_it_defines_next_to_them() -> None:
    for module in MODULES:
        listed = [spec.cls for spec in module.EVENTS]
        assert len(listed) == len(set(listed)), module
        assert set(listed) == _declared_in(module), module


def test_the_catalogue_knows_every_shared_event() -> None:
    known = event_types()
    assert all(known[cls.ce_type()] is cls for cls in ALL_EVENTS)


@pytest.mark.parametrize("cls", ALL_EVENTS, ids=lambda c: c.__name__)
def test_type_and_class_name_are_past_tense_facts(cls: type[EventData]) -> None:
    assert TYPE_GRAMMAR.fullmatch(cls.TYPE), cls.TYPE
    assert is_past_tense(cls.TYPE.rsplit(".", 1)[1])
    assert is_past_tense(re.findall(r"[A-Z][a-z]+", cls.__name__)[-1].lower())
    assert cls.VERSION == 1
    assert cls.ce_type() == f"{cls.TYPE}.v1"


@pytest.mark.parametrize("cls", ALL_EVENTS, ids=lambda c: c.__name__)
def test_example_validates_and_round_trips(cls: type[EventData]) -> None:
    assert "EXAMPLE" in vars(cls), "each class has its own example"
    event = cls.model_validate(example(cls))
    assert event.model_dump(mode="json", exclude_none=True) == example(cls)
    assert cls.model_validate_json(event.model_dump_json()) == event


@pytest.mark.parametrize("cls", ALL_EVENTS, ids=lambda c: c.__name__)
def test_subject_is_the_key_field(cls: type[EventData]) -> None:
    event = cls.model_validate(example(cls))
    assert cls.SUBJECT_FIELD in cls.model_fields
    assert event.subject == example(cls)[cls.SUBJECT_FIELD]


@pytest.mark.parametrize("cls", ALL_EVENTS, ids=lambda c: c.__name__)
def test_every_event_names_the_firm_it_speaks_for(cls: type[EventData]) -> None:
    firm_fields = [name for name, field in cls.model_fields.items()
                   if name.endswith("_uscc") and field.is_required()]
    event = cls.model_validate(example(cls))
    assert firm_fields, "a firm-emittable event carries the firm's USCC"
    assert getattr(event, firm_fields[0]) in event.scope().parties


def test_topics_hold_their_families() -> None:
    assert set(BY_TOPIC) == set(SHARED_TOPICS)
    assert sum(len(group) for group in BY_TOPIC.values()) == len(ALL_EVENTS)
    assert all(c.TYPE.startswith("pk.emining.project.") for c in BY_TOPIC[PROJECTS])
    assert all(c.TYPE.startswith("pk.emining.approval.") for c in BY_TOPIC[APPROVALS])
    assert all(c.TYPE.startswith("pk.emining.shipment.") for c in BY_TOPIC[SHIPMENTS])
    assert {t: c.TOPIC for t, c in CORRECTIONS.items()} == {t: t for t in SHARED_TOPICS}


def test_lookup_by_header_refuses_unknown_types_and_wrong_topics() -> None:
    assert event_class("pk.emining.shipment.customs.held.v1") is not None
    with pytest.raises(RecordError) as unknown:
        event_class("pk.emining.shipment.teleported.v1")
    assert unknown.value.reason == "unknown_type"
    with pytest.raises(RecordError) as misplaced:
        event_class("pk.emining.project.registered.v1", SHIPMENTS)
    assert misplaced.value.reason == "wrong_topic"
    parsed = parse("pk.emining.approval.royalty.paid.v1", RoyaltyPaid.EXAMPLE, APPROVALS)
    assert isinstance(parsed, RoyaltyPaid)
    assert parsed.subject == "BA-ML-2028-0012"


def scope_of(cls: type[EventData], **changes: Any) -> Scope:
    return cls.model_validate(example(cls, **changes)).scope()


def test_project_scope_has_the_province_and_the_operator() -> None:
    assert scope_of(ProjectRegistered) == Scope(Province.BALOCHISTAN, None,
                                                frozenset({OPERATOR}))
    sindh = scope_of(ProductionReported, project_id="PRJ-SD-THR-0002")
    assert sindh.province is Province.SINDH
    assert sindh.parties == {OPERATOR}


def test_ownership_change_speaks_for_both_operators() -> None:
    scope = scope_of(OwnershipChanged, new_operator_uscc=PARTNER,
                     new_operator_name={"en": "Shanghai Example Resources Co., Ltd."})
    assert scope.parties == {OPERATOR, PARTNER}


def test_title_scope_comes_from_the_title_number() -> None:
    scope = scope_of(LicenceGranted, title_number="KP-ML-2024-0012")
    assert scope == Scope(Province.KHYBER_PAKHTUNKHWA, TitleType.MINING_LEASE,
                          frozenset({OPERATOR}))
    assert scope_of(LicenceApplicationReceived).title_type is TitleType.EXPLORATION_LICENCE
    assert scope_of(LicenceAssigned).parties == {OPERATOR, PARTNER}


def test_other_approvals_scope() -> None:
    assert scope_of(EnvironmentalApprovalFiled).province is Province.BALOCHISTAN
    assert scope_of(EnvironmentalApprovalFiled).title_type is None
    export = scope_of(ExportApprovalDecided, province="PK-KP")
    assert export.province is Province.KHYBER_PAKHTUNKHWA
    assert export.parties == {OPERATOR}


def test_shipment_scope_has_origin_province_only_when_planned() -> None:
    assert scope_of(ShipmentPlanned).province is Province.BALOCHISTAN
    assert scope_of(LotAssayed) == Scope(None, None, frozenset({OPERATOR}))


def test_corrections_share_their_family_scope() -> None:
    assert scope_of(ProjectCorrected).province is Province.BALOCHISTAN
    assert scope_of(ApprovalCorrected).title_type is TitleType.EXPLORATION_LICENCE
    assert scope_of(ApprovalCorrected, approval_ref="LPCO-2026-000457").province is None
    assert scope_of(ShipmentCorrected).parties == {OPERATOR}


def test_check_correction_matches_replacement_to_the_corrected_type() -> None:
    fix = ProjectCorrected.model_validate(ProjectCorrected.EXAMPLE)
    assert check_correction(fix) is ProductionReported
    wrong = ProjectCorrected.model_validate(
        example(ProjectCorrected, replacement={"ore_milled_tonnes": "1.000"}))
    with pytest.raises(RecordError) as info:
        check_correction(wrong)
    assert info.value.reason == "bad_correction"
    assert "ore_milled_tonnes" in info.value.detail
    rekey = ApprovalCorrected.model_validate(
        example(ApprovalCorrected, replacement={"title_number": "BA-EL-2025-0154"}))
    with pytest.raises(RecordError) as moved:
        check_correction(rekey)
    assert "title_number" in moved.value.detail


def test_events_are_immutable() -> None:
    event = BorderCrossed.model_validate(BorderCrossed.EXAMPLE)
    with pytest.raises(ValidationError) as info:
        event.crossing = BorderCrossing.KHUNJERAB  # type: ignore[misc]
    assert info.value.errors()[0]["type"] == "frozen_instance"


@pytest.mark.parametrize("cls", ALL_EVENTS, ids=lambda c: c.__name__)
def test_every_firm_field_checks_the_uscc_checksum(cls: type[EventData]) -> None:
    for name in [n for n in cls.model_fields if n.endswith("_uscc")]:
        with pytest.raises(ValidationError) as info:
            cls.model_validate(example(cls, **{name: "91650100MA7XK3P2LB"}))
        assert [(e["loc"], e["type"]) for e in info.value.errors()] == [
            ((name,), "uscc_checksum")]
