"""A realistic, deterministic story for the audit: projects, licences, approvals and shipments.

Each project: registered → licence applied, acknowledged (maybe a deficiency and resubmission)
→ granted or refused after a lead time drawn per licensing authority → for granted titles an
EIA filed and decided, construction begun, production and workforce reports, and shipments from
plan to invoice.
Used by the audit's tests (small) and by ``benchmarks/bench_audit.py`` (200k events).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from schemas.base import EventData
from schemas.catalogue import model_for
from schemas.events.approvals_applications import add_years
from tests.unit.audit import parties as pa

T0 = datetime(2024, 1, 8, 4, tzinfo=UTC)
LEAD_DAYS = {pa.BA_MMDD: (35, 150), pa.SD_MMD: (20, 90)}
"""Each licensing authority's range of application→decision days (uniform draw)."""
_PROVINCE = {pa.BA_MMDD: ("BA", "CHG", pa.BA_EPA), pa.SD_MMD: ("SD", "THR", pa.SEPA)}
_ROUTES = (  # product, HS code, exit point, vessel loader (None: by road over Khunjerab)
    ("copper_concentrate", "26030000", "port_qasim", pa.PQA),
    ("copper_concentrate", "26030000", "gwadar", pa.GPA),
    ("chromite_ore", "26100000", "sost_khunjerab", None),
    ("lignite", "27021000", "karachi_port", pa.KPT),
)


@dataclass(frozen=True, slots=True)
class Step:
    """``org`` says ``data`` at ``time``."""

    org: str
    data: EventData
    time: datetime


def event(type_name: str, **changes: Any) -> EventData:
    model = model_for(type_name)
    return model.model_validate({**model.EXAMPLE, **changes})


def _qty(wmt: int) -> dict[str, str]:
    dmt = (Decimal(wmt) * Decimal("0.915")).quantize(Decimal("0.001"))
    return {"wmt": f"{wmt}.000", "moisture_pct": "8.5", "dmt": str(dmt)}


