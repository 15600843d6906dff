"""The views scenario's subjects stay valid and distinct past 9,999 stories (the soak's ~49k)."""

from __future__ import annotations

import pytest

from tests.integration.views import scenario


def test_the_first_9999_stories_keep_their_ids_and_the_next_ones_move_district_and_year() -> None:
    assert scenario.ids_of(0)["project"] == "PRJ-BA-CHG-0001"
    assert scenario.ids_of(9_998) == {
        "project": "PRJ-BA-CHG-9999", "title": "BA-EL-2025-9999", "eia": "EIA-BA-2025-9999",
        "lpco": "LPCO-2026-009999", "shipment": "SHP-2026-009999"}
    assert scenario.ids_of(9_999) == {
        "project": "PRJ-BA-LSB-0001", "title": "BA-EL-2024-0001", "eia": "EIA-BA-2024-0001",
        "lpco": "LPCO-2026-010000", "shipment": "SHP-2026-010000"}


def test_stories_across_the_boundaries_are_valid_and_share_no_subject() -> None:
    indices = [0, 9_998, 9_999, 10_000, 19_998, 19_999, 49_000]
    stories = [scenario.story(i) for i in indices]  # each event validated as it is made
    subjects = [{step.draft.data.subject for step in s.steps} for s in stories]
    for i, mine in enumerate(subjects):
        for theirs in subjects[i + 1:]:
            assert not mine & theirs
    with pytest.raises(ValueError, match="at most 99,990 stories"):
        scenario.ids_of(len(scenario.DISTRICTS) * scenario.SERIALS)
