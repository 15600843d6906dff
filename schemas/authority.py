"""Whether an event lies within its emitter's authority, and if not, exactly why.

Two sources: the participants registry says which grants an organisation holds (types,
provinces, title types, own subjects only); the event registry (``schemas.events.registry``)
says which roles emit each type at all, so a grant given to the wrong kind of party (a firm
granted a customs hold) covers nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from schemas.base import EventData
from schemas.common import Role
from schemas.events.registry import spec_of
from schemas.registry import Grant, Registry


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str
    grant_id: str | None = None


def _grant_refusal(grant: Grant, data: EventData, party_ids: frozenset[str]) -> str | None:
    """Why ``grant`` does not cover ``data`` (None when it does)."""
    scope = data.scope()
    if grant.provinces:
        if scope.province is None:
            return f"{grant.grant_id} is limited to provinces but the event names none"
        if scope.province not in grant.provinces:
            return f"{grant.grant_id} does not cover {scope.province}"
    if grant.title_types:
        if scope.title_type is None:
            return f"{grant.grant_id} is limited to title types but the event names none"
        if scope.title_type not in grant.title_types:
            return f"{grant.grant_id} does not cover title type {scope.title_type}"
    if grant.own_only and not (party_ids & scope.parties):
        return f"{grant.grant_id} covers own subjects only and the event names another party"
    return None


def _role_refusal(role: Role, data: EventData) -> str | None:
    """Why an organisation of ``role`` never emits ``data``'s type (None: it may, with a grant)."""
    spec = spec_of(type(data))
    if spec is None or role in spec.emitted_by.roles:
        return None
    article = "an" if role is Role.AGENCY else "a"
    return (f"is {article} {role.value}: {data.TYPE} is emitted by the "
            f"{spec.emitted_by.label}")


def decide(  # noqa: PLR0911 - one return per reason
    registry: Registry, org_id: str, data: EventData, at: datetime
) -> Decision:
    """Is ``org_id`` entitled to emit ``data`` at ``at``? Pure: reads the registry only."""
    org = registry.orgs.get(org_id)
    if org is None:
        return Decision(allowed=False, reason=f"{org_id} is not a registered organisation")
    if not org.active_at(at):
        return Decision(allowed=False, reason=f"{org_id} was not an active participant at {at}")
    if org.role is Role.AUDITOR:
        return Decision(allowed=False, reason=f"{org_id} is an auditor: auditors emit nothing")
    type_name = data.TYPE
    candidates = [g for g in org.grants if g.valid_at(at) and g.covers_type(type_name)]
    if not candidates:
        return Decision(
            allowed=False, reason=f"{org_id} holds no authority for {type_name} at {at}"
        )
    role_refusal = _role_refusal(org.role, data)
    if role_refusal is not None:
        return Decision(allowed=False, reason=f"{org_id} {role_refusal}")
    refusals = []
    for grant in candidates:
        refusal = _grant_refusal(grant, data, org.party_ids)
        if refusal is None:
            return Decision(
                allowed=True, reason=f"within grant {grant.grant_id}", grant_id=grant.grant_id
            )
        refusals.append(refusal)
    return Decision(
        allowed=False, reason=f"{org_id} may not emit {type_name} here: {'; '.join(refusals)}"
    )


def competent(registry: Registry, data: EventData, at: datetime) -> list[str]:
    """The agencies that may emit ``data`` at ``at``: whom an impostor's attempt wrongs."""
    found = []
    for org in registry.orgs.values():
        if org.role is not Role.AGENCY or not org.active_at(at) or _role_refusal(org.role, data):
            continue
        if any(g.valid_at(at) and g.covers_type(data.TYPE) and not g.own_only
               and _grant_refusal(g, data, org.party_ids) is None for g in org.grants):
            found.append(org.id)
    return sorted(found)
