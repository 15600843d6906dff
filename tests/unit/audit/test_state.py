"""``audit replay --subject``'s state: an approval carries its standing on the replay's day."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from consumers.audit.state import subject_state
from consumers.store import ViewStore
from consumers.store_batch import view_row
from consumers.views.families import BY_NAME
from consumers.views.models import ApprovalKind, ApprovalStatus, ApprovalView

EIA = "EIA-BA-2025-0031"
DEEMED_ON = date(2026, 4, 22)


async def test_an_environmental_file_is_deemed_approved_on_its_day_not_before(tmp_path: Path):
    filed = ApprovalView(ref=EIA, kind=ApprovalKind.ENVIRONMENTAL,
                         holder_uscc="91650100MA7XK3P2LA", status=ApprovalStatus.FILED,
                         authority="urn:emining:pk:gov:ba-epa",
                         received_at=datetime(2025, 12, 22, 5, tzinfo=UTC),
                         due={"deemed_approval_on": DEEMED_ON}, standard_due_on=DEEMED_ON,
                         updated_at=datetime(2025, 12, 22, 5, tzinfo=UTC))
    store = ViewStore(f"sqlite:///{tmp_path / 'views.sqlite'}")
    await store.open()
    try:
        async with store.writing() as (conn, tables):
            await conn.execute(tables.approvals.insert(),
                               [view_row(BY_NAME["approvals"], EIA, filed)])
        before = (await subject_state(store, EIA, DEEMED_ON.replace(day=21)))["view"]
        on = (await subject_state(store, EIA, DEEMED_ON))["view"]
        bare = (await subject_state(store, EIA))["view"]
    finally:
        await store.close()
    assert (before["status"], before["effective_status"], before["as_of"]) == (
        "filed", "filed", "2026-04-21")
    assert (before["days_pending"], before["breached"]) == (120, False)
    assert (on["status"], on["effective_status"], on["days_pending"]) == (
        "filed", "deemed_approved", None)  # decided by law: no longer pending, never breached
    assert on["breached"] is False
    assert "effective_status" not in bare  # no day asked: the view as stored
