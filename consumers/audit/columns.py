"""Inspected records column by column: what the audit's parent keeps of a whole log.

The chain and lifecycle judgement needs every record of the snapshot at once. Kept as one
``Inspected`` tuple per record, the parent held ~0.8 KB a record (318 MB at 206,760 records);
as one array per field, about a third of that. A record is its index here; ``row(i)`` gives its
``Inspected`` back. Workers send their slices as ``Columns`` (an array pickles as its bytes).
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Iterable, Iterator

from consumers.audit.inspect import Inspected, Standing
from consumers.audit.lifecycle import Life
from schemas.lifecycles import Reading

STANDINGS: tuple[Standing, ...] = tuple(Standing)
"""A record's ``standing`` column holds its index here."""
CODE = {standing: code for code, standing in enumerate(STANDINGS)}
HASH = 32
"""Bytes of an event hash; a record's ``links`` are its prevhash then its hash."""
_NONE = bytes(HASH)


class Ints:
    """A column of integers: an ``array`` of 64-bit ones, with the rare larger one aside (an
    envelope's sequence may have 20 digits: up to 10**20 - 1, past 2**63)."""

    __slots__ = ("big", "values")
    _ASIDE = -(2**63)
    """Marks a value kept in ``big``: no record's sequence is negative."""

    def __init__(self) -> None:
        self.values: array[int] = array("q")
        self.big: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, index: int) -> int:
        value = self.values[index]
        return self.big[index] if value == self._ASIDE else value

    def append(self, value: int) -> None:
        if self._ASIDE < value < 2**63:
            self.values.append(value)
        else:
            self.big[len(self.values)] = value
            self.values.append(self._ASIDE)

    def extend(self, other: Ints) -> None:
        base = len(self.values)
        self.values.extend(other.values)
        self.big.update((base + i, value) for i, value in other.big.items())


def _raw(hex_hash: str) -> bytes:
    return bytes.fromhex(hex_hash) if hex_hash else _NONE


