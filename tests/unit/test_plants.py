"""Plants as projects: kinds, declared inputs and outputs, and the offtake event's rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.access import FieldClass, restricted_fields
from schemas.authority import decide
from schemas.events.examples import OPERATOR, PARTNER, PLANT, PROJECT
from schemas.events.projects import ProjectKind, ProjectRegistered
from schemas.events.projects_reports import OfftakeDelivered
from schemas.measures import Product, check_heading
from tests.integration.views import scenario

SNAPSHOTS = Path(__file__).parents[2] / "schemas" / "snapshots"
AT = datetime(2026, 6, 1, 9, tzinfo=UTC)
MINE_FIRM = "urn:emining:cn:ent:xinjiang-example"  # OPERATOR: runs the mine
PLANT_FIRM = "urn:emining:cn:ent:shanghai-example"  # PARTNER: runs the smelter


def _registered(**fields: Any) -> ProjectRegistered:
    return ProjectRegistered.model_validate({**ProjectRegistered.EXAMPLE, **fields})


def _smelter(**fields: Any) -> ProjectRegistered:
    return _registered(**{"project_id": PLANT, "operator_uscc": PARTNER, "kind": "smelter",
                          "inputs": ["copper_concentrate"], "outputs": ["blister_copper"],
                          "capacity": {"tonnes_per_year": "200000.000",
                                       "product": "copper_concentrate"}, **fields})


def _code(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return str(exc.value.errors()[0]["type"])


def test_a_registration_from_before_kinds_is_a_mine_with_no_inputs():
    first = json.loads((SNAPSHOTS / "pk.emining.project.registered.v1.json").read_text())
    old = first["examples"][0]
    assert "kind" not in old
    project = ProjectRegistered.model_validate(old)
    assert project.kind is ProjectKind.MINE
    assert (project.inputs, project.outputs, project.capacity) == ((), (), None)


def test_a_smelter_declares_what_it_takes_and_makes():
    plant = _smelter()
    assert plant.kind is ProjectKind.SMELTER
    assert plant.inputs == (Product.COPPER_CONCENTRATE,)
    assert plant.outputs == (Product.BLISTER_COPPER,)
    assert plant.capacity is not None
    assert str(plant.capacity.tonnes_per_year) == "200000.000"


@pytest.mark.parametrize(("fields", "code"), [
    ({"kind": "mine", "inputs": ["copper_concentrate"]}, "project_mine_inputs"),
    ({"inputs": []}, "project_plant_inputs"),
    ({"outputs": []}, "project_plant_outputs"),
    ({"kind": "refinery", "inputs": ["blister_copper"],
      "outputs": ["copper_cathode", "blister_copper"], "capacity": None},
     "project_product_in_and_out"),
    ({"capacity": {"tonnes_per_year": "1000", "product": "ferrochrome"}},
     "project_capacity_product"),
])
def test_inconsistent_kinds_inputs_and_outputs_are_refused(fields, code):
    with pytest.raises(ValidationError) as exc:
        _smelter(**fields)
    assert _code(exc) == code


def test_a_mine_may_declare_outputs_but_no_inputs():
    mine = _registered(outputs=["copper_concentrate", "gold_dore"], inputs=[])
    assert mine.kind is ProjectKind.MINE
    assert mine.outputs == (Product.COPPER_CONCENTRATE, Product.GOLD_DORE)
    with pytest.raises(ValidationError) as exc:
        _registered(kind="quarry")
    assert _code(exc) == "enum"


def test_an_unknown_or_twice_listed_product_is_refused():
    with pytest.raises(ValidationError) as exc:
        _smelter(inputs=["copper_concentrate", "copper_concentrate"])
    assert _code(exc) == "duplicate_item"
    with pytest.raises(ValidationError):
        _smelter(outputs=["copper_wire"])


def test_plant_products_carry_their_own_hs_headings():
    check_heading(Product.COPPER_CATHODE, "74031100")
    check_heading(Product.FERROCHROME, "72024100")
    with pytest.raises(ValueError, match="HS heading 2610 does not fit ferrochrome: expected 7202"):
        check_heading(Product.FERROCHROME, "26100000")


def test_the_offtake_example_names_plant_and_supplier():
    event = OfftakeDelivered.model_validate(OfftakeDelivered.EXAMPLE)
    assert (event.project_id, event.operator_uscc) == (PLANT, PARTNER)
    assert (event.supplier_project_id, event.supplier_uscc) == (PROJECT, OPERATOR)
    assert event.subject == PLANT
    assert event.scope().parties == frozenset({PARTNER})  # only the plant's operator speaks


def test_a_project_does_not_deliver_to_itself():
    with pytest.raises(ValidationError) as exc:
        OfftakeDelivered.model_validate({**OfftakeDelivered.EXAMPLE,
                                         "supplier_project_id": PLANT})
    assert _code(exc) == "offtake_same_project"


def test_wet_and_dry_tonnes_of_a_delivery_must_agree():
    with pytest.raises(ValidationError) as exc:
        OfftakeDelivered.model_validate({**OfftakeDelivered.EXAMPLE, "quantity": {
            "wmt": "5400.000", "moisture_pct": "8.5", "dmt": "5400.000"}})
    assert "quantity_dry_wet" in str(exc.value)


def test_only_the_receiving_plants_operator_may_report_a_delivery():
    registry = scenario.registry()
    delivery = OfftakeDelivered.model_validate(OfftakeDelivered.EXAMPLE)
    assert decide(registry, PLANT_FIRM, delivery, AT).allowed
    # the supplying mine's operator may not speak for the plant
    refused = decide(registry, MINE_FIRM, delivery, AT)
    assert not refused.allowed
    assert "own subjects only" in refused.reason
    assert not decide(registry, scenario.BA_MMDD, delivery, AT).allowed
    assert not decide(registry, scenario.CUSTOMS, delivery, AT).allowed


def test_the_offtake_contract_is_commercial():
    assert restricted_fields("pk.emining.project.offtake.delivered.v1") == {
        "contract_ref": FieldClass.COMMERCIAL}
