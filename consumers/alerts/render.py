"""From notice to event: render a notice in every language and make it an ``AlertRaised``."""

from __future__ import annotations

from datetime import datetime

from consumers.alerts.directory import Directory
from consumers.alerts.i18n import render_all
from consumers.alerts.model import Notice
from schemas.alerts import AlertRaised


def alert_of(notice: Notice, directory: Directory, raised_at: datetime) -> AlertRaised:
    """The alert event for ``notice``, in the recipient's preferred language."""
    return AlertRaised(
        alert_id=notice.alert_id, rule=notice.rule, recipient=notice.recipient,
        about=notice.about, cause=notice.cause, severity=notice.severity,
        due_on=notice.due_on, raised_at=raised_at,
        language=directory.language(notice.recipient),
        texts=render_all(notice.message, directory.zone(notice.recipient)),
        details=dict(notice.details),
    )
