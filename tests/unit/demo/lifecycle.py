"""Legal orders of events per subject, written from DOMAIN.md independently of the generator."""

from __future__ import annotations

from collections import defaultdict

from infra.demo.scenario import Scenario, Step
from schemas.events import (
    ApplicationAcknowledged,
    ApplicationResubmitted,
    ApplicationWithdrawn,
    BorderCrossed,
    Correction,
    CustomsCleared,
    CustomsDeclarationAmended,
    CustomsDeclarationFiled,
    CustomsHeld,
    DeficiencyNotified,
    EnvironmentalApprovalDecided,
    EnvironmentalApprovalFiled,
    ExportApprovalDecided,
    FinalInvoiced,
    LicenceAmended,
    LicenceApplicationReceived,
    LicenceCancelled,
    LicenceConverted,
    LicenceGranted,
    LicenceRefused,
    LicenceRenewed,
    LicenceRestored,
    LicenceSuspended,
    LotAssayed,
    LotLoaded,
    ProjectRegistered,
    ProjectStageChanged,
    RenewalApplied,
    RoyaltyAssessed,
    RoyaltyPaid,
    ShipmentArrived,
    ShipmentDeparted,
    ShipmentPlanned,
    ShowCauseIssued,
    VesselLoaded,
)
from schemas.events.approvals_other import LpcoStatus

TITLE_NEEDS: dict[type, tuple[type, ...]] = {
    ApplicationAcknowledged: (LicenceApplicationReceived,),
    DeficiencyNotified: (LicenceApplicationReceived,),
    ApplicationResubmitted: (DeficiencyNotified,),
    ApplicationWithdrawn: (LicenceApplicationReceived,),
    LicenceGranted: (LicenceApplicationReceived,),
    LicenceRefused: (LicenceApplicationReceived,),
    LicenceAmended: (LicenceGranted,),
    RenewalApplied: (LicenceGranted,),
    LicenceRenewed: (RenewalApplied,),
    ShowCauseIssued: (LicenceGranted,),
    LicenceSuspended: (ShowCauseIssued,),
    LicenceCancelled: (ShowCauseIssued,),
    LicenceRestored: (LicenceCancelled, LicenceSuspended),
    LicenceConverted: (LicenceGranted,),
    RoyaltyAssessed: (LicenceGranted,),
    RoyaltyPaid: (RoyaltyAssessed,),
}
"""Event → events of which one must have come before it on the same title."""
TITLE_ENDS = (LicenceRefused, ApplicationWithdrawn, LicenceConverted)
ONCE = (LicenceApplicationReceived, LicenceGranted, LicenceRefused)

LEG = {ShipmentPlanned: 0, LotAssayed: 1, LotLoaded: 2, ShipmentDeparted: 3,
       CustomsDeclarationFiled: 4, CustomsDeclarationAmended: 4, CustomsHeld: 5,
       CustomsCleared: 5, VesselLoaded: 6, BorderCrossed: 6, ShipmentArrived: 7, FinalInvoiced: 8}
"""A shipment's legs in order; only a new or amended declaration may follow a hold."""


def title(steps: list[Step]) -> list[str]:
    out, seen = [], set[type]()
    if not isinstance(steps[0].data, LicenceApplicationReceived):
        out.append("does not open with its application")
    assessed = set()
    for step in steps:
        kind = type(step.data)
        if seen & set(TITLE_ENDS):
            out.append(f"{kind.__name__} after the title's end")
        needs = TITLE_NEEDS.get(kind, ())
        if needs and not seen & set(needs):
            out.append(f"{kind.__name__} before any of {[n.__name__ for n in needs]}")
        if kind in ONCE and kind in seen:
            out.append(f"{kind.__name__} twice")
        if isinstance(step.data, RoyaltyAssessed):
            assessed.add(step.data.assessment_ref)
        if isinstance(step.data, RoyaltyPaid) and step.data.assessment_ref not in assessed:
            out.append(f"pays {step.data.assessment_ref} before its assessment")
        seen.add(kind)
    return out


