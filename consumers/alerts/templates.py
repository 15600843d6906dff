"""Alert texts: one message per template, in English, Simplified Chinese and Urdu.

The rules an event type declares carry their own words in its registry entry
(``schemas.events.spec.EventAlert.texts``); the alerts service's own rules (deadlines, security,
subscriptions, the rules that read views) are written here.

The English text is the message id, marked ``N_`` here; its Chinese and Urdu translations live in
the Babel catalogues the console and the audit report share
(``consumers/console/locale/<zh_Hans|ur>/LC_MESSAGES/console.po``, extracted from this module
too: see the README's "Console", Languages). Placeholders are ``str.format`` fields filled by
``consumers.alerts.i18n`` with values already formatted for the language (dates, numbers and
lists by Babel, names from the registry, closed sets from the glossary). A message without both
translations fails ``tests/unit/alerts`` and ``tests/unit/console/test_console_i18n.py``.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from consumers.alerts.catalogues import translated
from schemas.common import Language
from schemas.events.registry import ALERT_TEXTS
from schemas.events.spec import Texts

Template = MappingProxyType[Language, str]

CATALOGUES: Final = MappingProxyType({Language.ZH: "zh_Hans", Language.UR: "ur"})


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "mark for extraction"
    return message


ENGLISH: Final = MappingProxyType({
    "deficiency_due_soon": N_(
        "Reminder: answer the deficiency notice on application {ref} by {respond_by} (days "
        "left: {days})."),
    "application_overdue": N_(
        "Application {ref} ({what}) by {applicant}, received on {received}, is still "
        "undecided past its service standard of {standard} days (days overdue: {overdue})."),
    "deemed_approval": N_(
        "{assessment} {ref} of {proponent} received no decision from {epa} within {months} "
        "months of being complete: it is deemed approved as of {deemed}."),
    "licence_expiring": N_(
        "{what} {ref} expires on {expires} (days left: {days}). Apply for renewal before "
        "it expires."),
    "work_not_commenced": N_(
        "Work under {what} {ref} of {holder}, granted on {granted}, was due to commence by "
        "{due}; no commencement has been reported."),
    "export_without_approval": N_(
        "Customs declaration {declaration} for shipment {shipment} of {exporter} relies on "
        "no valid export approval: {problem}."),
    "export_approval_missing": N_(
        "Shipment {shipment} of {exporter} is planned to leave on {departure}, but no "
        "approved export approval (LPCO) covers it yet (applications pending: {pending}); "
        "customs will not clear its declaration without one."),
    "border_overdue": N_(
        "Shipment {shipment} of {exporter} cleared customs at Sost on {cleared} but has "
        "not crossed the Khunjerab Pass within {hours} hours."),
    "project_matched": N_(
        "New project {name} ({ref}) in {province}: {minerals}, {stage} stage, operated by "
        "{operator}."),
    "project_matched_existing": N_(
        "Project {name} ({ref}) in {province} matches your subscription: {minerals}, "
        "{stage} stage, operated by {operator}."),
    "security_rejection": N_(
        "A record claiming to come from {source} was refused on {topic}: {reason}. It is "
        "in the dead-letter queue as {dlq}."),
})


def _template(english: str) -> Template:
    return MappingProxyType({Language.EN: english, **{
        language: translated(english, folder) for language, folder in CATALOGUES.items()}})


def _declared(texts: Texts) -> Template:
    return MappingProxyType({Language.EN: texts.en, Language.ZH: texts.zh, Language.UR: texts.ur})


TEMPLATES: Final = MappingProxyType({
    **{name: _template(en) for name, en in ENGLISH.items()},
    **{rule: _declared(texts) for rule, texts in ALERT_TEXTS.items()},
})
"""Every alert template: the alerts service's own rules (above, translated in the catalogues),
and the rules event types declare with their words (``schemas.events.registry.ALERT_TEXTS``)."""
