"""``emining checkpoint run --once`` and ``emining witness run --once`` as a user runs them:
the operator's key from the state dir, the catalogue's topics, the witness's key file."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from typer.testing import CliRunner

from infra.cli import app
from producers.keys import write_key
from schemas.alerts import PLATFORM_ORG
from schemas.checkpoints import CheckpointRecord, CosignatureRecord, verify_cosignature_record
from schemas.signing import PrivateKey
from schemas.tlog import PLATFORM_KEY_NAME, TlogError, open_checkpoint, origin_for
from schemas.topics import CHECKPOINTS, COSIGNATURES, PROJECTS
from tests.integration.checkpoints.conftest import read_all
from tests.kafka_support import access_env
from transport.access import KafkaAccess
from transport.read import ends_of


async def _invoke(args: list[str], env: dict[str, str]) -> Any:
    return await asyncio.to_thread(CliRunner().invoke, app, args, env=env)


async def test_checkpoint_and_witness_commands(kafka_access: KafkaAccess, tmp_path: Path,
                                               catalogue_applied: Any) -> None:
    state = tmp_path / "state"
    operator = PrivateKey.generate(PLATFORM_ORG)
    write_key(operator, state / "keys" / "operator.key")
    org = f"urn:emining:cn:ent:t{uuid.uuid4().hex[:10]}-cli"
    witness = PrivateKey.generate(org)
    write_key(witness, tmp_path / "witness.key")
    env = {**access_env(kafka_access), "EMINING_STATE_DIR": str(state),
           "EMINING_LOG_FORMAT": "json"}

    producer = AIOKafkaProducer(**kafka_access.aiokafka(), enable_idempotence=True, acks="all")
    await producer.start()
    try:
        meta = await producer.send_and_wait(PROJECTS, b"a record to checkpoint", key=b"cli")
    finally:
        await producer.stop()

    done = await _invoke(["checkpoint", "run", "--once"], env)
    assert done.exit_code == 0, done.output
    ours = []
    for rec in await read_all(kafka_access, CHECKPOINTS):
        try:
            note = CheckpointRecord.from_value(rec.value).note
            ours.append(open_checkpoint(note, PLATFORM_KEY_NAME, operator.public_key))
        except TlogError:
            continue  # another test's checkpoints (another operator key)
    heads = {cp.origin: cp.size for cp in ours}
    ends = await ends_of(kafka_access, [PROJECTS])
    origin = origin_for(PROJECTS, meta.partition)
    [end] = [o for tp, o in ends.items() if tp.partition == meta.partition]
    assert heads[origin] == end  # every record of the partition (nothing compacted there)

    wrong = await _invoke(["witness", "run", "--as", "urn:emining:cn:ent:someone-else", "--key",
                           str(tmp_path / "witness.key"), "--once"], env)
    assert wrong.exit_code != 0
    assert "belongs to" in wrong.output

    cosigned = await _invoke(["witness", "run", "--as", org, "--key",
                              str(tmp_path / "witness.key"), "--once"], env)
    assert cosigned.exit_code == 0, cosigned.output
    assert f"cosigned {len(ours)}," in cosigned.output
    lines = [CosignatureRecord.from_value(r.value)
             for r in await read_all(kafka_access, COSIGNATURES)
             if r.value and org.encode() in r.value]
    assert {(c.origin, c.size) for c in lines} == {(cp.origin, cp.size) for cp in ours}
    assert all(verify_cosignature_record(c, [witness.public_key]) for c in lines)
    assert (state / "witness").is_dir()
