"""Which step may follow which: the lifecycle of each kind of file, assembled from the registry.

A mineral title goes from application to decision to a life in force (amended, renewed,
suspended, restored, cancelled, surrendered, expired); an IEE/EIA is filed then decided; an
export approval (LPCO) is worked on until approved or rejected, then only amended or cancelled;
a shipment goes from plan to loading, departure, customs (held until cleared), out of Pakistan,
arrival and final invoice; a project moves forward through its stages (care and maintenance may
restart it) to closure. Each event type declares its step once, in its registry entry
(``schemas.events.spec.EventSpec.lifecycle``, with ``schemas.lifecycle_steps``): the statuses it
may follow (``None``: the file does not exist yet) and the status it leads to, or, where the event
names its own outcome (an LPCO's status, a decision, a stage), what each outcome may follow; this
module gathers them into one machine per kind of file, in the registry's order. Everything that
consumes events asks this module: the views refuse an impossible step (``invalid_transition``,
naming from → to, dead-lettered and alerted), the gateway refuses it before publishing, the
audit's replay refuses it and ``audit verify`` lists it, and the lifecycle tables of
``docs/event-types.md`` are generated from it. Pure: statuses are the views' own words, as
strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import NamedTuple

from schemas import lifecycle_steps as kinds
from schemas.events.registry import SPECS
from schemas.lifecycle_steps import (
    APPLYING as APPLYING,  # noqa: PLC0414 - re-exported, as before the steps moved
)
from schemas.lifecycle_steps import ENV_DECISIONS as ENV_DECISIONS  # noqa: PLC0414
from schemas.lifecycle_steps import IN_FORCE as IN_FORCE  # noqa: PLC0414
from schemas.lifecycle_steps import LPCO_OPEN as LPCO_OPEN  # noqa: PLC0414
from schemas.lifecycle_steps import LPCO_WORK as LPCO_WORK  # noqa: PLC0414
from schemas.lifecycle_steps import MINED_STAGES as MINED_STAGES  # noqa: PLC0414
from schemas.lifecycle_steps import OPEN_STAGES as OPEN_STAGES  # noqa: PLC0414
from schemas.lifecycle_steps import RESTARTS as RESTARTS  # noqa: PLC0414
from schemas.lifecycle_steps import ROYALTY_AFTER as ROYALTY_AFTER  # noqa: PLC0414
from schemas.lifecycle_steps import SHIPMENT_LIVE as SHIPMENT_LIVE  # noqa: PLC0414
from schemas.lifecycle_steps import SHIPPED as SHIPPED  # noqa: PLC0414
from schemas.lifecycle_steps import STAGES as STAGES  # noqa: PLC0414
from schemas.lifecycle_steps import Step as Step  # noqa: PLC0414
from schemas.lifecycle_steps import stage_move_allowed as stage_move_allowed  # noqa: PLC0414

TYPE_PREFIX = "pk.emining."


@dataclass(frozen=True, slots=True)
class Machine:
    kind: str
    title: str
    noun: str
    """How a refusal names the file: "a mineral title"."""
    steps: Mapping[str, Step]
    """Short event type (``approval.licence.granted``) → its step."""
    field: str = "status"
    """The field of the subject's view that holds its status (a project's is ``stage``)."""


class Reading(NamedTuple):
    """What an event itself says about its step (from its data, see ``Step``)."""

    outcome: str | None = None
    claimed: str | None = None
    keeps: bool = False



def _machine(kind: str, title: str, noun: str, field: str = "status") -> Machine:
    """The machine of ``kind``: the step of every registered event type that declares one."""
    steps = {spec.cls.TYPE.removeprefix(TYPE_PREFIX): spec.lifecycle[1] for spec in SPECS.values()
             if spec.lifecycle is not None and spec.lifecycle[0] == kind}
    return Machine(kind, title, noun, MappingProxyType(steps), field)


TITLE = _machine(kinds.TITLE, "Mineral title (every title type: RL, EL, PL, MDRL, ML, SSML, MM)",
                 "a mineral title")
ENVIRONMENTAL = _machine(kinds.ENVIRONMENTAL, "Environmental approval (IEE, EIA)",
                         "an environmental approval")
EXPORT = _machine(kinds.EXPORT, "Export approval (LPCO: export NOC, release order, certificate)",
                  "an export approval")
SHIPMENT = _machine(kinds.SHIPMENT, "Shipment (GS1 EPCIS-style: plan to final invoice)",
                    "a shipment")
PROJECT = _machine(kinds.PROJECT, "Project stage (exploration to closure)", "a project",
                   field="stage")

MACHINES: Mapping[str, Machine] = MappingProxyType(
    {m.kind: m for m in (TITLE, ENVIRONMENTAL, EXPORT, SHIPMENT, PROJECT)})
"""Subject kind → its lifecycle."""

STATUS_FIELDS = tuple(dict.fromkeys(m.field for m in MACHINES.values()))
"""The view fields that hold a status, each machine's (``status``, ``stage``)."""


@lru_cache(maxsize=1024)
def short_type(ce_type: str) -> str:
    """``pk.emining.approval.licence.granted.v1`` → ``approval.licence.granted``."""
    name = ce_type.removeprefix(TYPE_PREFIX)
    base, _, version = name.rpartition(".")
    return base if base and version.startswith("v") and version[1:].isdigit() else name


@lru_cache(maxsize=1024)  # the machines are constants; asked for every event, several times
def machine_of(ce_type: str) -> Machine | None:
    name = short_type(ce_type)
    return next((m for m in MACHINES.values() if name in m.steps), None)


def status_in(view: Mapping[str, object] | object) -> str | None:
    """The status a view (a model, or its JSON document) holds, in whichever field its machine
    keeps it."""
    for name in STATUS_FIELDS:
        value = view.get(name) if isinstance(view, Mapping) else getattr(view, name, None)
        if value is not None:
            return str(value)
    return None


def reading(ce_type: str, data: object) -> Reading:
    """What ``data`` (an event of ``ce_type``, as a model or a dict) says about its step."""
    found = machine_of(ce_type)
    if found is None:
        return Reading()
    step = found.steps[short_type(ce_type)]

    def value(name: str | None) -> str | None:
        if name is None:
            return None
        raw = data.get(name) if isinstance(data, Mapping) else getattr(data, name, None)
        return None if raw is None else str(raw)

    return Reading(value(step.named_by), value(step.claims), value(step.keeps) is not None)


def _shown(status: str | None) -> str:
    return "(new)" if status is None else status


def in_order(machine: Machine, statuses: Iterable[str | None]) -> list[str | None]:
    """``statuses`` in the lifecycle's natural order (a new file first; ``STATUS_ORDER``)."""
    seen: list[str | None] = [None, *kinds.STATUS_ORDER.get(machine.kind, ())]
    for step in machine.steps.values():
        for to in (step.to, *step.moves):
            if to is not None and to not in seen:
                seen.append(to)
    return sorted(statuses, key=lambda s: (seen.index(s), "") if s in seen else (len(seen),
                                                                                  s or ""))


def refusal(ce_type: str, current: str | None, outcome: str | None = None,
            claimed: str | None = None) -> str | None:
    """Why an event of ``ce_type`` may not follow a file in status ``current`` (None when it
    may), naming from → to. ``outcome`` is the status the event itself names, where it names one
    (an LPCO's, a project's stage); ``claimed`` the status it says it leaves."""
    found = machine_of(ce_type)
    if found is None:
        return None
    name = short_type(ce_type)
    step = found.steps[name]
    to = outcome if step.named_by is not None else step.to
    target = "(no change)" if to is None else to
    allowed = step.follows(outcome)
    if step.named_by is not None and not allowed:
        named = ", ".join(map(_shown, in_order(found, step.moves)))
        return (f"{name}: {_shown(current)} → {outcome} is not a step of {found.noun} "
                f"({step.named_by} names one of: {named})")
    if current not in allowed:
        what = name if to is None else to
        follows = ", ".join(_shown(s) for s in in_order(found, allowed))
        return (f"{name}: {_shown(current)} → {target} is not a step of {found.noun} "
                f"({what} follows: {follows})")
    if step.claims is not None and claimed is not None and claimed != current:
        return (f"{name}: {_shown(current)} → {target} is not a step of {found.noun} "
                f"(the event says it leaves {claimed}, but it is at {_shown(current)})")
    return None


def refusal_of(ce_type: str, current: str | None, data: object) -> str | None:
    """``refusal`` with what the event's own data names."""
    said = reading(ce_type, data)
    return refusal(ce_type, current, said.outcome, said.claimed)


def leads_to(ce_type: str, current: str | None, said: Reading) -> str | None:
    """The status after an allowed event of ``ce_type`` with what its data says (``reading``)."""
    found = machine_of(ce_type)
    if found is None:
        return current
    step = found.steps[short_type(ce_type)]
    to = said.outcome if step.named_by is not None else step.to
    return current if to is None or said.keeps else to
