"""What a projection sees of an accepted event: its identity, time and (corrected) data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from schemas.base import EventData
from schemas.events.corrections import SPEAKER_FIELDS
from schemas.events.shipments_border import PAKISTAN_TIME


@dataclass(frozen=True, slots=True)
class Fact:
    """An accepted event as it now counts: ``data`` has any corrections applied."""

    event_id: str
    source: str
    type: str
    time: datetime
    data: EventData


def day_start(day: date) -> datetime:
    """Midnight in Pakistan on ``day``, in UTC: event dates are Pakistani calendar dates."""
    return datetime.combine(day, time(0), PAKISTAN_TIME).astimezone(UTC)


def speaker(data: EventData) -> str:
    """The party an event speaks for (operator, holder, proponent or exporter): its USCC."""
    for name in sorted(SPEAKER_FIELDS):
        value = getattr(data, name, None)
        if isinstance(value, str):
            return value
    raise AssertionError(f"{data.ce_type()} names no party")  # every shared-topic event does
