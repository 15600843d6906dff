"""The generator's workbench: seeded randomness, the year's calendar, event ids and the steps.

Every random choice goes through ``Builder.rng`` (one ``random.Random(seed)``), and every event id
is a UUID5 of the seed, the scale and the step's creation number, so one seed gives one year.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from random import Random
from typing import Any, Literal, TypeVar

from stdnum import imo, iso6346

from infra.demo import scenario_world as w
from infra.demo.scenario_facts import Facts
from schemas.base import EventData
from schemas.events.shipments_border import PAKISTAN_TIME

T = TypeVar("T")

PublishPath = Literal["sdk", "import", "http"]
PATHS: tuple[PublishPath, ...] = ("sdk", "import", "http")

NAMESPACE = uuid.UUID("5b0d7c52-3f0e-5d7a-9a51-6f1c2d8e4b90")
"""Namespace of the scenario's event ids (any fixed UUID would do)."""

HTTP_ORGS = frozenset({
    w.KP_MDD, w.PB_MMD, w.GB_MMD, w.SEPA, w.KP_EPA, w.PB_EPD, w.GB_EPA, w.GPA, w.NLC_SOST,
    *(f.org for f in (w.ZHOB_CHROME, w.MALAKAND_CHROME, w.KARAKORAM_LITHIUM, w.HARAMOSH_LITHIUM,
                      w.CHINIOT_IRON, w.HAZARA_REE)),
})
"""Organisations without their own signing setup: they post through the gateway, which signs
custodially (smaller provincial offices, the GB and KP bodies, the dry port, smaller firms)."""

IMPORT_TYPES = frozenset({
    "pk.emining.project.production.reported", "pk.emining.project.workforce.reported",
    "pk.emining.project.investment.disbursed", "pk.emining.approval.royalty.paid",
})
"""Monthly returns the larger firms export from their ERP and load with ``emining import``."""


def path_for(org: str, data: EventData) -> PublishPath:
    """Which real publishing path carries an organisation's event."""
    if org in HTTP_ORGS:
        return "http"
    if data.TYPE in IMPORT_TYPES:
        return "import"
    return "sdk"


@dataclass(frozen=True, slots=True)
class Step:
    """One event of the year: who publishes it, when, under which id, along which path."""

    org: str
    data: EventData
    time: datetime
    event_id: str
    path: PublishPath

    @property
    def type(self) -> str:
        return self.data.ce_type()

    @property
    def subject(self) -> str:
        return self.data.subject

    def data_json(self) -> dict[str, Any]:
        return self.data.model_dump(mode="json", exclude_none=True)

    def import_row(self) -> dict[str, Any]:
        """One line of an ``emining import`` JSON Lines file (also a gateway request body)."""
        return {"type": self.type, "subject": self.subject, "id": self.event_id,
                "time": self.time.isoformat().replace("+00:00", "Z"), "data": self.data_json()}

    def http_body(self) -> dict[str, Any]:
        """The body of ``POST /v1/events`` for the gateway to sign custodially."""
        return self.import_row()

    def to_json(self) -> dict[str, Any]:
        return {"org": self.org, "path": self.path, **self.import_row()}


class Builder:
    """Collects the year's steps while the stories decide them; records decisions in ``facts``."""

    def __init__(self, seed: int, start: date, scale: float) -> None:
        self.seed = seed
        self.scale = scale
        self.rng = Random(seed)  # noqa: S311 - a reproducible simulation, not a secret
        self.origin = datetime.combine(start, time(0), PAKISTAN_TIME)
        self.end = self.origin + timedelta(days=365)
        self.steps: list[Step] = []
        self.facts = Facts()
        self._created = 0
        self._serials: dict[str, int] = {}

    # --- the calendar -----------------------------------------------------------------------
    def at(self, day: float, hour: float = 10.0) -> datetime:
        """``hour`` o'clock Pakistan time on the ``day``-th day of the year, in UTC."""
        minutes = round(hour * 60)
        return (self.origin + timedelta(days=int(day), minutes=minutes)).astimezone(UTC)

    def office(self, day: float) -> datetime:
        """A random moment of office hours (09:00-17:00 Pakistan time) on that day."""
        return self.at(day, 9 + self.rng.randrange(0, 8 * 60, 5) / 60)

    def date_of(self, moment: datetime) -> date:
        return moment.astimezone(PAKISTAN_TIME).date()

    def day_of(self, moment: datetime) -> float:
        return (moment - self.origin).total_seconds() / 86400

    def within(self, moment: datetime) -> bool:
        return self.origin <= moment < self.end

    # --- randomness -------------------------------------------------------------------------
    def between(self, low: float, high: float, places: int) -> Decimal:
        return Decimal(f"{self.rng.uniform(low, high):.{places}f}")

    def jitter(self, days: int) -> int:
        return self.rng.randint(-days, days)

    def pick(self, items: Sequence[T]) -> T:
        return items[self.rng.randrange(len(items))]

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    def serial(self, counter: str, first: int = 1) -> int:
        """The next number of a register (title numbers per province and year, LPCOs...)."""
        value = self._serials.get(counter, first)
        self._serials[counter] = value + 1
        return value

    def cnic(self) -> str:
        return (f"{self.rng.randint(1, 7)}{self.rng.randint(1000, 9999)}-"
                f"{self.rng.randint(1_000_000, 9_999_999)}-{self.rng.randint(1, 9)}")

    def container(self, owner: str) -> str:
        body = f"{owner}U{self.rng.randint(0, 999_999):06d}"
        return body + str(iso6346.calc_check_digit(body))

    @staticmethod
    def imo_number(prefix: int) -> str:
        return f"{prefix}{imo.calc_check_digit(str(prefix))}"

    # --- emitting ---------------------------------------------------------------------------
    def emit(self, org: str, data: EventData, moment: datetime) -> Step:
        """Record one event (stories emit in any order; ``scenario`` sorts the year by time)."""
        if not self.within(moment):
            raise ValueError(f"{data.TYPE} for {data.subject} at {moment} is outside the year")
        self._created += 1
        event_id = str(uuid.uuid5(NAMESPACE, f"{self.seed}/{self.scale}/{self._created}"))
        step = Step(org, data, moment.astimezone(UTC), event_id, path_for(org, data))
        self.steps.append(step)
        return step
