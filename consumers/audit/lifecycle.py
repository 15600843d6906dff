"""The lifecycle pass of ``audit verify``: each subject's steps walked in log order against its
machine (``schemas.lifecycles``), every impossible step an ``invalid_transition`` finding.

Workers read what each event says about its step (``Life``, small, carried in ``Inspected``);
the parent walks the authentic events of each partition in offset order (a subject lives in one
partition), skipping what the views' duplicate and order checks refuse (``consumers.history``).
A step refused leaves the status as it was, as the views leave it. A correction is re-walked
over the subject's history as it would count: one that would make that history impossible is a
finding too.

The statuses are the machines' (``Step.to``, or the status the event names), which are the
views' own; checks the views make besides the lifecycle (parties, a correction's author) are
the replay's to judge, not this pass's.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from consumers.audit.findings import Finding, Kind
from schemas.chain import check_partition_order
from schemas.envelope import Envelope
from schemas.events.corrections import Correction, CorrectionReason
from schemas.lifecycles import Reading, Step, leads_to, machine_of, reading, refusal, short_type


class Life(NamedTuple):
    """What one event says about its subject's lifecycle."""

    subject: str
    type: str
    said: Reading = Reading()
    corrects: str | None = None
    """For a correction: the id of the event it corrects (``type`` is then the corrected type)."""
    cleared: bool = False
    """The corrected event did not occur."""
    replaced: tuple[tuple[str, str | None], ...] = ()
    """The corrected event's lifecycle fields the correction replaces (field → its new value)."""


def life_of(env: Envelope) -> Life | None:
    """The lifecycle facts of ``env`` (``None``: its type has no lifecycle)."""
    data = env.data
    if isinstance(data, Correction):
        found = machine_of(data.corrected_type)
        if found is None:
            return None
        replacement = data.replacement or {}
        replaced = tuple((name, None if replacement[name] is None else str(replacement[name]))
                         for name in sorted(replacement) if name in _fields(data.corrected_type))
        return Life(env.subject, sys.intern(data.corrected_type), corrects=data.corrects_event_id,
                    cleared=data.reason is CorrectionReason.DID_NOT_OCCUR, replaced=replaced)
    if machine_of(env.type) is None:
        return None
    return Life(env.subject, sys.intern(env.type), reading(env.type, data))


def _step_of(ce_type: str) -> Step:
    found = machine_of(ce_type)
    assert found is not None
    return found.steps[short_type(ce_type)]


def _fields(ce_type: str) -> frozenset[str]:
    step = _step_of(ce_type)
    return frozenset(f for f in (step.named_by, step.claims, step.keeps) if f is not None)


class Column(Protocol):
    def __getitem__(self, index: int, /) -> int: ...


class Records(Protocol):
    """The inspected records of a snapshot, column by column (``consumers.audit.columns``)."""

    @property
    def partition(self) -> Sequence[int]: ...
    @property
    def offset(self) -> Sequence[int]: ...
    @property
    def sequence(self) -> Column: ...
    @property
    def event_id(self) -> Sequence[str]: ...
    @property
    def source(self) -> Sequence[str]: ...
    def life_of(self, index: int) -> Life | None: ...
    def topic_of(self, index: int) -> str: ...


class Counted(NamedTuple):
    """An event of a subject's history as it counts."""

    event_id: str
    type: str
    said: Reading


@dataclass(slots=True)
class _Subject:
    status: str | None = None
    history: list[Counted] = field(default_factory=list)


def _walk(history: Iterable[Counted]) -> tuple[str | None, str | None]:
    """The status a history leads to, or why it is impossible."""
    status: str | None = None
    for item in history:
        why = refusal(item.type, status, item.said.outcome, item.said.claimed)
        if why is not None:
            return status, why
        status = leads_to(item.type, status, item.said)
    return status, None


def _corrected(said: Reading, replaced: tuple[tuple[str, str | None], ...],
               ce_type: str) -> Reading:
    step, values = _step_of(ce_type), dict(replaced)
    return Reading(
        values.get(step.named_by or "", said.outcome),
        values.get(step.claims or "", said.claimed),
        values[step.keeps] is not None if step.keeps in values else said.keeps)


@dataclass(slots=True)
class LifecycleJudge:
    """Walks the lifecycle facts of one snapshot; ``findings`` are the impossible steps."""

    findings: list[Finding] = field(default_factory=list)
    subjects: dict[str, _Subject] = field(default_factory=dict)
    seen: dict[str, set[str]] = field(default_factory=dict)
    """Per source, the ids of its events applied."""
    last: dict[tuple[str, int, str], int] = field(default_factory=dict)
    """Each source's last sequence applied per partition, as the views' ``History`` keeps it."""

    def judge(self, records: Records, ordered: Iterable[int]) -> list[Finding]:
        """``ordered``: the authentic events of the shared topics (indexes into ``records``),
        by topic, partition and offset."""
        for i in ordered:
            source, sequence, event_id = records.source[i], records.sequence[i], \
                records.event_id[i]
            key = (records.topic_of(i), records.partition[i], source)
            seen = self.seen.get(source)
            if seen is None:
                seen = self.seen[source] = set()
            if event_id in seen or check_partition_order(
                    self.last.get(key), sequence) is not None:
                continue  # a duplicate, replay or reorder: the views never apply it
            if (life := records.life_of(i)) is not None:
                subject = self.subjects.get(life.subject)
                if subject is None:
                    subject = self.subjects[life.subject] = _Subject()
                applied = (self._step(records, i, life, subject) if life.corrects is None
                           else self._correct(records, i, life, subject))
                if not applied:
                    continue
            seen.add(event_id)
            self.last[key] = sequence
        return self.findings

    def _step(self, records: Records, i: int, life: Life, subject: _Subject) -> bool:
        why = refusal(life.type, subject.status, life.said.outcome, life.said.claimed)
        if why is not None:
            self._found(records, i, why)
            return False
        subject.status = leads_to(life.type, subject.status, life.said)
        subject.history.append(Counted(records.event_id[i], life.type, life.said))
        return True

    def _correct(self, records: Records, i: int, life: Life, subject: _Subject) -> bool:
        at = next((i for i, c in enumerate(subject.history)
                   if c.event_id == life.corrects and c.type == life.type), None)
        if at is None:
            return False  # nothing of this subject's history to correct: the replay judges it
        history = list(subject.history)
        if life.cleared:
            del history[at]
        else:
            target = history[at]
            history[at] = target._replace(said=_corrected(target.said, life.replaced, life.type))
        status, why = _walk(history)
        if why is not None:
            self._found(records, i, f"the corrected history would be impossible: {why}")
            return False
        subject.status, subject.history = status, history
        return True

    def _found(self, records: Records, i: int, why: str) -> None:
        self.findings.append(Finding(records.topic_of(i), records.partition[i], records.offset[i],
                                     records.event_id[i], records.source[i],
                                     Kind.INVALID_TRANSITION, why))
