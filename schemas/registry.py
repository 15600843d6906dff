"""The registry as state: fold participant events in log order, then ask who held what when."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache

from schemas.base import EventData
from schemas.common import Function, Language, Province, Role, Side, TitleType
from schemas.errors import ContractError, SignatureError
from schemas.participants import (
    AuthorityGranted,
    AuthorityWithdrawn,
    BackfillWindowClosed,
    BackfillWindowOpened,
    FunctionsAssigned,
    KeyAdded,
    KeyRevoked,
    KeyRotated,
    MembershipBackdated,
    OrganisationOffboarded,
    OrganisationOnboarded,
    RegistrySeed,
)
from schemas.signing import Verifier, b64, unb64


class RegistryError(ContractError):
    """A registry event that cannot apply to the registry as it stands (unknown org, reused key)."""


@dataclass(frozen=True, slots=True)
class KeyRecord:
    keyid: str
    public_key: bytes
    valid_from: datetime
    valid_until: datetime | None = None
    revoked: bool = False

    def valid_at(self, moment: datetime) -> bool:
        return self.valid_from <= moment and (self.valid_until is None or moment < self.valid_until)


@lru_cache(maxsize=1 << 14)
def _covers(patterns: tuple[str, ...], type_name: str) -> bool:
    """``type_name`` matches one of ``patterns`` (fnmatch, case-sensitive), once per pair: every
    event's authority check asks this of each grant of its organisation."""
    return any(fnmatch.fnmatchcase(type_name, pattern) for pattern in patterns)


@dataclass(frozen=True, slots=True)
class Grant:
    grant_id: str
    event_types: tuple[str, ...]
    provinces: frozenset[Province]
    title_types: frozenset[TitleType]
    own_only: bool
    valid_from: datetime
    valid_until: datetime | None = None

    def valid_at(self, moment: datetime) -> bool:
        return self.valid_from <= moment and (self.valid_until is None or moment < self.valid_until)

    def covers_type(self, type_name: str) -> bool:
        return _covers(self.event_types, type_name)

    def describe(self) -> str:
        where = ",".join(sorted(self.provinces)) or "any province"
        what = ",".join(sorted(self.title_types)) or "any title"
        own = ", own subjects only" if self.own_only else ""
        return f"{self.grant_id}: {' '.join(self.event_types)} in {where}, {what}{own}"


@dataclass(frozen=True, slots=True)
class BackfillWindow:
    """History an organisation may load: event times ``events_from``..``events_until`` while
    the broker appends between ``open_from`` and ``open_until``."""

    window_id: str
    events_from: datetime
    events_until: datetime
    open_from: datetime
    open_until: datetime
    reason: str

    def admits(self, event_time: datetime, appended_at: datetime) -> bool:
        return (self.events_from <= event_time < self.events_until
                and self.open_from <= appended_at < self.open_until)

    def describe(self) -> str:
        return (f"{self.window_id}: events {self.events_from:%Y-%m-%d %H:%M} to "
                f"{self.events_until:%Y-%m-%d %H:%M}, appended {self.open_from:%Y-%m-%d %H:%M} "
                f"to {self.open_until:%Y-%m-%d %H:%M} UTC")


@dataclass(slots=True)
class OrgRecord:
    id: str
    names: dict[str, str]
    side: Side
    role: Role
    language: Language
    uscc: str | None
    onboarded_at: datetime
    offboarded_at: datetime | None = None
    functions: frozenset[Function] = frozenset()
    keys: dict[str, KeyRecord] = field(default_factory=dict)
    grants: list[Grant] = field(default_factory=list)
    backfills: list[BackfillWindow] = field(default_factory=list)

    def backfill_for(self, event_time: datetime, appended_at: datetime) -> BackfillWindow | None:
        """The window that lets a record dated ``event_time`` be appended at ``appended_at``."""
        return next((w for w in self.backfills if w.admits(event_time, appended_at)), None)

    @property
    def party_ids(self) -> frozenset[str]:
        """Identifiers an event may name this organisation by."""
        return frozenset(x for x in (self.id, self.uscc) if x)

    def active_at(self, moment: datetime) -> bool:
        return self.onboarded_at <= moment and (
            self.offboarded_at is None or moment < self.offboarded_at
        )


