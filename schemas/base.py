"""The base of every event's data: type name, version, topic, subject and authority scope."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from schemas.common import Frozen, Province, TitleType

TYPE_PREFIX = "pk.emining."


@dataclass(frozen=True, slots=True)
class Scope:
    """What an event is about, as far as authority is concerned.

    ``parties`` are the identifiers of the organisations the event speaks for (a firm's USCC, an
    agency's URN): a grant limited to "own subjects" matches only when the emitter is one of them.
    """

    province: Province | None = None
    title_type: TitleType | None = None
    parties: frozenset[str] = field(default_factory=frozenset)


class EventData(Frozen):
    """Data of one event type. Subclasses set the class variables and name their subject field.

    The CloudEvents ``type`` is ``f"{TYPE}.v{VERSION}"``, e.g.
    ``pk.emining.approval.licence.granted.v1``. The Kafka key and CloudEvents ``subject`` are the
    value of the field named by ``SUBJECT_FIELD``, so each subject's events stay in order.
    """

    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1
    TOPIC: ClassVar[str]
    SUBJECT_FIELD: ClassVar[str]
    EXAMPLE: ClassVar[dict[str, Any]]
    """Realistic, valid data (JSON form, synthetic ids): documentation, tests and the schema."""

    @classmethod
    def ce_type(cls) -> str:
        return f"{cls.TYPE}.v{cls.VERSION}"

    @property
    def subject(self) -> str:
        value = getattr(self, self.SUBJECT_FIELD)
        return str(value)

    def destination_topic(self) -> str:
        """The topic this event is published to: ``TOPIC``, unless a family routes per recipient
        (alerts go to ``emining.alerts.<org>``; their ``TOPIC`` is the catalogue prefix)."""
        return self.TOPIC

    def scope(self) -> Scope:
        """Authority-relevant facts; families override to expose province, title type, parties."""
        return Scope()
