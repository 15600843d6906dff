"""Shipment events, GS1 EPCIS style: what moved, when, where and why, from plan to final invoice.

Every shipment event is keyed by the shipment id and names the exporting firm's USCC, so a firm's
"own shipments" authority and the routing of alerts to it need nothing but the event itself.
Customs and crossing events live in ``shipments_border``.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import AfterValidator, Field, model_validator

from schemas.base import EventData, Scope
from schemas.codes import fail
from schemas.common import Frozen, Names, Province, UtcDatetime
from schemas.events.examples import BUYER, OPERATOR, PROJECT, SHIPMENT, SMELTER, TITLE
from schemas.events.spec import COMMERCIAL, EventSpec, firm
from schemas.identifiers import (
    USCC,
    ContainerNumber,
    CountryCode,
    HSCode,
    Percentage,
    ProjectId,
    Reference,
    ShipmentId,
    TitleNumber,
    province_of_project,
    province_of_title,
)
from schemas.lifecycle_steps import SHIPMENT as LIFECYCLE
from schemas.lifecycle_steps import SHIPMENT_LIVE, SHIPPED, step
from schemas.measures import (
    Grades,
    Items,
    Label,
    PositiveMoney,
    Product,
    Quantity,
    Tonnes,
    check_heading,
)
from schemas.topics import SHIPMENTS


class ShipmentEvent(EventData):
    """Base of the family: keyed by shipment id, spoken for by the exporter's USCC."""

    TOPIC: ClassVar[str] = SHIPMENTS
    SUBJECT_FIELD: ClassVar[str] = "shipment_id"

    shipment_id: ShipmentId
    exporter_uscc: USCC

    def scope(self) -> Scope:
        return Scope(parties=frozenset({self.exporter_uscc}))


class ExitPoint(StrEnum):
    """Where minerals leave Pakistan."""

    KARACHI_PORT = "karachi_port"
    PORT_QASIM = "port_qasim"
    GWADAR = "gwadar"
    SOST_KHUNJERAB = "sost_khunjerab"
    """Sost dry port and the Khunjerab Pass: the only land crossing, to China."""


SEAPORTS = frozenset({ExitPoint.KARACHI_PORT, ExitPoint.PORT_QASIM, ExitPoint.GWADAR})


class Incoterm(StrEnum):
    """Incoterms 2020."""

    EXW = "EXW"
    FCA = "FCA"
    CPT = "CPT"
    CIP = "CIP"
    DAP = "DAP"
    DPU = "DPU"
    DDP = "DDP"
    FAS = "FAS"
    FOB = "FOB"
    CFR = "CFR"
    CIF = "CIF"


SEA_ONLY_TERMS = frozenset({Incoterm.FAS, Incoterm.FOB, Incoterm.CFR, Incoterm.CIF})
"""Incoterms 2020 reserves these for sea and inland waterway transport."""


class Buyer(Frozen):
    name: Names
    uscc: USCC | None = None
    country: CountryCode


class Destination(Frozen):
    country: CountryCode
    place: Label
    """Discharge port or inland destination, e.g. Lianyungang, Kashgar."""


