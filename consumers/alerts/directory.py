"""Who an alert goes to: organisations by id or USCC, their names and preferred language.

Read from the participants registry as the consumer holds it (it refreshes from the log):
customs, facilitation bodies and border posts are found by the function the registry gives them
(``schemas.common.Function``), never by a fixed id; the alert config may add ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

from consumers.alerts.config import AlertConfig
from consumers.alerts.i18n import CHINA_TIME, Name
from schemas.common import Function, Language, Side
from schemas.events.shipments_border import PAKISTAN_TIME
from schemas.registry import Registry


@dataclass(frozen=True, slots=True)
class Party:
    org: str
    name: Name
    language: Language


RULE_FUNCTIONS = (Function.CUSTOMS, Function.INVESTMENT_FACILITATION, Function.BORDER_POST)
"""The functions whose holders the alert rules tell (declarations, service standards, border)."""

_PLATFORM_NAME = Name("E-Mining Platform", "电子矿业平台", "ای مائننگ پلیٹ فارم")


class Directory:
    """Lookups over a live ``Registry`` (re-indexed when organisations are added)."""

    def __init__(self, registry: Registry, config: AlertConfig) -> None:
        self.registry = registry
        self.config = config
        self._by_uscc: dict[str, str] = {}
        self._indexed = -1

    def org(self, org_id: str | None) -> Party | None:
        """The registered organisation ``org_id`` (the platform is always known)."""
        if org_id is None:
            return None
        if org_id == self.config.platform:
            return Party(org_id, _PLATFORM_NAME, Language.EN)
        record = self.registry.orgs.get(org_id)
        if record is None:
            return None
        return Party(record.id, Name.of(record.names), record.language)

    def firm(self, uscc: str) -> Party | None:
        """The registered organisation whose USCC is ``uscc``."""
        if self._indexed != len(self.registry.orgs):
            self._by_uscc = {o.uscc: o.id for o in self.registry.orgs.values() if o.uscc}
            self._indexed = len(self.registry.orgs)
        return self.org(self._by_uscc.get(uscc))

    def firm_name(self, uscc: str) -> Name:
        """The firm's registered name, or its USCC when it is not on the platform."""
        party = self.firm(uscc)
        return party.name if party else Name(uscc)

    def org_name(self, org_id: str | None) -> Name:
        party = self.org(org_id)
        return party.name if party else Name(org_id or "?")

    def registered(self, *org_ids: str | None) -> list[str]:
        """Those of ``org_ids`` that can receive alerts, in order, without repeats."""
        return [o for o in dict.fromkeys(org_ids) if o is not None and self.org(o) is not None]

    def serving(self, function: Function) -> list[str]:
        """Who is told in ``function``'s name: the active organisations the registry gives that
        function, then any the alert config adds by id."""
        extra = {Function.CUSTOMS: self.config.customs,
                 Function.INVESTMENT_FACILITATION: self.config.facilitation,
                 Function.BORDER_POST: self.config.border}.get(function, ())
        return list(dict.fromkeys([*self.registry.with_function(function), *extra]))

    def unserved(self) -> list[Function]:
        """Functions an alert rule tells that no organisation has: those alerts would reach
        only their other recipients (checked, and logged, when the alert rules start)."""
        return [f for f in RULE_FUNCTIONS if not self.serving(f)]

    def zone(self, org_id: str) -> tzinfo:
        """Where the recipient reads its times: Beijing time for the Chinese side, Pakistan
        time for everyone else (the platform included)."""
        record = self.registry.orgs.get(org_id)
        return CHINA_TIME if record is not None and record.side is Side.CN else PAKISTAN_TIME

    def language(self, org_id: str) -> Language:
        party = self.org(org_id)
        return party.language if party else Language.EN
