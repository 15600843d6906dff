"""A batch of verified events folded into the views, in memory: pure, so tests need no Kafka or SQL.

The store loads what the batch touches (its subjects' views, their last timeline positions, the
timelines of subjects being corrected, and the history of its sources), the fold applies each
event in log order or refuses it, and the store writes the resulting changes in the same
transaction as the consumed offsets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from pydantic import ValidationError

from consumers.history import History, PositionKey
from consumers.verification import Accepted, Reason, Rejected
from consumers.views.declare import View as Family
from consumers.views.facts import Fact, speaker
from consumers.views.models import TimelineEntry, ViewDoc
from consumers.views.registry import FOLDING
from consumers.views.timeline import entry
from schemas.base import EventData
from schemas.catalogue import resolve_type
from schemas.envelope import Envelope, encode_value, org_of
from schemas.events.corrections import SPEAKER_FIELDS, Correction, CorrectionReason
from schemas.lifecycles import machine_of, refusal_of

log = structlog.get_logger("consumers.fold")


@dataclass(frozen=True, slots=True)
class Position:
    """Where a record sits in the log."""

    topic: str
    partition: int
    offset: int
    appended_at: datetime | None = None
    """When the broker appended it (``LogAppendTime`` topics): when its recipients learned of it."""

    @property
    def dlq_id(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"


@dataclass(slots=True)
class Subject:
    """One subject as the batch found it, then as the batch leaves it."""

    family: Family
    view: ViewDoc | None
    last_position: int = 0
    timeline: list[TimelineEntry] | None = None
    """Loaded only when the batch corrects this subject (a correction re-folds its history)."""
    dirty: bool = False
    others: dict[str, ViewDoc] = field(default_factory=dict)
    """Its documents in the other views that fold its topic (``registry.FOLDING``), by view."""

    def folded(self, fact: Fact) -> tuple[ViewDoc, dict[str, ViewDoc]]:
        """Its own view and its other views' documents after ``fact`` (nothing changed yet:
        either every view takes the event or none does)."""
        view = self.family.apply(self.view, fact)
        others = dict(self.others)
        for other in FOLDING.get(self.family.topics[0], ()):
            if other.folds(fact.data):
                others[other.name] = other.apply(others.get(other.name), fact)
        return view, others


@dataclass(slots=True)
class Changes:
    views: list[tuple[Family, str, ViewDoc | None]]
    """``(family, subject, view)``; ``None`` when a correction left the subject without events."""
    new_entries: list[TimelineEntry]
    updated_entries: list[TimelineEntry]
    positions: dict[PositionKey, int]
    provenance: dict[tuple[str, int], tuple[int, str]] = field(default_factory=dict)
    """``(subject, position)`` of a new entry → its source sequence and stored record."""
    reset: set[str] = field(default_factory=set)
    """Subjects whose history was folded again from the start: their stored timeline goes."""
    others: list[tuple[Family, str, ViewDoc | None]] = field(default_factory=list)
    """The same for the other views folding the subjects' events (``None``: none any more)."""