class Registry:
    """Organisations, keys and grants, built only by ``apply`` in log order."""

    def __init__(self) -> None:
        self.orgs: dict[str, OrgRecord] = {}
        self._key_owner: dict[str, str] = {}

    def with_function(self, function: Function, at: datetime | None = None) -> list[str]:
        """The organisations (active at ``at``, default now) that have ``function``, by id."""
        moment = at or datetime.now(UTC)
        return sorted(o.id for o in self.orgs.values()
                      if function in o.functions and o.active_at(moment))

    def org(self, org_id: str) -> OrgRecord:
        record = self.orgs.get(org_id)
        if record is None:
            raise RegistryError(f"organisation {org_id} is not registered")
        return record

    def apply(self, data: EventData, at: datetime) -> None:
        """Fold one registry event; ``at`` is its event time (used where the data has none)."""
        if isinstance(data, OrganisationOnboarded):
            if data.org_id in self.orgs:
                raise RegistryError(f"organisation {data.org_id} is already registered")
            self.orgs[data.org_id] = OrgRecord(
                id=data.org_id,
                names=data.names.model_dump(exclude_none=True),
                side=data.side,
                role=data.role,
                language=data.language,
                uscc=data.uscc,
                onboarded_at=data.effective_from or at,
                functions=frozenset(data.functions),
            )
            return
        org = self.org(getattr(data, "org_id", ""))
        if isinstance(data, OrganisationOffboarded):
            org.offboarded_at = data.effective_at
        elif isinstance(data, MembershipBackdated):
            org.onboarded_at = min(org.onboarded_at, data.effective_from)
        elif isinstance(data, KeyAdded | KeyRevoked | KeyRotated):
            self._apply_key(org, data)
        elif isinstance(data, AuthorityGranted | AuthorityWithdrawn):
            self._apply_grant(org, data)
        elif isinstance(data, FunctionsAssigned):
            org.functions = frozenset(data.functions)
        elif isinstance(data, BackfillWindowOpened | BackfillWindowClosed):
            self._apply_backfill(org, data)
        else:
            raise RegistryError(f"{data.ce_type()} is not a registry event")

    def _apply_key(self, org: OrgRecord, data: KeyAdded | KeyRevoked | KeyRotated) -> None:
        if isinstance(data, KeyAdded):
            self._add_key(org, data.keyid, data.public_key, data.valid_from)
        elif isinstance(data, KeyRevoked):
            key = self._own_key(org, data.keyid)
            org.keys[key.keyid] = replace(key, valid_until=data.revoked_at, revoked=True)
        else:
            old = self._own_key(org, data.old_keyid)
            org.keys[old.keyid] = replace(old, valid_until=data.effective_at)
            self._add_key(org, data.new_keyid, data.new_public_key, data.effective_at)

    @staticmethod
    def _apply_grant(org: OrgRecord, data: AuthorityGranted | AuthorityWithdrawn) -> None:
        if isinstance(data, AuthorityGranted):
            org.grants.append(
                Grant(
                    grant_id=data.grant_id,
                    event_types=data.event_types,
                    provinces=frozenset(data.provinces),
                    title_types=frozenset(data.title_types),
                    own_only=data.own_only,
                    valid_from=data.valid_from,
                )
            )
            return
        live = [g for g in org.grants if g.grant_id == data.grant_id and g.valid_until is None]
        if not live:
            raise RegistryError(f"{org.id} holds no grant {data.grant_id} to withdraw")
        org.grants = [
            replace(g, valid_until=data.effective_at) if g in live else g for g in org.grants
        ]

    @staticmethod
    def _apply_backfill(org: OrgRecord,
                        data: BackfillWindowOpened | BackfillWindowClosed) -> None:
        known = next((w for w in org.backfills if w.window_id == data.window_id), None)
        if isinstance(data, BackfillWindowOpened):
            if known is not None:
                raise RegistryError(f"{org.id} already has a backfill window {data.window_id}")
            org.backfills.append(BackfillWindow(
                data.window_id, data.events_from, data.events_until, data.open_from,
                data.open_until, data.reason))
            return
        if known is None:
            raise RegistryError(f"{org.id} has no backfill window {data.window_id} to close")
        closed = replace(known, open_until=min(known.open_until,
                                               max(data.effective_at, known.open_from)))
        org.backfills = [closed if w is known else w for w in org.backfills]

    def _add_key(self, org: OrgRecord, keyid: str, public_key: str, valid_from: datetime) -> None:
        raw = unb64(public_key, what="public_key")
        if Verifier(raw).keyid != keyid:
            raise RegistryError(f"keyid {keyid} does not match the public key")
        if keyid in self._key_owner:
            raise RegistryError(f"key {keyid} is already registered to {self._key_owner[keyid]}")
        self._key_owner[keyid] = org.id
        org.keys[keyid] = KeyRecord(keyid=keyid, public_key=raw, valid_from=valid_from)

    @staticmethod
    def _own_key(org: OrgRecord, keyid: str) -> KeyRecord:
        key = org.keys.get(keyid)
        if key is None:
            raise RegistryError(f"{org.id} has no key {keyid}")
        return key

    def key_for(self, org_id: str, keyid: str, moment: datetime) -> KeyRecord:
        """The key ``keyid`` of ``org_id`` if it was valid at ``moment``; else why not."""
        org = self.orgs.get(org_id)
        if org is None:
            raise SignatureError(f"signer {org_id} is not a registered organisation")
        key = org.keys.get(keyid)
        if key is None:
            owner = self._key_owner.get(keyid)
            extra = f" (it belongs to {owner})" if owner else ""
            raise SignatureError(f"key {keyid} is not a key of {org_id}{extra}")
        if moment < key.valid_from:
            raise SignatureError(f"key {keyid} of {org_id} is not valid before {key.valid_from}")
        if key.valid_until is not None and moment >= key.valid_until:
            state = "revoked" if key.revoked else "rotated out"
            raise SignatureError(f"key {keyid} of {org_id} was {state} at {key.valid_until}")
        return key


