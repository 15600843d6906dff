"""The shipments view: where each shipment is, what holds it, and the approvals it relies on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from consumers.views.facts import Fact
from consumers.views.models import Declaration, Hold, Leg, LegStage, ShipmentStatus, ShipmentView
from schemas.base import EventData
from schemas.events.corrections import ShipmentCorrected
from schemas.events.shipments import (
    FinalInvoiced,
    LotAssayed,
    LotLoaded,
    ShipmentArrived,
    ShipmentDeparted,
    ShipmentEvent,
    ShipmentPlanned,
)
from schemas.events.shipments_border import (
    BorderCrossed,
    CustomsCleared,
    CustomsDeclarationAmended,
    CustomsDeclarationFiled,
    CustomsHeld,
    VesselLoaded,
)

NO_EXPORT_APPROVAL = "declared_without_export_approval"
OUT_OF_SEASON = "crossed_outside_protocol_season"


def party(view: ShipmentView) -> str:
    return view.exporter_uscc


def row(view: ShipmentView) -> dict[str, object]:
    """The stored columns lists filter on."""
    return {"status": view.status, "province": view.origin_province, "on_hold": view.on_hold}


def _exit(view: ShipmentView) -> str:
    return view.exit_point.value if view.exit_point else "exit point"


def _destination(view: ShipmentView) -> str:
    return view.destination.place if view.destination else "destination"


def _flag(view: ShipmentView, exception: str) -> tuple[str, ...]:
    return view.exceptions if exception in view.exceptions else (*view.exceptions, exception)


def _planned(data: ShipmentPlanned) -> dict[str, Any]:
    return {
        "status": ShipmentStatus.PLANNED, "contract_ref": data.contract_ref, "buyer": data.buyer,
        "product": data.product, "hs_code": data.hs_code, "quantity": data.quantity,
        "incoterm": data.incoterm, "origin_province": data.origin_province,
        "project_id": data.project_id, "title_number": data.title_number,
        "exit_point": data.exit_point, "destination": data.destination,
        "planned_departure_on": data.planned_departure_on,
        "leg": Leg(stage=LegStage.AT_ORIGIN, origin=data.origin_province.value,
                   destination=data.exit_point.value),
    }


def _declared(view: ShipmentView, data: CustomsDeclarationFiled) -> dict[str, Any]:
    station = data.customs_station.value
    changes: dict[str, Any] = {
        "status": ShipmentStatus.DECLARED,
        "declaration": Declaration(
            number=data.declaration_number, filed_at=data.filed_at,
            customs_station=data.customs_station, declared_value=data.declared_value,
            export_approvals=data.export_approvals,
        ),
        "approvals": data.export_approvals,
        "leg": Leg(stage=LegStage.AT_EXIT, origin=station, destination=station),
    }
    if not data.export_approvals:
        changes["exceptions"] = _flag(view, NO_EXPORT_APPROVAL)
    return changes


def refusal(view: ShipmentView | None, data: EventData) -> str | None:
    """Why the shipment as it stands cannot take ``data``, beyond its lifecycle: an amendment,
    a clearance or a hold naming another declaration than the one filed for it."""
    if not isinstance(data, CustomsDeclarationAmended | CustomsCleared | CustomsHeld):
        return None
    filed = view.declaration.number if view is not None and view.declaration else None
    if filed is None or data.declaration_number == filed:
        return None
    return (f"{data.TYPE.removeprefix('pk.emining.')}: names declaration "
            f"{data.declaration_number}, but {data.shipment_id}'s filed declaration is {filed}")


def _amended(view: ShipmentView, data: CustomsDeclarationAmended) -> dict[str, Any]:
    """The approvals relied on are now the amendment's; the 'without approval' flag goes."""
    changes: dict[str, Any] = {
        "approvals": data.export_approvals,
        "exceptions": tuple(e for e in view.exceptions if e != NO_EXPORT_APPROVAL),
    }
    if view.declaration is not None:
        changes["declaration"] = view.declaration.model_copy(
            update={"number": data.declaration_number,
                    "export_approvals": data.export_approvals})
    return changes