@dataclass(slots=True)
class Fold:
    subjects: dict[str, Subject]
    history: History
    _new: dict[tuple[str, int], TimelineEntry] = field(default_factory=dict)
    _updated: dict[tuple[str, int], TimelineEntry] = field(default_factory=dict)
    _provenance: dict[tuple[str, int], tuple[int, str]] = field(default_factory=dict)
    _reset: set[str] = field(default_factory=set)
    checked: set[tuple[str, str]] = field(default_factory=set)
    """``(source, event id)`` pairs whose duplicate check the store has loaded."""
    positions_known: set[PositionKey] = field(default_factory=set)
    """Partition positions of sources the store has loaded (``History.last_sequence``)."""

    def apply(self, accepted: Accepted, at: Position, *, record: str = "{}",
              ordered: bool = True) -> Rejected | None:
        """Apply one verified event, or say why it may not touch the views.

        ``ordered``: judge its order within its partition here too (the live consumer's
        ``consumers.holding.Gate`` judges it when the record is read, not when it is applied).
        ``record``: the stored form of the record, kept beside its timeline entry.
        """
        env = accepted.envelope
        refusal = (self.history.check(env, at.topic, at.partition) if ordered
                   else self.history.check_duplicate(env))
        subject = self.subjects[env.subject]
        if refusal is None:
            refusal = (self._correct(subject, env, at, record) if isinstance(env.data, Correction)
                       else self._party_refusal(subject, accepted))
        if refusal is not None:
            return refusal
        if not isinstance(env.data, Correction):
            impossible = _impossible(subject.family, subject.view, env.type, env.data)
            if impossible is not None:
                return Rejected(Reason.INVALID_TRANSITION, impossible, event_id=env.id,
                                source=env.source)
            fact = Fact(env.id, env.source, env.type, env.time, env.data)
            try:
                subject.view, subject.others = subject.folded(fact)
            except Exception as exc:  # noqa: BLE001 - refused, not retried forever
                return _unappliable(env, exc)
            self._append(subject, fact, env, at, record)
        if ordered:
            self.history.record(env, at.topic, at.partition)
        else:
            self.history.seen.add((env.source, env.id))
        return None

    def prejudge(self, accepted: Accepted) -> Rejected | None:
        """What ``apply`` would refuse ``accepted`` for on its subject as it stands, changing
        nothing (duplicates aside): the subject's party, its lifecycle, a correction's target."""
        env = accepted.envelope
        subject = self.subjects[env.subject]
        if isinstance(env.data, Correction):
            if subject.timeline is None:
                return None
            target = next((e for e in subject.timeline
                           if e.event_id == env.data.corrects_event_id and e.corrects is None),
                          None)
            why = _refusal(target, env.data, env)
            return None if why is None else Rejected(Reason.BAD_CORRECTION, why,
                                                     event_id=env.id, source=env.source)
        refusal = self._party_refusal(subject, accepted)
        if refusal is not None:
            return refusal
        impossible = _impossible(subject.family, subject.view, env.type, env.data)
        if impossible is not None:
            return Rejected(Reason.INVALID_TRANSITION, impossible, event_id=env.id,
                            source=env.source)
        return None

    def changes(self) -> Changes:
        dirty = {k: s for k, s in self.subjects.items() if s.dirty}
        views = [(s.family, k, s.view) for k, s in dirty.items()]
        others = [(v, k, s.others.get(v.name)) for k, s in dirty.items()
                  for v in FOLDING.get(s.family.topics[0], ())]
        return Changes(views, list(self._new.values()), list(self._updated.values()),
                       dict(self.history.changed), dict(self._provenance), set(self._reset),
                       others)

    def unwritten(self, subject: str) -> tuple[list[TimelineEntry], dict[int, TimelineEntry]]:
        """This batch's new entries of ``subject`` and its updates of stored ones (by position)."""
        new = [e for (s, _), e in self._new.items() if s == subject]
        return new, {p: e for (s, p), e in self._updated.items() if s == subject}

    def provenance(self, subject: str, position: int) -> tuple[int, str] | None:
        return self._provenance.get((subject, position))

    def reset(self, name: str, events: list[tuple[str, str]]) -> None:
        """Forget ``name``'s history (its ``(source, event id)`` pairs too) to fold it again."""
        subject = self.subjects[name]
        subject.view, subject.last_position, subject.timeline = None, 0, []
        subject.others = {}
        subject.dirty = True
        for key in [k for k in self._new if k[0] == name]:
            del self._new[key]
            self._provenance.pop(key, None)
        for key in [k for k in self._updated if k[0] == name]:
            del self._updated[key]
        self.history.seen.difference_update(events)
        self._reset.add(name)

    def _party_refusal(self, subject: Subject, accepted: Accepted) -> Rejected | None:
        env = accepted.envelope
        ids = {"event_id": env.id, "source": env.source}
        family, data = subject.family, env.data
        if subject.view is None:
            if accepted.own_only and not isinstance(data, family.starts):
                return Rejected(Reason.OWN_SUBJECT, f"{env.subject} is not registered: a firm "
                                "speaks only about its own registered subjects", **ids)
            return None
        if isinstance(data, family.opens):
            return Rejected(Reason.SUBJECT_EXISTS, f"{env.subject} already exists", **ids)
        registered = family.party(subject.view)
        if accepted.own_only and registered not in accepted.emitter_ids:
            return Rejected(Reason.OWN_SUBJECT, f"{env.subject} is registered to {registered}, "
                            f"not to {env.org}", **ids)
        if speaker(data) != registered:
            return Rejected(Reason.PARTY_MISMATCH, f"the event names {speaker(data)} but "
                            f"{env.subject} is registered to {registered}", **ids)
        return None

    def _append(self, subject: Subject, fact: Fact, env: Envelope, at: Position,
                record: str) -> None:
        subject.last_position += 1
        new = entry(fact, family=subject.family.name, position=subject.last_position,
                    data_json=env.data_json, partition=at.partition, offset=at.offset,
                    plain=env.plain)
        self._new[(new.subject, new.position)] = new
        self._provenance[(new.subject, new.position)] = (env.sequence, record)
        if subject.timeline is not None:
            subject.timeline.append(new)
        subject.dirty = True

    def _correct(self, subject: Subject, env: Envelope, at: Position,
                 record: str) -> Rejected | None:
        data = env.data
        assert isinstance(data, Correction)
        assert subject.timeline is not None, "the store loads the timeline of corrected subjects"
        ids = {"event_id": env.id, "source": env.source}
        target = next((e for e in subject.timeline
                       if e.event_id == data.corrects_event_id and e.corrects is None), None)
        why = _refusal(target, data, env)
        if why is not None:
            return Rejected(Reason.BAD_CORRECTION, why, **ids)
        assert target is not None
        assert target.effective is not None
        effective: str | None = None
        if data.reason is CorrectionReason.INCORRECT_DATA:
            merged = {**json.loads(target.effective), **(data.replacement or {})}
            try:
                _parse(target.type, merged)
            except ValidationError as exc:
                return Rejected(Reason.BAD_CORRECTION, f"the corrected {target.type} would be "
                                f"invalid: {exc.errors()[0]['msg']}", **ids)
            effective = encode_value(merged).decode()
        updated = target.model_copy(update={"effective": effective, "superseded_by": env.id})
        timeline = [updated if e is target else e for e in subject.timeline]
        try:
            view, others = refold_all(subject, timeline)
        except ImpossibleHistoryError as exc:
            return Rejected(Reason.INVALID_TRANSITION, f"the corrected history would be "
                            f"impossible: {exc}", **ids)
        except Exception as exc:  # noqa: BLE001 - refused, not retried forever
            return _unappliable(env, exc)
        subject.timeline[:] = timeline
        key = (updated.subject, updated.position)
        (self._new if key in self._new else self._updated)[key] = updated
        self._append(subject, Fact(env.id, env.source, env.type, env.time, data), env, at,
                     record)
        subject.view, subject.others = view, others
        return None


