"""The sequential pass over the whole log: duplicates, replays, gaps, links, reorders, rewrites.

A source's events spread over topics and partitions, so each source's chain is rebuilt by
``sequence`` across everything read; only the order *within* one partition says anything about
reordering. Records that are not the source's own (bad signature, invalid key) never enter a
chain: they are judged against it instead (a rewrite claims a place an authentic event holds).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import attrgetter

from consumers.audit.findings import Finding, Kind
from consumers.audit.inspect import Inspected, Standing
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


_offset = attrgetter("offset")


def where(item: Inspected) -> str:
    return f"{item.topic}[{item.partition}]@{item.offset}"


def _finding(item: Inspected, kind: Kind, reason: str) -> Finding:
    return Finding(item.topic, item.partition, item.offset, item.event_id or None,
                   item.source or None, kind, reason)


@dataclass(slots=True)
class ChainJudge:
    """Collects findings while walking the inspected records of one snapshot.

    It holds one entry per record at most (a whole log's worth: 200k records and more), so
    records that collide (a second copy of an id, a second event at a sequence) are kept aside
    and everything else in plain per-source dicts, never a list or tuple per record.
    """

    findings: list[Finding] = field(default_factory=list)
    first_by_id: dict[str, dict[str, Inspected]] = field(default_factory=dict)
    """Per source, event id → its first record in log order."""
    chains: dict[str, dict[int, Inspected]] = field(default_factory=dict)
    """Per source, sequence → the authentic event holding that place."""
    moments: dict[tuple[str, int], tuple[array[int], array[int]]] = field(default_factory=dict)
    """Per partition, its records' offsets and their times in log order: see
    ``_index_log_order``."""

    def _index_log_order(self, items: Iterable[Inspected]) -> None:
        """Order by offset within a partition, by timestamp across partitions.

        Record timestamps are the producer's CreateTime and may go backwards within a partition;
        a backdated copy must not count as the original. So each record's time is the largest
        timestamp seen up to it in its partition.
        """
        by_partition: dict[tuple[str, int], list[Inspected]] = defaultdict(list)
        for item in items:
            by_partition[(item.topic, item.partition)].append(item)
        for place, group in by_partition.items():
            group.sort(key=_offset)
            offsets, moments = array("q"), array("q")
            latest = group[0].timestamp_ms
            for item in group:
                latest = max(latest, item.timestamp_ms)
                offsets.append(item.offset)
                moments.append(latest)
            self.moments[place] = (offsets, moments)

    def _log_order(self, item: Inspected) -> tuple[int, str, int, int]:
        offsets, moments = self.moments[(item.topic, item.partition)]
        return moments[bisect_left(offsets, item.offset)], item.topic, item.partition, item.offset

    def judge(self, items: Iterable[Inspected]) -> list[Finding]:
        own: list[Inspected] = []
        foreign: list[Inspected] = []
        for item in items:
            if item.standing is not Standing.AUTHENTIC:
                kind = _STANDING_KIND[item.standing]
                if item.standing in {Standing.BAD_SIGNATURE, Standing.INVALID_KEY}:
                    foreign.append(item)
                    continue
                self.findings.append(_finding(item, kind, item.reason))
            if item.standing.attributable:
                own.append(item)
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

    def _deduplicate(self, own: list[Inspected]) -> list[Inspected]:
        """The first of each (source, id) in log order; later copies are findings."""
        first = self.first_by_id
        copies: dict[tuple[str, str], list[Inspected]] = {}
        for item in own:
            ids = first.get(item.source)
            if ids is None:
                ids = first[item.source] = {}
            held = ids.setdefault(item.event_id, item)
            if held is not item:
                copies.setdefault((item.source, item.event_id), [held]).append(item)
        for (source, event_id), group in copies.items():
            earliest, *later = sorted(group, key=self._log_order)
            first[source][event_id] = earliest
            for item in later:
                if earliest.hash == item.hash:
                    self.findings.append(_finding(item, Kind.REDELIVERY, (
                        f"identical copy of event {item.event_id} first seen at {where(earliest)}: "
                        "a re-send of an unacknowledged publish; readers ignore it")))
                else:
                    self.findings.append(_finding(item, Kind.DUPLICATE, (
                        f"event id {item.event_id} of {item.source} was already used at "
                        f"{where(earliest)} with different content: one of them rewrites the "
                        "other")))
        return [item for ids in first.values() for item in ids.values()]

    def _pick_links(self, unique: list[Inspected]) -> None:
        """One event per (source, sequence): the one the next link points to, else the first."""
        places: dict[str, dict[int, Inspected]] = {}
        contested: dict[tuple[str, int], list[Inspected]] = {}
        for item in unique:
            by_sequence = places.get(item.source)
            if by_sequence is None:
                by_sequence = places[item.source] = {}
            held = by_sequence.setdefault(item.sequence, item)
            if held is not item:
                contested.setdefault((item.source, item.sequence), [held]).append(item)
        for source in list(places):
            by_sequence = places.pop(source)
            sequences = sorted(by_sequence)
            pointed_to: str | None = None
            for sequence in reversed(sequences):
                candidates = contested.get((source, sequence))
                if candidates is not None:
                    if sequence + 1 not in by_sequence:
                        pointed_to = None
                    by_sequence[sequence] = self._pick(source, sequence, candidates, pointed_to)
                pointed_to = by_sequence[sequence].prevhash
            self.chains[source] = {sequence: by_sequence[sequence] for sequence in sequences}

    def _pick(self, source: str, sequence: int, candidates: list[Inspected],
              pointed_to: str | None) -> Inspected:
        pick = next((c for c in candidates if c.hash == pointed_to), None)
        pick = pick or min(candidates, key=self._log_order)
        for other in candidates:
            if other is not pick:
                self.findings.append(_finding(other, Kind.REPLAY, (
                    f"sequence {sequence} of {source} is already held by event "
                    f"{pick.event_id} at {where(pick)}: an old place replayed "
                    f"under the new id {other.event_id}")))
        return pick

    def _check_links(self) -> None:
        for source, chain in self.chains.items():
            last: Link | None = None
            last_item: Inspected | None = None
            for sequence, item in chain.items():
                fault = check_link(last, sequence, item.prevhash)
                if fault is not None:
                    self.findings.append(_finding(item, Kind(fault.value), _link_reason(
                        fault, source, item, last_item)))
                last, last_item = Link(sequence, item.hash), item

    def _check_partition_order(self) -> None:
        by_partition: dict[tuple[str, int], list[Inspected]] = defaultdict(list)
        for chain in self.chains.values():
            for item in chain.values():
                by_partition[(item.topic, item.partition)].append(item)
        for items in by_partition.values():
            highest: dict[str, Inspected] = {}
            items.sort(key=_offset)
            for item in items:
                top = highest.get(item.source)
                if top is not None and item.sequence < top.sequence:
                    self.findings.append(_finding(item, Kind.REORDER, (
                        f"sequence {item.sequence} of {item.source} comes after its sequence "
                        f"{top.sequence} at offset {top.offset} of the same partition")))
                elif top is None or item.sequence > top.sequence:
                    highest[item.source] = item

    def _judge_foreign(self, foreign: list[Inspected]) -> None:
        for item in foreign:
            held = self.chains.get(item.source, {}).get(item.sequence)
            held = held or self.first_by_id.get(item.source, {}).get(item.event_id)
            kind = _STANDING_KIND[item.standing]
            reason = item.reason
            if held is not None:
                claim = (f"it claims sequence {item.sequence} of {item.source}, held by "
                         f"authentic event {held.event_id} at {where(held)}")
                if item.standing is Standing.INVALID_KEY:
                    kind = Kind.REWRITE
                    reason = f"history rewritten with another key: {claim}; {reason}"
                else:
                    reason = f"{reason}; {claim}"
            self.findings.append(_finding(item, kind, reason))


def _link_reason(
    fault: ChainFault, source: str, item: Inspected, last: Inspected | None
) -> str:
    if last is None:
        if fault is ChainFault.GAP:
            return (f"the first event of {source} on the log has sequence {item.sequence}: "
                    f"sequences 1-{item.sequence - 1} are missing")
        return f"sequence 1 of {source} must carry the all-zero prevhash"
    if fault is ChainFault.GAP:
        missing = item.sequence - last.sequence - 1
        return (f"{source} jumps from sequence {last.sequence} (at {where(last)}) to "
                f"{item.sequence}: {missing} event(s) missing")
    return (f"prevhash {item.prevhash[:16]}… is not the hash {last.hash[:16]}… of sequence "
            f"{last.sequence} (event {last.event_id} at {where(last)}): history was rewritten")
