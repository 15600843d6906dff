"""The demo registry seed: valid, and every authority it grants names real event types."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import yaml

from schemas.catalogue import event_types
from schemas.common import Role
from schemas.participants import RegistrySeed

SEED = Path(__file__).parents[2] / "infra" / "demo" / "registry.yaml"


def _seed() -> RegistrySeed:
    return RegistrySeed.model_validate(yaml.safe_load(SEED.read_text(encoding="utf-8")))


def test_every_grant_pattern_matches_an_event_type():
    names = {cls.TYPE for cls in event_types().values()}
    unmatched = [
        (org.id, pattern)
        for org in _seed().organisations
        for grant in org.authorities
        for pattern in grant.event_types
        if not any(fnmatch.fnmatchcase(name, pattern) for name in names)
    ]
    assert unmatched == []


def test_firms_act_for_themselves_only_and_auditors_hold_no_grant():
    for org in _seed().organisations:
        if org.role is Role.FIRM:
            assert org.uscc, org.id
            assert all(grant.own_only for grant in org.authorities), org.id
        if org.role is Role.AUDITOR:
            assert org.authorities == ()


def test_each_province_has_one_licensing_authority():
    licensing = [
        (grant.provinces, org.id)
        for org in _seed().organisations
        for grant in org.authorities
        if "pk.emining.approval.licence.granted" in grant.event_types
    ]
    provinces = sorted(p for provs, _ in licensing for p in provs)
    assert provinces == sorted(set(provinces)) == ["PK-BA", "PK-GB", "PK-KP", "PK-PB", "PK-SD"]


def test_every_grant_goes_to_a_role_the_event_registry_says_emits_the_type():
    """The seed agrees with the registry's ``emitted_by``: no agency is granted a firm's type,
    no firm an agency's (``schemas.authority`` would refuse it anyway)."""
    from schemas.events.registry import ENTRIES  # noqa: PLC0415

    wrong = [
        (org.id, spec.cls.TYPE)
        for org in _seed().organisations
        for grant in org.authorities
        for spec in ENTRIES
        if any(fnmatch.fnmatchcase(spec.cls.TYPE, p) for p in grant.event_types)
        and org.role not in spec.emitted_by.roles
    ]
    assert wrong == []