def _unappliable(env: Envelope, exc: Exception) -> Rejected:
    """A verified event the views cannot apply (a bug, or data no projection expected): refused
    like any bad record, the same way on every replay, so the consumer never loops on it."""
    log.error("event_not_applicable", event_id=env.id, org=env.org, error=repr(exc)[:300])
    return Rejected(Reason.MALFORMED, f"the views cannot apply it: {exc!r}"[:500],
                    event_id=env.id, source=env.source)


def _refusal(target: TimelineEntry | None, data: Correction, env: Envelope) -> str | None:
    if target is None:
        return f"{data.subject} has no event {data.corrects_event_id} to correct"
    if target.type != data.corrected_type:
        return f"event {target.event_id} is a {target.type}, not a {data.corrected_type}"
    if org_of(target.source) != env.org:
        return f"only {org_of(target.source)} corrects its event {target.event_id}"
    if target.effective is None:
        return f"event {target.event_id} was already corrected as not having occurred"
    signed = json.loads(target.data)
    named = next(signed[f] for f in sorted(SPEAKER_FIELDS) if f in signed)
    if speaker(data) != named:
        return f"the correction names {speaker(data)}, the corrected event {named}"
    return None


def _parse(ce_type: str, data: dict[str, Any]) -> Any:
    cls, current = resolve_type(ce_type, data)
    return cls.model_validate(current)


class ImpossibleHistoryError(ValueError):
    """A history (as corrections make it count) with a step its lifecycle does not allow."""


def _status(view: ViewDoc | None, ce_type: str) -> str | None:
    """The status of ``view`` in the field its lifecycle keeps it (a project's ``stage``)."""
    machine = machine_of(ce_type)
    status = getattr(view, machine.field if machine else "status", None)
    return None if status is None else str(status)


def _impossible(family: Family, view: ViewDoc | None, ce_type: str,
                data: EventData) -> str | None:
    """Why ``data`` cannot follow ``view``: its lifecycle, then the subject's own state."""
    return refusal_of(ce_type, _status(view, ce_type), data) or family.refuses(view, data)


def refold(family: Family, timeline: list[TimelineEntry]) -> ViewDoc | None:
    """The view recomputed from a subject's history as it now counts (corrections applied).
    ``ImpossibleHistoryError`` when that history breaks its lifecycle."""
    return refold_all(Subject(family, None), timeline)[0]


def refold_all(subject: Subject, timeline: list[TimelineEntry]) -> tuple[
        ViewDoc | None, dict[str, ViewDoc]]:
    """``refold``, with the subject's documents in the other views that fold its events."""
    again = Subject(subject.family, None)
    for item in sorted(timeline, key=lambda e: e.position):
        if item.corrects is None and item.effective is not None:
            data = _parse(item.type, json.loads(item.effective))
            impossible = _impossible(again.family, again.view, item.type, data)
            if impossible is not None:
                raise ImpossibleHistoryError(impossible)
            again.view, again.others = again.folded(
                Fact(item.event_id, item.source, item.type, item.time, data))
    return again.view, again.others
