"""The broker's ACLs for checkpoints, on the real SCRAM broker with the registry-derived policy:
only the checkpoint service writes checkpoints; organisations read them and write cosignatures
and refusals; the checkpointer and a witness run end to end as their own principals."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from consumers.checkpoints.checkpointer import Checkpointer
from consumers.checkpoints.witness import Witness
from infra.kafka_admin.acls import SERVICES, service_acls, service_principal
from infra.kafka_admin.admin import apply_acls, delete_credential, upsert_credential
from schemas.alerts import PLATFORM_ORG
from schemas.checkpoints import CheckpointRecord, CosignatureRecord
from schemas.common import Role
from schemas.signing import PrivateKey
from schemas.tlog import PLATFORM_KEY_NAME, TlogError, open_checkpoint
from schemas.topics import CHECKPOINTS, COSIGNATURES, PARTICIPANTS, PROJECTS, REFUSALS
from tests.integration.checkpoints.conftest import read_all
from tests.integration.security.conftest import Principals, assert_writes
from transport.access import KafkaAccess


@pytest.fixture
async def principals(kafka_access: KafkaAccess, unique_name: Callable[[str], str],
                     catalogue_applied: Any) -> AsyncIterator[Principals]:
    made = Principals(kafka_access, "t" + unique_name("org").rsplit(".", 1)[1])
    try:
        yield made
    finally:
        await made.cleanup()


@pytest.fixture
async def checkpoint_service(kafka_access: KafkaAccess,
                             catalogue_applied: Any) -> AsyncIterator[KafkaAccess]:
    """The checkpoint service's principal, with exactly its policy's ACLs."""
    user = SERVICES["checkpoint"]
    password = await upsert_credential(kafka_access, user)
    await apply_acls(kafka_access, service_acls("checkpoint"),
                     only={service_principal("checkpoint")})
    try:
        yield kafka_access.as_user(user, password)
    finally:
        await delete_credential(kafka_access, user)


async def test_a_firm_cannot_write_checkpoints_but_may_witness(
    principals: Principals, checkpoint_service: KafkaAccess,
) -> None:
    _, firm = await principals.onboard("firm", Role.FIRM)
    _, agency = await principals.onboard("agency", Role.AGENCY)
    for org in (firm, agency):
        await assert_writes(org, allowed=[COSIGNATURES, REFUSALS], refused=[CHECKPOINTS])
        await read_all(org, CHECKPOINTS)  # reading is allowed (no authorisation error)
        await read_all(org, COSIGNATURES)
    await assert_writes(checkpoint_service, refused=[COSIGNATURES, REFUSALS, PARTICIPANTS])


async def test_checkpointer_and_witness_run_as_their_own_principals(
    principals: Principals, checkpoint_service: KafkaAccess, tmp_path: Path,
) -> None:
    platform = PrivateKey.generate(PLATFORM_ORG)
    org, access = await principals.onboard("witness", Role.AGENCY)
    await assert_writes(access, allowed=[PROJECTS])  # at least one record to checkpoint
    await Checkpointer(checkpoint_service, platform, topics=[PROJECTS, PARTICIPANTS],
                       timeout_s=15.0).run(once=True)
    mine = []
    for rec in await read_all(checkpoint_service, CHECKPOINTS):
        try:
            cp = open_checkpoint(CheckpointRecord.from_value(rec.value).note, PLATFORM_KEY_NAME,
                                 platform.public_key)
        except TlogError:
            continue  # another test's (another key's) checkpoint, or a test record
        mine.append(cp)
    assert mine
    assert {cp.origin.rsplit("/", 2)[1] for cp in mine} <= {PROJECTS, PARTICIPANTS}

    key = PrivateKey.generate(org)
    witness = Witness(access, key, platform_keys=[platform.public_key],
                      state_dir=tmp_path / "w" / uuid.uuid4().hex, timeout_s=15.0)
    await witness.run(once=True)
    assert witness.cosigned == len(mine)
    ours = [CosignatureRecord.from_value(r.value) for r in await read_all(access, COSIGNATURES)
            if r.value and b'"witness":"' + org.encode() in r.value]
    assert sorted((c.origin, c.size) for c in ours) == sorted((c.origin, c.size) for c in mine)
