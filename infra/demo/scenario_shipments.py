"""One shipment's journey, leg by leg, each told by the party that sees it happen.

The exporter plans, assays, loads, dispatches and declares; PSW decides the export approval;
customs clears or holds; the port authority loads the ship or NLC Sost passes the trucks over
Khunjerab; the exporter reports the outturn and the final invoice. A journey stops where the
year ends, and the generator records how far it got.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from consumers.views.models import ApprovalStatus, ShipmentStatus
from infra.demo import scenario_world as w
from infra.demo.scenario_core import Builder, Step
from schemas.base import EventData
from schemas.common import Currency, Money, Province
from schemas.events.approvals_other import ExportApprovalDecided, LpcoStatus, LpcoType
from schemas.events.shipments import (
    AssayKind,
    Buyer,
    Destination,
    ExitPoint,
    FinalInvoiced,
    LoadedUnit,
    LotAssayed,
    LotLoaded,
    ShipmentArrived,
    ShipmentDeparted,
    ShipmentPlanned,
    TransportMode,
    UnitKind,
)
from schemas.events.shipments_border import (
    BorderCrossed,
    BorderCrossing,
    CustomsCleared,
    CustomsDeclarationAmended,
    CustomsDeclarationFiled,
    CustomsHeld,
    HoldReason,
    VesselLoaded,
)
from schemas.measures import Grade, Quantity

VESSELS = (("MV Indus Pearl", 941203), ("MV Karakoram Star", 952418),
           ("MV Gwadar Spirit", 963357), ("MV Lianyun Fortune", 935772),
           ("MV Arabian Crest", 947716), ("MV Makran Trader", 958240))
PRODUCT_CODE = {"blister_copper": "CU", "zinc_concentrate": "ZN", "lead_concentrate": "PB",
                "chromite_ore": "CR", "spodumene_concentrate": "LI"}
BL_CODE = {ExitPoint.PORT_QASIM: "PQBL", ExitPoint.KARACHI_PORT: "KPBL", ExitPoint.GWADAR: "GWBL"}
TARE_T = {UnitKind.CONTAINER: 2.2, UnitKind.TRUCK: 14.5, UnitKind.WAGON: 22.0}
THREE = Decimal("0.001")
PLATES = {Province.BALOCHISTAN: "QTA", Province.KHYBER_PAKHTUNKHWA: "PRA",
          Province.GILGIT_BALTISTAN: "GLT", Province.SINDH: "TKN", Province.PUNJAB: "LES"}
"""Registration prefixes of the trucks that carry the cargo to the exit (illustrative)."""


class YearEndedError(Exception):
    """The journey's next leg falls after the year: it stops where it is."""


def quantity(wmt: Decimal, moisture: Decimal) -> Quantity:
    dmt = (wmt * (100 - moisture) / 100).quantize(THREE)
    return Quantity(wmt=wmt, moisture_pct=moisture, dmt=dmt)


