"""The sequential pass over the whole log: duplicates, replays, gaps, links, reorders, rewrites.

A source's events spread over topics and partitions, so each source's chain is rebuilt by
``sequence`` across everything read; only the order *within* one partition says anything about
reordering. Records that are not the source's own (bad signature, invalid key) never enter a
chain: they are judged against it instead (a rewrite claims a place an authentic event holds).

Records are indexes into the snapshot's ``Columns``: the judge keeps one dict entry per record
at most (200k records and more), and the records that collide (a second copy of an id, a second
event at a sequence) aside. A record's place (topic, partition, offset) is taken to be its own,
as on Kafka; records handed in from memory (``verify_records``) that share one are ordered
between themselves as it happens.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from consumers.audit.columns import CODE, STANDINGS, Columns
from consumers.audit.findings import Finding, Kind
from consumers.audit.inspect import Standing
from schemas.chain import ChainFault, Link, check_link

_STANDING_KIND = {
    Standing.MALFORMED: Kind.MALFORMED,
    Standing.WRONG_TOPIC: Kind.WRONG_TOPIC,
    Standing.WRONG_PARTITION: Kind.WRONG_PARTITION,
    Standing.UNAUTHORISED: Kind.UNAUTHORISED,
    Standing.BAD_SIGNATURE: Kind.BAD_SIGNATURE,
    Standing.INVALID_KEY: Kind.INVALID_KEY,
    Standing.TIME_SKEW: Kind.TIME_SKEW,
}
_AUTHENTIC = CODE[Standing.AUTHENTIC]
_FOREIGN = frozenset({CODE[Standing.BAD_SIGNATURE], CODE[Standing.INVALID_KEY]})
_ATTRIBUTABLE = frozenset(CODE[s] for s in STANDINGS if s.attributable)


def where(cols: Columns, index: int) -> str:
    return f"{cols.topic_of(index)}[{cols.partition[index]}]@{cols.offset[index]}"


def finding(cols: Columns, index: int, kind: Kind, reason: str) -> Finding:
    return Finding(cols.topic_of(index), cols.partition[index], cols.offset[index],
                   cols.event_id[index] or None, cols.source[index] or None, kind, reason)


@dataclass(slots=True)
class ChainJudge:
    """Collects findings while walking the inspected records of one snapshot."""

    cols: Columns
    findings: list[Finding] = field(default_factory=list)
    first_by_id: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per source, event id → its first record in log order."""
    chains: dict[str, dict[int, int]] = field(default_factory=dict)
    """Per source, sequence → the authentic event holding that place."""
    moments: dict[tuple[int, int], tuple[array[int], array[int]]] = field(default_factory=dict)
    """Per partition (topic index, partition), its records' offsets and their times in log
    order: see ``_index_log_order``."""

    def _index_log_order(self, own: array[int]) -> None:
        """Order by offset within a partition, by timestamp across partitions.

        Record timestamps are the producer's CreateTime and may go backwards within a partition;
        a backdated copy must not count as the original. So each record's time is the largest
        timestamp seen up to it in its partition.
        """
        c = self.cols
        for place, group in c.by_partition(own).items():
            offsets, moments = array("q"), array("q")
            latest = c.timestamp[group[0]]
            for i in group:
                latest = max(latest, c.timestamp[i])
                offsets.append(c.offset[i])
                moments.append(latest)
            self.moments[place] = (offsets, moments)

    def _log_order(self, index: int) -> tuple[int, str, int, int]:
        c = self.cols
        offsets, moments = self.moments[(c.topic[index], c.partition[index])]
        moment = moments[bisect_left(offsets, c.offset[index])]
        return moment, c.topic_of(index), c.partition[index], c.offset[index]

    def judge(self) -> list[Finding]:
        c = self.cols
        own: array[int] = array("q")
        foreign: list[int] = []
        for i, code in enumerate(c.standing):
            if code != _AUTHENTIC:
                if code in _FOREIGN:
                    foreign.append(i)
                    continue
                standing = STANDINGS[code]
                self.findings.append(finding(c, i, _STANDING_KIND[standing],
                                             c.reasons.get(i, "")))
            if code in _ATTRIBUTABLE:
                own.append(i)
        self._index_log_order(own)
        unique = self._deduplicate(own)
        del own
        self._pick_links(unique)
        del unique
        self._check_links()
        self._check_partition_order()
        self._judge_foreign(foreign)
        self.findings.sort(key=lambda f: (f.topic, f.partition, f.offset, f.kind.value))
        return self.findings

    def _deduplicate(self, own: array[int]) -> list[int]:
        """The first of each (source, id) in log order; later copies are findings."""
        c = self.cols
        first, copies = _first_per_source(c, own, c.event_id)
        self.first_by_id = first
        for (source, event_id), group in copies.items():
            earliest, *later = sorted(group, key=self._log_order)
            first[source][event_id] = earliest
            for i in later:
                if c.hash(earliest) == c.hash(i):
                    self.findings.append(finding(c, i, Kind.REDELIVERY, (
                        f"identical copy of event {event_id} first seen at "
                        f"{where(c, earliest)}: a re-send of an unacknowledged publish; "
                        "readers ignore it")))
                else:
                    self.findings.append(finding(c, i, Kind.DUPLICATE, (
                        f"event id {event_id} of {source} was already used at "
                        f"{where(c, earliest)} with different content: one of them rewrites "
                        "the other")))
        return [i for ids in first.values() for i in ids.values()]

    def _pick_links(self, unique: list[int]) -> None:
        """One event per (source, sequence): the one the next link points to, else the first."""
        c = self.cols
        places, contested = _first_per_source(c, unique, c.sequence)
        for source in list(places):
            by_sequence = places.pop(source)
            sequences = sorted(by_sequence)
            pointed_to: bytes | None = None
            for sequence in reversed(sequences):
                candidates = contested.get((source, sequence))
                if candidates is not None:
                    if sequence + 1 not in by_sequence:
                        pointed_to = None
                    by_sequence[sequence] = self._pick(source, sequence, candidates, pointed_to)
                pointed_to = c.prevhash(by_sequence[sequence])
            self.chains[source] = {sequence: by_sequence[sequence] for sequence in sequences}

    def _pick(self, source: str, sequence: int, candidates: list[int],
              pointed_to: bytes | None) -> int:
        c = self.cols
        pick = next((i for i in candidates if c.hash(i) == pointed_to), None)
        if pick is None:
            pick = min(candidates, key=self._log_order)
        for other in candidates:
            if other != pick:
                self.findings.append(finding(c, other, Kind.REPLAY, (
                    f"sequence {sequence} of {source} is already held by event "
                    f"{c.event_id[pick]} at {where(c, pick)}: an old place replayed "
                    f"under the new id {c.event_id[other]}")))
        return pick

    def _check_links(self) -> None:
        c = self.cols
        for source, chain in self.chains.items():
            last: Link | None = None
            last_index: int | None = None
            for sequence, i in chain.items():
                prevhash = c.prevhash(i).hex()
                fault = check_link(last, sequence, prevhash)
                if fault is not None:
                    self.findings.append(finding(c, i, Kind(fault.value), _link_reason(
                        fault, source, c, i, last_index)))
                last, last_index = Link(sequence, c.hash(i).hex()), i

    def _check_partition_order(self) -> None:
        c = self.cols
        linked = array("q", (i for chain in self.chains.values() for i in chain.values()))
        for items in c.by_partition(linked).values():
            highest: dict[str, int] = {}
            for i in items:
                top = highest.get(c.source[i])
                if top is not None and c.sequence[i] < c.sequence[top]:
                    self.findings.append(finding(c, i, Kind.REORDER, (
                        f"sequence {c.sequence[i]} of {c.source[i]} comes after its sequence "
                        f"{c.sequence[top]} at offset {c.offset[top]} of the same partition")))
                elif top is None or c.sequence[i] > c.sequence[top]:
                    highest[c.source[i]] = i

    def _judge_foreign(self, foreign: list[int]) -> None:
        c = self.cols
        for i in foreign:
            source = c.source[i]
            held = self.chains.get(source, {}).get(c.sequence[i])
            if held is None:
                held = self.first_by_id.get(source, {}).get(c.event_id[i])
            standing = c.standing_of(i)
            kind = _STANDING_KIND[standing]
            reason = c.reasons.get(i, "")
            if held is not None:
                claim = (f"it claims sequence {c.sequence[i]} of {source}, held by "
                         f"authentic event {c.event_id[held]} at {where(c, held)}")
                if standing is Standing.INVALID_KEY:
                    kind = Kind.REWRITE
                    reason = f"history rewritten with another key: {claim}; {reason}"
                else:
                    reason = f"{reason}; {claim}"
            self.findings.append(finding(c, i, kind, reason))


