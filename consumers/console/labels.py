"""Words of the console that name a value of the views (statuses, legs, deadlines): each marked
with ``N_`` so ``pybabel extract`` puts it in the catalogue, and translated when shown."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final


def N_(message: str) -> str:  # noqa: N802 - gettext's conventional name for "mark, do not translate"
    return message


APPROVAL_STATUSES: Final[Mapping[str, str]] = MappingProxyType({
    "received": N_("received"),
    "acknowledged": N_("acknowledged"),
    "deficient": N_("deficient"),
    "resubmitted": N_("resubmitted"),
    "granted": N_("granted"),
    "refused": N_("refused"),
    "withdrawn": N_("withdrawn"),
    "renewal_applied": N_("renewal applied"),
    "renewal_refused": N_("renewal refused"),
    "show_cause": N_("show cause"),
    "suspended": N_("suspended"),
    "cancelled": N_("cancelled"),
    "surrendered": N_("surrendered"),
    "expired": N_("expired"),
    "converted": N_("converted"),
    "filed": N_("filed"),
    "approved": N_("approved"),
    "approved_with_conditions": N_("approved with conditions"),
    "rejected": N_("rejected"),
    "deemed_approved": N_("deemed approved"),
    "submitted": N_("submitted"),
    "documents_called": N_("documents called"),
    "inspection_called": N_("inspection called"),
    "amended": N_("amended"),
    "pending": N_("pending"),
})

APPROVAL_KINDS: Final[Mapping[str, str]] = MappingProxyType({
    "title": N_("mineral title"),
    "environmental": N_("environmental approval"),
    "export": N_("export approval (LPCO)"),
})

SHIPMENT_STATUSES: Final[Mapping[str, str]] = MappingProxyType({
    "planned": N_("planned"),
    "loaded": N_("loaded"),
    "departed": N_("departed"),
    "declared": N_("declared"),
    "held": N_("held"),
    "cleared": N_("cleared"),
    "crossed_border": N_("crossed the border"),
    "at_sea": N_("at sea"),
    "arrived": N_("arrived"),
    "invoiced": N_("invoiced"),
})

EXIT_POINTS: Final[Mapping[str, str]] = MappingProxyType({
    "karachi_port": N_("Karachi Port"),
    "port_qasim": N_("Port Qasim"),
    "gwadar": N_("Gwadar Port"),
    "sost_khunjerab": N_("Sost (Khunjerab Pass)"),
})

LEGS: Final[Mapping[str, str]] = MappingProxyType({
    "at_origin": N_("at origin"),
    "to_exit": N_("on the way to the exit point"),
    "at_exit": N_("at the exit point"),
    "abroad": N_("abroad"),
    "delivered": N_("delivered"),
})

DEADLINES: Final[Mapping[str, str]] = MappingProxyType({
    "respond_by": N_("respond by"),
    "decision_due_on": N_("decision due"),
    "work_commencement_due": N_("work to commence by"),
    "deemed_approval_on": N_("deemed approval"),
    "reply_by": N_("reply by"),
    "appealable_until": N_("appeal possible until"),
    "expires_on": N_("expires"),
    "suspended_until": N_("suspended until"),
    "standard_due_on": N_("service standard due"),
})

SEVERITIES: Final[Mapping[str, str]] = MappingProxyType({
    "info": N_("information"),
    "warning": N_("warning"),
    "critical": N_("critical"),
})


def label(table: Mapping[str, str], code: str | None) -> str:
    """The message id naming ``code`` (translate it with ``_``); an unknown code as it is."""
    if code is None:
        return ""
    return table.get(code, code.replace("_", " "))
