"""Which event fields are personal or commercial is declared in each type's registry entry
(``EventSpec.restricted``); ``schemas.access`` derives its table from the registry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from schemas import access
from schemas.access import FieldClass, restricted_fields
from schemas.doc import restricted as doc_cell
from schemas.events.approvals_other import EnvironmentalApprovalDecided, ProtectionOrderIssued
from schemas.events.corrections import Correction, ShipmentCorrected
from schemas.events.projects_reports import OfftakeDelivered
from schemas.events.registry import ENTRIES, RESTRICTED_FIELDS, SPECS
from schemas.events.spec import EventSpec, firm, has_field

ROOT = Path(__file__).resolve().parents[2]

HAND_WRITTEN: dict[str, dict[str, FieldClass]] = {
    "pk.emining.approval.licence.application.received": {
        "applicant.ntn": FieldClass.PERSONAL,
        "applicant.representative_cnic": FieldClass.PERSONAL,
    },
    "pk.emining.project.offtake.delivered": {
        "contract_ref": FieldClass.COMMERCIAL,
    },
    "pk.emining.shipment.planned": {
        "buyer": FieldClass.COMMERCIAL,
        "contract_ref": FieldClass.COMMERCIAL,
    },
    "pk.emining.shipment.customs.declaration.filed": {
        "declared_value": FieldClass.COMMERCIAL,
        "declarant_ntn": FieldClass.PERSONAL,
    },
    "pk.emining.shipment.final.invoiced": {
        "invoice_number": FieldClass.COMMERCIAL,
        "amount": FieldClass.COMMERCIAL,
    },
}
"""``schemas.access.RESTRICTED_FIELDS`` as it was written by hand before the entries declared it
(commit 6a1c8f3): moving the classification changed nothing."""


def test_the_derived_table_is_the_hand_written_one():
    assert access.RESTRICTED_FIELDS == HAND_WRITTEN
    assert access.RESTRICTED_FIELDS is RESTRICTED_FIELDS
    for ce_type, paths in HAND_WRITTEN.items():  # same paths in the same order, same classes
        assert list(RESTRICTED_FIELDS[ce_type].items()) == list(paths.items())
        assert all(type(c) is FieldClass for c in RESTRICTED_FIELDS[ce_type].values())


def test_restricted_fields_takes_a_type_with_or_without_its_version():
    for ce_type, paths in HAND_WRITTEN.items():
        assert restricted_fields(ce_type) == paths
        assert restricted_fields(f"{ce_type}.v1") == paths
        assert restricted_fields(f"{ce_type}.v12") == paths
    assert restricted_fields("pk.emining.shipment.departed.v1") == {}
    assert restricted_fields("pk.emining.no.such.type.v1") == {}
    assert restricted_fields("pk.emining.shipment.planned.vx") == {}  # not a version suffix


def test_every_entry_declares_its_own_types_paths_and_only_those():
    declared = {spec.cls.TYPE: dict(spec.restricted) for spec in ENTRIES if spec.restricted}
    assert declared == RESTRICTED_FIELDS
    assert SPECS["pk.emining.shipment.planned.v1"].restricted == {
        "buyer": FieldClass.COMMERCIAL, "contract_ref": FieldClass.COMMERCIAL}


def _walk(value: Any, path: str) -> Any:
    for part in path.split("."):
        value = value[part]
    return value


def test_every_declared_path_names_a_field_of_the_model_and_the_example_fills_it():
    for spec in ENTRIES:
        for path in spec.restricted:
            assert has_field(spec.cls, path), (spec.cls.TYPE, path)
            assert _walk(spec.cls.EXAMPLE, path) not in (None, "", {}), (spec.cls.TYPE, path)


def test_a_path_is_read_through_nested_models_and_a_typo_is_not_a_field():
    cls = SPECS["pk.emining.approval.licence.application.received.v1"].cls
    assert has_field(cls, "applicant")
    assert has_field(cls, "applicant.representative_cnic")
    assert not has_field(cls, "applicant.representative_cnc")
    assert not has_field(cls, "applicant_ntn")
    assert not has_field(OfftakeDelivered, "contract_ref.number")  # not a model: no inner fields
    assert not has_field(OfftakeDelivered, "")


def test_an_entry_naming_no_field_or_a_shared_one_is_refused_at_import():
    plant = firm("plant")
    with pytest.raises(ValueError, match=r"name no field: \['contract_rf'\]"):
        EventSpec(OfftakeDelivered, plant, restricted={"contract_rf": FieldClass.COMMERCIAL})
    with pytest.raises(ValueError, match=r"personal or commercial: \['contract_ref'\]"):
        EventSpec(OfftakeDelivered, plant, restricted={"contract_ref": FieldClass.SHARED})
    spec = EventSpec(OfftakeDelivered, plant, restricted={"contract_ref": FieldClass.COMMERCIAL})
    assert hash(spec) == hash(EventSpec(OfftakeDelivered, plant))  # entries stay hashable


def test_a_correction_declares_none_its_replacement_follows_the_corrected_type():
    corrections = [spec for spec in ENTRIES if issubclass(spec.cls, Correction)]
    assert len(corrections) == 3
    assert all(spec.restricted == {} for spec in corrections)
    corrected = "pk.emining.approval.licence.application.received.v1"  # a corrected_type
    assert restricted_fields(corrected) == HAND_WRITTEN[corrected.removesuffix(".v1")]


def test_a_protection_order_is_shared_like_the_environmental_decision():
    """Its fields are the file, the proponent firm, the order's reference and dates, stop-work
    and the directions: regulatory acts on an approval, like the decision, none personal or
    commercial. A field added to it must be classified here anew."""
    assert set(ProtectionOrderIssued.model_fields) == {
        "file_number", "proponent_uscc", "order_ref", "issued_on", "comply_by", "stop_work",
        "directions"}
    assert restricted_fields(ProtectionOrderIssued.ce_type()) == {}
    assert restricted_fields(EnvironmentalApprovalDecided.ce_type()) == {}


def test_importing_the_access_module_does_not_load_the_event_models():
    probe = ("import json, sys\nimport schemas.access\n"
             "print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    loaded = set(json.loads(out))
    assert "schemas.access" in loaded
    assert not {"schemas.base", "schemas.events.registry", "pydantic"} & loaded


def test_the_docs_table_names_the_restricted_fields_per_type():
    cls = SPECS["pk.emining.shipment.customs.declaration.filed.v1"].cls
    assert doc_cell(cls) == "``declared_value`` (commercial), ``declarant_ntn`` (personal)"
    assert doc_cell(ProtectionOrderIssued) == "none"
    assert doc_cell(ShipmentCorrected) == "as the corrected type's"