K = TypeVar("K", bound=Hashable)
K_co = TypeVar("K_co", covariant=True)


class _Keys(Protocol[K_co]):
    def __getitem__(self, index: int, /) -> K_co: ...


def _first_per_source(
    cols: Columns, indexes: Iterable[int], key: _Keys[K],
) -> tuple[dict[str, dict[K, int]], dict[tuple[str, K], list[int]]]:
    """Per source, the first of ``indexes`` with each ``key`` (an event id, a sequence), and
    apart, every group of records that share a source and key (the first included)."""
    first: dict[str, dict[K, int]] = {}
    shared: dict[tuple[str, K], list[int]] = {}
    for i in indexes:
        source, value = cols.source[i], key[i]
        held_by_key = first.get(source)
        if held_by_key is None:
            held_by_key = first[source] = {}
        held = held_by_key.setdefault(value, i)
        if held != i:
            shared.setdefault((source, value), [held]).append(i)
    return first, shared


def _link_reason(
    fault: ChainFault, source: str, c: Columns, i: int, last: int | None
) -> str:
    sequence = c.sequence[i]
    if last is None:
        if fault is ChainFault.GAP:
            return (f"the first event of {source} on the log has sequence {sequence}: "
                    f"sequences 1-{sequence - 1} are missing")
        return f"sequence 1 of {source} must carry the all-zero prevhash"
    if fault is ChainFault.GAP:
        missing = sequence - c.sequence[last] - 1
        return (f"{source} jumps from sequence {c.sequence[last]} (at {where(c, last)}) to "
                f"{sequence}: {missing} event(s) missing")
    return (f"prevhash {c.prevhash(i).hex()[:16]}… is not the hash {c.hash(last).hex()[:16]}… "
            f"of sequence {c.sequence[last]} (event {c.event_id[last]} at {where(c, last)}): "
            "history was rewritten")
