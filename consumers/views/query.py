"""Checked list filters: a typo or a name given for a code is an error naming the valid values."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum

from consumers.views.models import PENDING, ApprovalStatus


def unknown_value(what: str, value: str, valid: Iterable[str],
                  names: Mapping[str, str] | None = None) -> str:
    """``unknown <what> '<value>' (did you mean …?); valid: …``: a typo or a name given for a
    code gets the closest valid values; ``names`` (code → name) also matches by name."""
    codes = list(valid)
    names = names or {}
    folded = {_fold(code): code for code in codes}
    folded |= {_fold(name): code for code, name in names.items()}
    close = [folded[m] for m in difflib.get_close_matches(_fold(value), folded, n=3, cutoff=0.6)]
    exact = folded.get(_fold(value))
    guesses = list(dict.fromkeys([exact] if exact else close))
    hint = f" (did you mean {' or '.join(guesses)}?)" if guesses else ""
    shown = [f"{code} ({names[code]})" if code in names else code for code in codes]
    return f"unknown {what} {value!r}{hint}; valid: {', '.join(shown)}"


def _fold(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def statuses(values: Sequence[str], valid: Iterable[str] | None = None) -> list[str]:
    """``pending`` stands for every status in which a file awaits its authority's decision.

    With ``valid``, an unknown status (a typo) raises ``ValueError`` naming the valid ones,
    rather than silently matching nothing.
    """
    allowed = None if valid is None else set(valid)
    expanded: list[str] = []
    for value in values:
        for raw in value.split(","):
            part = raw.strip()
            if part and allowed is not None and part not in allowed:
                raise ValueError(unknown_value("status", part, sorted(allowed)))
            expanded += sorted(PENDING) if part == "pending" else [part] if part else []
    return expanded


APPROVAL_STATUSES = ("pending", *(s.value for s in ApprovalStatus))
"""What ``status`` may say of approvals."""

ApprovalFilter = StrEnum(  # type: ignore[misc]  # built from the statuses: no second list
    "ApprovalFilter", [("PENDING", "pending"), *((s.name, s.value) for s in ApprovalStatus)])
"""An approval status to filter on, or ``pending``: every status awaiting a decision."""
