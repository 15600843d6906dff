"""The time each kind of file should take: one table for the alert rules, the views and the audit.

Sourced: an environmental approval (IEE/EIA) with no decision four months after a complete
filing is deemed granted (``schemas.events.approvals_other.DEEMED_APPROVAL_MONTHS``).

Illustrative, not sourced: the provincial mineral rules set no single published decision period
per title type, so the days below are plausible service standards for the "streamlined
approvals" promise, to be replaced by the ones the platform's governance adopts
(``emining audit report --standard EL=60``). Where the licensing authority itself stated a
``decision_due_on`` when acknowledging an application, that date is the deadline for that file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from schemas.common import TitleType
from schemas.events.approvals_other import DEEMED_APPROVAL_MONTHS, add_months

TITLE_DECISION_DAYS: dict[str, int] = {
    TitleType.RECONNAISSANCE_LICENCE: 30,
    TitleType.EXPLORATION_LICENCE: 60,
    TitleType.PROSPECTING_LICENCE: 60,
    TitleType.MINERAL_DEPOSIT_RETENTION_LICENCE: 90,
    TitleType.MINING_LEASE: 90,
    TitleType.SMALL_SCALE_MINING_LEASE: 60,
    TitleType.MINOR_MINERALS: 30,
}
"""Days from a licence application's receipt to its decision, per title type (illustrative).
The alert rules use them too (an application past its standard), days spent waiting on the
applicant (a deficiency notice until the resubmission) not counted."""

EXPORT_DECISION_DAYS = 7
"""Days from an export LPCO's first step to its decision (illustrative)."""

ENVIRONMENTAL_DAYS = 30 * DEEMED_APPROVAL_MONTHS
"""The deemed-approval period in days, for tables and charts (deadlines use calendar months)."""


@dataclass(frozen=True, slots=True)
class Standards:
    """Decision periods in days by category (title type, ``IEE``/``EIA``, LPCO type)."""

    days: dict[str, int] = field(default_factory=lambda: {
        **{str(k): v for k, v in TITLE_DECISION_DAYS.items()},
        "IEE": ENVIRONMENTAL_DAYS, "EIA": ENVIRONMENTAL_DAYS,
        "export_noc": EXPORT_DECISION_DAYS, "release_order": EXPORT_DECISION_DAYS,
        "certificate": EXPORT_DECISION_DAYS,
    })

    def with_overrides(self, overrides: dict[str, int]) -> Standards:
        return Standards({**self.days, **overrides})

    def period(self, category: str) -> int | None:
        return self.days.get(category)

    def due(self, category: str, received: date, complete_on: date | None = None) -> date | None:
        """The deadline of a file received (or, environmental, completed) on the given day."""
        if category in {"IEE", "EIA"}:
            return add_months(complete_on or received, DEEMED_APPROVAL_MONTHS)
        days = self.period(category)
        return None if days is None else received + timedelta(days=days)
