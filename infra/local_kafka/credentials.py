"""The local broker's own secrets (admin, controller) and its security mode."""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from infra.local_kafka.errors import BrokerError, SecurityModeError
from infra.local_kafka.state import ADMIN, CONTROLLER_USER, Layout, _write_atomic

if TYPE_CHECKING:
    from infra.settings import Settings


@dataclass(frozen=True, slots=True)
class Credentials:
    """Secrets of the local broker itself; organisations' credentials live in the cluster."""

    admin: str
    controller: str


def load_credentials(layout: Layout) -> Credentials | None:
    try:
        data = json.loads(layout.credentials_file.read_text("utf-8"))
        return Credentials(admin=str(data[ADMIN]), controller=str(data[CONTROLLER_USER]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


_MODES = {
    "CLIENT:PLAINTEXT": "none", "CLIENT:SASL_PLAINTEXT": "scram", "CLIENT:SASL_SSL": "scram-tls",
}


def running_security(layout: Layout) -> str | None:
    """The ``EMINING_KAFKA_SECURITY`` the broker's current ``server.properties`` was written for."""
    try:
        text = layout.server_properties.read_text("utf-8")
    except OSError:
        return None
    match = re.search(r"^listener\.security\.protocol\.map=(CLIENT:[A-Z_]+)", text, re.MULTILINE)
    return _MODES.get(match.group(1)) if match else None


def _same_security(settings: Settings, layout: Layout, pid: int) -> None:
    running = running_security(layout)
    if running is not None and running != settings.kafka_security:
        raise SecurityModeError(
            f"the local broker (pid {pid}) runs with EMINING_KAFKA_SECURITY={running}, this"
            f" command asks for {settings.kafka_security}: run `emining kafka down` and"
            " `emining kafka up` again to switch"
        )


def _ensure_credentials(layout: Layout) -> Credentials:
    found = load_credentials(layout)
    if found is not None:
        return found
    made = Credentials(admin=secrets.token_urlsafe(24), controller=secrets.token_urlsafe(24))
    layout.root.mkdir(parents=True, exist_ok=True)
    _write_atomic(layout.credentials_file,
                  json.dumps({ADMIN: made.admin, CONTROLLER_USER: made.controller}) + "\n",
                  private=True)
    return made


def admin_password(settings: Settings) -> str:
    """The local broker's admin password (the operator's credential on this machine)."""
    found = load_credentials(Layout.of(settings))
    if found is None:
        raise BrokerError(
            f"the local broker has no credentials yet ({Layout.of(settings).credentials_file}):"
            " run `emining kafka up`"
        )
    return found.admin


# --------------------------------------------------------------------------- pure pieces
