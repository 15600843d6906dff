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
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import attrgetter
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


class Placed(Protocol):
    """An authentic event where the log holds it, with its lifecycle facts (``Inspected``)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def event_id(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def sequence(self) -> int: ...
    @property
    def life(self) -> Life | None: ...


_place = attrgetter("topic", "partition", "offset")


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

    def judge(self, items: Iterable[Placed]) -> list[Finding]:
        """``items``: the authentic events of the shared topics."""
        for place in sorted(items, key=_place):
            key = (place.topic, place.partition, place.source)
            seen = self.seen.get(place.source)
            if seen is None:
                seen = self.seen[place.source] = set()
            if place.event_id in seen or check_partition_order(
                    self.last.get(key), place.sequence) is not None:
                continue  # a duplicate, replay or reorder: the views never apply it
            if (life := place.life) is not None:
                subject = self.subjects.get(life.subject)
                if subject is None:
                    subject = self.subjects[life.subject] = _Subject()
                applied = (self._step(place, life, subject) if life.corrects is None
                           else self._correct(place, life, subject))
                if not applied:
                    continue
            seen.add(place.event_id)
            self.last[key] = place.sequence
        return self.findings

    def _step(self, place: Placed, life: Life, subject: _Subject) -> bool:
        why = refusal(life.type, subject.status, life.said.outcome, life.said.claimed)
        if why is not None:
            self._found(place, why)
            return False
        subject.status = leads_to(life.type, subject.status, life.said)
        subject.history.append(Counted(place.event_id, life.type, life.said))
        return True

    def _correct(self, place: Placed, life: Life, subject: _Subject) -> bool:
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
            self._found(place, f"the corrected history would be impossible: {why}")
            return False
        subject.status, subject.history = status, history
        return True

    def _found(self, place: Placed, why: str) -> None:
        self.findings.append(Finding(place.topic, place.partition, place.offset,
                                     place.event_id, place.source, Kind.INVALID_TRANSITION, why))
