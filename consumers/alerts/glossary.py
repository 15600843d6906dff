"""The platform's words in its three languages: closed sets that alert texts and the console
name (minerals, provinces, title types, stages, hold reasons...).

Each table maps a code to its ``(en, zh, ur)`` words. The English word is written here, marked
``NP_(table, word)`` for extraction with the table's name as the message context; its Chinese
and Urdu translations live in the Babel catalogues the console, the audit report and the alert
texts share (``consumers/console/locale/<zh_Hans|ur>/LC_MESSAGES/console.po``).
``tests/unit/alerts`` fails if a member of an enumeration, or a language, is missing.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from consumers.alerts.catalogues import translated

Words = tuple[str, str, str]
"""``(en, zh, ur)``."""


def NP_(table: str, english: str) -> Words:  # noqa: N802 - gettext's "mark with a context"
    """The word in the three languages, its translations from the catalogues."""
    return (english, translated(english, "zh_Hans", table), translated(english, "ur", table))


MINERALS: Final = MappingProxyType({
    "copper": NP_("mineral", "copper"),
    "gold": NP_("mineral", "gold"),
    "silver": NP_("mineral", "silver"),
    "lead": NP_("mineral", "lead"),
    "zinc": NP_("mineral", "zinc"),
    "iron_ore": NP_("mineral", "iron ore"),
    "chromite": NP_("mineral", "chromite"),
    "lignite": NP_("mineral", "lignite"),
    "coal": NP_("mineral", "coal"),
    "lithium": NP_("mineral", "lithium"),
    "rare_earths": NP_("mineral", "rare earths"),
    "molybdenum": NP_("mineral", "molybdenum"),
})

PROVINCES: Final = MappingProxyType({
    "PK-BA": NP_("province", "Balochistan"),
    "PK-KP": NP_("province", "Khyber Pakhtunkhwa"),
    "PK-PB": NP_("province", "Punjab"),
    "PK-SD": NP_("province", "Sindh"),
    "PK-GB": NP_("province", "Gilgit-Baltistan"),
    "PK-JK": NP_("province", "Azad Jammu & Kashmir"),
    "PK-IS": NP_("province", "Islamabad"),
})

TITLE_TYPES: Final = MappingProxyType({
    "RL": NP_("title_type", "reconnaissance licence"),
    "EL": NP_("title_type", "exploration licence"),
    "MDRL": NP_("title_type", "mineral deposit retention licence"),
    "ML": NP_("title_type", "mining lease"),
    "PL": NP_("title_type", "prospecting licence"),
    "SSML": NP_("title_type", "small-scale mining lease"),
    "MM": NP_("title_type", "minor minerals licence"),
})

APPROVAL_KINDS: Final = MappingProxyType({
    "title": NP_("approval_kind", "mineral title"),
    "IEE": NP_("approval_kind", "initial environmental examination"),
    "EIA": NP_("approval_kind", "environmental impact assessment"),
    "export_noc": NP_("approval_kind", "export NOC"),
    "release_order": NP_("approval_kind", "release order"),
    "certificate": NP_("approval_kind", "export certificate"),
})

DECISIONS: Final = MappingProxyType({
    "granted": NP_("decision", "granted"),
    "refused": NP_("decision", "refused"),
    "suspended": NP_("decision", "suspended"),
    "cancelled": NP_("decision", "cancelled"),
    "restored": NP_("decision", "restored"),
    "renewed": NP_("decision", "renewed"),
    "renewal_refused": NP_("decision", "refused renewal"),
    "approved": NP_("decision", "approved"),
    "approved_with_conditions": NP_("decision", "approved with conditions"),
    "rejected": NP_("decision", "rejected"),
    "deemed_approved": NP_("decision", "deemed approved"),
})

STAGES: Final = MappingProxyType({
    "exploration": NP_("stage", "exploration"),
    "feasibility": NP_("stage", "feasibility"),
    "construction": NP_("stage", "construction"),
    "production": NP_("stage", "production"),
    "care_and_maintenance": NP_("stage", "care and maintenance"),
    "closure": NP_("stage", "closure"),
})

HOLD_REASONS: Final = MappingProxyType({
    "document_discrepancy": NP_("hold_reason", "document discrepancy"),
    "missing_export_approval": NP_("hold_reason", "missing export approval"),
    "valuation": NP_("hold_reason", "valuation query"),
    "classification": NP_("hold_reason", "classification query"),
    "physical_examination": NP_("hold_reason", "physical examination"),
    "sampling": NP_("hold_reason", "sampling"),
    "security": NP_("hold_reason", "security check"),
    "other": NP_("hold_reason", "other reasons"),
})

APPROVAL_PROBLEMS: Final = MappingProxyType({
    "none_cited": NP_("approval_problem", "no export approval is cited"),
    "unknown": NP_("approval_problem", "the cited approval is not on record"),
    "not_approved": NP_("approval_problem", "the cited approval is not approved"),
    "expired": NP_("approval_problem", "the cited approval has expired"),
    "other_exporter": NP_("approval_problem", "the cited approval belongs to another exporter"),
})

REJECTIONS: Final = MappingProxyType({
    "signature": NP_("rejection", "signature does not verify"),
    "unknown_key": NP_("rejection", "unknown signing key"),
    "authority": NP_("rejection", "outside its authority"),
    "replay": NP_("rejection", "replayed event"),
    "reorder": NP_("rejection", "event out of order"),
    "own_subject": NP_("rejection", "another party's subject"),
    "party_mismatch": NP_("rejection", "party does not match"),
    "invalid_transition": NP_("rejection", "a step its lifecycle does not allow"),
    "wrong_partition": NP_("rejection", "record in the wrong partition"),
    "time_skew": NP_("rejection", "dated too far from when it was recorded, outside any "
                                  "backfill window"),
    "sequence_gap": NP_("rejection", "held: earlier events of its source are missing from the log"),
    "fork": NP_("rejection", "held: two different events of one source claim the same place "
                             "in its history"),
    "hash_chain_broken": NP_("rejection", "does not link to its source's previous event"),
})

TABLES: Final = MappingProxyType({
    "mineral": MINERALS, "province": PROVINCES, "title_type": TITLE_TYPES,
    "approval_kind": APPROVAL_KINDS, "decision": DECISIONS, "stage": STAGES,
    "hold_reason": HOLD_REASONS, "approval_problem": APPROVAL_PROBLEMS, "rejection": REJECTIONS,
})
"""Glossary name → table; a ``Term`` parameter names its glossary."""
