"""The scenario's organisations: fixed keys, the registry seed with their grants, the registry."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from schemas.base import EventData
from schemas.events.examples import BUYER, OPERATOR, PARTNER, SMELTER
from schemas.participants import AuthorityGrantSpec, Organisation, RegistrySeed
from schemas.registry import Registry, backfill_events, seed_events
from schemas.signing import PrivateKey

PLATFORM = "urn:emining:xx:platform:operator"
BA_MMDD = "urn:emining:pk:gov:ba-mmdd"
BA_EPA = "urn:emining:pk:gov:ba-epa"
CUSTOMS = "urn:emining:pk:gov:pak-customs"
FIRMS = {  # org id → USCC
    "urn:emining:cn:ent:xinjiang-example": OPERATOR,
    "urn:emining:cn:ent:shanghai-example": PARTNER,
    "urn:emining:cn:ent:beijing-example": BUYER,
    "urn:emining:cn:ent:guangdong-example": SMELTER,
}
REGISTRY_FROM = datetime(2020, 1, 1, tzinfo=UTC)
T0 = datetime(2025, 1, 6, 4, 0, tzinfo=UTC)

_FIRM_TYPES = (
    "pk.emining.project.*", "pk.emining.shipment.planned", "pk.emining.shipment.lot.*",
    "pk.emining.shipment.departed", "pk.emining.shipment.customs.declaration.filed",
    "pk.emining.shipment.customs.declaration.amended",
    "pk.emining.shipment.border.crossed", "pk.emining.shipment.vessel.loaded",
    "pk.emining.shipment.arrived", "pk.emining.shipment.final.invoiced",
    "pk.emining.shipment.corrected", "pk.emining.approval.licence.application.resubmitted",
    "pk.emining.approval.licence.application.withdrawn",
    "pk.emining.approval.licence.renewal.applied", "pk.emining.approval.licence.surrendered",
    "pk.emining.approval.licence.work.commenced",
    "pk.emining.approval.royalty.paid", "pk.emining.approval.environmental.filed",
    "pk.emining.approval.corrected",
)


def key_of(org: str) -> PrivateKey:
    """A fixed key per organisation: the same scenario signs the same bytes in every run."""
    return PrivateKey(org=org, seed=hashlib.sha256(f"views-test:{org}".encode()).digest())


def _grant(grant_id: str, types: tuple[str, ...], *, provinces: tuple[str, ...] = (),
           own_only: bool = False) -> AuthorityGrantSpec:
    return AuthorityGrantSpec.model_validate({"id": grant_id, "event_types": types,
                                              "provinces": provinces, "own_only": own_only})


def registry_seed() -> RegistrySeed:
    orgs = [
        Organisation.model_validate({
            "id": BA_MMDD, "names": {"en": "Mines & Minerals Development Dept, Balochistan"},
            "side": "PK", "role": "agency",
            "authorities": [_grant("ba-licensing", ("pk.emining.approval.licence.*",
                                                    "pk.emining.approval.royalty.assessed",
                                                    "pk.emining.approval.export.decided",
                                                    "pk.emining.approval.corrected"),
                                   provinces=("PK-BA",))]}),
        Organisation.model_validate({
            "id": BA_EPA, "names": {"en": "Balochistan Environmental Protection Agency"},
            "side": "PK", "role": "agency",
            "authorities": [_grant("ba-environment", ("pk.emining.approval.environmental.decided",
                                                      "pk.emining.approval.corrected"),
                                   provinces=("PK-BA",))]}),
        Organisation.model_validate({
            "id": CUSTOMS, "names": {"en": "Pakistan Customs"}, "side": "PK", "role": "agency",
            "authorities": [_grant("customs", ("pk.emining.shipment.customs.cleared",
                                               "pk.emining.shipment.customs.held"))]}),
    ]
    orgs += [Organisation.model_validate({
        "id": org, "names": {"en": f"{org.rsplit(':', 1)[-1]} Co., Ltd."}, "side": "CN",
        "role": "firm", "language": "zh", "uscc": uscc,
        "authorities": [_grant("own-business", _FIRM_TYPES, own_only=True)],
    }) for org, uscc in FIRMS.items()]
    return RegistrySeed(platform=PLATFORM, organisations=tuple(orgs))


HISTORY = (REGISTRY_FROM, datetime(2026, 11, 1, tzinfo=UTC))
"""The scenario's history: every organisation may load events dated in it (a backfill window
open from ``REGISTRY_FROM`` for a century, so that the same registry events sign the same bytes
in every run). Later dates are judged by the skew: a test can still be refused as time_skew."""


def registry_events() -> list[EventData]:
    keys = {org.id: key_of(org.id).public_key for org in registry_seed().organisations}
    return [*seed_events(registry_seed(), keys, REGISTRY_FROM),
            *backfill_events(keys, "scenario-history", HISTORY,
                             (REGISTRY_FROM, datetime(2120, 1, 1, tzinfo=UTC)),
                             "the test scenario's history")]


def registry() -> Registry:
    built = Registry()
    for event in registry_events():
        built.apply(event, REGISTRY_FROM)
    return built
