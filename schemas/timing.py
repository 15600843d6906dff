"""Time you can trust: an event's ``time`` against the moment the broker (or gateway) took it.

A signature proves who said something, not when. So every shared topic stamps records with the
broker's clock (``message.timestamp.type=LogAppendTime``) and every reader compares: a record
dated further into the future than ``future`` is refused, and one dated further into the past
than ``past`` is refused unless the registry holds a backfill window, signed by the platform
operator, that admits that source, that event time and that append time. The gateway applies the
same rule to the times it is asked to sign (its clock standing in for the broker's). Pure: the
readers and the gateway pass the registry and both times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from schemas.errors import ContractError
from schemas.registry import Registry

LOG_APPEND_TIME = 1
"""``timestamp_type`` of a record the broker stamped (Kafka's ``LOG_APPEND_TIME``)."""


@dataclass(frozen=True, slots=True)
class TimeBounds:
    """How far an event's ``time`` may lie from the moment it was appended."""

    future: timedelta = timedelta(minutes=5)
    """Clocks drift; nothing is decided in the future."""
    past: timedelta = timedelta(days=3)
    """A decision entered a weekend late is normal; older history needs a backfill window."""

    @classmethod
    def of_seconds(cls, future_s: float, past_s: float) -> TimeBounds:
        return cls(timedelta(seconds=future_s), timedelta(seconds=past_s))


def appended_at(timestamp_ms: int | None, timestamp_type: int | None) -> datetime | None:
    """The broker's append time of a record, if the broker stamped it (else ``None``)."""
    if timestamp_type != LOG_APPEND_TIME or timestamp_ms is None or timestamp_ms < 0:
        return None
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC)


def _span(delta: timedelta) -> str:
    seconds = int(abs(delta.total_seconds()))
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= 2 * size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


class TimeSkewError(ContractError):
    """An event dated too far from the moment it is taken, outside any backfill window."""


def check_time(registry: Registry, org: str, event_time: datetime, at: datetime,
               bounds: TimeBounds, *, taken_by: str) -> None:
    """``time_refusal`` as an exception (for checks that retry after a registry refresh)."""
    why = time_refusal(registry, org, event_time, at, bounds, taken_by=taken_by)
    if why is not None:
        raise TimeSkewError(why)


def time_refusal(registry: Registry, org: str, event_time: datetime, at: datetime,
                 bounds: TimeBounds, *, taken_by: str = "the broker appended it") -> str | None:
    """Why an event of ``org`` dated ``event_time`` may not be taken at ``at`` (None: it may)."""
    if event_time > at + bounds.future:
        return (f"time {event_time.isoformat()} is {_span(event_time - at)} after {taken_by} "
                f"({at.isoformat()}); at most {_span(bounds.future)} ahead is accepted")
    if event_time >= at - bounds.past:
        return None
    record = registry.orgs.get(org)
    if record is not None and record.backfill_for(event_time, at) is not None:
        return None
    return (f"time {event_time.isoformat()} is {_span(at - event_time)} before {taken_by} "
            f"({at.isoformat()}); history older than {_span(bounds.past)} is accepted only "
            f"inside a backfill window the platform operator opened for {org} "
            "(emining participants backfill)")
