"""``audit replay --subject``'s state: an approval carries its standing on the replay's day."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from consumers.audit.state import subject_state, summary
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


async def test_the_whole_replay_counts_pending_files_by_their_standing_on_its_day(
        tmp_path: Path):
    """Recorded statuses count an EIA the law approved as ``filed``; the standing does not."""
    eia = ApprovalView(ref=EIA, kind=ApprovalKind.ENVIRONMENTAL,
                       holder_uscc="91650100MA7XK3P2LA", status=ApprovalStatus.FILED,
                       received_at=datetime(2025, 12, 22, 5, tzinfo=UTC),
                       due={"deemed_approval_on": DEEMED_ON}, standard_due_on=DEEMED_ON,
                       updated_at=datetime(2025, 12, 22, 5, tzinfo=UTC))
    late = ApprovalView(ref="SD-EL-2026-0004", kind=ApprovalKind.TITLE,
                        holder_uscc="91650100MA7XK3P2LA", status=ApprovalStatus.ACKNOWLEDGED,
                        received_at=datetime(2026, 1, 5, 5, tzinfo=UTC),
                        standard_due_on=date(2026, 3, 6),
                        updated_at=datetime(2026, 1, 6, 5, tzinfo=UTC))
    granted = late.model_copy(update={"ref": "SD-EL-2026-0001", "status": ApprovalStatus.GRANTED,
                                      "standard_due_on": None})
    store = ViewStore(f"sqlite:///{tmp_path / 'views.sqlite'}")
    await store.open()
    try:
        async with store.writing() as (conn, tables):
            await conn.execute(tables.approvals.insert(), [
                view_row(BY_NAME["approvals"], v.ref, v) for v in (eia, late, granted)])
        early = await summary(store, date(2026, 3, 1))
        later = await summary(store, DEEMED_ON)
        recorded = await summary(store)
    finally:
        await store.close()
    assert recorded["approvals"] == {"environmental:filed": 1, "title:acknowledged": 1,
                                     "title:granted": 1}
    assert "approvals_standing" not in recorded
    assert early["approvals_standing"] == {
        "breached": 0, "environmental:filed": 1, "title:acknowledged": 1}
    assert later["approvals"] == recorded["approvals"]
    assert later["approvals_standing"] == {
        "breached": 1, "environmental:deemed_approved": 1, "title:acknowledged": 1}
