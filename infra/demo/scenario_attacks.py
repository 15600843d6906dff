"""Bad records for the demo to inject raw, each with the finding the platform must make of it.

A forged grant, a firm granting itself a licence, Sindh granting a Balochistan title with its
real key, a royalty payment replayed byte for byte, a clearance signed by a key no one registered
claiming to be Customs, and an export approval a firm signs with its own key as if it were PSW.
``forge`` builds each one's signed envelope (pure: no broker); a replay is re-sent from the log.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from nacl.signing import SigningKey

from consumers.audit.findings import Kind
from consumers.verification import Reason
from infra.demo import scenario_world as w
from infra.demo.scenario_core import NAMESPACE, Builder
from schemas.base import EventData
from schemas.common import Mineral, Province
from schemas.envelope import Envelope, seal
from schemas.events.approvals_applications import LicenceGranted, add_years
from schemas.events.approvals_other import ExportApprovalDecided, LpcoStatus, LpcoType
from schemas.events.shipments import ShipmentEvent
from schemas.events.shipments_border import CustomsCleared
from schemas.signing import GENESIS_HASH, PrivateKey, Signer

ROGUE_INSTANCE = "rogue"
"""Instance name of the attackers' sources: each own-key attack starts a chain of its own."""


class Technique(StrEnum):
    FORGED_SIGNATURE = "forged_signature"
    """Signed with a key the forger made, under the claimed organisation's real key id."""
    OUT_OF_AUTHORITY = "out_of_authority"
    """Signed with the organisation's own valid key, about something it may not decide."""
    REPLAY = "replay"
    """An earlier record of the log sent again, byte for byte."""
    UNREGISTERED_KEY = "unregistered_key"
    """Signed with a key no organisation registered, named by its own key id."""
    BORROWED_KEY = "borrowed_key"
    """Signed with another organisation's valid key, while claiming to be this one."""


@dataclass(frozen=True, slots=True)
class ExpectedFinding:
    """What ``emining audit verify`` and a live consumer's DLQ must say of the record."""

    audit_kind: Kind
    audit_reason: str
    """A fragment of the audit finding's reason."""
    dlq_reason: Reason
    violation: bool = True
    """False: the audit reports it as a warning (an identical re-send is not a violation)."""


@dataclass(frozen=True, slots=True)
class Attack:
    name: str
    description: str
    technique: Technique
    org: str
    """The organisation the record claims as its source."""
    data: EventData | None
    """``None`` for a replay: the bytes come from the log."""
    time: datetime
    event_id: str
    """The CloudEvents id the record carries (a replay's is the original's)."""
    expected: ExpectedFinding
    signer: str | None = None
    """Whose real key signs (own-key and borrowed-key attacks)."""
    replays: str | None = None
    """The event id of the step a replay re-sends."""
    forger_seed: bytes = b""

    @property
    def source(self) -> str:
        """The source a forged record names (a replay keeps its original's)."""
        return f"{self.org}/{ROGUE_INSTANCE}"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "description": self.description, "technique": self.technique.value,
            "org": self.org, "source": None if self.replays else self.source,
            "signer": self.signer,
            "replays": self.replays, "id": self.event_id, "time": self.time.isoformat(),
            "type": self.data.ce_type() if self.data else None,
            "subject": self.data.subject if self.data else None,
            "data": self.data.model_dump(mode="json", exclude_none=True) if self.data else None,
            "expected": {"audit_kind": self.expected.audit_kind.value,
                         "audit_reason": self.expected.audit_reason,
                         "dlq_reason": self.expected.dlq_reason.value,
                         "violation": self.expected.violation},
        }


def forge(attack: Attack, keys: Mapping[str, PrivateKey]) -> Envelope:
    """The signed envelope of a (non-replay) attack, as sequence 1 of its rogue source."""
    if attack.data is None:
        raise ValueError(f"{attack.name} is a replay: re-send the record of {attack.replays}")
    forger = PrivateKey(org=attack.org, seed=attack.forger_seed)
    match attack.technique:
        case Technique.FORGED_SIGNATURE:
            signer = Signer(keys[attack.org].keyid, SigningKey(attack.forger_seed))
        case Technique.UNREGISTERED_KEY:
            signer = forger.signer()
        case _:
            assert attack.signer is not None
            signer = keys[attack.signer].signer()
    return seal(attack.data, source=attack.source, signer=signer, sequence=1,
                prevhash=GENESIS_HASH, event_id=attack.event_id, time=attack.time)


def _grant(b: Builder, title: str, holder: str, on: datetime,
           minerals: tuple[Mineral, ...]) -> LicenceGranted:
    day = b.date_of(on)
    return LicenceGranted(title_number=title, holder_uscc=holder, granted_on=day, term_years=3,
                          expires_on=add_years(day, 3) - timedelta(days=1),
                          area_km2=Decimal("42.0000"), minerals=minerals)


