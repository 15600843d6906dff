"""Builders shared by unit tests: keys, registries and sealed envelopes from type examples."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from schemas.base import EventData
from schemas.catalogue import event_types
from schemas.envelope import Envelope, seal
from schemas.signing import GENESIS_HASH, PrivateKey

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def example(cls: type[EventData], **changes: Any) -> EventData:
    data: dict[str, Any] = dict(cls.EXAMPLE)
    data.update(changes)
    return cls.model_validate(data)


def all_types() -> list[type[EventData]]:
    return sorted(event_types().values(), key=lambda c: c.ce_type())


def sealed(
    data: EventData,
    key: PrivateKey,
    *,
    source: str | None = None,
    sequence: int = 1,
    prevhash: str = GENESIS_HASH,
    time: datetime = T0,
    event_id: str | None = None,
) -> Envelope:
    return seal(
        data,
        source=source or f"{key.org}/test",
        signer=key.signer(),
        sequence=sequence,
        prevhash=prevhash,
        time=time,
        event_id=event_id,
    )