class Columns:
    """Inspected records, one entry per record in each column, in the order appended."""

    __slots__ = ("_topic_ids", "corrections", "event_id", "links", "offset", "partition",
                 "reasons", "said", "sequence", "source", "standing", "subject", "timestamp",
                 "topic", "topics", "type")

    def __init__(self, items: Iterable[Inspected] = ()) -> None:
        self.topics: list[str] = []
        """The topic names; the ``topic`` column holds an index into this list."""
        self._topic_ids: dict[str, int] = {}
        self.topic: array[int] = array("I")
        self.partition: array[int] = array("I")
        self.offset: array[int] = array("q")
        self.timestamp: array[int] = array("q")
        self.sequence = Ints()
        self.standing: array[int] = array("B")
        self.links = bytearray()
        """``2 * HASH`` bytes per record: its prevhash, then its hash (zeros for a record that
        did not parse, whose ``row`` has empty hashes)."""
        self.event_id: list[str] = []
        self.source: list[str] = []
        self.subject: list[str | None] = []
        """The lifecycle facts (``Life``), a field per column: ``None`` where there are none."""
        self.type: list[str | None] = []
        self.said: list[Reading | None] = []
        self.corrections: dict[int, tuple[str | None, bool, tuple[tuple[str, str | None], ...]]]
        self.corrections = {}
        """A correction's ``Life.corrects``, ``cleared`` and ``replaced``, by record."""
        self.reasons: dict[int, str] = {}
        """The non-empty reasons, by record."""
        for item in items:
            self.append(item)

    def __len__(self) -> int:
        return len(self.offset)

    def _topic_id(self, name: str) -> int:
        found = self._topic_ids.get(name)
        if found is None:
            found = self._topic_ids[name] = len(self.topics)
            self.topics.append(name)
        return found

    def append(self, item: Inspected) -> None:
        index = len(self)
        self.topic.append(self._topic_id(item.topic))
        self.partition.append(item.partition)
        self.offset.append(item.offset)
        self.timestamp.append(item.timestamp_ms)
        self.sequence.append(item.sequence)
        self.standing.append(CODE[item.standing])
        self.links += _raw(item.prevhash)
        self.links += _raw(item.hash)
        self.event_id.append(item.event_id)
        self.source.append(item.source)
        life = item.life
        if life is None:
            self.subject.append(None)
            self.type.append(None)
            self.said.append(None)
        else:
            self.subject.append(life.subject)
            self.type.append(life.type)
            self.said.append(life.said)
            if life.corrects is not None or life.cleared or life.replaced:
                self.corrections[index] = (life.corrects, life.cleared, life.replaced)
        if item.reason:
            self.reasons[index] = item.reason

    def extend(self, other: Columns) -> None:
        base = len(self)
        ids = [self._topic_id(name) for name in other.topics]
        self.topic.extend(other.topic if ids == list(range(len(ids)))
                          else array("I", (ids[t] for t in other.topic)))
        self.partition.extend(other.partition)
        self.offset.extend(other.offset)
        self.timestamp.extend(other.timestamp)
        self.sequence.extend(other.sequence)
        self.standing.extend(other.standing)
        self.links += other.links
        self.event_id.extend(other.event_id)
        self.source.extend(other.source)
        self.subject.extend(other.subject)
        self.type.extend(other.type)
        self.said.extend(other.said)
        self.corrections.update((base + i, c) for i, c in other.corrections.items())
        self.reasons.update((base + i, why) for i, why in other.reasons.items())

    def life_of(self, index: int) -> Life | None:
        subject, ce_type, said = self.subject[index], self.type[index], self.said[index]
        if subject is None or ce_type is None or said is None:
            return None
        corrects, cleared, replaced = self.corrections.get(index, (None, False, ()))
        return Life(subject, ce_type, said, corrects, cleared, replaced)

    def indexes_of(self, standing: Standing) -> Iterator[int]:
        """The records of ``standing``, in the order appended."""
        code = CODE[standing]
        return (i for i, got in enumerate(self.standing) if got == code)

    def standing_of(self, index: int) -> Standing:
        return STANDINGS[self.standing[index]]

    def topic_of(self, index: int) -> str:
        return self.topics[self.topic[index]]

    def prevhash(self, index: int) -> bytes:
        return bytes(self.links[2 * HASH * index: 2 * HASH * index + HASH])

    def hash(self, index: int) -> bytes:
        return bytes(self.links[2 * HASH * index + HASH: 2 * HASH * (index + 1)])

    def row(self, index: int) -> Inspected:
        """Record ``index`` as the ``Inspected`` it was appended as."""
        standing = self.standing_of(index)
        parsed = standing is not Standing.MALFORMED
        return Inspected(
            self.topic_of(index), self.partition[index], self.offset[index],
            self.timestamp[index], self.event_id[index], self.source[index],
            self.sequence[index], self.prevhash(index).hex() if parsed else "",
            self.hash(index).hex() if parsed else "", standing,
            self.reasons.get(index, ""), self.life_of(index))

    def by_partition(self, indexes: Iterable[int]) -> dict[tuple[int, int], list[int]]:
        """``indexes`` per partition (topic index, partition), each in offset order."""
        groups: dict[tuple[int, int], list[int]] = defaultdict(list)
        topic, partition = self.topic, self.partition
        for i in indexes:
            groups[(topic[i], partition[i])].append(i)
        for group in groups.values():
            group.sort(key=self.offset.__getitem__)
        return groups

    def in_log_order(self, indexes: Iterable[int]) -> Iterator[int]:
        """``indexes`` by topic name, partition, offset."""
        groups = self.by_partition(indexes)
        for place in sorted(groups, key=lambda tp: (self.topics[tp[0]], tp[1])):
            yield from groups[place]