class Story:
    """Builds the steps of ``n`` projects; the same ``seed`` always gives the same story."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.steps: list[Step] = []
        self.shipments = 0

    def add(self, org: str, when: datetime, type_name: str, **changes: Any) -> None:
        self.steps.append(Step(org, event("pk.emining." + type_name, **changes), when))

    def project(self, i: int) -> None:
        rng = self.rng
        authority = pa.BA_MMDD if i % 3 else pa.SD_MMD
        prov, district, epa = _PROVINCE[authority]
        firm = pa.FIRM_A if i % 2 else pa.FIRM_B
        uscc = pa.USCC[firm]
        start = T0 + timedelta(hours=2 * i)
        year = start.year
        serial = f"{i % 9999 + 1:04d}"
        kind = rng.choices(("EL", "ML", "PL"), (6, 3, 2))[0]
        project = f"PRJ-{prov}-{district}-{serial}"
        title = f"{prov}-{kind}-{year}-{serial}"
        own = {"operator_uscc": uscc, "project_id": project}
        minerals = ["copper", "gold"] if prov == "BA" else ["lignite"]
        self.add(firm, start, "project.registered", **own, province=f"PK-{prov}",
                 district="Chagai" if prov == "BA" else "Tharparkar", minerals=minerals,
                 stage="exploration", related_titles=[title])
        received = start + timedelta(days=1)
        lic = {"title_number": title, "holder_uscc": uscc}
        self.add(firm, received, "approval.licence.application.received", **lic,
                 title_type=kind, province=f"PK-{prov}", minerals=minerals, project_id=project,
                 district="Chagai" if prov == "BA" else "Tharparkar",
                 received_at=received.isoformat(), licensing_authority=authority)
        self.add(authority, received + timedelta(days=2), "approval.licence.application."
                 "acknowledged", **lic, acknowledged_at=(received + timedelta(days=2)).isoformat(),
                 decision_due_on=(received + timedelta(days=90)).date().isoformat())
        if rng.random() < 0.3:
            noticed = received + timedelta(days=15)
            self.add(authority, noticed, "approval.licence.deficiency.notified", **lic,
                     notified_on=noticed.date().isoformat(),
                     respond_by=(noticed + timedelta(days=30)).date().isoformat())
            answered = noticed + timedelta(days=10)
            self.add(firm, answered, "approval.licence.application.resubmitted", **lic,
                     resubmitted_at=answered.isoformat())
        decided = received + timedelta(days=rng.randint(*LEAD_DAYS[authority]))
        if rng.random() < 0.1:
            self.add(authority, decided, "approval.licence.refused", **lic,
                     refused_on=decided.date().isoformat(), appealable_until=None)
            return
        granted_on = decided.date()
        self.add(authority, decided, "approval.licence.granted", **lic, minerals=minerals,
                 granted_on=granted_on.isoformat(), term_years=3, conditions=[],
                 expires_on=(add_years(granted_on, 3) - timedelta(days=1)).isoformat())
        self._after_grant(i, firm, uscc, project, title, epa, decided)

    def _after_grant(self, i: int, firm: str, uscc: str, project: str, title: str, epa: str,
                     granted: datetime) -> None:
        prov = title[:2]
        eia = f"EIA-{prov}-{granted.year}-{i % 9999 + 1:04d}"
        filed = granted + timedelta(days=5)
        env = {"file_number": eia, "proponent_uscc": uscc}
        self.add(firm, filed, "approval.environmental.filed", **env, province=f"PK-{prov}",
                 epa=epa, project_id=project, title_number=title,
                 filed_on=filed.date().isoformat(), complete_on=filed.date().isoformat())
        decided = filed + timedelta(days=self.rng.randint(60, 140))
        self.add(epa, decided, "approval.environmental.decided", **env, decision="approved",
                 decided_on=decided.date().isoformat(), conditions=[], reasons=[],
                 valid_until=(decided.date() + timedelta(days=1095)).isoformat())
        own = {"operator_uscc": uscc, "project_id": project}
        building = decided + timedelta(days=1)  # lease and environmental approval in hand
        self.add(firm, building, "project.stage.changed", **own, from_stage="exploration",
                 to_stage="construction", effective_on=building.date().isoformat())
        month = decided + timedelta(days=40)
        self.add(firm, month, "project.production.reported", **own,
                 period=f"{month.year}-{month.month:02d}")
        self.add(firm, month, "project.workforce.reported", **own,
                 period=f"{month.year}-{month.month:02d}")
        for n in range(1 + self.rng.random().__lt__(0.5)):
            self._shipment(firm, uscc, project, title, decided + timedelta(days=30 + 45 * n))

    def _shipment(self, firm: str, uscc: str, project: str, title: str, at: datetime) -> None:
        self.shipments += 1
        prov = title[:2]
        routes = [r for r in _ROUTES if (r[0] == "lignite") == (prov == "SD")]
        product, hs, exit_point, loader = self.rng.choice(routes)
        sid = f"SHP-{at.year}-{self.shipments:06d}"
        lpco = f"LPCO-{at.year}-{self.shipments:06d}"
        wmt = self.rng.randint(20, 60) * 100
        qty = _qty(wmt)
        own = {"shipment_id": sid, "exporter_uscc": uscc}
        land = loader is None
        dest = {"country": "CN", "place": "Kashgar" if land else "Lianyungang"}
        self.add(firm, at, "shipment.planned", **own, product=product, hs_code=hs, quantity=qty,
                 exit_point=exit_point, destination=dest, incoterm="DAP" if land else "FOB",
                 origin_province=f"PK-{prov}", project_id=project, title_number=title,
                 planned_departure_on=(at + timedelta(days=9)).date().isoformat())
        self.add(pa.PSW, at + timedelta(days=1), "approval.export.decided", lpco_number=lpco,
                 exporter_uscc=uscc, province=f"PK-{prov}", hs_code=hs, shipment_id=sid,
                 decided_at=(at + timedelta(days=1)).isoformat(), issuing_agency=pa.PSW,
                 quantity_t=f"{wmt}.000", valid_until=(at + timedelta(days=90)).date().isoformat())
        t = at + timedelta(days=2)
        self.add(firm, t, "shipment.lot.assayed", **own, sampled_on=t.date().isoformat())
        self.add(firm, t + timedelta(days=2), "shipment.lot.loaded", **own,
                 loaded_at=(t + timedelta(days=2)).isoformat())
        self.add(firm, t + timedelta(days=7), "shipment.departed", **own,
                 departed_at=(t + timedelta(days=7)).isoformat())
        filed = t + timedelta(days=9)
        decl = f"DEC-{sid}"
        self.add(firm, filed, "shipment.customs.declaration.filed", **own, quantity=qty,
                 declaration_number=decl, filed_at=filed.isoformat(), hs_code=hs,
                 customs_station=exit_point, export_approvals=[lpco])
        cleared = filed + timedelta(hours=self.rng.randint(6, 96))
        self.add(pa.CUSTOMS, cleared, "shipment.customs.cleared", **own, declaration_number=decl,
                 cleared_at=cleared.isoformat())
        out = cleared + timedelta(days=2)
        if land:
            self.add(pa.SOST, out, "shipment.border.crossed", **own, crossed_at=out.isoformat())
        else:
            self.add(loader, out, "shipment.vessel.loaded", **own, port=exit_point,
                     quantity=qty, loaded_at=out.isoformat())
        arrived = out + timedelta(days=20)
        self.add(firm, arrived, "shipment.arrived", **own, arrived_at=arrived.isoformat(),
                 place=dest["place"], outturn=qty)
        self.add(firm, arrived + timedelta(days=30), "shipment.final.invoiced", **own,
                 invoiced_on=(arrived + timedelta(days=30)).date().isoformat(),
                 final_dmt=qty["dmt"])


def story(projects: int, *, seed: int = 7) -> list[Step]:
    """Every step of ``projects`` projects, in time order (each source's chain follows time)."""
    builder = Story(seed)
    for i in range(projects):
        builder.project(i)
    return sorted(builder.steps, key=lambda s: s.time)


def decided_on(step: Step) -> date | None:
    """The decision date of a licence decision step (for tests computing expected numbers)."""
    return getattr(step.data, "granted_on", None) or getattr(step.data, "refused_on", None)
