"""Credentials and ACLs on the broker, through Kafka's admin API (confluent-kafka's AdminClient).

Every call acts as ``kafka``'s principal, which must be a super user (the local broker's
``admin``, or the operator's principal on a cluster). librdkafka is synchronous: each call runs
in a thread, with a fresh client that keeps no state. Every failure becomes one
``BrokerAdminError`` naming what failed and Kafka's error code; a broker without an authorizer
(``EMINING_KAFKA_SECURITY=none``) gives ``SecurityDisabledError``, which callers may treat as
"ACLs skipped".
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import structlog
from confluent_kafka import KafkaError, KafkaException

# Public names of confluent_kafka.admin that its __init__ re-exports without __all__.
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

from infra.kafka_admin.acls import Acl, Pattern, Resource, managed
from infra.local_kafka import BrokerError

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable

    from transport.access import KafkaAccess

log = structlog.get_logger()

T = TypeVar("T")

MECHANISM = ScramMechanism.SCRAM_SHA_512
ITERATIONS = 8192
TIMEOUT_S = 15.0
SETTLE_S = 10.0
"""Longest wait for the broker to apply a credential change committed by the controller."""

_RESOURCES: dict[Resource, ResourceType] = {
    "topic": ResourceType.TOPIC, "group": ResourceType.GROUP, "cluster": ResourceType.BROKER,
}
_PATTERNS: dict[Pattern, ResourcePatternType] = {
    "literal": ResourcePatternType.LITERAL, "prefixed": ResourcePatternType.PREFIXED,
}

# Bindings read back carry enum members; anything else (a str, an int) is not one we model.
_RESOURCE_OF: dict[object, Resource] = {kind: name for name, kind in _RESOURCES.items()}
_PATTERN_OF: dict[object, Pattern] = {kind: name for name, kind in _PATTERNS.items()}


class BrokerAdminError(BrokerError):
    """The broker refused or failed an admin request (credentials, ACLs)."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class SecurityDisabledError(BrokerAdminError):
    """The broker runs without an authorizer: there are no ACLs to read or apply."""


@dataclass(frozen=True, slots=True)
class AclChanges:
    """What ``apply_acls`` did. ``deleted_other``: bindings of managed principals that an
    ``Acl`` cannot express (DENY, a host other than ``*``, another resource type), removed."""

    created: tuple[Acl, ...] = ()
    deleted: tuple[Acl, ...] = ()
    deleted_other: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.created or self.deleted or self.deleted_other)

    def to_json(self) -> dict[str, Any]:
        return {"created": [acl.to_json() for acl in self.created],
                "deleted": [acl.to_json() for acl in self.deleted],
                "deleted_other": list(self.deleted_other)}


def _client(kafka: KafkaAccess) -> AdminClient:
    return AdminClient({**kafka.librdkafka(), "log_level": 0, "client.id": "emining-admin"})


def _kafka_error(exc: BaseException) -> KafkaError | None:
    arg = exc.args[0] if isinstance(exc, KafkaException) and exc.args else None
    return arg if isinstance(arg, KafkaError) else None


def _error(what: str, kafka: KafkaAccess, exc: BaseException) -> BrokerAdminError:
    """One exception naming the request, the principal and Kafka's code for ``exc``."""
    error = _kafka_error(exc)
    code = error.name() if error is not None else type(exc).__name__
    detail = error.str() if error is not None else str(exc)
    if error is not None and error.code() == KafkaError.SECURITY_DISABLED:
        return SecurityDisabledError(
            f"cannot {what}: the broker at {kafka.bootstrap} has no authorizer"
            f" (SECURITY_DISABLED): it runs without security (EMINING_KAFKA_SECURITY=none)",
            code,
        )
    hint = ""
    if error is not None and error.code() == KafkaError.CLUSTER_AUTHORIZATION_FAILED:
        hint = ": only a super user (the local broker's admin) manages credentials and ACLs"
    elif error is not None and error.code() == KafkaError._AUTHENTICATION:  # noqa: SLF001
        hint = ": wrong or missing credential (EMINING_KAFKA_USERNAME / EMINING_KAFKA_PASSWORD)"
    return BrokerAdminError(
        f"cannot {what} as {kafka.principal} at {kafka.bootstrap}: {code}: {detail}{hint}", code
    )


async def _call(what: str, kafka: KafkaAccess, work: Callable[[AdminClient], T]) -> T:
    def run() -> T:
        return work(_client(kafka))

    try:
        return await asyncio.to_thread(run)
    except BrokerAdminError:
        raise
    except (KafkaException, TimeoutError, ValueError, RuntimeError) as exc:
        raise _error(what, kafka, exc) from exc


# --------------------------------------------------------------------------- credentials