class ShipmentPlanned(ShipmentEvent):
    """A contract lot was planned for export: the shipment's first event."""

    TYPE: ClassVar[str] = "pk.emining.shipment.planned"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "shipment_id": SHIPMENT, "exporter_uscc": OPERATOR, "contract_ref": "CC-2026-CU-017",
        "buyer": {"name": {"en": "Beijing Example Metals Trading Co., Ltd.",
                           "zh": "北京示例金属贸易有限公司"}, "uscc": BUYER, "country": "CN"},
        "product": "copper_concentrate", "hs_code": "26030000",
        "quantity": {"wmt": "5400.000", "moisture_pct": "8.5", "dmt": "4941.000"},
        "incoterm": "FOB", "origin_province": "PK-BA", "project_id": PROJECT,
        "title_number": TITLE, "exit_point": "port_qasim",
        "destination": {"country": "CN", "place": "Lianyungang"},
        "planned_departure_on": "2026-04-10", "consignee_uscc": SMELTER,
    }

    contract_ref: Reference
    buyer: Buyer
    product: Product
    hs_code: HSCode
    quantity: Quantity
    incoterm: Incoterm
    origin_province: Province
    project_id: ProjectId | None = None
    title_number: TitleNumber | None = None
    exit_point: ExitPoint
    destination: Destination
    planned_departure_on: date
    consignee_uscc: USCC | None = None
    """The receiving plant (a smelter) when it is not the buyer."""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_heading(self.product, self.hs_code)
        if self.project_id and province_of_project(self.project_id) is not self.origin_province:
            fail("project_province_mismatch", "the project is not in the origin province")
        if self.title_number and province_of_title(self.title_number) is not self.origin_province:
            fail("title_province_mismatch", "the title is not in the origin province")
        if self.exit_point is ExitPoint.SOST_KHUNJERAB:
            if self.destination.country != "CN":
                fail("route_land_crossing", "the Khunjerab crossing leads only to China (CN)")
            if self.incoterm in SEA_ONLY_TERMS:
                fail("route_incoterm", "{incoterm} is a sea term; over Khunjerab use FCA, CPT, "
                     "CIP, DAP, DPU or DDP", incoterm=self.incoterm.value)
        return self

    def scope(self) -> Scope:
        return Scope(province=self.origin_province, parties=frozenset({self.exporter_uscc}))


class AssayKind(StrEnum):
    PROVISIONAL = "provisional"
    FINAL = "final"
    UMPIRE = "umpire"


class LotAssayed(ShipmentEvent):
    TYPE: ClassVar[str] = "pk.emining.shipment.lot.assayed"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "shipment_id": SHIPMENT, "exporter_uscc": OPERATOR, "lot_id": "LOT-17-A",
        "assay_kind": "provisional", "laboratory": "Example Minerals Laboratory, Karachi",
        "certificate_number": "EML-26-04411", "sampled_on": "2026-04-03",
        "grades": [{"element": "Cu", "value": "24.6", "unit": "percent"},
                   {"element": "Au", "value": "5.8", "unit": "g/t"}],
        "moisture_pct": "8.5",
    }

    lot_id: Reference
    assay_kind: AssayKind
    laboratory: Label
    certificate_number: Reference
    sampled_on: date
    grades: Grades
    moisture_pct: Percentage


class UnitKind(StrEnum):
    CONTAINER = "container"
    TRUCK = "truck"
    WAGON = "wagon"


class LoadedUnit(Frozen):
    """One container, truck or wagon: containers by ISO 6346 number, vehicles by registration."""

    kind: UnitKind
    container_number: ContainerNumber | None = None
    vehicle_ref: Reference | None = None
    seal_numbers: Annotated[tuple[Reference, ...], Items(1, 4, unique=True)]
    gross_t: Annotated[Tonnes, Field(gt=0)]
    net_wmt: Annotated[Tonnes, Field(gt=0)]

    @model_validator(mode="after")
    def _identified(self) -> Self:
        if (self.kind is UnitKind.CONTAINER) != (self.container_number is not None):
            fail("unit_container", "a container unit, and only one, carries a container_number")
        if self.kind is not UnitKind.CONTAINER and self.vehicle_ref is None:
            fail("unit_vehicle", "a truck or wagon carries its vehicle_ref")
        if self.net_wmt > self.gross_t:
            fail("unit_weights", "net_wmt cannot exceed gross_t")
        return self


def _distinct_containers(units: tuple[LoadedUnit, ...]) -> tuple[LoadedUnit, ...]:
    numbers = [u.container_number for u in units if u.container_number]
    if len(set(numbers)) != len(numbers):
        fail("duplicate_item", "a container is listed twice")
    return units


