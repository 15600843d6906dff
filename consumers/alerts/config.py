"""What the alert rules are tuned by: service standards, reminder offsets, who plays which role.

Every default is in this module, in one place; README "Alerts" reproduces the table. A
deployment overrides any of them with a YAML file (``EMINING_ALERTS_CONFIG_FILE``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import yaml
from pydantic import Field, field_validator

from schemas.alerts import PLATFORM_ORG
from schemas.common import Frozen, TitleType
from schemas.identifiers import OrgId
from schemas.standards import TITLE_DECISION_DAYS

SERVICE_STANDARD_DAYS: dict[TitleType, int] = {
    TitleType(k): v for k, v in TITLE_DECISION_DAYS.items()}
"""Default service standards, calendar days from receipt to decision, per title type: the one
table in ``schemas.standards`` that the views and the audit read too (illustrative figures)."""


class AlertConfig(Frozen):
    """Tuning of the rules. Every field has a documented default."""

    service_standard_days: dict[TitleType, Annotated[int, Field(ge=1, le=3650)]] = Field(
        default_factory=lambda: dict(SERVICE_STANDARD_DAYS))
    """Per title type, over the defaults: a file giving ``{ML: 120}`` changes the lease's
    standard and keeps every other type's."""
    expiry_reminder_days: tuple[Annotated[int, Field(ge=1, le=3650)], ...] = (90, 30, 7)
    """A title in force is reminded this many days before it expires."""
    deficiency_reminder_days: Annotated[int, Field(ge=1, le=365)] = 3
    """An unanswered deficiency notice is reminded this many days before its respond-by date."""
    export_approval_notice_days: Annotated[int, Field(ge=1, le=365)] = 14
    """A planned shipment is warned this many days before its planned departure when no
    approved export approval (LPCO) covers it yet (at once when planned later than that)."""
    border_crossing_hours: Annotated[int, Field(ge=1, le=24 * 60)] = 48
    """A shipment cleared at Sost is overdue when it has not crossed Khunjerab within this."""
    max_event_age_days: Annotated[int, Field(ge=1)] | None = 14
    """Events older than this when consumed (a backfill, a rebuild) raise no event alerts;
    deadlines they schedule still fire. ``None``: no limit."""
    customs: tuple[OrgId, ...] = ()
    """Also told when a declaration lacks a valid export approval, besides every organisation
    the registry gives the ``customs`` function."""
    facilitation: tuple[OrgId, ...] = ()
    """Also told (with the authority) when an application passes its service standard, besides
    the registry's ``investment_facilitation`` organisations."""
    border: tuple[OrgId, ...] = ()
    """Also told (with the exporter) when a Khunjerab crossing is overdue, besides the
    registry's ``border_post`` organisations."""
    platform: OrgId = PLATFORM_ORG
    """Told of every security rejection."""

    @field_validator("service_standard_days", mode="after")
    @classmethod
    def _over_the_defaults(cls, days: dict[TitleType, int]) -> dict[TitleType, int]:
        return {**SERVICE_STANDARD_DAYS, **days}


def load_config(path: Path | None) -> AlertConfig:
    """The config from a YAML file (any subset of the fields), or the defaults."""
    if path is None:
        return AlertConfig()
    return AlertConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
