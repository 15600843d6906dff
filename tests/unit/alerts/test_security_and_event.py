"""Security alerts from dead letters, and the AlertRaised event the platform signs."""

# ruff: noqa: RUF001 - the expected texts are Chinese and Urdu, punctuation included

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from pydantic import ValidationError

from consumers.alerts.i18n import render_all
from consumers.alerts.render import alert_of
from consumers.alerts.rules_events import event_notices
from consumers.alerts.security import security_notices
from consumers.dlq import DeadLetter
from consumers.verification import Reason, Rejected
from schemas.alerts import AlertRaised, AlertRule, Severity, alert_id
from schemas.base import Scope
from schemas.catalogue import event_types
from schemas.common import Language
from schemas.envelope import seal, to_record
from schemas.events import CustomsHeld, LicenceGranted
from schemas.signing import GENESIS_HASH, PrivateKey
from tests.unit.alerts.world import (
    BA_MMDD,
    CUSTOMS,
    MCC,
    NOW,
    PLATFORM,
    context,
    fact,
    iso,
    urdu,
)
from tests.unit.helpers import example


@dataclass
class Record:
    topic: str = "emining.approvals.v1"
    partition: int = 2
    offset: int = 41
    key: bytes | None = b"BA-EL-2025-0153"
    value: bytes | None = b"{}"
    headers: list[tuple[str, bytes | None]] = field(default_factory=lambda: [
        ("ce_source", f"{BA_MMDD}/gateway".encode()), ("ce_subject", b"BA-EL-2025-0153"),
        ("ce_type", b"pk.emining.approval.licence.granted.v1")])


def letter(reason: Reason, source: str | None = f"{BA_MMDD}/gateway") -> DeadLetter:
    return DeadLetter(Record(), Rejected(reason, "signature does not verify with key 3f1c",
                                         source=source), "views")


def test_forged_signature_tells_the_platform_and_the_impersonated_agency() -> None:
    notices = security_notices(letter(Reason.SIGNATURE), context())
    assert [n.recipient for n in notices] == [PLATFORM, BA_MMDD]
    notice = notices[1]
    assert (notice.rule, notice.severity, notice.about) == (
        AlertRule.SECURITY_REJECTION, Severity.CRITICAL, "BA-EL-2025-0153")
    assert notice.cause.key == "emining.approvals.v1:2:41"
    assert notice.alert_id == alert_id(AlertRule.SECURITY_REJECTION, "emining.approvals.v1:2:41",
                                       BA_MMDD)
    texts = render_all(notice.message)
    source = f"{BA_MMDD}/gateway"
    assert texts.en == (f"A record claiming to come from {source} was refused on "
                        "emining.approvals.v1: signature does not verify. It is in the "
                        "dead-letter queue as emining.approvals.v1:2:41.")
    assert texts.zh == (f"一条声称来自 {source} 的记录在 emining.approvals.v1 上被拒绝："
                        "签名验证失败。该记录已存入死信队列，编号 emining.approvals.v1:2:41。")
    assert texts.ur == urdu(f"{iso(source)} سے ہونے کا دعویٰ کرنے والا ایک ریکارڈ "
                            f"{iso('emining.approvals.v1')} پر مسترد کیا گیا: "
                            f"{iso('دستخط کی تصدیق نہیں ہوئی')}۔ یہ ڈیڈ لیٹر قطار میں "
                            f"{iso('emining.approvals.v1:2:41')} کے طور پر محفوظ ہے۔")


def test_an_impostor_granting_itself_a_licence_tells_the_authority_it_usurped() -> None:
    """A firm signs, validly, a grant of its own licence: the platform is told, and so is the
    licensing authority whose power it usurped, in that authority's language."""
    impostor = PrivateKey.generate(MCC)
    grant = example(LicenceGranted)  # BA-EL-2025-0153 in Balochistan, held by MCC
    env = seal(grant, source=f"{MCC}/laptop", signer=impostor.signer(), sequence=1,
               prevhash=GENESIS_HASH, time=NOW)
    kafka = to_record(env)
    record = Record(key=kafka.key, value=kafka.value, headers=list(kafka.headers))
    dead = DeadLetter(record, Rejected(Reason.AUTHORITY, f"{MCC} holds no authority",
                                       event_id=env.id, source=env.source), "views")
    ctx = context()
    notices = security_notices(dead, ctx)
    assert [n.recipient for n in notices] == [PLATFORM, BA_MMDD]
    told = alert_of(notices[1], ctx.directory, NOW)
    assert told.language is ctx.directory.language(BA_MMDD)
    assert "outside its authority" in told.texts.en
    assert [n.recipient for n in security_notices(letter(Reason.AUTHORITY), ctx)] == [PLATFORM]


def test_an_impossible_step_tells_its_emitter_and_the_platform() -> None:
    notices = security_notices(letter(Reason.INVALID_TRANSITION), context())
    assert [n.recipient for n in notices] == [PLATFORM, BA_MMDD]
    assert "a step its lifecycle does not allow" in render_all(notices[1].message).en


def test_unregistered_claimed_source_tells_only_the_platform() -> None:
    notices = security_notices(letter(Reason.UNKNOWN_KEY, "urn:emining:cn:ent:nobody/x"),
                               context())
    assert [n.recipient for n in notices] == [PLATFORM]


def test_malformed_records_and_duplicates_raise_no_security_alert() -> None:
    for reason in (Reason.MALFORMED, Reason.SCHEMA, Reason.DUPLICATE, Reason.BAD_JSON):
        assert security_notices(letter(reason), context()) == []


def test_alert_event_routes_to_the_recipient_and_only_the_platform_speaks_for_it() -> None:
    [notice] = event_notices(fact(example(LicenceGranted)), context())
    alert = alert_of(notice, context().directory, NOW)
    assert alert.destination_topic() == "emining.alerts.cn-ent-mcc-resources"
    assert alert.subject == "BA-EL-2025-0153"
    assert alert.language is Language.ZH
    assert alert.text == alert.texts.zh
    assert alert.scope() == Scope(parties=frozenset({PLATFORM}))
    assert event_types()["pk.emining.alert.raised.v1"] is AlertRaised
    again = AlertRaised.model_validate_json(alert.model_dump_json())
    assert again == alert


def test_alert_id_must_be_derived_from_rule_cause_and_recipient() -> None:
    notice = event_notices(fact(example(CustomsHeld), source=f"{CUSTOMS}/gw"), context())[0]
    assert notice.recipient == CUSTOMS
    alert = alert_of(notice, context().directory, NOW).model_dump(mode="json")
    alert["recipient"] = MCC  # same alert, another recipient: the id no longer matches
    with pytest.raises(ValidationError, match="alert_id must be"):
        AlertRaised.model_validate(alert)


def test_example_is_a_valid_rendered_alert() -> None:
    example_alert = AlertRaised.model_validate(AlertRaised.EXAMPLE)
    [notice] = event_notices(fact(example(LicenceGranted), event_id="0194f5b2-6c1e-7d3a-9a43-"
                                  "2f1c7e0b5a11"), context())
    assert example_alert.texts == render_all(notice.message)
    assert example_alert.alert_id == notice.alert_id
