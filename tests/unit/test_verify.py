"""The shared verification stage: who signed, with which key, and were they entitled."""

from __future__ import annotations

from datetime import timedelta

import pytest

from schemas.catalogue import model_for
from schemas.envelope import Envelope
from schemas.errors import AuthorityError, SignatureError
from schemas.participants import AuthorityGranted, KeyAdded, OrganisationOnboarded
from schemas.registry import Registry
from schemas.signing import PrivateKey, b64
from schemas.verify import EnvelopeVerifier
from tests.unit.helpers import T0, sealed

BA_MMDD = "urn:emining:pk:gov:ba-mmdd"
OPERATOR = PrivateKey.generate("urn:emining:xx:platform:operator")
AGENCY = PrivateKey.generate(BA_MMDD)
GRANTED = model_for("pk.emining.approval.licence.granted")


def _registry() -> Registry:
    reg = Registry()
    start = T0 - timedelta(days=365)
    for event in (
        OrganisationOnboarded(org_id=BA_MMDD, names={"en": "BA MMDD"}, side="PK", role="agency"),
        KeyAdded(org_id=BA_MMDD, keyid=AGENCY.keyid, public_key=b64(AGENCY.public_key),
                 valid_from=start),
        AuthorityGranted(org_id=BA_MMDD, grant_id="ba", event_types=("pk.emining.approval.*",),
                         provinces=("PK-BA",), valid_from=start),
    ):
        reg.apply(event, start)
    return reg


@pytest.fixture
def verifier() -> EnvelopeVerifier:
    return EnvelopeVerifier(_registry(), [OPERATOR.public_key])


def _grant(**changes) -> Envelope:
    return sealed(GRANTED.model_validate({**GRANTED.EXAMPLE, **changes}), AGENCY)


def test_a_signed_event_within_authority_passes(verifier):
    verifier.check(_grant())


def test_a_forged_signature_is_refused(verifier):
    env = _grant()
    other = _grant(title_number="BA-EL-2025-0999")
    forged = Envelope({**env.attributes, "signature": other.signature}, env.data, env.data_json)
    with pytest.raises(SignatureError, match=f"does not verify with key {AGENCY.keyid}"):
        verifier.check(forged)


def test_a_key_of_another_organisation_is_refused(verifier):
    impostor = PrivateKey.generate(BA_MMDD)
    env = sealed(GRANTED.model_validate(GRANTED.EXAMPLE), impostor)
    with pytest.raises(SignatureError, match=f"key {impostor.keyid} is not a key of {BA_MMDD}"):
        verifier.check(env)


def test_out_of_province_is_refused_after_a_valid_signature(verifier):
    env = _grant(title_number="SD-EL-2025-0153")
    verifier.check_signature(env)
    with pytest.raises(AuthorityError, match="does not cover PK-SD"):
        verifier.check(env)


def test_registry_events_need_the_trust_anchor(verifier):
    onboard = OrganisationOnboarded(org_id="urn:emining:cn:ent:rogue", names={"en": "Rogue"},
                                    side="CN", role="firm")
    verifier.check(sealed(onboard, OPERATOR))
    with pytest.raises(SignatureError, match="not a trust-anchor key"):
        verifier.check(sealed(onboard, PrivateKey.generate("urn:emining:xx:platform:operator")))
