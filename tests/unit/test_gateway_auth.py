"""Gateway API keys: issued once, stored hashed, checked in constant time, revocable live."""

from __future__ import annotations

import hashlib
import json
import stat

import pytest

from infra.settings import GATEWAY_MAX_BODY_BYTES
from producers.gateway_auth import TOKEN_PREFIX, ApiKeyError, ApiKeyStore, hash_token
from schemas.envelope import MAX_VALUE_BYTES

FIRM = "urn:emining:cn:ent:example-mining"
AGENCY = "urn:emining:pk:gov:ba-epa"


@pytest.fixture
def store(tmp_path):
    return ApiKeyStore(tmp_path / "gateway" / "api_keys.json")


def test_a_token_is_a_prefixed_32_byte_secret_hashed_with_sha256(store):
    token = store.issue(FIRM)
    assert token.startswith(TOKEN_PREFIX)
    assert len(token) == len(TOKEN_PREFIX) + 43  # 32 bytes, URL-safe base64 without padding
    assert hash_token(token) == hashlib.sha256(token.encode()).hexdigest()


def test_the_file_keeps_only_the_hash_and_is_owner_only(store):
    token = store.issue(FIRM)
    text = store.path.read_text()
    assert token not in text
    doc = json.loads(text)
    assert doc["version"] == 1
    assert doc["keys"][FIRM]["sha256"] == hash_token(token)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600


def test_a_token_authenticates_as_its_organisation_only(store):
    firm_token = store.issue(FIRM)
    agency_token = store.issue(AGENCY)
    assert store.authenticate(firm_token) == FIRM
    assert store.authenticate(agency_token) == AGENCY
    assert store.authenticate(firm_token[:-1] + ("A" if firm_token[-1] != "A" else "B")) is None
    assert store.authenticate("") is None
    assert store.authenticate(hash_token(firm_token)) is None, "the stored hash is not a key"


def test_keys_round_trip_through_a_new_store(store):
    token = store.issue(FIRM)
    again = ApiKeyStore(store.path)
    assert again.authenticate(token) == FIRM
    [record] = again.records()
    assert record.org == FIRM
    assert record.sha256 == hash_token(token)
    assert record.fingerprint == hash_token(token)[:12]


def test_one_key_per_organisation_unless_replaced(store):
    first = store.issue(FIRM)
    with pytest.raises(ApiKeyError, match="already has an API key"):
        store.issue(FIRM)
    assert store.authenticate(first) == FIRM
    second = store.issue(FIRM, replace=True)
    assert store.authenticate(second) == FIRM
    assert store.authenticate(first) is None
    assert [r.org for r in store.records()] == [FIRM]


def test_a_running_store_sees_keys_issued_and_revoked_by_another(store):
    gateway = ApiKeyStore(store.path)
    assert gateway.authenticate("emk_nothing_yet") is None
    token = store.issue(FIRM)  # the CLI, another process in real life
    assert gateway.authenticate(token) == FIRM
    revoked = store.revoke(FIRM)
    assert revoked.sha256 == hash_token(token)
    assert gateway.authenticate(token) is None


def test_revoking_an_unknown_organisation_says_so(store):
    with pytest.raises(ApiKeyError, match="has no API key"):
        store.revoke(FIRM)


def test_a_corrupt_key_file_is_a_clear_error(store):
    store.path.parent.mkdir(parents=True)
    store.path.write_text("{not json")
    with pytest.raises(ApiKeyError, match="cannot read API key file"):
        store.authenticate("emk_x")
    store.path.write_text('{"keys": ["a list"]}')
    with pytest.raises(ApiKeyError, match="is not an API key file"):
        ApiKeyStore(store.path).records()


def test_the_default_body_limit_leaves_room_around_the_largest_event_data():
    assert MAX_VALUE_BYTES < GATEWAY_MAX_BODY_BYTES <= MAX_VALUE_BYTES + 32 * 1024
