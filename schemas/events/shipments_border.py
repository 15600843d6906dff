"""Leaving Pakistan: the customs declaration and its outcome, then the border or the ship."""

from __future__ import annotations

from datetime import date, timedelta, timezone
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import model_validator

from schemas.codes import fail
from schemas.common import UtcDatetime
from schemas.enums import Severity
from schemas.events.examples import LOCAL_NTN, LPCO, OPERATOR, SHIPMENT
from schemas.events.shipments import SEAPORTS, ExitPoint, ShipmentEvent
from schemas.events.spec import (
    COMMERCIAL,
    EMITTER,
    PERSONAL,
    EventAlert,
    EventSpec,
    Texts,
    agency,
    either,
    firm,
    party,
    words,
)
from schemas.identifiers import NTN, HSCode, IMONumber, LpcoNumber, Reference
from schemas.lifecycle_steps import SHIPMENT as LIFECYCLE
from schemas.lifecycle_steps import step
from schemas.measures import Items, Label, PositiveMoney, Quantity, Text
from schemas.messages import Emitter, Firm, Ident, Moment, Term

PAKISTAN_TIME = timezone(timedelta(hours=5), "PKT")


class CustomsDeclarationFiled(ShipmentEvent):
    """A goods declaration was filed with Pakistan Customs, citing the LPCOs it relies on.

    ``export_approvals`` may be empty: the bus records what was filed, and an alert rule (not the
    schema) tells customs that a declaration lacks a valid export approval.
    """

    TYPE: ClassVar[str] = "pk.emining.shipment.customs.declaration.filed"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "shipment_id": SHIPMENT, "exporter_uscc": OPERATOR,
        "declaration_number": "KPQE-SB-0012345-14042026", "filed_at": "2026-04-13T08:05:00Z",
        "customs_station": "port_qasim", "hs_code": "26030000",
        "declared_value": {"amount": "11990000.00", "currency": "USD"},
        "quantity": {"wmt": "5400.000", "moisture_pct": "8.5", "dmt": "4941.000"},
        "export_approvals": [LPCO], "declarant_ntn": LOCAL_NTN,
    }

    declaration_number: Reference
    filed_at: UtcDatetime
    customs_station: ExitPoint
    hs_code: HSCode
    declared_value: PositiveMoney
    quantity: Quantity
    export_approvals: Annotated[tuple[LpcoNumber, ...], Items(0, 20, unique=True)]
    declarant_ntn: NTN | None = None


class CustomsDeclarationAmended(ShipmentEvent):
    """The filed declaration now relies on these export approvals (e.g. an LPCO issued after it).

    ``export_approvals`` is the whole set the amended declaration relies on, not an addition.
    """

    TYPE: ClassVar[str] = "pk.emining.shipment.customs.declaration.amended"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "shipment_id": SHIPMENT, "exporter_uscc": OPERATOR,
        "declaration_number": "KPQE-SB-0012345-14042026", "amended_at": "2026-04-14T10:20:00Z",
        "export_approvals": [LPCO], "reason": "Export NOC issued after filing, now attached",
    }

    declaration_number: Reference
    amended_at: UtcDatetime
    export_approvals: Annotated[tuple[LpcoNumber, ...], Items(1, 20, unique=True)]
    reason: Text | None = None


class CustomsCleared(ShipmentEvent):
    TYPE: ClassVar[str] = "pk.emining.shipment.customs.cleared"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "shipment_id": SHIPMENT, "exporter_uscc": OPERATOR,
        "declaration_number": "KPQE-SB-0012345-14042026", "cleared_at": "2026-04-15T12:40:00Z",
        "examined": True,
    }

    declaration_number: Reference
    cleared_at: UtcDatetime
    examined: bool
    """Whether the goods were physically examined before release."""


class HoldReason(StrEnum):
    DOCUMENT_DISCREPANCY = "document_discrepancy"
    MISSING_EXPORT_APPROVAL = "missing_export_approval"
    VALUATION = "valuation"
    CLASSIFICATION = "classification"
    PHYSICAL_EXAMINATION = "physical_examination"
    SAMPLING = "sampling"
    SECURITY = "security"
    OTHER = "other"


class CustomsHeld(ShipmentEvent):
    TYPE: ClassVar[str] = "pk.emining.shipment.customs.held"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "shipment_id": SHIPMENT, "exporter_uscc": OPERATOR,
        "declaration_number": "KPQE-SB-0012345-14042026", "held_at": "2026-04-14T06:30:00Z",
        "reason": "sampling", "detail": "Samples drawn for Cu/Au verification at the port lab",
    }

    declaration_number: Reference
    held_at: UtcDatetime
    reason: HoldReason
    detail: Text


class BorderCrossing(StrEnum):
    KHUNJERAB = "khunjerab"
    """Sost dry port (Pakistan) ⇄ Khunjerab port 红其拉甫口岸 (China)."""


