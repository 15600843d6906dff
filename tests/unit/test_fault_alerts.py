"""The fault suite's alerts leg without a cluster: the table's columns, what counts as a false
gap alarm."""

from __future__ import annotations

from typing import Any

from schemas.alerts import AlertRaised, AlertRule, alert_id
from tests.faults.harness import transient_gap
from tests.faults.table import rows

GAP_RECORD = "emining.projects.v1:1:8"


def gap_alert(key: str = GAP_RECORD, reason: str = "sequence_gap",
              rule: AlertRule = AlertRule.SECURITY_REJECTION) -> AlertRaised:
    recipient = "urn:emining:xx:platform:operator"
    data = {**AlertRaised.EXAMPLE, "rule": rule.value, "recipient": recipient,
            "alert_id": alert_id(rule, key, recipient),
            "cause": {"kind": "rejection", "key": key},
            "details": {"reason": reason, "detail": "sequence 53 of x/sdk is held"}}
    return AlertRaised.model_validate(data)


def test_a_gap_alert_for_a_record_on_the_log_is_a_false_alarm() -> None:
    assert transient_gap(gap_alert(), {GAP_RECORD})


def test_a_gap_alert_for_a_record_not_on_the_log_is_not() -> None:
    assert not transient_gap(gap_alert(), {"emining.projects.v1:1:9"})


def test_other_security_alerts_are_never_false_alarms() -> None:
    assert not transient_gap(gap_alert(reason="signature"), {GAP_RECORD})
    assert not transient_gap(gap_alert(reason="fork"), {GAP_RECORD})


def result(alerts: dict[str, Any] | None) -> dict[str, Any]:
    client = {"reported_failed": 0, "failed_then_landed_once": 0, "failed_not_on_log": 0,
              "recovery_s": 1.25}
    found: dict[str, Any] = {
        "scenario": "leader_kill", "acknowledged": 10, "lost": 0, "duplicated": 0,
        "clients": dict.fromkeys(("sdk", "import", "gateway"), client),
        "audit": {"ok": True}, "views": {"equal_to_rebuild": True}}
    if alerts is not None:
        found["alerts"] = alerts
    return found


def test_the_table_shows_the_alert_counts() -> None:
    alerts = {"expected": 128, "delivered": 127, "missing": 1, "duplicated": 2, "extra": 3,
              "transient_gap_alerts": 24}
    header, rule, row = rows([result(alerts)])
    assert header.count("|") == rule.count("|") == row.count("|") == 14
    assert row.endswith("| clean | yes | 128 | 127 | 1 | 2 | 3 (24) |")
    assert "alerts expected | delivered | missing | duplicated | extra (gap alarms)" in header


def test_figures_from_before_the_alerts_leg_still_print() -> None:
    [_, _, row] = rows([result(None)])
    assert row.endswith("| clean | yes | - | - | - | - | - |")
