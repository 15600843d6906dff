"""The broker ACL policy derived from the registry: exact rights per role and per service."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from infra.kafka_admin.acls import (
    SERVICES,
    Acl,
    desired_acls,
    managed,
    org_acls,
    service_acls,
    service_principal,
)
from schemas.common import Names, Role, Side
from schemas.participants import OrganisationOffboarded, OrganisationOnboarded
from schemas.registry import Registry
from schemas.topics import (
    APPROVALS,
    CHECKPOINTS,
    COSIGNATURES,
    DLQ,
    PARTICIPANTS,
    PROJECTS,
    REFUSALS,
    SHARED_TOPICS,
    SHIPMENTS,
    TLOG_TOPICS,
    alerts_topic,
)
from tests.unit.helpers import T0

FIRM = "urn:emining:cn:ent:mcc-resources"
AGENCY = "urn:emining:pk:gov:ba-mmdd"
AUDITOR = "urn:emining:xx:aud:ferguson"
GONE = "urn:emining:cn:ent:gone-mining"
LATER = "urn:emining:cn:ent:not-yet"
NOW = T0 + timedelta(days=30)


def _onboard(reg: Registry, org: str, role: Role, side: Side, at=T0, **extra) -> None:
    reg.apply(OrganisationOnboarded(org_id=org, names=Names(en=org), side=side, role=role,
                                    **extra), at)


@pytest.fixture
def registry() -> Registry:
    reg = Registry()
    _onboard(reg, FIRM, Role.FIRM, Side.CN)
    _onboard(reg, AGENCY, Role.AGENCY, Side.PK)
    _onboard(reg, AUDITOR, Role.AUDITOR, Side.PK)
    _onboard(reg, GONE, Role.FIRM, Side.CN)
    reg.apply(OrganisationOffboarded(org_id=GONE, effective_at=T0 + timedelta(days=1),
                                     reason="contract ended"), T0 + timedelta(days=1))
    _onboard(reg, LATER, Role.FIRM, Side.CN, effective_from=NOW + timedelta(days=1))
    return reg


def _of(acls: frozenset[Acl], principal: str) -> set[tuple[str, str, str, str]]:
    return {(a.operation, a.resource, a.name, a.pattern) for a in acls if a.principal == principal}


def test_a_firm_writes_but_never_reads_the_shared_topics_reads_the_registry_and_its_alerts(
    registry: Registry,
) -> None:
    firm = _of(desired_acls(registry, NOW), f"User:{FIRM}")
    assert firm == {
        ("WRITE", "topic", PROJECTS, "literal"),
        ("WRITE", "topic", APPROVALS, "literal"),
        ("WRITE", "topic", SHIPMENTS, "literal"),
        ("READ", "topic", PARTICIPANTS, "literal"),
        ("READ", "topic", "emining.alerts.cn-ent-mcc-resources", "literal"),
        ("READ", "group", f"{FIRM}.", "prefixed"),
        # a witness: reads checkpoints, writes its own cosignatures and refusals
        ("READ", "topic", CHECKPOINTS, "literal"),
        ("READ", "topic", COSIGNATURES, "literal"),
        ("READ", "topic", REFUSALS, "literal"),
        ("WRITE", "topic", COSIGNATURES, "literal"),
        ("WRITE", "topic", REFUSALS, "literal"),
    }


def test_a_firm_never_writes_the_registry_the_dlq_or_any_alerts_topic(registry: Registry) -> None:
    firm = [a for a in desired_acls(registry, NOW) if a.principal == f"User:{FIRM}"]
    written = {a.name for a in firm if a.operation == "WRITE"}
    assert written == {*SHARED_TOPICS, COSIGNATURES, REFUSALS}  # never the checkpoints
    assert not {a for a in firm if a.name in {PARTICIPANTS, DLQ} and a.operation != "READ"}
    assert not [a for a in firm if a.name == DLQ]
    # its alerts topic, literally: never another organisation's, never a prefix over them all
    alerts = [a for a in firm if a.name.startswith("emining.alerts.")]
    assert alerts == [Acl("topic", alerts_topic(FIRM), "literal", f"User:{FIRM}", "READ")]
    assert all(a.pattern == "literal" for a in firm if a.resource == "topic")


def test_an_agency_has_the_same_rights_as_a_firm_on_its_own_resources() -> None:
    assert _of(org_acls(AGENCY, Role.AGENCY), f"User:{AGENCY}") == {
        *{("WRITE", "topic", t, "literal") for t in SHARED_TOPICS},
        ("READ", "topic", PARTICIPANTS, "literal"),
        ("READ", "topic", "emining.alerts.pk-gov-ba-mmdd", "literal"),
        ("READ", "group", f"{AGENCY}.", "prefixed"),
        *{("READ", "topic", t, "literal") for t in TLOG_TOPICS},
        ("WRITE", "topic", COSIGNATURES, "literal"),
        ("WRITE", "topic", REFUSALS, "literal"),
    }


def test_an_auditor_reads_every_topic_of_the_bus_and_writes_nothing(registry: Registry) -> None:
    auditor = _of(desired_acls(registry, NOW), f"User:{AUDITOR}")
    assert auditor == {
        ("READ", "topic", "emining.", "prefixed"),
        ("READ", "group", f"{AUDITOR}.", "prefixed"),
    }


def test_an_offboarded_or_not_yet_onboarded_org_has_no_acl(registry: Registry) -> None:
    acls = desired_acls(registry, NOW)
    assert _of(acls, f"User:{GONE}") == set()
    assert _of(acls, f"User:{LATER}") == set()
    # before its offboarding it had the ordinary rights
    assert _of(desired_acls(registry, T0), f"User:{GONE}") == _of(
        org_acls(GONE, Role.FIRM), f"User:{GONE}")


def test_group_prefixes_never_cover_another_organisations_groups() -> None:
    a = "urn:emining:cn:ent:acme"
    b = "urn:emining:cn:ent:acme-mining"  # a URN that starts with the other one
    [group] = [x for x in org_acls(a, Role.FIRM) if x.resource == "group"]
    assert not f"{b}.views".startswith(group.name)
    assert f"{a}.views".startswith(group.name)


def test_services_get_exactly_what_their_code_uses() -> None:
    views = "User:emining-views"
    assert _of(service_acls("views"), views) == {
        *{("READ", "topic", t, "literal") for t in (*SHARED_TOPICS, PARTICIPANTS)},
        ("READ", "group", "emining-views", "prefixed"),
        ("WRITE", "topic", DLQ, "literal"),
    }
    alerts = "User:emining-alerts"
    assert _of(service_acls("alerts"), alerts) == {
        *_of(service_acls("views"), views),
        ("READ", "topic", "emining.alerts.", "prefixed"),
        ("WRITE", "topic", "emining.alerts.", "prefixed"),
        ("CREATE", "topic", "emining.alerts.", "prefixed"),
        ("DESCRIBE_CONFIGS", "topic", "emining.alerts.", "prefixed"),
        ("READ", "group", "emining-alerts", "prefixed"),
    }
    assert _of(service_acls("audit"), "User:emining-audit") == {
        ("READ", "topic", "emining.", "prefixed"),
        ("READ", "group", "emining-audit", "prefixed"),
    }
    assert _of(service_acls("gateway"), "User:emining-gateway") == {
        *{("WRITE", "topic", t, "literal") for t in SHARED_TOPICS},
        ("READ", "topic", PARTICIPANTS, "literal"),
        ("READ", "topic", "emining.alerts.", "prefixed"),
        ("READ", "group", "emining-gateway", "prefixed"),
    }
    assert _of(service_acls("checkpoint"), "User:emining-checkpoint") == {
        *{("READ", "topic", t, "literal") for t in (*SHARED_TOPICS, PARTICIPANTS)},
        *{("READ", "topic", t, "literal") for t in TLOG_TOPICS},
        ("WRITE", "topic", CHECKPOINTS, "literal"),
        ("READ", "topic", "emining.alerts.", "prefixed"),
        ("WRITE", "topic", "emining.alerts.", "prefixed"),
        ("CREATE", "topic", "emining.alerts.", "prefixed"),
        ("DESCRIBE_CONFIGS", "topic", "emining.alerts.", "prefixed"),
        ("READ", "group", "emining-checkpoint", "prefixed"),
    }
    checkpoint_writers = {a.principal for a in desired_acls(Registry(), NOW)
                          if a.operation == "WRITE" and a.name == CHECKPOINTS}
    assert checkpoint_writers == {"User:emining-checkpoint"}
    for name in SERVICES:  # each service's ACLs name only itself
        assert {a.principal for a in service_acls(name)} == {service_principal(name)}


def test_nobody_but_the_super_user_writes_the_registry_and_only_views_and_alerts_the_dlq(
    registry: Registry,
) -> None:
    acls = desired_acls(registry, NOW)
    assert not [a for a in acls if a.name == PARTICIPANTS and a.operation != "READ"]
    dlq_writers = {a.principal for a in acls if a.operation == "WRITE" and a.name == DLQ}
    assert dlq_writers == {"User:emining-views", "User:emining-alerts"}
    creators = {(a.principal, a.name) for a in acls if a.operation == "CREATE"}
    assert creators == {("User:emining-alerts", "emining.alerts."),
                        ("User:emining-checkpoint", "emining.alerts.")}
    assert not [a for a in acls if a.resource == "cluster"]


def test_the_desired_set_is_services_plus_active_orgs(registry: Registry) -> None:
    expected = frozenset().union(
        *(service_acls(name) for name in SERVICES),
        org_acls(FIRM, Role.FIRM), org_acls(AGENCY, Role.AGENCY),
        org_acls(AUDITOR, Role.AUDITOR),
    )
    assert desired_acls(registry, NOW) == expected
    assert desired_acls(Registry(), NOW) == frozenset().union(
        *(service_acls(name) for name in SERVICES))


def test_managed_principals_are_organisations_and_services_only() -> None:
    assert managed(f"User:{FIRM}")
    assert managed("User:emining-gateway")
    assert not managed("User:admin")
    assert not managed("User:controller")
    assert not managed("User:ANONYMOUS")
    assert not managed("User:emining-views-extra")
    assert not managed(FIRM)  # without the User: type it is not a principal


def test_an_acl_refuses_unknown_operations_and_bare_names() -> None:
    with pytest.raises(ValueError, match="unknown Kafka ACL operation"):
        Acl("topic", PROJECTS, "literal", f"User:{FIRM}", "PUBLISH")
    with pytest.raises(ValueError, match="User:<name>"):
        Acl("topic", PROJECTS, "literal", FIRM, "READ")
    assert Acl("topic", "emining.", "prefixed", "User:x", "READ").describe() == (
        "User:x READ topic:emining.*")


def _listed_after(lists: list[list[object]]) -> Any:
    """``_all_bindings`` as a broker that reads its ACLs back late: each call the next list."""
    calls = iter(lists)

    def listing(_admin: object) -> list[object]:
        return next(calls, lists[-1])

    return listing


def test_acl_changes_are_reported_only_once_the_broker_lists_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from infra.kafka_admin import admin  # noqa: PLC0415 - confluent_kafka, for this test only

    new = Acl("topic", "emining.projects.v1", "literal", "User:urn-test-new", "WRITE")
    old = Acl("topic", "emining.projects.v1", "literal", "User:urn-test-old", "WRITE")
    lists = [[admin._binding(old)], [admin._binding(old)],
             [admin._binding(old), admin._binding(new)], [admin._binding(new)]]
    calls: list[int] = []
    listing = _listed_after(lists)

    def counted(admin_client: object) -> list[object]:
        calls.append(1)
        return listing(admin_client)

    monkeypatch.setattr(admin, "_all_bindings", counted)
    admin._in_force(object(), {new}, {old})  # type: ignore[arg-type]
    assert len(calls) == 4  # new listed at the third, old gone at the fourth

    monkeypatch.setattr(admin, "TIMEOUT_S", 0.2)
    monkeypatch.setattr(admin, "_all_bindings", _listed_after([[admin._binding(old)]]))
    with pytest.raises(admin.BrokerAdminError, match=r"not yet there: .*urn-test-new") as err:
        admin._in_force(object(), {new}, set())  # type: ignore[arg-type]
    assert err.value.code == "acls_not_applied"