class BorderCrossed(ShipmentEvent):
    """The cargo crossed into China by road.

    By protocol Khunjerab is open from 1 April to 30 November. That is recorded, not enforced:
    a crossing outside the season is a fact to report (``within_protocol_season``), not an
    invalid event.
    """

    TYPE: ClassVar[str] = "pk.emining.shipment.border.crossed"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "shipment_id": "SHP-2026-000124", "exporter_uscc": OPERATOR, "crossing": "khunjerab",
        "crossed_at": "2026-06-02T07:45:00Z", "vehicles": ["XJ-Q-58213", "XJ-Q-58214"],
    }

    crossing: BorderCrossing
    crossed_at: UtcDatetime
    vehicles: Annotated[tuple[Reference, ...], Items(1, 500, unique=True)]

    @property
    def within_protocol_season(self) -> bool:
        """Whether the crossing fell within 1 April - 30 November, Pakistan time."""
        local = self.crossed_at.astimezone(PAKISTAN_TIME).date()
        return date(local.year, 4, 1) <= local <= date(local.year, 11, 30)


class VesselLoaded(ShipmentEvent):
    TYPE: ClassVar[str] = "pk.emining.shipment.vessel.loaded"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "shipment_id": SHIPMENT, "exporter_uscc": OPERATOR, "port": "port_qasim",
        "vessel_name": "MV Example Star", "imo_number": "9074729",
        "bill_of_lading": "PQBL-2026-04-0091", "loaded_at": "2026-04-17T22:10:00Z",
        "quantity": {"wmt": "5400.000", "moisture_pct": "8.5", "dmt": "4941.000"},
        "discharge_port": "Lianyungang",
    }

    port: ExitPoint
    vessel_name: Label
    imo_number: IMONumber
    bill_of_lading: Reference
    loaded_at: UtcDatetime
    quantity: Quantity
    discharge_port: Label

    @model_validator(mode="after")
    def _at_a_seaport(self) -> Self:
        if self.port not in SEAPORTS:
            fail("vessel_port", "a vessel loads at Karachi Port, Port Qasim or Gwadar")
        return self


DECLARANT = firm("exporter (or its customs agent)")
CUSTOMS = agency("Pakistan Customs")

CUSTOMS_HOLD = EventAlert(
    "customs_hold", Severity.WARNING,
    Texts(en="Shipment {shipment} of {exporter} is held by {customs} since {held} (declaration "
             "{declaration}): {reason}.",
          zh="{exporter}的货物 {shipment} 自{held}起被{customs}扣留（报关单 {declaration}）："  # noqa: RUF001
             "{reason}。",
          ur="{exporter} کی کھیپ {shipment} کو {customs} نے {held} سے روک رکھا ہے (ڈیکلریشن "
             "{declaration}): {reason}۔"),  # noqa: RUF001
    (EMITTER, party("exporter_uscc")),
    says=lambda d: {"shipment": Ident(d.shipment_id), "exporter": Firm(d.exporter_uscc),
                    "customs": Emitter(), "held": Moment(d.held_at),
                    "declaration": Ident(d.declaration_number),
                    "reason": Term("hold_reason", d.reason.value)},
    details=lambda d: {"reason": d.reason.value, "detail": d.detail[:200]},
)
"""A customs hold → both sides: the customs office that holds it and the exporter."""

EVENTS: tuple[EventSpec, ...] = (
    EventSpec(CustomsDeclarationFiled, DECLARANT,
              (LIFECYCLE, step({"departed", "held"}, "declared",
                               "at the exit point; after a hold, a fresh declaration replaces "
                               "the held one")),
              detail=lambda d: "relies on " + (", ".join(d.export_approvals)
                                               or "no export approval"),
              rules=("export_without_approval",),
              restricted={"declared_value": COMMERCIAL, "declarant_ntn": PERSONAL}),
    EventSpec(CustomsDeclarationAmended, DECLARANT,
              (LIFECYCLE, step({"declared", "held"}, None,
                               "the declaration now relies on other export approvals (an LPCO "
                               "issued after filing); only before clearance")),
              detail=lambda d: "now relies on " + ", ".join(d.export_approvals),
              rules=("export_without_approval",)),
    EventSpec(CustomsHeld, CUSTOMS,
              (LIFECYCLE, step({None, "declared", "held"}, "held",
                               "only a declared shipment is held, possibly for a second reason; "
                               "on a new file, customs acts on a declaration filed in WeBOC "
                               "before the shipment was on the bus")),
              detail=lambda d: words(d.reason.value), alerts=(CUSTOMS_HOLD,)),
    EventSpec(CustomsCleared, CUSTOMS,
              (LIFECYCLE, step({None, "declared", "held"}, "cleared",
                               "releases every hold; on a new file, as for a hold"))),
    EventSpec(BorderCrossed, either("border post (the dry port at Sost), or the exporter firm"),
              (LIFECYCLE, step({"cleared"}, "crossed_border",
                               "only once customs cleared it: never while held"))),
    EventSpec(VesselLoaded, either("port authority, or the exporter firm (bill of lading)"),
              (LIFECYCLE, step({"cleared"}, "at_sea",
                               "only once customs cleared it: never while held")),
              detail=lambda d: f"{d.vessel_name} for {d.discharge_port}"),
)
"""The registry entries of this module's types (``schemas.events.registry`` gathers them)."""
