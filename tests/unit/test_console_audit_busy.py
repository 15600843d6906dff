"""``emining serve``'s audit pages never queue whole-log reads: while one runs, a question with
no fresh answer is answered busy; a fresh answer is given even then. And a terminal traceback
shows no frame's local variables (a password can be one)."""

from __future__ import annotations

import io
import secrets
import time
from datetime import date

import pytest
import structlog

from consumers.audit.findings import VerifyReport
from consumers.console.pages_audit import AuditBusyError
from infra.compose.console_audit import LogAudit
from infra.logging import configure_logging
from schemas.timing import TimeBounds
from transport.access import KafkaAccess

KAFKA = KafkaAccess("127.0.0.1:9", "SASL_PLAINTEXT", "emining-audit", "pw")


async def test_a_second_question_while_a_read_runs_is_busy_unless_its_answer_is_fresh():
    audit = LogAudit.of(KAFKA, [], timeout_s=1.0, bounds=TimeBounds())
    await audit._lock.acquire()  # a whole-log read is running
    try:
        with pytest.raises(AuditBusyError):
            await audit.verify()
        with pytest.raises(AuditBusyError):
            await audit.state_as_of(date(2026, 1, 5), False)
        kept = VerifyReport(records=3)
        audit._report = (time.monotonic(), kept)
        audit._states[(date(2026, 1, 5), False)] = (time.monotonic(), {"projects": {"active": 1}})
        assert await audit.verify() is kept
        assert await audit.state_as_of(date(2026, 1, 5), False) == {"projects": {"active": 1}}
        with pytest.raises(AuditBusyError):  # another day, or with late records: not kept
            await audit.state_as_of(date(2026, 1, 5), True)
        audit._report = (time.monotonic() - audit.fresh_s - 1, kept)  # stale
        with pytest.raises(AuditBusyError):
            await audit.verify()
    finally:
        audit._lock.release()


def _login(password: str) -> None:
    raise RuntimeError(f"login failed with a {len(password)}-character password")


def test_a_terminal_traceback_shows_no_local_variables(monkeypatch):
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    configure_logging("info", "console")
    password = secrets.token_hex(12)  # only a local variable holds it: not in any source line
    try:
        _login(password)
    except RuntimeError:
        structlog.get_logger("t").exception("broker_login_failed")
    out = err.getvalue()
    assert "broker_login_failed" in out
    assert "character password" in out  # the traceback is there
    assert password not in out