@dataclass(slots=True)
class Journey:
    """A shipment being told: its identity, cargo, the last moment of its story, its state."""

    b: Builder
    site: w.Site
    export: w.Export
    shipment_id: str
    title: str | None
    cargo: Quantity
    at: datetime
    state: ShipmentStatus | None = None
    declaration: str = ""
    outturn: Quantity | None = None

    @property
    def firm(self) -> w.Firm:
        return self.site.firm

    @property
    def sea(self) -> bool:
        return self.export.exit_point is not ExitPoint.SOST_KHUNJERAB

    def later(self, hours: float) -> datetime:
        """``hours`` after the shipment's last event, to the minute."""
        return self.at + timedelta(minutes=round(hours * 60))

    def tell(self, org: str, data: EventData, moment: datetime,
             state: ShipmentStatus | None = None) -> Step:
        """Emit a leg of the shipment (or of its export approval) unless the year is over."""
        if not self.b.within(moment):
            raise YearEndedError
        step = self.b.emit(org, data, moment)
        if data.subject == self.shipment_id:
            self.at = moment
            self.state = state or self.state
        return step

    def ids(self) -> dict[str, str]:
        return {"shipment_id": self.shipment_id, "exporter_uscc": self.firm.uscc}

    # --- the exporter's legs ---------------------------------------------------------------
    def planned(self) -> None:
        b, x = self.b, self.export
        year = b.date_of(self.at).year
        code = PRODUCT_CODE[x.product.value]
        self.tell(self.firm.org, ShipmentPlanned(
            **self.ids(), contract_ref=f"CC-{year}-{code}-{b.serial(f'CC-{year}', 11):03d}",
            buyer=Buyer(name=x.buyer.name, uscc=x.buyer.uscc, country="CN"),
            product=x.product, hs_code=x.hs_code, quantity=self.cargo, incoterm=x.incoterm,
            origin_province=self.site.province, project_id=self.site.project_id,
            title_number=self.title, exit_point=x.exit_point,
            destination=Destination(country="CN", place=x.destination),
            planned_departure_on=b.date_of(self.at) + timedelta(days=7)), self.at,
            ShipmentStatus.PLANNED)

    def assayed(self, hours: float, grades: tuple[Grade, ...] | None = None) -> Step:
        b, x = self.b, self.export
        moment = self.later(hours)
        lab = "".join(word[0] for word in x.laboratory.split(",")[0].split())
        grades = grades or self.grades()
        return self.tell(self.firm.org, LotAssayed(
            **self.ids(), lot_id=self.lot, assay_kind=AssayKind.PROVISIONAL,
            laboratory=x.laboratory,
            certificate_number=f"{lab}-{moment:%y}-{b.rng.randint(10_000, 99_999)}",
            sampled_on=b.date_of(moment) - timedelta(days=1), grades=grades,
            moisture_pct=self.cargo.moisture_pct), moment)

    def grades(self) -> tuple[Grade, ...]:
        return tuple(Grade(element=e, value=self.b.between(lo, hi, 2), unit=unit)
                     for e, lo, hi, unit in self.export.assay)

    @property
    def lot(self) -> str:
        return f"LOT-{self.shipment_id[-6:]}-A"

    def loaded(self, hours: float) -> None:
        self.tell(self.firm.org, LotLoaded(
            **self.ids(), lot_id=self.lot, loaded_at=self.later(hours),
            place=f"Mine stockyard, {self.site.district}", units=self.units()),
            self.later(hours), ShipmentStatus.LOADED)

    def units(self) -> tuple[LoadedUnit, ...]:
        b, x = self.b, self.export
        count = max(1, math.ceil(float(self.cargo.wmt) / x.unit_net_t))
        share = (self.cargo.wmt / count).quantize(THREE)
        nets = [share] * (count - 1) + [self.cargo.wmt - share * (count - 1)]
        seals = b.rng.sample(range(1_000_000, 9_999_999), count)
        tare = Decimal(f"{TARE_T[x.unit]:.3f}")
        if x.unit is UnitKind.CONTAINER:
            containers: list[str] = []
            while len(containers) < count:
                number = b.container("EMB")
                if number not in containers:
                    containers.append(number)
            return tuple(LoadedUnit(kind=x.unit, container_number=number, gross_t=net + tare,
                                    seal_numbers=(f"PK{seal}",), net_wmt=net)
                         for number, seal, net in zip(containers, seals, nets, strict=True))
        plates = b.rng.sample(range(1000, 9999), count)
        return tuple(LoadedUnit(kind=x.unit, vehicle_ref=f"{PLATES[self.site.province]}-{plate}",
                                seal_numbers=(f"PK{seal}",), gross_t=net + tare, net_wmt=net)
                     for plate, seal, net in zip(plates, seals, nets, strict=True))

    def departed(self, hours: float) -> None:
        moment = self.later(hours)
        low, high = self.export.to_exit_days
        self.tell(self.firm.org, ShipmentDeparted(
            **self.ids(), departed_at=moment, from_place=f"Mine stockyard, {self.site.district}",
            mode=TransportMode.ROAD,
            expected_at_exit_on=self.b.date_of(moment) + timedelta(days=math.ceil(high))),
            moment, ShipmentStatus.DEPARTED)
        self.at = moment + timedelta(minutes=round(self.b.rng.uniform(low, high) * 1440))

    def declared(self, hours: float, approvals: tuple[str, ...], value_factor: float = 1.0) -> None:
        b, x = self.b, self.export
        moment = self.later(hours)
        prefix = w.DECLARATION_PREFIX[x.exit_point]
        self.declaration = (f"{prefix}-SB-{b.serial(prefix, 12_001):07d}-"
                            f"{b.date_of(moment):%d%m%Y}")
        value = self.cargo.dmt * x.usd_per_dmt * Decimal(f"{value_factor:.4f}")
        self.tell(self.firm.org, CustomsDeclarationFiled(
            **self.ids(), declaration_number=self.declaration, filed_at=moment,
            customs_station=x.exit_point, hs_code=x.hs_code,
            declared_value=Money(amount=value.quantize(Decimal("0.01")), currency=Currency.USD),
            quantity=self.cargo, export_approvals=approvals, declarant_ntn=self.firm.ntn),
            moment, ShipmentStatus.DECLARED)

    def amended(self, hours: float, approvals: tuple[str, ...], reason: str) -> None:
        """The filed declaration now relies on ``approvals`` (e.g. an NOC issued after it)."""
        moment = self.later(hours)
        self.tell(self.firm.org, CustomsDeclarationAmended(
            **self.ids(), declaration_number=self.declaration, amended_at=moment,
            export_approvals=approvals, reason=reason), moment)

    def arrived(self, days: float) -> None:
        b = self.b
        moment = self.later(24 * days)
        wet = (self.cargo.wmt * Decimal(f"{b.rng.uniform(0.996, 1.002):.4f}")).quantize(THREE)
        moisture = max(Decimal(0), self.cargo.moisture_pct + b.between(-0.2, 0.2, 2))
        self.outturn = quantity(wet, moisture if self.cargo.moisture_pct else Decimal(0))
        self.tell(self.firm.org, ShipmentArrived(
            **self.ids(), arrived_at=moment, place=self.export.destination,
            outturn=self.outturn), moment, ShipmentStatus.ARRIVED)

    def invoiced(self, days: float) -> None:
        b, x = self.b, self.export
        assert self.outturn is not None
        moment = self.b.office(b.day_of(self.at) + days)
        code = PRODUCT_CODE[x.product.value]
        year = b.date_of(moment).year
        self.tell(self.firm.org, FinalInvoiced(
            **self.ids(), invoice_number=f"INV-{code}-{year}-{b.serial(f'INV-{year}', 41):04d}",
            invoiced_on=b.date_of(moment), final_dmt=self.outturn.dmt,
            amount=Money(amount=(self.outturn.dmt * x.usd_per_dmt).quantize(Decimal("0.01")),
                         currency=Currency.USD)), moment, ShipmentStatus.INVOICED)

    # --- the agencies' legs -----------------------------------------------------------------
    def lpco(self, hours: float, status: LpcoStatus, number: str | None = None,
             remarks: str | None = None) -> str:
        """PSW records a step of the export NOC the province's department issues."""
        b, x = self.b, self.export
        moment = self.later(hours)
        year = b.date_of(moment).year
        number = number or f"LPCO-{year}-{b.serial(f'LPCO-{year}', 501):06d}"
        approved = status is LpcoStatus.APPROVED
        self.tell(w.PSW, ExportApprovalDecided(
            lpco_number=number, exporter_uscc=self.firm.uscc, lpco_type=LpcoType.EXPORT_NOC,
            status=status, decided_at=moment, province=self.site.province, hs_code=x.hs_code,
            quantity_t=self.cargo.wmt,
            valid_until=b.date_of(moment) + timedelta(days=90) if approved else None,
            issuing_agency=w.LICENSING[self.site.province], shipment_id=self.shipment_id,
            remarks=remarks), moment)
        b.facts.exports[number] = ApprovalStatus(status.value)
        return number

    def cleared(self, hours: float) -> None:
        moment = self.later(hours)
        self.tell(w.CUSTOMS, CustomsCleared(
            **self.ids(), declaration_number=self.declaration, cleared_at=moment,
            examined=self.b.chance(0.3)), moment, ShipmentStatus.CLEARED)

    def held(self, hours: float, reason: HoldReason, detail: str) -> None:
        moment = self.later(hours)
        self.tell(w.CUSTOMS, CustomsHeld(
            **self.ids(), declaration_number=self.declaration, held_at=moment, reason=reason,
            detail=detail), moment, ShipmentStatus.HELD)

    def left_pakistan(self, hours: float) -> None:
        b, x = self.b, self.export
        moment = self.later(hours)
        if not self.sea:
            count = max(1, math.ceil(float(self.cargo.wmt) / 30))
            trucks = tuple(f"XJQ-{n}" for n in sorted(b.rng.sample(range(10_000, 99_999), count)))
            data = BorderCrossed(**self.ids(), crossing=BorderCrossing.KHUNJERAB,
                                 crossed_at=moment, vehicles=trucks)
            if not data.within_protocol_season:
                raise ValueError(f"{self.shipment_id} would cross Khunjerab out of season")
            self.tell(w.NLC_SOST, data, moment, ShipmentStatus.CROSSED_BORDER)
            b.facts.crossed_khunjerab.append(self.shipment_id)
            return
        name, prefix = b.pick(VESSELS)
        code = BL_CODE[x.exit_point]
        self.tell(w.PORT_AUTHORITY[x.exit_point], VesselLoaded(
            **self.ids(), port=x.exit_point, vessel_name=name, imo_number=b.imo_number(prefix),
            bill_of_lading=f"{code}-{moment:%Y-%m}-{b.serial(code, 91):04d}", loaded_at=moment,
            quantity=self.cargo, discharge_port=x.destination), moment, ShipmentStatus.AT_SEA)
        b.facts.loaded_at_port.setdefault(x.exit_point, []).append(self.shipment_id)
