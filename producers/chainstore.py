"""Durable per-source chain state and outbox, so a restart continues the chain without a gap.

One SQLite file per source. Signing an event and reserving its sequence number happen in one
transaction that also stores the signed record in the outbox; the record leaves the outbox only
when the broker has acknowledged it. So the chain never skips a number: whatever was signed is
either acknowledged or still pending, and pending records are re-sent (same id, same bytes)
before anything new. An exclusive file lock makes one process at a time the writer of a source:
two publishers of one organisation use two sources (``<org>/<instance>``) and never fork a chain.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from schemas.chain import Link
from schemas.envelope import KafkaRecord
from schemas.errors import EminingError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS head (source TEXT PRIMARY KEY, sequence INTEGER NOT NULL,
                                 hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    sequence INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, topic TEXT NOT NULL,
    key BLOB NOT NULL, value BLOB NOT NULL, headers TEXT NOT NULL);
"""


class SourceInUseError(EminingError):
    """Another process is publishing as this source; a second writer would fork its chain."""


@dataclass(frozen=True, slots=True)
class Pending:
    sequence: int
    event_id: str
    record: KafkaRecord


def _file_stem(source: str) -> str:
    """Readable and one-to-one: a slug for people, a hash so two sources never share a file."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", source).strip("_")[:80]
    return f"{slug}.{hashlib.sha256(source.encode()).hexdigest()[:16]}"


class ChainStore:
    """The chain head and outbox of one source, held under an exclusive lock while open."""

    def __init__(self, state_dir: Path, source: str) -> None:
        self.source = source
        state_dir.mkdir(parents=True, exist_ok=True)
        stem = _file_stem(source)
        self.path = state_dir / f"{stem}.sqlite"
        self._lock_fd = os.open(state_dir / f"{stem}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(self._lock_fd)
            raise SourceInUseError(
                f"source {source} is in use by another publisher (lock {self.path}); "
                "run each publishing instance as its own source"
            ) from exc
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except BaseException:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)  # never keep a lock we cannot use
            os.close(self._lock_fd)
            raise

    def close(self) -> None:
        self._db.close()
        fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        os.close(self._lock_fd)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def head(self) -> Link:
        row = self._db.execute(
            "SELECT sequence, hash FROM head WHERE source = ?", (self.source,)
        ).fetchone()
        return Link(sequence=row[0], hash=row[1]) if row else Link()

    def reserve(self, signed: Sequence[tuple[str, KafkaRecord, int, str]]) -> None:
        """Store signed records ``(event_id, record, sequence, hash)`` and advance the head.

        One transaction: after a crash either all of them are pending or none was signed.
        """
        if not signed:
            return
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO outbox (sequence, event_id, topic, key, value, headers) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        seq,
                        eid,
                        rec.topic,
                        rec.key,
                        rec.value,
                        json.dumps([[k, v.decode()] for k, v in rec.headers]),
                    )
                    for eid, rec, seq, _ in signed
                ],
            )
            last_seq, last_hash = signed[-1][2], signed[-1][3]
            db.execute(
                "INSERT INTO head (source, sequence, hash) VALUES (?, ?, ?) "
                "ON CONFLICT(source) DO UPDATE SET sequence = excluded.sequence, "
                "hash = excluded.hash",
                (self.source, last_seq, last_hash),
            )

    def acknowledge(self, sequences: Sequence[int]) -> None:
        """Drop acknowledged records from the outbox."""
        if sequences:
            with self._transaction() as db:
                db.executemany("DELETE FROM outbox WHERE sequence = ?", [(s,) for s in sequences])

    def pending(self) -> list[Pending]:
        rows = self._db.execute(
            "SELECT sequence, event_id, topic, key, value, headers FROM outbox ORDER BY sequence"
        ).fetchall()
        return [
            Pending(
                sequence=seq,
                event_id=eid,
                record=KafkaRecord(
                    topic, key, value, [(k, v.encode()) for k, v in json.loads(headers)]
                ),
            )
            for seq, eid, topic, key, value, headers in rows
        ]

    def find(self, event_id: str) -> Pending | None:
        return next((p for p in self.pending() if p.event_id == event_id), None)