def backfill_events(org_ids: Iterable[str], window_id: str, events: tuple[datetime, datetime],
                    open_window: tuple[datetime, datetime], reason: str) -> list[EventData]:
    """One backfill window per organisation: history dated within ``events`` may be appended
    while ``open_window`` lasts (a demo's or a migration's loading job)."""
    return [BackfillWindowOpened(org_id=org, window_id=window_id, events_from=events[0],
                                 events_until=events[1], open_from=open_window[0],
                                 open_until=open_window[1], reason=reason)
            for org in org_ids]


def seed_events(
    seed: RegistrySeed, public_keys: dict[str, bytes], valid_from: datetime
) -> list[EventData]:
    """Registry events that onboard every organisation of a seed file with its key and grants."""
    events: list[EventData] = []
    for org in seed.organisations:
        events.append(
            OrganisationOnboarded(
                org_id=org.id,
                names=org.names,
                side=org.side,
                role=org.role,
                language=org.language,
                uscc=org.uscc,
                effective_from=valid_from,
                functions=org.functions,
            )
        )
        if org.id in public_keys:
            raw = public_keys[org.id]
            events.append(
                KeyAdded(
                    org_id=org.id,
                    keyid=Verifier(raw).keyid,
                    public_key=b64(raw),
                    valid_from=valid_from,
                )
            )
        events.extend(
            AuthorityGranted(
                org_id=org.id,
                grant_id=spec.id,
                event_types=spec.event_types,
                provinces=spec.provinces,
                title_types=spec.title_types,
                own_only=spec.own_only,
                valid_from=valid_from,
            )
            for spec in org.authorities
        )
    return events
