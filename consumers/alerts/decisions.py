"""Which events are decisions on an approval, and what each decided, for whom, on which day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from consumers.alerts.i18n import Term
from schemas.alerts import Severity
from schemas.base import EventData
from schemas.events.approvals_applications import LicenceGranted, LicenceRefused, TitleEvent
from schemas.events.approvals_licences import (
    LicenceCancelled,
    LicenceRenewed,
    LicenceRestored,
    LicenceSuspended,
    RenewalRefused,
)
from schemas.events.approvals_other import (
    EnvironmentalApprovalDecided,
    EnvironmentalDecision,
    ExportApprovalDecided,
    LpcoStatus,
)
from schemas.events.shipments_border import PAKISTAN_TIME
from schemas.identifiers import title_type_of

_SEVERITY = {
    "granted": Severity.INFO, "restored": Severity.INFO, "renewed": Severity.INFO,
    "approved": Severity.INFO, "approved_with_conditions": Severity.INFO,
    "deemed_approved": Severity.INFO, "refused": Severity.WARNING,
    "renewal_refused": Severity.WARNING, "suspended": Severity.WARNING,
    "rejected": Severity.WARNING, "cancelled": Severity.CRITICAL,
}
_LPCO = {LpcoStatus.APPROVED: "approved", LpcoStatus.REJECTED: "rejected",
         LpcoStatus.CANCELLED: "cancelled"}


@dataclass(frozen=True, slots=True)
class Decision:
    code: str
    """A key of the ``decision`` glossary."""
    on: date
    party: str
    """USCC of the firm the decision is about."""
    what: Term
    act_by: date | None = None
    """Appeal deadline, where the decision states one."""
    authority: str | None = None
    """Who decided, when not the emitter (PSW relays the issuing agency's LPCO decisions)."""

    @property
    def severity(self) -> Severity:
        return _SEVERITY[self.code]


def _title(data: TitleEvent, code: str, on: date, act_by: date | None = None) -> Decision:
    what = Term("title_type", title_type_of(data.title_number).value)
    return Decision(code, on, data.holder_uscc, what, act_by)


def decision_of(data: EventData) -> Decision | None:  # noqa: PLR0911 - one return per decision
    """The decision ``data`` records, or None when it is not a decision."""
    match data:
        case LicenceGranted():
            return _title(data, "granted", data.granted_on)
        case LicenceRefused():
            return _title(data, "refused", data.refused_on, data.appealable_until)
        case LicenceSuspended():
            return _title(data, "suspended", data.suspended_on)
        case LicenceCancelled():
            return _title(data, "cancelled", data.cancelled_on, data.appealable_until)
        case LicenceRestored():
            return _title(data, "restored", data.restored_on)
        case LicenceRenewed():
            return _title(data, "renewed", data.renewed_on)
        case RenewalRefused():
            return _title(data, "renewal_refused", data.refused_on)
        case EnvironmentalApprovalDecided():
            code = EnvironmentalDecision(data.decision).value
            what = Term("approval_kind", data.file_number[:3])
            return Decision(code, data.decided_on, data.proponent_uscc, what)
        case ExportApprovalDecided() if data.status in _LPCO:
            on = data.decided_at.astimezone(PAKISTAN_TIME).date()
            what = Term("approval_kind", data.lpco_type.value)
            return Decision(_LPCO[data.status], on, data.exporter_uscc, what,
                            authority=data.issuing_agency)
    return None
