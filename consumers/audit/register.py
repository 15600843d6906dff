"""The public licence register (EITI requirement 2.3) and shipments by commodity, from the views.

EITI 2.3 asks, for each licence: the holder, the coordinates, the application date, the award
date and duration, and the commodity. Coordinates are the boundary of the latest application or
amendment that gave one (WGS84, as WKT ``POLYGON((lon lat, ...))``); duration is the term in
years of the latest grant or renewal.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from consumers.audit.dataset import Dataset
from consumers.audit.leadtimes import local_day
from consumers.views.models import ApprovalKind
from schemas.codes import MINING_HEADINGS

MINERAL_OF_PRODUCT = {
    "copper_concentrate": "copper", "blister_copper": "copper", "gold_dore": "gold",
    "lead_concentrate": "lead", "zinc_concentrate": "zinc", "chromite_ore": "chromite",
    "iron_ore": "iron_ore", "lignite": "lignite", "coal": "coal",
    "spodumene_concentrate": "lithium", "rare_earth_concentrate": "rare_earths",
    "rare_earth_compounds": "rare_earths",
}


@dataclass(frozen=True, slots=True)
class Licence:
    """One row of the licence register."""

    title_number: str
    title_type: str
    status: str
    holder_uscc: str
    holder_name: str
    province: str
    district: str
    coordinates_wkt: str
    area_km2: str
    application_date: str
    award_date: str
    duration_years: str
    expiry_date: str
    commodity: str
    licensing_authority: str
    authority_name: str


def _wkt(boundary: list[dict[str, str]] | None) -> str:
    if not boundary:
        return ""
    return "POLYGON((" + ", ".join(f"{p['lon']} {p['lat']}" for p in boundary) + "))"


def licence_register(data: Dataset) -> list[Licence]:
    rows: list[Licence] = []
    for ref, view in sorted(data.approvals.items()):
        if view.kind is not ApprovalKind.TITLE:
            continue
        application: dict[str, Any] = data.first(ref, "approval.licence.application.received") or {}
        boundary = application.get("boundary")
        for amended in data.all_of(ref, "approval.licence.amended"):
            boundary = amended.get("boundary") or boundary
        terms = [*data.all_of(ref, "approval.licence.granted"),
                 *data.all_of(ref, "approval.licence.renewed")]
        names = application.get("applicant", {}).get("name", {})
        rows.append(Licence(
            title_number=ref, title_type=view.title_type.value if view.title_type else "",
            status=view.status.value if view.status else "", holder_uscc=view.holder_uscc,
            holder_name=data.names.get(view.holder_uscc) or names.get("en", ""),
            province=view.province.value if view.province else "",
            district=str(application.get("district", "")), coordinates_wkt=_wkt(boundary),
            area_km2=str(view.area_km2 or ""),
            application_date=local_day(view.received_at).isoformat() if view.received_at else "",
            award_date=view.granted_on.isoformat() if view.granted_on else "",
            duration_years=str(terms[-1]["term_years"]) if terms else "",
            expiry_date=view.expires_on.isoformat() if view.expires_on else "",
            commodity="; ".join(m.value for m in view.minerals),
            licensing_authority=view.authority or "",
            authority_name=data.name(view.authority),
        ))
    return rows


@dataclass(frozen=True, slots=True)
class ShipmentGroup:
    """Shipments sharing one mineral, HS heading and exit point."""

    mineral: str
    hs_heading: str
    heading_name: str
    exit_point: str
    shipments: int
    dmt: Decimal
    delivered: int


def shipment_groups(data: Dataset) -> list[ShipmentGroup]:
    groups: dict[tuple[str, str, str], list[Any]] = defaultdict(list)
    for view in data.shipments.values():
        product = view.product.value if view.product else "unknown"
        mineral = MINERAL_OF_PRODUCT.get(product, product)
        heading = (view.hs_code or "")[:4] or "-"
        exit_point = view.exit_point.value if view.exit_point else "-"
        groups[(mineral, heading, exit_point)].append(view)
    return [
        ShipmentGroup(mineral, heading, MINING_HEADINGS.get(heading, ""), exit_point,
                      len(views), sum((v.quantity.dmt for v in views if v.quantity), Decimal(0)),
                      sum(1 for v in views if v.arrived_at is not None))
        for (mineral, heading, exit_point), views in sorted(groups.items())
    ]


def totals_by(groups: list[ShipmentGroup], field: str) -> dict[str, tuple[int, Decimal]]:
    """Shipments and dry tonnes per value of ``field`` (mineral, hs_heading or exit_point)."""
    out: dict[str, tuple[int, Decimal]] = {}
    for group in groups:
        key = str(getattr(group, field))
        count, dmt = out.get(key, (0, Decimal(0)))
        out[key] = (count + group.shipments, dmt + group.dmt)
    return dict(sorted(out.items(), key=lambda kv: -kv[1][1]))
