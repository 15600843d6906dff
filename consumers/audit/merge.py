"""The partitions of a log merged into one stream by record timestamp, as the log was written.

``audit replay`` feeds the views the records of every partition of the shared topics. A source's
hash chain runs across partitions (its events are keyed by subject), so a replay that reads
partition after partition meets most events before their predecessor and must hold them, with
their verdicts, until the predecessor's partition is read: the held set grew with the log
(~13 KB an event, 917 MB at 62k events) and so did the work of releasing it. Merged by the time
the broker appended them (the shared topics are ``LogAppendTime``), a predecessor normally comes
first and little is ever held.

The merge is the classic k-way one, streaming: a record is handed over only when every partition
not yet read to its end has a record queued, so nothing earlier can still arrive. Each partition
stays in offset order whatever its timestamps say (a ``CreateTime`` topic's may go backwards);
ties go by (topic, partition). ``needy`` names the partitions the reader must fetch before more
can be handed over; the reader fetches only those, so at most one fetch per partition is queued.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable
from typing import Generic, Protocol, TypeVar


class Timed(Protocol):
    @property
    def timestamp_ms(self) -> int: ...
    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...


K = TypeVar("K", bound=Hashable)
R = TypeVar("R", bound=Timed)


class TimeMerge(Generic[K, R]):
    """Records of several partitions in, one stream ordered by record timestamp out."""

    def __init__(self, partitions: Iterable[K]) -> None:
        self._queues: dict[K, deque[R]] = {p: deque() for p in partitions}
        self._open: set[K] = set(self._queues)
        """Partitions that may still get records (not yet read to their end)."""

    def add(self, partition: K, records: Iterable[R]) -> None:
        """The next records of ``partition``, in offset order."""
        self._queues[partition].extend(records)

    def close(self, partition: K) -> None:
        """``partition`` was read to its end: no record of it will come after those added."""
        self._open.discard(partition)

    def needy(self) -> list[K]:
        """The open partitions with nothing queued: the merge waits for them."""
        return [p for p in self._open if not self._queues[p]]

    def finished(self) -> bool:
        return not self._open and not any(self._queues.values())

    def queued(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def ready(self) -> list[R]:
        """Every record that can be handed over now, in merged order (may be empty)."""
        out: list[R] = []
        if self.needy():
            return out
        heads = {p: q for p, q in self._queues.items() if q}
        while heads:
            partition = min(heads, key=lambda p: _order(heads[p][0]))
            queue = heads[partition]
            out.append(queue.popleft())
            if not queue:
                if partition in self._open:
                    break  # its next record may be earlier than every other head
                del heads[partition]
        return out


def _order(record: Timed) -> tuple[int, str, int]:
    return (record.timestamp_ms, record.topic, record.partition)
