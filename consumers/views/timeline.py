"""The per-subject timeline: every accepted event in order, with a one-line summary."""

from __future__ import annotations

from typing import Any

from consumers.views.facts import Fact
from consumers.views.models import TimelineEntry
from schemas.base import EventData
from schemas.envelope import encode_value
from schemas.events.corrections import Correction
from schemas.events.registry import spec_of


def summary(data: EventData) -> str:
    """``licence granted (3 years, expires 2029-01-31)``: the type in words, plus what its
    registry entry says matters (``EventSpec.detail``)."""
    words = data.TYPE.removeprefix("pk.emining.").split(".", 1)[-1].replace(".", " ")
    spec = spec_of(type(data))
    detail = spec.detail(data) if spec is not None and spec.detail is not None else ""
    return f"{words} ({detail})" if detail else words


def entry(
    fact: Fact, *, family: str, position: int, data_json: dict[str, Any], partition: int,
    offset: int, plain: bool | None = None,
) -> TimelineEntry:
    """The timeline entry of a newly accepted event (its effective data is the signed data);
    ``plain``: ``is_plain(data_json)``, when the caller knows it (the envelope does)."""
    signed = encode_value(data_json, plain=plain).decode()
    corrects = fact.data.corrects_event_id if isinstance(fact.data, Correction) else None
    return TimelineEntry(
        subject=fact.data.subject, position=position, family=family, event_id=fact.event_id,
        source=fact.source, type=fact.type, time=fact.time, summary=summary(fact.data),
        data=signed, effective=signed, corrects=corrects, partition=partition, offset=offset,
    )