def environmental(steps: list[Step]) -> list[str]:
    kinds = [type(s.data) for s in steps]
    if kinds[0] is not EnvironmentalApprovalFiled or kinds[1:] not in ([], [
            EnvironmentalApprovalDecided]):
        return [f"filed/decided out of order: {[k.__name__ for k in kinds]}"]
    return []


def export(steps: list[Step]) -> list[str]:
    statuses = [s.data.status for s in steps if isinstance(s.data, ExportApprovalDecided)]
    decided = [s for s in statuses if s is not LpcoStatus.SUBMITTED]
    if len(statuses) != len(steps) or len(decided) != 1 or statuses[-1] is not decided[0]:
        return [f"LPCO steps out of order: {statuses}"]
    return []


def shipment(steps: list[Step], decided: dict[str, list[tuple[Step, LpcoStatus]]],
             *, lenient: bool) -> list[str]:
    out, last = [], -1
    if not isinstance(steps[0].data, ShipmentPlanned):
        out.append("does not open with its plan")
    for step in steps:
        data = step.data
        if isinstance(data, Correction):
            target = next((s for s in steps if s.event_id == data.corrects_event_id), None)
            if target is None or target.time >= step.time or target.org != step.org:
                out.append("corrects an event that is not an earlier one of its own")
            continue
        rank = LEG[type(data)]
        if rank < last and not (rank == LEG[CustomsDeclarationFiled] and last == LEG[CustomsHeld]):
            out.append(f"{type(data).__name__} after a later leg")
        last = rank
        if isinstance(data, CustomsDeclarationFiled | CustomsDeclarationAmended):
            out += approvals(step, data, decided, lenient=lenient)
    return out


def approvals(step: Step, data: CustomsDeclarationFiled | CustomsDeclarationAmended,
              decided: dict[str, list[tuple[Step, LpcoStatus]]], *, lenient: bool) -> list[str]:
    out = []
    for lpco in data.export_approvals:
        before = [status for s, status in decided.get(lpco, []) if s.time < step.time]
        if not before:
            out.append(f"cites {lpco} before PSW recorded it")
        elif before[-1] is not LpcoStatus.APPROVED and not lenient:
            out.append(f"cites {lpco}, which is {before[-1]}")
    return out


def project(steps: list[Step]) -> list[str]:
    first = steps[0].data
    if not isinstance(first, ProjectRegistered):
        return ["does not open with its registration"]
    out, stage = [], first.stage
    for step in steps[1:]:
        if isinstance(step.data, ProjectRegistered):
            out.append("registered twice")
        if isinstance(step.data, ProjectStageChanged):
            if step.data.from_stage is not stage:
                out.append(f"moves from {step.data.from_stage} while at {stage}")
            stage = step.data.to_stage
    return out


def problems(scenario: Scenario, *, exempt: set[str]) -> list[str]:
    """What is out of order, as ``subject: problem`` lines (``exempt`` shipments may cite an
    export approval that is not valid: the story's unapproved declaration)."""
    by_subject: dict[str, list[Step]] = defaultdict(list)
    decided: dict[str, list[tuple[Step, LpcoStatus]]] = defaultdict(list)
    for step in scenario.steps:
        by_subject[step.subject].append(step)
        if isinstance(step.data, ExportApprovalDecided):
            decided[step.subject].append((step, step.data.status))
    out = []
    for subject, steps in by_subject.items():
        if subject.startswith("PRJ-"):
            found = project(steps)
        elif subject.startswith("SHP-"):
            found = shipment(steps, decided, lenient=subject in exempt)
        elif subject.startswith(("IEE-", "EIA-")):
            found = environmental(steps)
        elif subject.startswith("LPCO-"):
            found = export(steps)
        else:
            found = title(steps)
        out += [f"{subject}: {problem}" for problem in found]
    return out