async def upsert_credential(kafka: KafkaAccess, user: str) -> str:
    """Create or replace ``user``'s SCRAM-SHA-512 credential; returns the new password.

    The password exists only in the return value (the broker keeps a salted hash): print it
    once. Returns once the broker accepts it (it applies the change from its metadata log a
    moment after the controller commits it). Replacing it ends the old one for every new
    connection; established sessions are not re-authenticated (aiokafka cannot, KIP-368), which
    is why offboarding also removes the ACLs: the broker checks those on every request.
    """
    password = secrets.token_urlsafe(24)

    def work(admin: AdminClient) -> None:
        upsert = UserScramCredentialUpsertion(
            user, ScramCredentialInfo(MECHANISM, ITERATIONS), password.encode()
        )
        admin.alter_user_scram_credentials([upsert], request_timeout=TIMEOUT_S)[user].result(
            timeout=TIMEOUT_S + 5
        )

    await _call(f"set the SCRAM credential of {user}", kafka, work)
    if kafka.sasl:
        await _until(lambda: _authenticates(kafka.as_user(user, password)),
                     f"confirm that the broker accepts the new credential of {user}", kafka)
    log.info("credential_issued", user=user, mechanism="SCRAM-SHA-512")
    return password


async def _until(check: Callable[[], bool], what: str, kafka: KafkaAccess) -> None:
    """Run the blocking ``check`` in a thread until it holds, for up to ``SETTLE_S``."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        try:
            if await asyncio.to_thread(check):
                return
        except KafkaException as exc:
            raise _error(what, kafka, exc) from exc
        if time.monotonic() > deadline:
            raise BrokerAdminError(
                f"cannot {what}: the broker at {kafka.bootstrap} did not apply the change"
                f" within {SETTLE_S:.0f}s"
            )
        await asyncio.sleep(0.1)


def _authenticates(access: KafkaAccess) -> bool:
    """One metadata request as ``access``: does the broker let this credential in?"""
    try:
        _client(access).list_topics(timeout=2.0)
    except KafkaException:
        return False
    return True


async def delete_credential(kafka: KafkaAccess, user: str) -> bool:
    """Delete ``user``'s SCRAM credential; ``False`` when it had none."""

    def work(admin: AdminClient) -> bool:
        future = admin.alter_user_scram_credentials(
            [UserScramCredentialDeletion(user, MECHANISM)], request_timeout=TIMEOUT_S
        )[user]
        return _found(future)

    deleted = await _call(f"delete the SCRAM credential of {user}", kafka, work)
    if deleted:
        await _until(lambda: not _has_credential(kafka, user),
                     f"confirm that the broker dropped the credential of {user}", kafka)
        log.info("credential_deleted", user=user)
    return deleted


def _has_credential(kafka: KafkaAccess, user: str) -> bool:
    """Whether the broker (from its metadata image, as authentication does) lists ``user``."""
    admin = _client(kafka)  # kept referenced: its futures fail once the client is collected
    futures = admin.describe_user_scram_credentials([user], request_timeout=TIMEOUT_S)
    assert isinstance(futures, dict)  # users given: one future per user
    return _found(futures[user])


def _found(future: Any) -> bool:
    """Wait for a credential call; ``False`` when the broker says the user has none."""
    try:
        future.result(timeout=TIMEOUT_S + 5)
    except KafkaException as exc:
        error = _kafka_error(exc)
        if error is not None and error.code() == KafkaError.RESOURCE_NOT_FOUND:
            return False
        raise
    return True


async def credential_users(kafka: KafkaAccess) -> set[str]:
    """Every user with a SCRAM credential on the cluster (the admin included)."""

    def work(admin: AdminClient) -> set[str]:
        future = admin.describe_user_scram_credentials(request_timeout=TIMEOUT_S)
        assert not isinstance(future, dict)  # None asked for all users: one future
        try:
            found: dict[str, Any] = future.result(timeout=TIMEOUT_S + 5)
        except KafkaException as exc:
            error = _kafka_error(exc)
            if error is not None and error.code() == KafkaError.RESOURCE_NOT_FOUND:
                return set()
            raise
        return set(found)

    return await _call("list the SCRAM credentials", kafka, work)


# --------------------------------------------------------------------------- ACLs


def _binding(acl: Acl) -> AclBinding:
    return AclBinding(
        _RESOURCES[acl.resource], acl.name, _PATTERNS[acl.pattern], acl.principal, "*",
        AclOperation[acl.operation], AclPermissionType.ALLOW,
    )


def _acl_of(binding: AclBinding) -> Acl | None:
    """The ``Acl`` a binding is, or ``None`` if it is not an ALLOW-for-any-host rule we model."""
    resource = _RESOURCE_OF.get(binding.restype)
    pattern = _PATTERN_OF.get(binding.resource_pattern_type)
    operation = binding.operation
    if (resource is None or pattern is None or binding.host != "*"
            or binding.permission_type != AclPermissionType.ALLOW
            or not isinstance(operation, AclOperation)):
        return None
    try:
        return Acl(resource, binding.name, pattern, binding.principal, operation.name)
    except ValueError:
        return None


def _describe_binding(binding: AclBinding) -> str:
    def name(value: Any) -> str:
        return str(getattr(value, "name", value))

    return (f"{binding.principal} {name(binding.permission_type)} {name(binding.operation)}"
            f" {name(binding.restype)}:{binding.name} ({name(binding.resource_pattern_type)},"
            f" host {binding.host})")


_EVERYTHING = AclBindingFilter(  # None: any name, principal, host
    ResourceType.ANY, None, ResourcePatternType.ANY, None, None,  # type: ignore[arg-type]
    AclOperation.ANY, AclPermissionType.ANY,
)


def _all_bindings(admin: AdminClient) -> list[AclBinding]:
    result: list[AclBinding] = admin.describe_acls(
        _EVERYTHING, request_timeout=TIMEOUT_S
    ).result(timeout=TIMEOUT_S + 5)
    return result


async def current_acls(kafka: KafkaAccess) -> frozenset[Acl]:
    """Every ALLOW rule for any host on the cluster (whoever's principal it is)."""
    bindings = await _call("list the ACLs", kafka, _all_bindings)
    return frozenset(acl for acl in map(_acl_of, bindings) if acl is not None)


def _in_force(admin: AdminClient, created: set[Acl], deleted: set[Acl]) -> None:
    """Wait until the broker lists ``created`` and no longer ``deleted``: it answers a change
    once its controller has committed it, and authorizes by it only once it has read it back
    (an organisation onboarded and publishing at once was refused IdempotentWrite in CI)."""
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        listed = {acl for acl in map(_acl_of, _all_bindings(admin)) if acl is not None}
        if created <= listed and not deleted & listed:
            return
        if time.monotonic() > deadline:
            missing = sorted(a.describe() for a in created - listed)
            left = sorted(a.describe() for a in deleted & listed)
            raise BrokerAdminError(
                f"the broker did not apply the ACL changes within {TIMEOUT_S:g} s (not yet "
                f"there: {missing}; still there: {left})", code="acls_not_applied")
        time.sleep(0.05)


def _apply(
    admin: AdminClient, wanted: frozenset[Acl], in_scope: Callable[[str], bool]
) -> AclChanges:
    """Create ``wanted - current``, then delete in-scope bindings not in ``wanted``."""
    bindings = _all_bindings(admin)
    current = {acl for acl in map(_acl_of, bindings) if acl is not None}
    create = sorted(wanted - current)
    if create:
        futures = admin.create_acls([_binding(acl) for acl in create], request_timeout=TIMEOUT_S)
        for future in futures.values():
            future.result(timeout=TIMEOUT_S + 5)
    stale = [(b, _acl_of(b)) for b in bindings if in_scope(b.principal)]
    stale = [(b, acl) for b, acl in stale if acl is None or acl not in wanted]
    if stale:
        filters = [
            AclBindingFilter(b.restype, b.name, b.resource_pattern_type, b.principal, b.host,
                             b.operation, b.permission_type)
            for b, _ in stale
        ]
        for future in admin.delete_acls(filters, request_timeout=TIMEOUT_S).values():
            future.result(timeout=TIMEOUT_S + 5)
    if create or stale:
        _in_force(admin, set(create), {acl for _, acl in stale if acl is not None})
    return AclChanges(
        created=tuple(create),
        deleted=tuple(sorted(acl for _, acl in stale if acl is not None)),
        deleted_other=tuple(_describe_binding(b) for b, acl in stale if acl is None),
    )


async def apply_acls(
    kafka: KafkaAccess, desired: Iterable[Acl], *, only: Collection[str] | None = None
) -> AclChanges:
    """Make the managed principals' ACLs exactly ``desired``; idempotent.

    Creates what is missing, then deletes every ACL of a ``managed`` principal that is not in
    ``desired`` (ACLs of other principals are never touched). ``only`` narrows both to those
    principals: onboarding or offboarding one organisation changes only its own ACLs, and tests
    sharing a broker leave each other's alone.
    """
    wanted = frozenset(desired)
    strays = sorted({a.principal for a in wanted if not managed(a.principal)})
    if strays:
        raise ValueError(f"not principals this policy manages: {', '.join(strays)}")

    def in_scope(principal: str) -> bool:
        return managed(principal) and (only is None or principal in only)

    wanted = frozenset(a for a in wanted if in_scope(a.principal))
    changes = await _call("apply the ACLs", kafka, lambda admin: _apply(admin, wanted, in_scope))
    for acl in changes.created:
        log.info("acl_created", acl=acl.describe())
    for acl in changes.deleted:
        log.info("acl_deleted", acl=acl.describe())
    for other in changes.deleted_other:
        log.info("acl_deleted", acl=other)
    return changes
