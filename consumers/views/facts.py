"""What a projection sees of an accepted event: its identity, time and (corrected) data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import lru_cache

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


@lru_cache(maxsize=1024)
def attributes_of(cls: type, names: tuple[str, ...]) -> tuple[str, ...]:
    """Those of ``names`` that ``cls`` has, as fields or class attributes (properties), in
    order. Reading a name a pydantic model lacks with ``getattr(…, None)`` goes through
    pydantic's ``__getattr__`` and an ``AttributeError`` (~2 µs each, for every name an event
    type lacks); the models forbid extra attributes, so their class says which ones exist."""
    fields = getattr(cls, "model_fields", {})
    return tuple(n for n in names if n in fields or any(n in vars(k) for k in cls.__mro__))


_SPEAKERS = tuple(sorted(SPEAKER_FIELDS))


def speaker(data: EventData) -> str:
    """The party an event speaks for (operator, holder, proponent or exporter): its USCC."""
    for name in attributes_of(type(data), _SPEAKERS):
        value = getattr(data, name, None)
        if isinstance(value, str):
            return value
    raise AssertionError(f"{data.ce_type()} names no party")  # every shared-topic event does
