"""The parts of a lifecycle an event type declares: its step, and the statuses steps speak of.

Each event type's registry entry (``schemas.events.spec.EventSpec``) names its lifecycle and
its ``Step`` here; ``schemas.lifecycles`` assembles the machines from the registry. Pure:
statuses are the views' own words, as strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

TITLE = "title"
ENVIRONMENTAL = "environmental"
EXPORT = "export"
SHIPMENT = "shipment"
PROJECT = "project"
"""The lifecycles (kinds of file) an event's step may belong to."""

STATUS_ORDER: Mapping[str, tuple[str, ...]] = MappingProxyType({
    TITLE: ("received", "acknowledged", "deficient", "resubmitted", "withdrawn", "granted",
            "refused", "converted", "renewal_applied", "renewal_refused", "show_cause",
            "suspended", "cancelled", "surrendered", "expired"),
    ENVIRONMENTAL: ("filed", "approved", "approved_with_conditions", "rejected",
                    "deemed_approved"),
    EXPORT: ("submitted", "documents_called", "inspection_called", "approved", "rejected",
             "amended", "cancelled"),
    SHIPMENT: ("planned", "loaded", "departed", "declared", "held", "cleared", "crossed_border",
               "at_sea", "arrived", "invoiced"),
    PROJECT: ("exploration", "feasibility", "construction", "production",
              "care_and_maintenance", "closure"),
})
"""Each lifecycle's statuses in their natural order, as refusals and pages list them (a status
no step here leads to yet is listed after these, in the order the registry's steps lead to it)."""

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


SHIPPED = frozenset({"crossed_border", "at_sea"})
"""Out of Pakistan: over Khunjerab by road, or on a ship."""
SHIPMENT_LIVE = frozenset({"planned", "loaded", "departed", "declared", "held", "cleared",
                           *SHIPPED, "arrived"})
"""A shipment before its final invoice."""

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


def step(after: Iterable[str | None], to: str | None, note: str = "") -> Step:
    """The step of an event that leads to ``to`` (``None``: no change) from any of ``after``."""
    return Step(frozenset(after), to, note)


def named(named_by: str, moves: Mapping[str, Iterable[str | None]], note: str = "",
          claims: str | None = None) -> Step:
    """The step of an event whose field ``named_by`` names the status it leads to."""
    table = MappingProxyType({to: frozenset(after) for to, after in moves.items()})
    return Step(frozenset().union(*table.values()), None, note, named_by=named_by,
                moves=table, claims=claims)
