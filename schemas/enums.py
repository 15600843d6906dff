"""The closed sets of the domain as plain enums, without pydantic: provinces, minerals, title
types, sides, roles, functions, languages, currencies, project stages, field classes.

``schemas.common``, ``schemas.events.projects`` and ``schemas.access`` re-export them (the same
classes); they live here so that what only needs the names (the CLI's options and its shell
completion) starts without importing the event models.
"""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    PK = "PK"
    CN = "CN"


class Severity(StrEnum):
    """How urgent an alert is (``schemas.alerts.AlertRaised.severity``)."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Role(StrEnum):
    AGENCY = "agency"
    FIRM = "firm"
    AUDITOR = "auditor"
    PLATFORM = "platform"


class Function(StrEnum):
    """What an organisation does for the platform, beyond its role: alerts find their
    recipients by function in the registry, never by a fixed organisation id."""

    LICENSING = "licensing"
    """A provincial mines and minerals department: grants and decides mineral titles."""
    ENVIRONMENT = "environment"
    """An environmental protection agency: decides IEEs and EIAs."""
    CUSTOMS = "customs"
    """Clears or holds export declarations."""
    INVESTMENT_FACILITATION = "investment_facilitation"
    """Follows applications past their service standard (SIFC, the Board of Investment)."""
    TRADE_WINDOW = "trade_window"
    """Issues export approvals (LPCOs): the single window."""
    PORT = "port"
    """Loads vessels: a port authority."""
    BORDER_POST = "border_post"
    """Sees cargo across a land border (the dry port at Sost before Khunjerab)."""


class Province(StrEnum):
    """ISO 3166-2:PK subdivisions."""

    BALOCHISTAN = "PK-BA"
    KHYBER_PAKHTUNKHWA = "PK-KP"
    PUNJAB = "PK-PB"
    SINDH = "PK-SD"
    GILGIT_BALTISTAN = "PK-GB"
    AZAD_JAMMU_KASHMIR = "PK-JK"
    ISLAMABAD = "PK-IS"


class TitleType(StrEnum):
    """Mineral title types of the provincial mineral rules."""

    RECONNAISSANCE_LICENCE = "RL"
    EXPLORATION_LICENCE = "EL"
    MINERAL_DEPOSIT_RETENTION_LICENCE = "MDRL"
    MINING_LEASE = "ML"
    PROSPECTING_LICENCE = "PL"
    SMALL_SCALE_MINING_LEASE = "SSML"
    MINOR_MINERALS = "MM"


class Mineral(StrEnum):
    COPPER = "copper"
    GOLD = "gold"
    SILVER = "silver"
    LEAD = "lead"
    ZINC = "zinc"
    IRON_ORE = "iron_ore"
    CHROMITE = "chromite"
    LIGNITE = "lignite"
    COAL = "coal"
    LITHIUM = "lithium"
    RARE_EARTHS = "rare_earths"
    MOLYBDENUM = "molybdenum"


class Currency(StrEnum):
    """ISO 4217 currencies used on the platform."""

    PKR = "PKR"
    USD = "USD"
    CNY = "CNY"


class Language(StrEnum):
    EN = "en"
    ZH = "zh"
    UR = "ur"


class ProjectStage(StrEnum):
    """Stages in their natural order; ``stage_change_allowed`` says which moves are possible."""

    EXPLORATION = "exploration"
    FEASIBILITY = "feasibility"
    CONSTRUCTION = "construction"
    PRODUCTION = "production"
    CARE_AND_MAINTENANCE = "care_and_maintenance"
    CLOSURE = "closure"


class FieldClass(StrEnum):
    """Who may see a field of an event or a view (see the README's classification table).

    An event type's entry (``schemas.events.spec.EventSpec.restricted``) and a view's declaration
    name their fields that are not shared; ``schemas.access`` re-exports this class.
    """

    SHARED = "shared"
    """Every participant: projects, licences, decisions, shipment movements."""
    PERSONAL = "personal"
    """Personal data (a representative's CNIC, a local applicant's NTN): the parties only."""
    COMMERCIAL = "commercial"
    """Commercial terms (buyer, contract, declared value, invoice): the parties only."""
