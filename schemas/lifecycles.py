"""Which step may follow which: the lifecycle of each kind of file, declared once, as data.

A mineral title goes from application to decision to a life in force (amended, renewed,
suspended, restored, cancelled, surrendered, expired); an IEE/EIA is filed then decided; an
export approval (LPCO) is worked on until approved or rejected, then only amended or cancelled.
For each event type the machine names the statuses it may follow (``None``: the file does not
exist yet) and the status it leads to. Everything that consumes events asks this module: the
views refuse an impossible step (``invalid_transition``, dead-lettered and alerted), the gateway
refuses it before publishing, the audit's replay finds it, and ``docs/lifecycles.md`` is
generated from it. Pure: statuses are the views' own words, as strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

TYPE_PREFIX = "pk.emining."

APPLYING = frozenset({"received", "acknowledged", "deficient", "resubmitted"})
"""An application awaiting the authority."""
IN_FORCE = frozenset({"granted", "show_cause", "suspended", "renewal_applied",
                      "renewal_refused"})
"""A title that was granted and has not ended (cancelled, surrendered, expired, converted)."""
ROYALTY_AFTER: frozenset[str | None] = frozenset(
    {*IN_FORCE, "cancelled", "surrendered", "expired", "converted"})
"""Royalties fall due on production while a title was in force, and are paid even after."""
LPCO_OPEN = frozenset({"submitted", "documents_called", "inspection_called"})
"""An export approval being worked on."""


@dataclass(frozen=True, slots=True)
class Step:
    """One event type in a lifecycle."""

    after: frozenset[str | None]
    """The statuses it may follow; ``None`` stands for a file that does not exist yet."""
    to: str | None
    """The status it leads to (``None``: it changes no status, e.g. a royalty)."""
    note: str = ""


@dataclass(frozen=True, slots=True)
class Machine:
    kind: str
    title: str
    steps: Mapping[str, Step]
    """Short event type (``approval.licence.granted``) → its step."""


def _step(after: Iterable[str | None], to: str | None, note: str = "") -> Step:
    return Step(frozenset(after), to, note)


TITLE = Machine("title", "Mineral title (every title type: RL, EL, PL, MDRL, ML, SSML, MM)",
                MappingProxyType({
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
    "approval.licence.surrendered": _step({"granted", "show_cause", "suspended"}, "surrendered",
                                          "a partial surrender keeps the title in force"),
    "approval.licence.expired": _step(IN_FORCE, "expired"),
    "approval.royalty.assessed": _step(ROYALTY_AFTER, None,
                                       "on production while the title was in force"),
    "approval.royalty.paid": _step(ROYALTY_AFTER, None),
}))

ENVIRONMENTAL = Machine("environmental", "Environmental approval (IEE, EIA)", MappingProxyType({
    "approval.environmental.filed": _step({None}, "filed", "opens the file"),
    "approval.environmental.decided": _step({"filed"}, "decided",
                                            "approved, approved with conditions, rejected or "
                                            "deemed approved by law; decided once"),
}))

EXPORT = Machine("export", "Export approval (LPCO: export NOC, release order, certificate)",
                 MappingProxyType({
    "approval.export.decided": _step(
        {None, *LPCO_OPEN, "approved", "amended"}, "decided",
        "worked on (submitted, documents or inspection called) until approved or rejected; "
        "an approved LPCO may then only be amended or cancelled; rejected and cancelled are "
        "final"),
}))

MACHINES: Mapping[str, Machine] = MappingProxyType(
    {m.kind: m for m in (TITLE, ENVIRONMENTAL, EXPORT)})
"""Subject kind → its lifecycle."""

_LPCO_AFTER_APPROVAL = frozenset({"amended", "cancelled"})


def short_type(ce_type: str) -> str:
    """``pk.emining.approval.licence.granted.v1`` → ``approval.licence.granted``."""
    name = ce_type.removeprefix(TYPE_PREFIX)
    base, _, version = name.rpartition(".")
    return base if base and version.startswith("v") and version[1:].isdigit() else name


def machine_of(ce_type: str) -> Machine | None:
    name = short_type(ce_type)
    return next((m for m in MACHINES.values() if name in m.steps), None)


def refusal(ce_type: str, current: str | None, outcome: str | None = None) -> str | None:
    """Why an event of ``ce_type`` may not follow a file in status ``current`` (None when it
    may). ``outcome`` is the status the event itself names, where it names one (an LPCO)."""
    found = machine_of(ce_type)
    if found is None:
        return None
    name = short_type(ce_type)
    step = found.steps[name]
    if current not in step.after:
        where = "a file that does not exist yet" if current is None else f"status {current}"
        allowed = ", ".join(sorted("(new)" if s is None else s for s in step.after))
        return f"{name} cannot follow {where} (it follows: {allowed})"
    if found is EXPORT and current == "approved" and outcome not in _LPCO_AFTER_APPROVAL:
        return f"an approved LPCO may only be amended or cancelled, not {outcome}"
    return None