def build(b: Builder) -> tuple[Attack, ...]:
    """The attacks, aimed at subjects the stories created (see ``Facts.anchors``)."""
    a = b.facts.anchors
    assert a.refused_title
    assert a.pending_ba_title
    assert a.pending_gb_title
    assert a.royalty_payment
    assert a.held_declaration
    assert b.facts.held_shipment
    assert b.facts.no_approval_shipment
    out: list[Attack] = []

    def add(name: str, description: str, technique: Technique, org: str,
            data: EventData | None, moment: datetime, expected: ExpectedFinding,
            signer: str | None = None, replays: str | None = None) -> None:
        event_id = replays or str(uuid.uuid5(NAMESPACE, f"{b.seed}/{b.scale}/attack/{name}"))
        seed = hashlib.sha256(f"emining-scenario-forger/{b.seed}/{name}".encode()).digest()
        out.append(Attack(name, description, technique, org, data, moment, event_id, expected,
                          signer, replays, seed))

    moment = b.office(240)
    add("forged-grant", "A licence grant for the application Balochistan refused, signed by a "
        "forger under the department's key id", Technique.FORGED_SIGNATURE, w.BA_MMDD,
        _grant(b, *a.refused_title, moment, (Mineral.LEAD, Mineral.ZINC)), moment,
        ExpectedFinding(Kind.BAD_SIGNATURE, "forged or altered", Reason.SIGNATURE))
    title, holder, firm = a.pending_gb_title
    moment = b.office(335)
    add("self-granted-licence", "A firm grants itself the licence it applied for, with its own "
        "key", Technique.OUT_OF_AUTHORITY, firm,
        _grant(b, title, holder, moment, (Mineral.LITHIUM,)), moment,
        ExpectedFinding(Kind.UNAUTHORISED,
                        "holds no authority for pk.emining.approval.licence.granted",
                        Reason.AUTHORITY), signer=firm)
    moment = b.office(320)
    add("out-of-province-grant", "Sindh's department grants a Balochistan title, with its real "
        "key", Technique.OUT_OF_AUTHORITY, w.SD_MMD,
        _grant(b, *a.pending_ba_title, moment, (Mineral.COPPER, Mineral.GOLD)), moment,
        ExpectedFinding(Kind.UNAUTHORISED, "does not cover PK-BA", Reason.AUTHORITY),
        signer=w.SD_MMD)
    original = next(s for s in b.steps if s.event_id == a.royalty_payment)
    add("replayed-royalty-payment", "A royalty payment record sent again byte for byte, as if "
        "paid twice", Technique.REPLAY, original.org, None, original.time,
        ExpectedFinding(Kind.REDELIVERY, f"identical copy of event {a.royalty_payment}",
                        Reason.DUPLICATE, violation=False), replays=a.royalty_payment)
    moment = b.office(356)
    held = next(s.data for s in b.steps if s.subject == b.facts.held_shipment)
    assert isinstance(held, ShipmentEvent)
    add("fake-customs-release", "A release of the held shipment, signed by a key no one "
        "registered, claiming to be Pakistan Customs", Technique.UNREGISTERED_KEY, w.CUSTOMS,
        CustomsCleared(shipment_id=held.shipment_id, exporter_uscc=held.exporter_uscc,
                       declaration_number=a.held_declaration, cleared_at=moment, examined=False),
        moment, ExpectedFinding(Kind.BAD_SIGNATURE, "no organisation holds that key",
                                Reason.UNKNOWN_KEY))
    moment = b.office(358)
    year = b.date_of(moment).year
    add("borrowed-key-approval", "An export approval 'from PSW' that the exporter signed with "
        "its own key", Technique.BORROWED_KEY, w.PSW, ExportApprovalDecided(
            lpco_number=f"LPCO-{year}-{b.serial(f'LPCO-{year}', 501):06d}",
            exporter_uscc=w.ZHOB_CHROME.uscc, lpco_type=LpcoType.EXPORT_NOC,
            status=LpcoStatus.APPROVED, decided_at=moment, province=Province.BALOCHISTAN,
            hs_code="26100000", quantity_t=Decimal("1200.000"),
            valid_until=b.date_of(moment) + timedelta(days=90),
            issuing_agency=w.BA_MMDD), moment,
        ExpectedFinding(Kind.INVALID_KEY, "signature verifies but key", Reason.UNKNOWN_KEY),
        signer=w.ZHOB_CHROME.org)
    return tuple(sorted(out, key=lambda x: x.time))
