"""A firm's publisher cannot read the shared topics: pending records it cannot look up on the log
are re-sent (same id, same bytes) instead of leaving it stuck."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from producers.chainstore import Acknowledged, Pending
from producers.publisher import Draft, Publisher
from schemas.signing import PrivateKey
from schemas.topics import PROJECTS
from tests.integration.publishing.conftest import end_offsets, example_of
from transport.errors import PublishError
from transport.sender import RecordSender

if TYPE_CHECKING:
    from pathlib import Path

    from tests.integration.security.conftest import Principals

pytestmark = pytest.mark.integration


class _LostAcks(RecordSender):
    async def send(self, records: Any, results: Any = None) -> Any:
        await super().send(records, results)
        lost = ["no acknowledgement within 5s" for _ in records]
        if results is not None:
            results[:] = lost
        return lost


async def test_a_firm_without_read_resends_what_it_cannot_look_up(
        principals: Principals, tmp_path: Path) -> None:
    org, firm = await principals.onboard("importer")
    key = PrivateKey.generate(org)
    data = example_of("pk.emining.project.stage.changed")
    drafts = [Draft(data, event_id=f"evt-firm-{i}") for i in range(3)]
    before = sum((await end_offsets(principals.admin, PROJECTS)).values())
    lossy = _LostAcks(firm, timeout_s=5.0)
    async with lossy, Publisher(key=key, source=f"{org}/import", state_dir=tmp_path,
                                sender=lossy) as pub:
        with pytest.raises(PublishError):
            await pub.publish_many(drafts)
        assert all(isinstance(pub.known(d.event_id or ""), Pending) for d in drafts)
    async with Publisher(kafka=firm, key=key, source=f"{org}/import", state_dir=tmp_path,
                         timeout_s=5.0) as pub:
        states = [pub.known(d.event_id or "") for d in drafts]
    assert all(isinstance(s, Acknowledged) for s in states), states
    # Not looked up, so sent again: the consumers drop the repeats by id (documented limit).
    assert sum((await end_offsets(principals.admin, PROJECTS)).values()) == before + 6
