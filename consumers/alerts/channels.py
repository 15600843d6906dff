"""The registry of push channels: every one listed here is queued, served and delivered.

Adding a channel is one module declaring a ``Channel`` (``consumers/alerts/channel.py``) and one
line here. From this list ``mark_delivered`` queues each channel's deliveries in the alert's
transaction, ``AlertStore`` creates each channel's tables, the HTTP routes
(``/v1/alerts/channels/<name>``) and the CLI (``emining alerts channels … <name>``) let an
organisation manage its own targets, and ``infra`` runs one worker per channel.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.alerts import outbox
from consumers.alerts.channel import Channel
from consumers.alerts.robots import ROBOT
from consumers.alerts.webhooks import WEBHOOK
from schemas.errors import EminingError

CHANNELS: tuple[Channel, ...] = (WEBHOOK, ROBOT)
"""Every push channel, by its ``name``."""


class UnknownChannelError(EminingError, LookupError):
    """A channel name that is not registered."""


def channel(name: str) -> Channel:
    """The registered channel called ``name``."""
    for found in CHANNELS:
        if found.name == name:
            return found
    known = ", ".join(c.name for c in CHANNELS)
    raise UnknownChannelError(f"no alert channel {name!r} (known: {known})")


async def queue_all(conn: AsyncConnection, alert_ids: Sequence[str], stamp: str) -> int:
    """Queue the deliveries of ``alert_ids`` on every channel (in the caller's transaction)."""
    if not alert_ids:
        return 0
    return sum([await outbox.queue(conn, c.tables, alert_ids, stamp) for c in CHANNELS])
