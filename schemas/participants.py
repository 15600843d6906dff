"""The participants registry: organisations, their keys and authorities, kept as events on the log.

Every change is an event on ``emining.participants.v1`` signed by the platform operator's key (the
trust anchor, configured out of band). Folding those events in log order gives the registry as
of any offset, so an auditor proves from the log alone which key and authority were valid when.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import Field, field_validator, model_validator

from schemas.base import EventData
from schemas.common import Frozen, Function, Language, Names, Province, Role, Side, TitleType
from schemas.identifiers import USCC, OrgId
from schemas.signing import KEY_ID
from schemas.topics import PARTICIPANTS

GrantId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
TypePattern = Annotated[str, Field(pattern=r"^pk\.emining\.[a-z0-9_.*]+$", max_length=120)]
PublicKeyB64 = Annotated[str, Field(pattern=r"^[A-Za-z0-9+/]{43}=$")]
"""A raw 32-byte Ed25519 public key in standard base64."""
KeyId = Annotated[str, Field(pattern=KEY_ID.schema["pattern"])]


class _RegistryEvent(EventData):
    TOPIC: ClassVar[str] = PARTICIPANTS
    SUBJECT_FIELD: ClassVar[str] = "org_id"
    org_id: OrgId


class OrganisationOnboarded(_RegistryEvent):
    """An organisation joined the platform (its keys and authorities follow as separate events)."""

    TYPE: ClassVar[str] = "pk.emining.participant.onboarded"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "org_id": "urn:emining:pk:gov:ba-mmdd",
        "names": {
            "en": "Mines & Minerals Development Department, Balochistan",
            "zh": "俾路支省矿产开发厅",
            "ur": "محکمہ معدنیات بلوچستان",
        },
        "side": "PK",
        "role": "agency",
        "language": "en",
    }
    names: Names
    side: Side
    role: Role
    language: Language = Language.EN
    uscc: USCC | None = None
    """A firm's Unified Social Credit Code: what "own subjects" grants are matched against."""
    effective_from: datetime | None = None
    """When its membership starts (default: the event's time); earlier records can be loaded."""
    functions: tuple[Function, ...] = ()
    """What it does for the platform (customs, a port...): how alerts find it."""

    @field_validator("functions")
    @classmethod
    def _functions_once(cls, value: tuple[Function, ...]) -> tuple[Function, ...]:
        if len(set(value)) != len(value):
            raise ValueError("lists each function once")
        return value


class OrganisationOffboarded(_RegistryEvent):
    TYPE: ClassVar[str] = "pk.emining.participant.offboarded"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "org_id": "urn:emining:cn:ent:example-mining",
        "effective_at": "2026-06-30T00:00:00Z",
        "reason": "contract ended",
    }
    effective_at: datetime
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class KeyAdded(_RegistryEvent):
    TYPE: ClassVar[str] = "pk.emining.participant.key.added"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "org_id": "urn:emining:pk:gov:ba-mmdd",
        "keyid": "3f1c8f7a9b2d4e60",
        "public_key": "O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik=",
        "valid_from": "2026-01-01T00:00:00Z",
    }
    keyid: KeyId
    public_key: PublicKeyB64
    valid_from: datetime


class KeyRevoked(_RegistryEvent):
    """A key stops being valid at ``revoked_at``: events it signs from then on are rejected."""

    TYPE: ClassVar[str] = "pk.emining.participant.key.revoked"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "org_id": "urn:emining:pk:gov:ba-mmdd",
        "keyid": "3f1c8f7a9b2d4e60",
        "revoked_at": "2026-05-01T00:00:00Z",
        "reason": "laptop lost",
    }
    keyid: KeyId
    revoked_at: datetime
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class KeyRotated(_RegistryEvent):
    """The old key is valid until ``effective_at``, the new one from then on."""

    TYPE: ClassVar[str] = "pk.emining.participant.key.rotated"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "org_id": "urn:emining:pk:gov:ba-mmdd",
        "old_keyid": "3f1c8f7a9b2d4e60",
        "new_keyid": "9a0b1c2d3e4f5a6b",
        "new_public_key": "O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik=",
        "effective_at": "2026-07-01T00:00:00Z",
    }
    old_keyid: KeyId
    new_keyid: KeyId
    new_public_key: PublicKeyB64
    effective_at: datetime


class AuthorityGranted(_RegistryEvent):
    """The organisation may emit the matching event types, within the given scope."""

    TYPE: ClassVar[str] = "pk.emining.participant.authority.granted"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "org_id": "urn:emining:pk:gov:ba-mmdd",
        "grant_id": "ba-licensing",
        "event_types": ["pk.emining.approval.licence.*"],
        "provinces": ["PK-BA"],
        "title_types": [],
        "own_only": False,
        "valid_from": "2026-01-01T00:00:00Z",
    }
    grant_id: GrantId
    event_types: Annotated[tuple[TypePattern, ...], Field(min_length=1)]
    provinces: tuple[Province, ...] = ()
    """Empty means any province (a federal body)."""
    title_types: tuple[TitleType, ...] = ()
    """Empty means any title type."""
    own_only: bool = False
    """Only about subjects the event names this organisation as party to (a firm's own)."""
    valid_from: datetime

    @field_validator("provinces", "title_types")
    @classmethod
    def _no_repeats(cls, value: tuple[Any, ...]) -> tuple[Any, ...]:
        if len(set(value)) != len(value):
            raise ValueError("lists each value once")
        return value


