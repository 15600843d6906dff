"""Subscription filters: which new projects a firm wants to hear about (pure matching)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from schemas.common import Mineral, Province
from schemas.events.projects import ProjectStage


@dataclass(frozen=True, slots=True)
class Subscription:
    """A firm's filter. Each dimension left empty matches anything; a given one matches any of
    its values (a project mining copper and gold matches ``minerals={gold}``)."""

    id: str
    org: str
    minerals: frozenset[Mineral] = frozenset()
    provinces: frozenset[Province] = frozenset()
    stages: frozenset[ProjectStage] = frozenset()
    created_at: datetime | None = None

    def matches(self, minerals: Iterable[Mineral], province: Province | None,
                stage: ProjectStage | None) -> bool:
        if self.minerals and not self.minerals & set(minerals):
            return False
        if self.provinces and province not in self.provinces:
            return False
        return not (self.stages and stage not in self.stages)

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id, "org": self.org,
            "minerals": sorted(m.value for m in self.minerals),
            "provinces": sorted(p.value for p in self.provinces),
            "stages": sorted(s.value for s in self.stages),
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }
