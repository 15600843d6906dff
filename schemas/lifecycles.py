"""Which step may follow which: the lifecycle of each kind of file, declared once, as data.

A mineral title goes from application to decision to a life in force (amended, renewed,
suspended, restored, cancelled, surrendered, expired); an IEE/EIA is filed then decided; an
export approval (LPCO) is worked on until approved or rejected, then only amended or cancelled;
a shipment goes from plan to loading, departure, customs (held until cleared), out of Pakistan,
arrival and final invoice; a project moves forward through its stages (care and maintenance may
restart it) to closure. For each event type the machine names the statuses it may follow
(``None``: the file does not exist yet) and the status it leads to, or, where the event names
its own outcome (an LPCO's status, a decision, a stage), what each outcome may follow. Everything
that consumes events asks this module: the views refuse an impossible step
(``invalid_transition``, naming from → to, dead-lettered and alerted), the gateway refuses it
before publishing, the audit's replay refuses it and ``audit verify`` lists it, and
``docs/lifecycles.md`` is generated from it. Pure: statuses are the views' own words, as
strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple

TYPE_PREFIX = "pk.emining."

APPLYING = frozenset({"received", "acknowledged", "deficient", "resubmitted"})
"""An application awaiting the authority."""
IN_FORCE = frozenset({"granted", "show_cause", "suspended", "renewal_applied",
                      "renewal_refused"})
"""A title that was granted and has not ended (cancelled, surrendered, expired, converted)."""
ROYALTY_AFTER: frozenset[str | None] = frozenset(
    {*IN_FORCE, "cancelled", "surrendered", "expired", "converted"})
"""Royalties fall due on production while a title was in force, and are paid even after."""
LPCO_WORK = ("submitted", "documents_called", "inspection_called")
LPCO_OPEN = frozenset(LPCO_WORK)
"""An export approval being worked on."""
ENV_DECISIONS = ("approved", "approved_with_conditions", "rejected", "deemed_approved")
"""What an IEE/EIA may be decided as (the view's status after the decision)."""


@dataclass(frozen=True, slots=True)
class Step:
    """One event type in a lifecycle."""

    after: frozenset[str | None]
    """The statuses it may follow; ``None`` stands for a file that does not exist yet."""
    to: str | None
    """The status it leads to (``None``: it changes no status, e.g. a royalty)."""
    note: str = ""
    named_by: str | None = None
    """The event's field that names the status it leads to (an LPCO's ``status``, a project's
    ``to_stage``); ``moves`` then says what each such status may follow, and ``to`` is unused."""
    moves: Mapping[str, frozenset[str | None]] = field(default_factory=lambda: _NO_MOVES)
    """For a step ``named_by`` a field: each status it may name → the statuses it may follow."""
    claims: str | None = None
    """The event's field naming the status it says it leaves (``from_stage``): it must be the
    file's current status."""
    keeps: str | None = None
    """The event's field that, when set, leaves the status as it is (a partial surrender)."""

    def follows(self, outcome: str | None) -> frozenset[str | None]:
        """The statuses this step may follow when it names ``outcome``."""
        if self.named_by is None:
            return self.after
        return self.moves.get(outcome or "", frozenset())


_NO_MOVES: Mapping[str, frozenset[str | None]] = MappingProxyType({})


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


def _step(after: Iterable[str | None], to: str | None, note: str = "") -> Step:
    return Step(frozenset(after), to, note)


def _named(named_by: str, moves: Mapping[str, Iterable[str | None]], note: str = "",
           claims: str | None = None) -> Step:
    table = MappingProxyType({to: frozenset(after) for to, after in moves.items()})
    return Step(frozenset().union(*table.values()), None, note, named_by=named_by,
                moves=table, claims=claims)


TITLE = Machine("title", "Mineral title (every title type: RL, EL, PL, MDRL, ML, SSML, MM)",
                "a mineral title", MappingProxyType({
    "approval.licence.application.received": _step({None}, "received", "opens the file"),
    "approval.licence.application.acknowledged": _step({"received", "resubmitted"},
                                                       "acknowledged"),
    "approval.licence.deficiency.notified": _step({"received", "acknowledged", "resubmitted"},
                                                  "deficient"),
    "approval.licence.application.resubmitted": _step({"deficient"}, "resubmitted",
                                                      "answers the deficiency notice"),
    "approval.licence.application.withdrawn": _step(APPLYING, "withdrawn",
                                                    "only while undecided"),
    "approval.licence.granted": _step({None, "received", "acknowledged", "resubmitted"},
                                      "granted",
                                      "not while a deficiency is unanswered, never after a "
                                      "withdrawal or a refusal; on a new file it records a "
                                      "title granted before the bus (its history starts "
                                      "there)"),
    "approval.licence.refused": _step(APPLYING, "refused"),
    "approval.licence.work.commenced": _step(
        IN_FORCE, None, "work on the ground began (the six-month obligation after a grant); "
        "only a title in force"),
    "approval.licence.amended": _step({"granted", "show_cause", "suspended"}, None,
                                      "area, minerals or conditions of a title in force"),
    "approval.licence.converted": _step({"granted"}, "converted"),
    "approval.licence.renewal.applied": _step({"granted", "show_cause"}, "renewal_applied",
                                              "only a granted title is renewed"),
    "approval.licence.renewed": _step({"renewal_applied"}, "granted"),
    "approval.licence.renewal.refused": _step({"renewal_applied"}, "renewal_refused"),
    "approval.licence.assigned": _step({"granted"}, None, "to another holder"),
    "approval.licence.showcause.issued": _step({"granted"}, "show_cause"),
    "approval.licence.suspended": _step({"granted", "show_cause"}, "suspended"),
    "approval.licence.cancelled": _step({"granted", "show_cause", "suspended"}, "cancelled"),
    "approval.licence.restored": _step({"suspended", "show_cause", "cancelled"}, "granted",
                                       "after a suspension, a show-cause or an appeal"),
    "approval.licence.surrendered": Step(
        frozenset({"granted", "show_cause", "suspended"}), "surrendered",
        "a partial surrender (``surrendered_area_km2``) keeps the title in force",
        keeps="surrendered_area_km2"),
    "approval.licence.expired": _step(IN_FORCE, "expired"),
    "approval.royalty.assessed": _step(ROYALTY_AFTER, None,
                                       "on production while the title was in force"),
    "approval.royalty.paid": _step(ROYALTY_AFTER, None),
}))

ENVIRONMENTAL = Machine("environmental", "Environmental approval (IEE, EIA)",
                        "an environmental approval", MappingProxyType({
    "approval.environmental.filed": _step({None}, "filed", "opens the file"),
    "approval.environmental.decided": _named(
        "decision", {d: {"filed"} for d in ENV_DECISIONS},
        "the ``decision``: approved, approved with conditions, rejected or deemed approved by "
        "law; decided once"),
}))

EXPORT = Machine("export", "Export approval (LPCO: export NOC, release order, certificate)",
                 "an export approval", MappingProxyType({
    "approval.export.decided": _named(
        "status", {**{s: {None, *LPCO_OPEN} for s in (*LPCO_WORK, "approved", "rejected")},
                   "amended": {"approved", "amended"}, "cancelled": {"approved", "amended"}},
        "the ``status`` it names: worked on (submitted, documents or inspection called) until "
        "approved or rejected; an approved LPCO may then only be amended or cancelled; "
        "rejected and cancelled are final"),
}))

SHIPPED = frozenset({"crossed_border", "at_sea"})
"""Out of Pakistan: over Khunjerab by road, or on a ship."""
SHIPMENT_LIVE = frozenset({"planned", "loaded", "departed", "declared", "held", "cleared",
                           *SHIPPED, "arrived"})
"""A shipment before its final invoice."""

SHIPMENT = Machine("shipment", "Shipment (GS1 EPCIS-style: plan to final invoice)", "a shipment",
                   MappingProxyType({
    "shipment.planned": _step({None}, "planned", "opens the file"),
    "shipment.lot.assayed": _step(SHIPMENT_LIVE, None,
                                  "provisional at the mine; final or umpire assays at "
                                  "destination come before the final invoice"),
    "shipment.lot.loaded": _step({"planned", "loaded"}, "loaded",
                                 "at the mine, lot by lot, before the cargo leaves"),
    "shipment.departed": _step({"loaded"}, "departed",
                               "for the exit point, once loaded"),
    "shipment.customs.declaration.filed": _step(
        {"departed", "held"}, "declared",
        "at the exit point; after a hold, a fresh declaration replaces the held one"),
    "shipment.customs.declaration.amended": _step(
        {"declared", "held"}, None,
        "the declaration now relies on other export approvals (an LPCO issued after filing); "
        "only before clearance"),
    "shipment.customs.held": _step({None, "declared", "held"}, "held",
                                   "only a declared shipment is held, possibly for a second "
                                   "reason; on a new file, customs acts on a declaration "
                                   "filed in WeBOC before the shipment was on the bus"),
    "shipment.customs.cleared": _step({None, "declared", "held"}, "cleared",
                                      "releases every hold; on a new file, as for a hold"),
    "shipment.border.crossed": _step({"cleared"}, "crossed_border",
                                     "only once customs cleared it: never while held"),
    "shipment.vessel.loaded": _step({"cleared"}, "at_sea",
                                    "only once customs cleared it: never while held"),
    "shipment.arrived": _step(SHIPPED, "arrived", "after it left Pakistan"),
    "shipment.final.invoiced": _step({"arrived"}, "invoiced",
                                     "on the outturn; nothing follows"),
}))

STAGES = ("exploration", "feasibility", "construction", "production", "care_and_maintenance",
          "closure")
"""A project's stages in their natural order."""
RESTARTS = frozenset({"construction", "production"})
"""Where a project in care and maintenance may restart."""


def stage_move_allowed(from_stage: str, to_stage: str) -> bool:
    """Forward by any number of stages, or a restart out of care and maintenance."""
    if from_stage == "care_and_maintenance" and to_stage in RESTARTS:
        return True
    return STAGES.index(to_stage) > STAGES.index(from_stage)


OPEN_STAGES = frozenset(STAGES) - {"closure"}
MINED_STAGES = frozenset({"construction", "production", "care_and_maintenance", "closure"})
"""Stages in which a month's production may be reported (commissioning, late returns)."""

PROJECT = Machine("project", "Project stage (exploration to closure)", "a project",
                  MappingProxyType({
    "project.registered": _named("stage", {s: {None} for s in STAGES},
                                 "opens the file at the ``stage`` it names"),
    "project.stage.changed": _named(
        "to_stage", {to: {f for f in STAGES if stage_move_allowed(f, to)} for to in STAGES[1:]},
        "to the ``to_stage`` it names, from the ``from_stage`` it names, which must be the "
        "project's: forward by any number of stages, or a restart from care and maintenance; "
        "closure is final", claims="from_stage"),
    "project.milestone.reached": _step(OPEN_STAGES, None, "not after closure"),
    "project.ownership.changed": _step(STAGES, None),
    "project.production.reported": _step(MINED_STAGES, None,
                                         "once construction began (commissioning ore); a late "
                                         "return may follow care and maintenance or closure"),
    "project.offtake.delivered": _step(MINED_STAGES, None,
                                       "a delivery received by a plant, once construction "
                                       "began (commissioning feed); a late receipt may follow "
                                       "care and maintenance or closure"),
    "project.workforce.reported": _step(STAGES, None),
    "project.investment.disbursed": _step(STAGES, None),
    "project.hse.incident.reported": _step(STAGES, None),
}), field="stage")

MACHINES: Mapping[str, Machine] = MappingProxyType(
    {m.kind: m for m in (TITLE, ENVIRONMENTAL, EXPORT, SHIPMENT, PROJECT)})
"""Subject kind → its lifecycle."""

STATUS_FIELDS = tuple(dict.fromkeys(m.field for m in MACHINES.values()))
"""The view fields that hold a status, each machine's (``status``, ``stage``)."""


def short_type(ce_type: str) -> str:
    """``pk.emining.approval.licence.granted.v1`` → ``approval.licence.granted``."""
    name = ce_type.removeprefix(TYPE_PREFIX)
    base, _, version = name.rpartition(".")
    return base if base and version.startswith("v") and version[1:].isdigit() else name


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
    """``statuses`` in the order the machine's steps first lead to them (a new file first)."""
    seen: list[str | None] = [None]
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