class FunctionsAssigned(_RegistryEvent):
    """The organisation's functions from now on (the whole set: an empty one clears them)."""

    TYPE: ClassVar[str] = "pk.emining.participant.functions.assigned"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "org_id": "urn:emining:pk:gov:customs",
        "functions": ["customs"],
    }
    functions: tuple[Function, ...]

    @field_validator("functions")
    @classmethod
    def _once(cls, value: tuple[Function, ...]) -> tuple[Function, ...]:
        if len(set(value)) != len(value):
            raise ValueError("lists each function once")
        return value


class AuthorityWithdrawn(_RegistryEvent):
    TYPE: ClassVar[str] = "pk.emining.participant.authority.withdrawn"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "org_id": "urn:emining:pk:gov:ba-mmdd",
        "grant_id": "ba-licensing",
        "effective_at": "2026-09-01T00:00:00Z",
    }
    grant_id: GrantId
    effective_at: datetime


WindowId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]


class BackfillWindowOpened(_RegistryEvent):
    """The organisation may load history: records dated ``events_from``..``events_until`` are
    accepted although the broker appends them long after, while the window is open.

    Outside a window a record whose ``time`` is further from the broker's append time than the
    configured skew is refused (``time_skew``): a backdated decision cannot pass as history.
    """

    TYPE: ClassVar[str] = "pk.emining.participant.backfill.opened"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "org_id": "urn:emining:pk:gov:ba-mmdd",
        "window_id": "ba-2025-archive",
        "events_from": "2025-01-01T00:00:00Z",
        "events_until": "2026-01-01T00:00:00Z",
        "open_from": "2026-12-01T00:00:00Z",
        "open_until": "2026-12-08T00:00:00Z",
        "reason": "loading the 2025 licence register from the department's archive",
    }
    window_id: WindowId
    events_from: datetime
    """The earliest event time the window admits."""
    events_until: datetime
    """Event times before this are admitted (exclusive)."""
    open_from: datetime
    """The window admits records the broker appends from this moment..."""
    open_until: datetime
    """...until this one (exclusive): loading history is a bounded job, not a standing licence."""
    reason: Annotated[str, Field(min_length=1, max_length=500)]

    @model_validator(mode="after")
    def _ordered(self) -> BackfillWindowOpened:
        if self.events_until <= self.events_from:
            raise ValueError("events_until must be after events_from")
        if self.open_until <= self.open_from:
            raise ValueError("open_until must be after open_from")
        return self


class BackfillWindowClosed(_RegistryEvent):
    """A backfill window closes early (at ``effective_at``)."""

    TYPE: ClassVar[str] = "pk.emining.participant.backfill.closed"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "org_id": "urn:emining:pk:gov:ba-mmdd",
        "window_id": "ba-2025-archive",
        "effective_at": "2026-12-03T00:00:00Z",
    }
    window_id: WindowId
    effective_at: datetime


class MembershipBackdated(_RegistryEvent):
    """An organisation already on the bus counts as a member from an earlier moment, so that its
    records kept before it joined can be loaded (with a key valid then, a backfill window and
    authority then): the operator's visible decision, never an edit of the onboarding."""

    TYPE: ClassVar[str] = "pk.emining.participant.membership.backdated"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "org_id": "urn:emining:pk:gov:customs",
        "effective_from": "2025-04-01T00:00:00Z",
        "reason": "loading the clearance records kept before the bus",
    }
    effective_from: datetime
    reason: Annotated[str, Field(min_length=1, max_length=500)]


REGISTRY_EVENTS: tuple[type[EventData], ...] = (
    OrganisationOnboarded,
    OrganisationOffboarded,
    MembershipBackdated,
    KeyAdded,
    KeyRevoked,
    KeyRotated,
    AuthorityGranted,
    AuthorityWithdrawn,
    FunctionsAssigned,
    BackfillWindowOpened,
    BackfillWindowClosed,
)


class Organisation(Frozen):
    """One organisation as read from a seed file (the YAML form of the registry)."""

    id: OrgId
    names: Names
    side: Side
    role: Role
    language: Language = Language.EN
    uscc: USCC | None = None
    functions: tuple[Function, ...] = ()
    authorities: tuple[AuthorityGrantSpec, ...] = ()


class AuthorityGrantSpec(Frozen):
    id: GrantId
    event_types: Annotated[tuple[TypePattern, ...], Field(min_length=1)]
    provinces: tuple[Province, ...] = ()
    title_types: tuple[TitleType, ...] = ()
    own_only: bool = False


class RegistrySeed(Frozen):
    """The seed file: ``organisations:`` and, for the operator, the platform's own id."""

    platform: OrgId
    organisations: tuple[Organisation, ...]
    definitions: dict[str, Any] | None = None
    """Free-form YAML anchors reused by the entries (lists of event types); not registry data."""


Organisation.model_rebuild()