def _held(view: ShipmentView, data: CustomsHeld) -> dict[str, Any]:
    hold = Hold(declaration_number=data.declaration_number, held_at=data.held_at,
                reason=data.reason.value, detail=data.detail)
    return {"status": ShipmentStatus.HELD, "holds": (*view.holds, hold), "on_hold": True}


def _cleared(view: ShipmentView, data: CustomsCleared) -> dict[str, Any]:
    holds = tuple(
        h.model_copy(update={"released_at": data.cleared_at}) if h.released_at is None else h
        for h in view.holds
    )
    return {"status": ShipmentStatus.CLEARED, "holds": holds, "on_hold": False,
            "cleared_at": data.cleared_at}


def _crossed(view: ShipmentView, data: BorderCrossed) -> dict[str, Any]:
    changes: dict[str, Any] = {
        "status": ShipmentStatus.CROSSED_BORDER, "departed_country_at": data.crossed_at,
        "leg": Leg(stage=LegStage.ABROAD, origin=data.crossing.value,
                   destination=_destination(view)),
    }
    if not data.within_protocol_season:
        changes["exceptions"] = _flag(view, OUT_OF_SEASON)
    return changes


def _loaded(view: ShipmentView, data: LotLoaded) -> dict[str, Any]:
    changes: dict[str, Any] = {"loaded_units": view.loaded_units + len(data.units)}
    if view.status in {None, ShipmentStatus.PLANNED}:
        changes["status"] = ShipmentStatus.LOADED
    return changes


Handler = Callable[[ShipmentView, Any], dict[str, Any]]

HANDLERS: dict[type[EventData], Handler] = {
    ShipmentPlanned: lambda _, data: _planned(data),
    LotAssayed: lambda view, data: {"assays": {**view.assays, data.lot_id: data.grades}},
    LotLoaded: _loaded,
    ShipmentDeparted: lambda view, data: {
        "status": ShipmentStatus.DEPARTED, "departed_at": data.departed_at,
        "leg": Leg(stage=LegStage.TO_EXIT, origin=data.from_place, destination=_exit(view))},
    CustomsDeclarationFiled: _declared,
    CustomsDeclarationAmended: _amended,
    CustomsHeld: _held,
    CustomsCleared: _cleared,
    BorderCrossed: _crossed,
    VesselLoaded: lambda _, data: {
        "status": ShipmentStatus.AT_SEA, "vessel": data.vessel_name,
        "bill_of_lading": data.bill_of_lading, "departed_country_at": data.loaded_at,
        "leg": Leg(stage=LegStage.ABROAD, origin=data.port.value,
                   destination=data.discharge_port)},
    ShipmentArrived: lambda _, data: {
        "status": ShipmentStatus.ARRIVED, "arrived_at": data.arrived_at,
        "outturn": data.outturn,
        "leg": Leg(stage=LegStage.DELIVERED, origin=data.place, destination=data.place)},
    FinalInvoiced: lambda _, data: {
        "status": ShipmentStatus.INVOICED, "invoice_number": data.invoice_number,
        "invoiced_amount": data.amount},
}
"""Event type → the changes it makes to its shipment's view."""


def apply(view: ShipmentView | None, fact: Fact) -> ShipmentView:
    """The shipment after ``fact``. Total: an event about an unknown shipment starts its view."""
    data = fact.data
    assert isinstance(data, ShipmentEvent)
    assert not isinstance(data, ShipmentCorrected), "corrections are applied by re-folding"
    if view is None:
        view = ShipmentView(shipment_id=data.shipment_id, exporter_uscc=data.exporter_uscc,
                            updated_at=fact.time)
    handler = HANDLERS.get(type(data))
    changes = handler(view, data) if handler else {}
    changes.update(updated_at=fact.time, events=view.events + 1)
    return view.model_copy(update=changes)
