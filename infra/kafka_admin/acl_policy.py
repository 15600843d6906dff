"""The broker's ACLs as the registry derives them, applied: what applying did, or why it was
skipped. Shared by ``emining topics/acls apply`` and the participant commands (no CLI here: the
commands print the outcome)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from infra.kafka_admin.acls import SERVICE_PRINCIPALS, SERVICES, desired_acls, service_acls

if TYPE_CHECKING:
    from rich.console import Console

    from infra.kafka_admin.admin import AclChanges
    from infra.settings import Settings
    from schemas.registry import Registry
    from transport.access import KafkaAccess


@dataclass(frozen=True, slots=True)
class AclOutcome:
    """What applying the policy did, or why it was skipped; ``partial``: services only."""

    changes: AclChanges | None
    skipped: str | None = None
    partial: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = (self.changes.to_json() if self.changes is not None else
                                {"created": [], "deleted": [], "deleted_other": []})
        return {**body, "skipped": self.skipped, "organisations_skipped": self.partial}

    def report(self, err: Console) -> None:
        """One or two lines on ``err`` (stderr: stdout stays for the command's own output)."""
        if self.skipped is not None:
            err.print(f"[yellow]ACLs skipped:[/] {self.skipped}", highlight=False, soft_wrap=True)
            return
        assert self.changes is not None
        if self.partial is not None:
            err.print(f"[yellow]organisations' ACLs left as they are:[/] {self.partial}",
                      highlight=False, soft_wrap=True)
        made, gone = len(self.changes.created), len(self.changes.deleted)
        gone += len(self.changes.deleted_other)
        err.print(f"ACLs: {made} created, {gone} deleted" if made or gone else "ACLs: no changes",
                  highlight=False)


SECURITY_OFF = ("broker security is off (EMINING_KAFKA_SECURITY=none): no authentication,"
                " no ACLs")


async def apply_policy(
    settings: Settings, kafka: KafkaAccess, registry: Registry | None, why: str | None,
    *, only: frozenset[str] | None = None,
) -> AclOutcome:
    """Apply the registry-derived ACLs; skipped when the broker runs without security.

    Without a readable registry, or with one naming no organisation at all (what a wrong
    trust anchor reads: every record skipped), only the services' ACLs are applied and the
    organisations' are left as they are: a misconfigured operator must never wipe them.
    """
    from infra.kafka_admin.admin import SecurityDisabledError, apply_acls  # noqa: PLC0415 - start-up

    if settings.kafka_security == "none":
        return AclOutcome(None, skipped=SECURITY_OFF)
    partial = None
    if registry is None:
        partial = f"the registry cannot be read ({why})"
    elif not registry.orgs:
        partial = ("the registry on the log names no organisation (is EMINING_TRUST_ANCHOR the"
                   " operator's key?)")
    if registry is None or partial is not None:
        desired = frozenset().union(*(service_acls(name) for name in SERVICES))
        only = SERVICE_PRINCIPALS if only is None else only & SERVICE_PRINCIPALS
    else:
        desired = desired_acls(registry, datetime.now(UTC))
    try:
        changes = await apply_acls(kafka, desired, only=only)
    except SecurityDisabledError as exc:
        return AclOutcome(None, skipped=str(exc))
    return AclOutcome(changes, partial=partial)
