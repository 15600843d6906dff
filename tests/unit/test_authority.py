"""Authority decisions for each role and scope, and key validity over time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas.authority import decide
from schemas.catalogue import model_for
from schemas.errors import SignatureError
from schemas.events.examples import OPERATOR, PARTNER
from schemas.participants import (
    AuthorityGranted,
    AuthorityWithdrawn,
    KeyAdded,
    KeyRevoked,
    KeyRotated,
    OrganisationOffboarded,
    OrganisationOnboarded,
)
from schemas.registry import Registry, RegistryError
from schemas.signing import PrivateKey, b64

T0 = datetime(2026, 1, 1, tzinfo=UTC)
BA_MMDD = "urn:emining:pk:gov:ba-mmdd"
SD_MMD = "urn:emining:pk:gov:sd-mmd"
FIRM = "urn:emining:cn:ent:mcc-resources"
AUDITOR = "urn:emining:xx:aud:eiti-auditor"


def _onboard(registry, org, role, side="PK", uscc=None):
    registry.apply(OrganisationOnboarded(org_id=org, names={"en": org}, side=side, role=role,
                                         uscc=uscc), T0)


def _grant(registry, org, grant_id, types, *, provinces=(), title_types=(), own_only=False,
           at=T0):
    registry.apply(AuthorityGranted(org_id=org, grant_id=grant_id, event_types=types,
                                    provinces=provinces, title_types=title_types,
                                    own_only=own_only, valid_from=at), at)


@pytest.fixture
def registry():
    reg = Registry()
    _onboard(reg, BA_MMDD, "agency")
    _grant(reg, BA_MMDD, "ba-licensing", ("pk.emining.approval.licence.*",), provinces=("PK-BA",))
    _onboard(reg, SD_MMD, "agency")
    _grant(reg, SD_MMD, "sd-minor", ("pk.emining.approval.licence.*",), provinces=("PK-SD",),
           title_types=("MM",))
    _onboard(reg, FIRM, "firm", side="CN", uscc=OPERATOR)
    _grant(reg, FIRM, "firm-apply", ("pk.emining.approval.licence.application.*",), own_only=True)
    _onboard(reg, AUDITOR, "auditor", side="PK")
    _grant(reg, AUDITOR, "oops", ("pk.emining.*",))
    return reg


def _event(type_name, **changes):
    cls = model_for(type_name)
    return cls.model_validate({**cls.EXAMPLE, **changes})


GRANTED = "pk.emining.approval.licence.granted"
RECEIVED = "pk.emining.approval.licence.application.received"
AT = T0 + timedelta(days=30)


def test_provincial_authority_may_grant_in_its_province(registry):
    decision = decide(registry, BA_MMDD, _event(GRANTED), AT)
    assert decision.allowed
    assert decision.grant_id == "ba-licensing"


def test_provincial_authority_may_not_grant_in_another_province(registry):
    decision = decide(registry, SD_MMD, _event(GRANTED), AT)
    assert not decision.allowed
    assert "sd-minor does not cover PK-BA" in decision.reason


def test_title_type_limits_are_enforced(registry):
    event = _event(GRANTED, title_number="SD-EL-2025-0001")
    decision = decide(registry, SD_MMD, event, AT)
    assert not decision.allowed
    assert "does not cover title type EL" in decision.reason
    assert decide(registry, SD_MMD, _event(GRANTED, title_number="SD-MM-2025-0001"), AT).allowed


def test_a_firm_may_apply_for_itself_only(registry):
    assert decide(registry, FIRM, _event(RECEIVED), AT).allowed
    other = decide(registry, FIRM, _event(RECEIVED, holder_uscc=PARTNER), AT)
    assert not other.allowed
    assert "own subjects only" in other.reason


def test_a_firm_may_not_grant_its_own_licence(registry):
    decision = decide(registry, FIRM, _event(GRANTED), AT)
    assert not decision.allowed
    assert f"{FIRM} holds no authority for {GRANTED}" in decision.reason


def test_auditors_emit_nothing_whatever_they_were_granted(registry):
    decision = decide(registry, AUDITOR, _event(GRANTED), AT)
    assert not decision.allowed
    assert "auditors emit nothing" in decision.reason


def test_unknown_and_offboarded_organisations_are_refused(registry):
    assert "not a registered organisation" in decide(
        registry, "urn:emining:pk:gov:nobody", _event(GRANTED), AT).reason
    registry.apply(OrganisationOffboarded(org_id=BA_MMDD, effective_at=AT, reason="merged"), AT)
    assert decide(registry, BA_MMDD, _event(GRANTED), AT - timedelta(seconds=1)).allowed
    late = decide(registry, BA_MMDD, _event(GRANTED), AT)
    assert not late.allowed
    assert "not an active participant" in late.reason


def test_a_withdrawn_grant_covers_only_the_time_before(registry):
    registry.apply(AuthorityWithdrawn(org_id=BA_MMDD, grant_id="ba-licensing", effective_at=AT),
                   AT)
    assert decide(registry, BA_MMDD, _event(GRANTED), AT - timedelta(days=1)).allowed
    assert not decide(registry, BA_MMDD, _event(GRANTED), AT).allowed
    with pytest.raises(RegistryError, match="holds no grant ba-licensing"):
        registry.apply(AuthorityWithdrawn(org_id=BA_MMDD, grant_id="ba-licensing",
                                          effective_at=AT), AT)


def test_key_validity_follows_rotation_and_revocation(registry):
    old, new = PrivateKey.generate(BA_MMDD), PrivateKey.generate(BA_MMDD)
    registry.apply(KeyAdded(org_id=BA_MMDD, keyid=old.keyid, public_key=b64(old.public_key),
                            valid_from=T0), T0)
    rotate_at = T0 + timedelta(days=10)
    registry.apply(KeyRotated(org_id=BA_MMDD, old_keyid=old.keyid, new_keyid=new.keyid,
                              new_public_key=b64(new.public_key), effective_at=rotate_at),
                   rotate_at)
    assert registry.key_for(BA_MMDD, old.keyid, rotate_at - timedelta(seconds=1))
    with pytest.raises(SignatureError, match="rotated out"):
        registry.key_for(BA_MMDD, old.keyid, rotate_at)
    with pytest.raises(SignatureError, match="not valid before"):
        registry.key_for(BA_MMDD, new.keyid, rotate_at - timedelta(seconds=1))
    assert registry.key_for(BA_MMDD, new.keyid, rotate_at).public_key == new.public_key
    revoke_at = T0 + timedelta(days=20)
    registry.apply(KeyRevoked(org_id=BA_MMDD, keyid=new.keyid, revoked_at=revoke_at,
                              reason="lost"), revoke_at)
    with pytest.raises(SignatureError, match="was revoked at"):
        registry.key_for(BA_MMDD, new.keyid, revoke_at)


def test_a_key_cannot_serve_two_organisations_or_mismatch_its_id(registry):
    key = PrivateKey.generate(BA_MMDD)
    registry.apply(KeyAdded(org_id=BA_MMDD, keyid=key.keyid, public_key=b64(key.public_key),
                            valid_from=T0), T0)
    with pytest.raises(RegistryError, match="already registered to"):
        registry.apply(KeyAdded(org_id=FIRM, keyid=key.keyid, public_key=b64(key.public_key),
                                valid_from=T0), T0)
    with pytest.raises(SignatureError, match="belongs to"):
        registry.key_for(FIRM, key.keyid, AT)
    other = PrivateKey.generate(FIRM)
    with pytest.raises(RegistryError, match="does not match the public key"):
        registry.apply(KeyAdded(org_id=FIRM, keyid=key.keyid, public_key=b64(other.public_key),
                                valid_from=T0), T0)


def test_a_grant_to_the_wrong_kind_of_party_covers_nothing(registry):
    """The event registry says who emits each type: a firm granted an authority's decision (a
    misconfigured grant) is refused, and so is an authority recording a firm's own filing."""
    _grant(registry, FIRM, "misconfigured", ("pk.emining.approval.licence.granted",),
           own_only=True)
    firm = decide(registry, FIRM, _event(GRANTED), AT)
    assert not firm.allowed
    assert firm.reason == (f"{FIRM} is a firm: {GRANTED} is emitted by the provincial "
                           "licensing authority")
    surrender = "pk.emining.approval.licence.surrendered"
    agency = decide(registry, BA_MMDD, _event(surrender), AT)
    assert not agency.allowed
    assert agency.reason == f"{BA_MMDD} is an agency: {surrender} is emitted by the title holder"
    assert decide(registry, BA_MMDD, _event(GRANTED), AT).allowed
