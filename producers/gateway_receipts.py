"""The gateway's receipts: per (organisation, event id), so a repeated id never makes a record.

A request claims its id with a ``pending`` row before anything is signed or sent, and turns it
into ``accepted`` with the answer once the broker acknowledged. A custodial event the broker did
not acknowledge is signed and waits in its source's outbox: its row becomes ``queued``, so a retry
flushes that outbox instead of signing the id a second time. A ``pending`` row found at start-up
was left by a process that died mid-request: the source's chain store says what became of its
event (see ``Custody.recover``).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS receipts (
    org TEXT NOT NULL, event_id TEXT NOT NULL, state TEXT NOT NULL, answer TEXT,
    updated_at TEXT NOT NULL, PRIMARY KEY (org, event_id)) WITHOUT ROWID;
"""


class ReceiptState(StrEnum):
    PENDING = "pending"
    """Claimed by a request in flight (or by one that crashed: see ``stale_pending``)."""
    QUEUED = "queued"
    """Signed custodially, not yet acknowledged: waits in the source's outbox."""
    ACCEPTED = "accepted"
    """Acknowledged by the broker; ``answer`` is what the first request was told."""


@dataclass(frozen=True, slots=True)
class Receipt:
    state: ReceiptState
    answer: dict[str, Any] | None


class Receipts:
    """One SQLite file; every call is a single short statement (tens of microseconds)."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "receipts.sqlite"
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def get(self, org: str, event_id: str) -> Receipt | None:
        row = self._db.execute(
            "SELECT state, answer FROM receipts WHERE org = ? AND event_id = ?", (org, event_id)
        ).fetchone()
        if row is None:
            return None
        return Receipt(ReceiptState(row[0]), json.loads(row[1]) if row[1] else None)

    def claim(self, org: str, event_id: str) -> Receipt | None:
        """Insert a ``pending`` row; returns None if claimed, else the receipt already there."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO receipts (org, event_id, state, updated_at) VALUES (?, ?, ?, ?)",
            (org, event_id, ReceiptState.PENDING, _now()),
        )
        if cursor.rowcount == 1:
            return None
        return self.get(org, event_id)

    def settle(
        self, org: str, event_id: str, state: ReceiptState, answer: dict[str, Any]
    ) -> None:
        self._db.execute(
            "UPDATE receipts SET state = ?, answer = ?, updated_at = ? "
            "WHERE org = ? AND event_id = ?",
            (state, json.dumps(answer), _now(), org, event_id),  # key order kept: same bytes
        )

    def release(self, org: str, event_id: str) -> None:
        """Forget a claim whose event was never signed or sent, so the id can be sent again."""
        self._db.execute(
            "DELETE FROM receipts WHERE org = ? AND event_id = ? AND state = ?",
            (org, event_id, ReceiptState.PENDING),
        )

    def queued(self) -> list[tuple[str, str]]:
        """``(org, event_id)`` of custodial events signed but not yet acknowledged."""
        rows = self._db.execute(
            "SELECT org, event_id FROM receipts WHERE state = ?", (ReceiptState.QUEUED,)
        ).fetchall()
        return [(org, event_id) for org, event_id in rows]

    def stale_pending(self) -> list[tuple[str, str]]:
        """At start-up: ``(org, event_id)`` of claims left by a process that died mid-request."""
        rows = self._db.execute(
            "SELECT org, event_id FROM receipts WHERE state = ? ORDER BY org, updated_at",
            (ReceiptState.PENDING,),
        ).fetchall()
        return [(org, event_id) for org, event_id in rows]


def _now() -> str:
    return datetime.now(UTC).isoformat()