class LotLoaded(ShipmentEvent):
    TYPE: ClassVar[str] = "pk.emining.shipment.lot.loaded"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "shipment_id": SHIPMENT, "exporter_uscc": OPERATOR, "lot_id": "LOT-17-A",
        "loaded_at": "2026-04-05T11:20:00Z", "place": "Mine concentrate shed, Chagai",
        "units": [
            {"kind": "container", "container_number": "CSQU3054383",
             "seal_numbers": ["PK7781203"], "gross_t": "27.900", "net_wmt": "25.600"},
            {"kind": "truck", "vehicle_ref": "QTA-4471", "seal_numbers": ["PK7781204"],
             "gross_t": "41.000", "net_wmt": "30.150"},
        ],
    }

    lot_id: Reference
    loaded_at: UtcDatetime
    place: Label
    units: Annotated[
        tuple[LoadedUnit, ...], Items(1, 1000),
        AfterValidator(_distinct_containers),
    ]


class TransportMode(StrEnum):
    ROAD = "road"
    RAIL = "rail"


class ShipmentDeparted(ShipmentEvent):
    TYPE: ClassVar[str] = "pk.emining.shipment.departed"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "shipment_id": SHIPMENT, "exporter_uscc": OPERATOR, "departed_at": "2026-04-10T02:00:00Z",
        "from_place": "Mine concentrate shed, Chagai", "mode": "road",
        "expected_at_exit_on": "2026-04-14",
    }

    departed_at: UtcDatetime
    from_place: Label
    mode: TransportMode
    expected_at_exit_on: date | None = None


class ShipmentArrived(ShipmentEvent):
    """Delivered: the outturn (weighed and sampled at destination) settles the invoice."""

    TYPE: ClassVar[str] = "pk.emining.shipment.arrived"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "shipment_id": SHIPMENT, "exporter_uscc": OPERATOR, "arrived_at": "2026-05-09T04:30:00Z",
        "place": "Lianyungang",
        "outturn": {"wmt": "5391.200", "moisture_pct": "8.7", "dmt": "4922.166"},
    }

    arrived_at: UtcDatetime
    place: Label
    outturn: Quantity


class FinalInvoiced(ShipmentEvent):
    TYPE: ClassVar[str] = "pk.emining.shipment.final.invoiced"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "shipment_id": SHIPMENT, "exporter_uscc": OPERATOR, "invoice_number": "INV-CU-2026-0412",
        "invoiced_on": "2026-06-20", "final_dmt": "4922.166",
        "amount": {"amount": "11843550.00", "currency": "USD"},
    }

    invoice_number: Reference
    invoiced_on: date
    final_dmt: Annotated[Tonnes, Field(gt=0)]
    amount: PositiveMoney


EXPORTER = firm("exporter firm")

EVENTS: tuple[EventSpec, ...] = (
    EventSpec(ShipmentPlanned, EXPORTER, (LIFECYCLE, step({None}, "planned", "opens the file")),
              restricted={"buyer": COMMERCIAL, "contract_ref": COMMERCIAL}),
    EventSpec(LotAssayed, EXPORTER,
              (LIFECYCLE, step(SHIPMENT_LIVE, None,
                               "provisional at the mine; final or umpire assays at destination "
                               "come before the final invoice"))),
    EventSpec(LotLoaded, EXPORTER,
              (LIFECYCLE, step({"planned", "loaded"}, "loaded",
                               "at the mine, lot by lot, before the cargo leaves"))),
    EventSpec(ShipmentDeparted, EXPORTER,
              (LIFECYCLE, step({"loaded"}, "departed", "for the exit point, once loaded"))),
    EventSpec(ShipmentArrived, EXPORTER,
              (LIFECYCLE, step(SHIPPED, "arrived", "after it left Pakistan"))),
    EventSpec(FinalInvoiced, EXPORTER,
              (LIFECYCLE, step({"arrived"}, "invoiced", "on the outturn; nothing follows")),
              restricted={"invoice_number": COMMERCIAL, "amount": COMMERCIAL}),
)
"""The registry entries of this module's types (``schemas.events.registry`` gathers them);
the customs and exit steps between departure and arrival are in ``shipments_border``."""
