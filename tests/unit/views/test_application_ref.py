"""A licence application's own reference: kept in the approvals view and found by it."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from consumers.store_read import get_view, list_views
from tests.integration.views import scenario
from tests.unit.views.test_project_titles import PROJECT, USCC, T, _grant, _store


def _received(title: str, days: int, application_ref: str | None) -> object:
    return scenario.event("pk.emining.approval.licence.application.received",
                          title_number=title, holder_uscc=USCC, project_id=PROJECT,
                          received_at=(T + timedelta(days=days)).isoformat(),
                          licensing_authority=scenario.BA_MMDD, application_ref=application_ref)


def _steps() -> list[tuple[str, object]]:
    return [
        (scenario.BA_MMDD, _received("BA-EL-2025-0001", 0, "MMDD/BA/2025/0007")),
        (scenario.BA_MMDD, _grant("BA-EL-2025-0001", date(2025, 3, 1))),
        (scenario.BA_MMDD, _received("BA-EL-2025-0002", 1, "MMDD/BA/2025/0008")),
        (scenario.BA_MMDD, _received("BA-EL-2025-0003", 2, None)),
    ]


async def test_a_file_is_found_by_its_application_reference(tmp_path: Path) -> None:
    store = await _store(tmp_path, _steps())  # type: ignore[arg-type]
    try:
        granted = await get_view(store, "approvals", "MMDD/BA/2025/0007")
        assert granted is not None
        assert (granted["ref"], granted["status"], granted["application_ref"]) == (
            "BA-EL-2025-0001", "granted", "MMDD/BA/2025/0007")  # the grant keeps it
        pending = await get_view(store, "approvals", "MMDD/BA/2025/0008")
        assert pending is not None
        assert (pending["ref"], pending["status"]) == ("BA-EL-2025-0002", "received")
        assert await get_view(store, "approvals", "MMDD/BA/2025/0009") is None
        by_number = await get_view(store, "approvals", "BA-EL-2025-0003")
        assert by_number is not None
        assert by_number["application_ref"] is None
        listed = await list_views(store, "approvals", {"application_ref": "MMDD/BA/2025/0008"})
        assert [i["ref"] for i in listed.items] == ["BA-EL-2025-0002"]
    finally:
        await store.close()


async def test_a_reference_two_files_share_finds_neither(tmp_path: Path) -> None:
    steps = [*_steps(), (scenario.BA_MMDD, _received("BA-EL-2025-0004", 3, "MMDD/BA/2025/0008"))]
    store = await _store(tmp_path, steps)  # type: ignore[arg-type]
    try:
        assert await get_view(store, "approvals", "MMDD/BA/2025/0008") is None  # ambiguous
        listed = await list_views(store, "approvals", {"application_ref": "MMDD/BA/2025/0008"})
        assert sorted(i["ref"] for i in listed.items) == ["BA-EL-2025-0002", "BA-EL-2025-0004"]
    finally:
        await store.close()


def test_an_application_number_in_the_title_number_says_where_it_belongs() -> None:
    with pytest.raises(ValidationError, match="title_number_type") as caught:
        _received("BA-APP-2025-0001", 0, None)
    assert "application_ref" in str(caught.value)
