"""The demo's log, checkpointed and cosigned: the checkpointer once (as the checkpoint service's
principal when the broker authenticates), then a Pakistani agency's and a Chinese firm's
witnesses once each (as themselves), with the counts for the run summary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from consumers.checkpoints.alarms import Alarm
from consumers.checkpoints.checkpointer import Checkpointer
from consumers.checkpoints.witness import Witness
from infra import compose
from infra.demo.security import Principals, refusal_parties
from infra.kafka_admin.acls import SERVICES, service_acls
from infra.kafka_admin.admin import apply_acls, upsert_credential
from schemas.registry import Registry
from transport.access import KafkaAccess

if TYPE_CHECKING:
    from infra.demo.setup import Deployment
    from infra.settings import Settings


async def _as(admin: KafkaAccess, user: str, acls: Any = None) -> KafkaAccess:
    """``user``'s own access (a fresh credential) on an authenticating broker, else admin's."""
    if not admin.sasl:
        return admin
    password = await upsert_credential(admin, user)
    if acls is not None:
        await apply_acls(admin, acls, only={f"User:{user}"})
    return admin.as_user(user, password)


async def checkpoint_and_witness(settings: Settings, dep: Deployment,
                                 principals: Principals | None) -> dict[str, Any]:
    """Checkpoint every partition, cosign with one witness per side; what they did. An
    organisation that already has its demo credential (``principals``) keeps it."""
    firm, agency, _ = refusal_parties(dep)

    async def alarm(alarms: Sequence[Alarm]) -> None:
        await compose.raise_alarms(settings, alarms, registry=dep.registry)

    async def registry() -> Registry:
        return dep.registry

    service = await _as(dep.kafka, SERVICES["checkpoint"], service_acls("checkpoint"))
    checkpointer = Checkpointer(service, compose.operator_key(settings),
                                timeout_s=settings.client_timeout_s, alarm=alarm,
                                registry=registry)
    await checkpointer.run(once=True)
    witnesses = {}
    for org in (agency, firm):
        issued = principals.orgs.get(org) if principals is not None else None
        witness = Witness(issued or await _as(dep.kafka, org), dep.keys[org],
                          platform_keys=compose.trust_anchor(settings),
                          state_dir=settings.state_dir / "demo",
                          timeout_s=settings.client_timeout_s)
        await witness.run(once=True)
        witnesses[org] = {"cosigned_now": witness.cosigned, "refused": witness.state.refused,
                          "heads": len(witness.state.heads)}
    return {
        "logs": len(checkpointer.published),
        "records": sum(h.size for h in checkpointer.published.values()),
        "inconsistent": dict(sorted(checkpointer.halted.items())),
        "witnesses": witnesses,
    }
