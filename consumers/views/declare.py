"""A view, declared: what it folds, what it holds, who sees it and how it is listed.

Everything else is generated from the declarations in ``consumers.views.registry``: the fold
applies every view in the batch's one exactly-once transaction (``consumers.fold``), the store
keeps its rows (``consumers.store_batch``), the policy admits its routes and decides who sees
which rows and fields (``consumers.policy``), and the read API answers ``/v1/<name>`` and
``/v1/<name>/{id}`` with its filters and paging (``consumers.api``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from consumers.views.facts import Fact
from consumers.views.models import ViewDoc
from schemas.access import FieldClass
from schemas.base import EventData


class Visibility(StrEnum):
    """Which rows of a view a signed-in participant sees (fields: ``View.restricted``)."""

    SHARED = "shared"
    """Every row, to every participant; restricted fields only to the row's parties."""
    PARTIES = "parties"
    """A row only to its parties: its party (operator, holder, exporter), the competent agencies
    (a grant, valid in the row's province, over any event type of the view's topics: the
    agencies competent for the subject, as for its own view; not only over the types the view
    folds, which are mostly the firms' own), auditors and the platform. Anyone
    else is refused the row (403), does not find it in a list, and no list's ``next_cursor``
    names it; every read of a row is recorded in the read log."""


@dataclass(frozen=True, slots=True)
class Filter:
    """One query parameter of the view's list (``/v1/<view>?<name>=``)."""

    name: str
    annotation: Any
    """Its type as the route declares it (``Province | None``, ``list[ShipmentStatus] | None``)."""
    column: str | None = None
    """The stored column it matches (``party``, ``status``, ``province``, ``kind``, or a column
    of the view's own table); ``None``: read-time, handled by the view's ``refine``."""
    description: str | None = None
    default: Any = None


Refine = Callable[[list[dict[str, Any]], Mapping[str, Any], date], list[dict[str, Any]]]
"""A page's documents as read → as answered, given the read-time filters and the day."""


def _no_row(_view: Any) -> dict[str, object]:
    return {}


def _no_refusal(_view: Any, _data: EventData) -> str | None:
    return None


@dataclass(frozen=True, slots=True)
class View:
    """How accepted events become one view's documents, and how they are read."""

    name: str
    """Its name and route: ``/v1/<name>``, ``/v1/<name>/{id_param}``."""
    topics: tuple[str, ...]
    doc: type[ViewDoc]
    id_field: str
    """The document's field holding its id: the subject of the events folded into it."""
    apply: Callable[[Any, Fact], ViewDoc]
    """The document after one event (``None`` before its first)."""
    party_field: str
    """The document's field naming the subject's registered party (a USCC)."""
    row: Callable[[Any], dict[str, object]] = _no_row
    """Stored columns lists filter on, beside ``party``: ``status``, ``province``, ``kind``..."""
    events: tuple[type[EventData], ...] = ()
    """Event types folded; empty: every event of its topics (a topic's own view)."""
    owns: bool = False
    """The subject's own view (one per topic): it judges the subject's events (``opens``,
    ``starts``, ``refuses``, the registered party) and its events make the subject's timeline.
    Any other view folds events only once its topic's own view accepted them."""
    opens: tuple[type[EventData], ...] = ()
    """A subject's first event: refused when the subject already exists."""
    starts: tuple[type[EventData], ...] = ()
    """Events a firm may use to start a subject it does not have yet (``opens`` and more)."""
    refuses: Callable[[Any, EventData], str | None] = _no_refusal
    """Why the subject as it stands cannot take an event its lifecycle allows (a delivery
    reported for a mine): refused ``invalid_transition`` like an impossible step."""
    visibility: Visibility = Visibility.SHARED
    restricted: Mapping[str, FieldClass] = field(default_factory=dict)
    """Dotted paths of a document that only the row's parties see (``null`` for the others)."""
    filters: tuple[Filter, ...] = ()
    id_param: str = "id"
    id_path: bool = False
    """The id may hold slashes (``/v1/approvals/{ref:path}``)."""
    lookup: str | None = None
    """Another stored column an item may be asked for by (it must name exactly one)."""
    singular: str = ""
    summary: str = ""
    """The list route's description."""
    item: type[BaseModel] | None = None
    """The answer's item model, when reading adds fields to the stored document."""
    standing: Callable[[Mapping[str, Any], date], dict[str, Any]] | None = None
    """Read-time fields added to each document on the day it is read (never stored)."""
    stored: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None
    """Column filters implied by the read-time filters (to read fewer rows)."""
    refine: Refine | None = None

    def party(self, view: Any) -> str:
        """The subject's registered party as the view holds it now."""
        return str(getattr(view, self.party_field))

    @property
    def view_type(self) -> type[ViewDoc]:
        return self.doc

    @property
    def answer(self) -> type[BaseModel]:
        return self.item or self.doc

    @property
    def one(self) -> str:
        return self.singular or self.name.removesuffix("s")

    def folds(self, data: EventData) -> bool:
        return data.TOPIC in self.topics and (not self.events or isinstance(data, self.events))
