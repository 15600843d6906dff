"""The audit scenario's parties: synthetic agencies and firms with keys and demo-like grants."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from schemas.base import EventData
from schemas.participants import AuthorityGrantSpec, Organisation, RegistrySeed
from schemas.registry import Registry, seed_events
from schemas.signing import PrivateKey

OPERATOR_ORG = "urn:emining:xx:platform:operator"
BA_MMDD = "urn:emining:pk:gov:ba-mmdd"
SD_MMD = "urn:emining:pk:gov:sd-mmd"
BA_EPA = "urn:emining:pk:gov:ba-epa"
SEPA = "urn:emining:pk:gov:sepa"
PSW = "urn:emining:pk:gov:psw"
CUSTOMS = "urn:emining:pk:gov:customs"
PQA = "urn:emining:pk:gov:pqa"
KPT = "urn:emining:pk:gov:kpt"
GPA = "urn:emining:pk:gov:gpa"
SOST = "urn:emining:pk:gov:nlc-sost"
FIRM_A = "urn:emining:cn:ent:mcc-resources"
FIRM_B = "urn:emining:cn:ent:huaye-lasbela"
USCC = {FIRM_A: "91650100MA7XK3P2LA", FIRM_B: "91310000MA1FL8QW3Y"}

VALID_FROM = datetime(2020, 1, 1, tzinfo=UTC)

_LICENSING = (
    "pk.emining.approval.licence.application.acknowledged",
    "pk.emining.approval.licence.deficiency.notified",
    "pk.emining.approval.licence.granted",
    "pk.emining.approval.licence.refused",
    "pk.emining.approval.corrected",
)
_FIRM = (
    "pk.emining.project.*",
    "pk.emining.approval.licence.application.received",
    "pk.emining.approval.licence.application.resubmitted",
    "pk.emining.approval.environmental.filed",
    "pk.emining.shipment.planned",
    "pk.emining.shipment.lot.*",
    "pk.emining.shipment.departed",
    "pk.emining.shipment.customs.declaration.filed",
    "pk.emining.shipment.arrived",
    "pk.emining.shipment.final.invoiced",
)
_GRANTS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    BA_MMDD: ("ba-licensing", _LICENSING, ("PK-BA",)),
    SD_MMD: ("sd-licensing", _LICENSING, ("PK-SD",)),
    BA_EPA: ("ba-environment", ("pk.emining.approval.environmental.decided",), ("PK-BA",)),
    SEPA: ("sd-environment", ("pk.emining.approval.environmental.decided",), ("PK-SD",)),
    PSW: ("psw-lpco", ("pk.emining.approval.export.decided",), ()),
    CUSTOMS: ("customs", ("pk.emining.shipment.customs.cleared",
                          "pk.emining.shipment.customs.held"), ()),
    PQA: ("pqa-vessels", ("pk.emining.shipment.vessel.loaded",), ()),
    KPT: ("kpt-vessels", ("pk.emining.shipment.vessel.loaded",), ()),
    GPA: ("gpa-vessels", ("pk.emining.shipment.vessel.loaded",), ()),
    SOST: ("sost-border", ("pk.emining.shipment.border.crossed",), ()),
}
NAMES = {
    BA_MMDD: "Mines & Minerals Development Department, Balochistan",
    SD_MMD: "Mines & Minerals Department, Sindh",
    BA_EPA: "Balochistan Environmental Protection Agency",
    SEPA: "Sindh Environmental Protection Agency",
    PSW: "Pakistan Single Window",
    CUSTOMS: "Pakistan Customs (FBR)",
    PQA: "Port Qasim Authority",
    KPT: "Karachi Port Trust",
    GPA: "Gwadar Port Authority",
    SOST: "NLC Sost Dry Port",
    FIRM_A: "MCC Chagai Resources Co., Ltd.",
    FIRM_B: "Huaye Lasbela Mining Co., Ltd.",
}


def _organisation(org: str) -> Organisation:
    firm = org in USCC
    grants = (
        [{"id": "own-operations", "event_types": _FIRM, "own_only": True}] if firm
        else [{"id": g, "event_types": t, "provinces": p}
              for g, t, p in [_GRANTS[org]]]
    )
    return Organisation.model_validate({
        "id": org, "names": {"en": NAMES[org]}, "side": "CN" if firm else "PK",
        "role": "firm" if firm else "agency", "uscc": USCC.get(org),
        "authorities": [AuthorityGrantSpec.model_validate(g) for g in grants],
    })


@dataclass(slots=True)
class Parties:
    """Every organisation's key (the operator's is the trust anchor) and the registry events."""

    keys: dict[str, PrivateKey] = field(default_factory=dict)

    @classmethod
    def generate(cls) -> Parties:
        orgs = [OPERATOR_ORG, *NAMES]
        return cls(keys={org: PrivateKey.generate(org) for org in orgs})

    @property
    def operator(self) -> PrivateKey:
        return self.keys[OPERATOR_ORG]

    @property
    def trust_anchor(self) -> list[bytes]:
        return [self.operator.public_key]

    def seed(self) -> RegistrySeed:
        return RegistrySeed(platform=OPERATOR_ORG,
                            organisations=tuple(_organisation(org) for org in NAMES))

    def registry_events(self) -> list[EventData]:
        keys = {org: k.public_key for org, k in self.keys.items() if org != OPERATOR_ORG}
        return seed_events(self.seed(), keys, VALID_FROM)

    def registry(self) -> Registry:
        registry = Registry()
        for event in self.registry_events():
            registry.apply(event, VALID_FROM)
        return registry
