"""The access policy as pure rules: who is admitted, who sees a row's restricted fields."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from consumers.access_http import unruled
from consumers.policy import (
    ROUTES,
    Refusal,
    Row,
    admit,
    entitled,
    redact_entry,
    redact_view,
    rule_for,
)
from infra.compose.app import build_app
from infra.settings import Settings
from schemas.access import ANONYMOUS, AuthMethod, Principal, UserRole, restricted_fields
from schemas.alerts import PLATFORM_ORG
from schemas.common import Names, Role, Side
from schemas.participants import AuthorityGranted, OrganisationOffboarded, OrganisationOnboarded
from schemas.registry import Registry
from schemas.signing import PrivateKey, b64

T0 = datetime(2024, 1, 1, tzinfo=UTC)
BA_MMDD = "urn:emining:pk:gov:ba-mmdd"
SINDH = "urn:emining:pk:gov:sindh-mmd"
FIRM = "urn:emining:cn:ent:acme"
FIRM_USCC = "91650100MA7XK3P2LA"
AUDITOR = "urn:emining:xx:aud:eiti"
GONE = "urn:emining:cn:ent:gone"


def _registry() -> Registry:
    registry = Registry()
    for org, role, side in ((BA_MMDD, Role.AGENCY, Side.PK), (SINDH, Role.AGENCY, Side.PK),
                            (FIRM, Role.FIRM, Side.CN), (AUDITOR, Role.AUDITOR, Side.PK),
                            (GONE, Role.FIRM, Side.CN)):
        registry.apply(OrganisationOnboarded(
            org_id=org, names=Names(en=org), side=side, role=role,
            uscc=FIRM_USCC if org == FIRM else None), T0)
    for org, province in ((BA_MMDD, "PK-BA"), (SINDH, "PK-SD")):
        registry.apply(AuthorityGranted(
            org_id=org, grant_id="licensing", event_types=("pk.emining.approval.licence.*",),
            provinces=(province,), valid_from=T0), T0)
    registry.apply(OrganisationOffboarded(org_id=GONE, reason="left", effective_at=T0), T0)
    return registry


def _as(org: str | None, *roles: UserRole) -> Principal:
    if org is None:
        return ANONYMOUS
    return Principal(org=org, roles=frozenset(roles or {UserRole.OFFICER}), subject="someone",
                     method=AuthMethod.SESSION)


def _admit(principal: Principal, method: str, path: str) -> int:
    try:
        admit(rule_for(method, path), principal, _registry(), method, path)
    except Refusal as refusal:
        return refusal.status
    return 200


@pytest.mark.parametrize(("principal", "method", "path", "status"), [
    (_as(None), "GET", "/v1/shipments", 401),
    (_as(None), "GET", "/v1/public/licences", 200),
    (_as(FIRM), "GET", "/v1/shipments", 200),
    (_as(GONE), "GET", "/v1/shipments", 403),  # offboarded: no longer a participant
    (_as("urn:emining:cn:ent:unknown"), "GET", "/v1/shipments", 403),
    (_as(FIRM, UserRole.AUDITOR), "POST", "/v1/events", 403),  # a firm's auditor reads only
    (_as(FIRM, UserRole.OFFICER), "POST", "/v1/events", 200),
    (_as(AUDITOR, UserRole.MACHINE), "POST", "/v1/events", 403),  # auditor orgs never act
    (_as(FIRM, UserRole.OFFICER), "POST", "/v1/webhooks", 403),  # managers only
    (_as(FIRM, UserRole.MANAGER), "POST", "/v1/webhooks", 200),
    (_as(FIRM, UserRole.MANAGER), "GET", "/v1/audit/reads", 403),
    (_as(AUDITOR, UserRole.AUDITOR), "GET", "/v1/audit/reads", 200),
    (_as(PLATFORM_ORG, UserRole.OPERATOR), "GET", "/metrics", 200),  # not in the registry
    (_as(BA_MMDD, UserRole.MANAGER), "GET", "/metrics", 403),
    (_as(FIRM), "GET", "/v1/a-route-nobody-wrote-a-rule-for", 403),
])
def test_admission_follows_the_route_table(principal, method, path, status):
    assert _admit(principal, method, path) == status


def test_head_follows_get():
    assert rule_for("HEAD", "/v1/projects") is ROUTES[("GET", "/v1/projects")]


@pytest.mark.parametrize(("org", "row", "sees"), [
    (FIRM, Row("approvals", FIRM_USCC, "PK-SD", "title"), True),  # the holder itself
    (BA_MMDD, Row("approvals", "91110000100000000X", "PK-BA", "title"), True),  # competent
    (SINDH, Row("approvals", "91110000100000000X", "PK-BA", "title"), False),  # other province
    (BA_MMDD, Row("approvals", "91110000100000000X", "PK-BA", "environmental"), False),
    (BA_MMDD, Row("shipments", "91110000100000000X", "PK-BA"), False),  # no shipment grant
    (AUDITOR, Row("shipments", "91110000100000000X", "PK-BA"), True),
    (FIRM, Row("shipments", "91110000100000000X", "PK-BA"), False),  # another exporter's
])
def test_restricted_fields_are_for_the_party_the_competent_agency_and_auditors(org, row, sees):
    registry = _registry()
    assert entitled(registry.orgs[org], row) is sees


def test_a_redacted_shipment_keeps_shared_fields_and_names_what_it_withheld():
    doc = {"shipment_id": "SHP-2026-000001", "status": "held", "contract_ref": "CC-1",
           "buyer": {"name": {"en": "Buyer"}}, "invoice_number": None,
           "declaration": {"number": "D1", "declared_value": {"amount": "5", "currency": "USD"}}}
    out, withheld = redact_view("shipments", doc)
    assert out["status"] == "held"
    assert out["buyer"] is None
    assert out["contract_ref"] is None
    assert out["declaration"] == {"number": "D1", "declared_value": None}
    assert sorted(withheld) == ["buyer", "contract_ref", "declaration.declared_value"]
    assert doc["buyer"] == {"name": {"en": "Buyer"}}  # the stored document is untouched


def test_a_redacted_timeline_entry_loses_restricted_event_fields_in_both_forms():
    data = {"applicant": {"name": {"en": "X"}, "ntn": "1234567-8",
                          "representative_cnic": "35202-1234567-1"}, "title_number": "BA-EL-1"}
    item = {"type": "pk.emining.approval.licence.application.received.v1", "data": data,
            "effective": data}
    out, withheld = redact_entry(item)
    assert out["data"]["applicant"] == {"name": {"en": "X"}}
    assert out["effective"]["applicant"] == {"name": {"en": "X"}}
    assert withheld == ["applicant.ntn", "applicant.representative_cnic"]
    assert restricted_fields("pk.emining.shipment.planned.v1") == restricted_fields(
        "pk.emining.shipment.planned")


def test_a_corrections_replacement_loses_the_corrected_types_restricted_fields():
    """``replacement`` carries fields of the corrected event: withheld as that event's are, in
    ``data`` and ``effective``, at any depth; the correction's own shared fields stay."""
    data = {"corrects_event_id": "evt-1", "reason": "incorrect_data", "explanation": "typo",
            "corrected_type": "pk.emining.approval.licence.application.received.v1",
            "replacement": {"applicant": {"name": {"en": "X"}, "ntn": "1234567-8"},
                            "area_km2": "12.5"}}
    item = {"type": "pk.emining.approval.corrected.v1", "data": data, "effective": data}
    out, withheld = redact_entry(item)
    for form in ("data", "effective"):
        assert out[form]["replacement"] == {"applicant": {"name": {"en": "X"}}, "area_km2": "12.5"}
        assert out[form]["explanation"] == "typo"
    assert withheld == ["replacement.applicant.ntn"]
    assert data["replacement"]["applicant"]["ntn"] == "1234567-8"  # the item is untouched
    value = {"corrected_type": "pk.emining.shipment.customs.declaration.filed.v1",
             "replacement": {"declared_value": {"amount": "1.00", "currency": "USD"},
                             "declarant_ntn": "7654321-0", "declaration_number": "D-2"}}
    out, withheld = redact_entry({"type": "pk.emining.shipment.corrected.v1", "data": value,
                                  "effective": None})
    assert out["data"]["replacement"] == {"declaration_number": "D-2"}
    assert out["effective"] is None
    assert withheld == ["replacement.declarant_ntn", "replacement.declared_value"]


def test_the_served_app_has_a_rule_for_every_route(tmp_path):
    anchor = b64(PrivateKey.generate(PLATFORM_ORG).public_key)
    app = build_app(Settings(state_dir=tmp_path, kafka_bootstrap="127.0.0.1:9",
                             kafka_security="none", trust_anchor=anchor))
    assert unruled(app.routes) == []
    documented = {(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops}
    assert documented <= set(ROUTES)
