"""``attributes_of`` names exactly the attributes an event has, for every event type: the
projections read only those (a missing one costs an exception in pydantic's ``__getattr__``)."""

from __future__ import annotations

from typing import Any

import pytest

from consumers.views.facts import _SPEAKERS, attributes_of, speaker
from consumers.views.lifecycle import _DAYS, _MOMENTS
from tests.unit.helpers import all_types, example

NAMES = (*_SPEAKERS, *_MOMENTS, *_DAYS, "subject", "ce_type", "no_such_attribute")


@pytest.mark.parametrize("cls", all_types(), ids=lambda c: c.ce_type())
def test_the_names_an_event_has_are_those_it_answers(cls: Any) -> None:
    data = example(cls)
    present = attributes_of(cls, NAMES)
    assert present == tuple(n for n in NAMES if hasattr(data, n))
    assert "subject" in present, "a property counts as an attribute"
    assert "no_such_attribute" not in present


def test_the_speaker_is_the_first_party_field_in_name_order() -> None:
    spoke = {cls.ce_type(): speaker(example(cls)) for cls in all_types()
             if attributes_of(cls, _SPEAKERS)}
    assert spoke, "some event types name a party"
    for cls in all_types():
        names = [n for n in sorted(_SPEAKERS) if isinstance(getattr(example(cls), n, None), str)]
        if names:
            assert spoke[cls.ce_type()] == getattr(example(cls), names[0])
