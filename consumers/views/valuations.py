"""Export valuations: each shipment's declared customs value beside its final invoice.

What customs and the exporter compare after the outturn: the value declared at the exit point
and the amount finally invoiced on the outturn, each per dry tonne, and how far apart they are.
An invoice well above the declaration (customs value understated) or well below it is flagged.
Both amounts are commercial terms, so a row is shown only to its parties: the exporter, the
competent agencies (customs), auditors and the platform (``Visibility.PARTIES``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from consumers.views.declare import Filter, View, Visibility
from consumers.views.facts import Fact
from consumers.views.models import ViewDoc
from schemas.access import FieldClass
from schemas.common import Money, Province
from schemas.events.shipments import Buyer, FinalInvoiced, Incoterm, ShipmentPlanned
from schemas.events.shipments_border import CustomsDeclarationFiled
from schemas.measures import Product
from schemas.topics import SHIPMENTS

TOLERANCE_PCT = Decimal(5)
"""How far the invoiced value per dry tonne may stray from the declared one before it is
flagged (outturn weights and final assays move the price a little, not more)."""


class Valuation(StrEnum):
    OPEN = "open"
    """No declaration or no final invoice yet."""
    CONSISTENT = "consistent"
    INVOICED_ABOVE_DECLARED = "invoiced_above_declared"
    """The customs value was understated."""
    INVOICED_BELOW_DECLARED = "invoiced_below_declared"
    CURRENCY_DIFFERS = "currency_differs"


class ValuationView(ViewDoc):
    """One shipment's declared customs value and final invoice, per dry tonne."""

    shipment_id: str
    exporter_uscc: str
    origin_province: Province | None = None
    product: Product | None = None
    contract_ref: str | None = None
    buyer: Buyer | None = None
    incoterm: Incoterm | None = None
    declaration_number: str | None = None
    declared_value: Money | None = None
    declared_dmt: Decimal | None = None
    invoice_number: str | None = None
    invoiced_on: date | None = None
    invoiced_amount: Money | None = None
    final_dmt: Decimal | None = None
    declared_per_dmt: Decimal | None = None
    invoiced_per_dmt: Decimal | None = None
    gap_pct: Decimal | None = None
    """Invoiced per dry tonne against declared per dry tonne, in percent (same currency)."""
    status: Valuation = Valuation.OPEN
    updated_at: datetime
    events: int = 0


def _per_dmt(money: Money | None, dmt: Decimal | None) -> Decimal | None:
    return None if money is None or not dmt else (money.amount / dmt).quantize(Decimal("0.01"))


def _judged(view: ValuationView) -> dict[str, Any]:
    declared = _per_dmt(view.declared_value, view.declared_dmt)
    invoiced = _per_dmt(view.invoiced_amount, view.final_dmt)
    out: dict[str, Any] = {"declared_per_dmt": declared, "invoiced_per_dmt": invoiced,
                           "gap_pct": None, "status": Valuation.OPEN}
    if view.declared_value is None or view.invoiced_amount is None:
        return out
    if view.declared_value.currency != view.invoiced_amount.currency:
        return out | {"status": Valuation.CURRENCY_DIFFERS}
    if not declared or invoiced is None:
        return out
    gap = ((invoiced - declared) / declared * 100).quantize(Decimal("0.01"))
    status = (Valuation.INVOICED_ABOVE_DECLARED if gap > TOLERANCE_PCT else
              Valuation.INVOICED_BELOW_DECLARED if gap < -TOLERANCE_PCT else
              Valuation.CONSISTENT)
    return out | {"gap_pct": gap, "status": status}


def apply(view: ValuationView | None, fact: Fact) -> ValuationView:
    data = fact.data
    assert isinstance(data, ShipmentPlanned | CustomsDeclarationFiled | FinalInvoiced)
    if view is None:
        view = ValuationView(shipment_id=data.shipment_id, exporter_uscc=data.exporter_uscc,
                             updated_at=fact.time)
    changes: dict[str, Any]
    match data:
        case ShipmentPlanned():
            changes = {"origin_province": data.origin_province, "product": data.product,
                       "contract_ref": data.contract_ref, "buyer": data.buyer,
                       "incoterm": data.incoterm}
        case CustomsDeclarationFiled():  # a fresh declaration after a hold replaces the first
            changes = {"declaration_number": data.declaration_number,
                       "declared_value": data.declared_value, "declared_dmt": data.quantity.dmt}
        case FinalInvoiced():
            changes = {"invoice_number": data.invoice_number, "invoiced_on": data.invoiced_on,
                       "invoiced_amount": data.amount, "final_dmt": data.final_dmt}
    after = view.model_copy(update={**changes, "updated_at": fact.time, "events": view.events + 1})
    return after.model_copy(update=_judged(after))


def row(view: ValuationView) -> dict[str, object]:
    return {"status": view.status, "province": view.origin_province}


VIEW = View(
    "valuations", (SHIPMENTS,), ValuationView, "shipment_id", apply, "exporter_uscc", row,
    events=(ShipmentPlanned, CustomsDeclarationFiled, FinalInvoiced),
    visibility=Visibility.PARTIES, id_param="shipment_id",
    restricted={"contract_ref": FieldClass.COMMERCIAL, "buyer": FieldClass.COMMERCIAL,
                "declared_value": FieldClass.COMMERCIAL,
                "invoice_number": FieldClass.COMMERCIAL,
                "invoiced_amount": FieldClass.COMMERCIAL,
                "declared_per_dmt": FieldClass.COMMERCIAL,
                "invoiced_per_dmt": FieldClass.COMMERCIAL, "gap_pct": FieldClass.COMMERCIAL},
    filters=(Filter("status", Valuation | None, "status"),
             Filter("exporter", str | None, "party", "exporter's USCC")),
    summary="Export valuations: each shipment's declared customs value beside its final\n"
            "invoice, per dry tonne, and the gap; shown to the exporter, customs and auditors.",
)
