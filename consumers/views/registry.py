"""The registered views: adding one is its module plus one line in ``VIEWS``.

Each declaration (``consumers.views.declare.View``) names the topics and event types it folds,
its document model and id, its apply function, who may see its rows and fields, and its list
filters. The fold, the store, the access policy and the read API (``/v1/<name>``,
``/v1/<name>/{id}``) are generated from this tuple.
"""

from __future__ import annotations

from consumers.views import approvals, projects, shipments, standing, valuations
from consumers.views.declare import Filter, View
from consumers.views.models import (
    ApprovalItem,
    ApprovalKind,
    ApprovalView,
    ProjectView,
    ShipmentStatus,
    ShipmentView,
)
from consumers.views.query import ApprovalFilter
from schemas.access import FieldClass
from schemas.common import Province
from schemas.events.approvals_applications import LicenceApplicationReceived
from schemas.events.approvals_other import EnvironmentalApprovalFiled, ExportApprovalDecided
from schemas.events.projects import ProjectKind, ProjectRegistered, ProjectStage
from schemas.events.shipments import ShipmentPlanned
from schemas.topics import APPROVALS, PROJECTS, SHIPMENTS

PROJECTS_VIEW = View(
    "projects", (PROJECTS,), ProjectView, "project_id", projects.apply, "operator_uscc",
    projects.row, owns=True, opens=(ProjectRegistered,), starts=(ProjectRegistered,),
    refuses=projects.refusal, id_param="project_id",
    filters=(Filter("province", Province | None, "province"),
             Filter("stage", ProjectStage | None, "status"),
             Filter("operator", str | None, "party"),
             Filter("kind", ProjectKind | None, "kind")),
    summary="Projects (mines and plants): kind, stage, operator, joint venture, titles, inputs\n"
            "and outputs, deliveries received and taken, latest production.",
)
APPROVALS_VIEW = View(
    "approvals", (APPROVALS,), ApprovalView, "ref", approvals.apply, "holder_uscc",
    approvals.row, owns=True, opens=(LicenceApplicationReceived,),
    starts=(LicenceApplicationReceived, EnvironmentalApprovalFiled, ExportApprovalDecided),
    id_param="ref", id_path=True, lookup="application_ref", item=ApprovalItem,
    standing=standing.with_standing, stored=standing.stored_filters, refine=standing.refine,
    filters=(Filter("status", list[ApprovalFilter] | None,
                    description="status(es); `pending` = awaiting a decision; "
                                "`deemed_approved` includes approvals by silence"),
             Filter("breached", bool, description="only pending files past their service "
                                                  "standard", default=False),
             Filter("authority", str | None, "authority"),
             Filter("province", Province | None, "province"),
             Filter("holder", str | None, "party", "holder's USCC"),
             Filter("kind", ApprovalKind | None, "kind"),
             Filter("project", str | None, "project_id"),
             Filter("application", str | None, "application_ref",
                    "a licence application's own reference")),
    summary="Licences, environmental approvals and export LPCOs: status, dues, time in state.",
)
SHIPMENTS_VIEW = View(
    "shipments", (SHIPMENTS,), ShipmentView, "shipment_id", shipments.apply, "exporter_uscc",
    shipments.row, owns=True, opens=(ShipmentPlanned,), starts=(ShipmentPlanned,),
    refuses=shipments.refusal, id_param="shipment_id",
    restricted={"contract_ref": FieldClass.COMMERCIAL, "buyer": FieldClass.COMMERCIAL,
                "declaration.declared_value": FieldClass.COMMERCIAL,
                "invoice_number": FieldClass.COMMERCIAL,
                "invoiced_amount": FieldClass.COMMERCIAL},
    filters=(Filter("status", list[ShipmentStatus] | None, "status"),
             Filter("exporter", str | None, "party"),
             Filter("on_hold", bool | None, "on_hold")),
    summary="Shipments: status, current leg, holds, the export approvals relied on.",
)

VIEWS: tuple[View, ...] = (
    PROJECTS_VIEW,
    APPROVALS_VIEW,
    SHIPMENTS_VIEW,
    valuations.VIEW,
)
"""Every view, in the order the API lists them. One line per view."""

BY_NAME: dict[str, View] = {v.name: v for v in VIEWS}
FAMILIES: dict[str, View] = {t: v for v in VIEWS if v.owns for t in v.topics}
"""Logical topic (catalogue name) → the subject's own view (one per topic)."""
FOLDING: dict[str, tuple[View, ...]] = {
    t: tuple(v for v in VIEWS if not v.owns and t in v.topics) for t in FAMILIES}
"""Logical topic → the other views its accepted events are folded into as well."""
OWN_TABLES = ("projects", "approvals", "shipments")
"""Views with a table of their own (columns the alert rules and the audit query); every other
view's rows are kept in the store's ``documents`` table."""


RESERVED = frozenset({
    # /v1/<segment>: the API's other routes
    "timeline", "events", "subscriptions", "webhooks", "alerts", "audit", "public", "auth",
    "health",
    # /<segment>: the console's other pages, the operations and the documentation
    "inbox", "login", "logout", "act", "go", "lead-times", "static", "metrics", "docs",
    "redoc", "openapi.json",
})
"""Route segments other routes use: no view may be named so (``/v1/<name>`` would collide).
``tests/unit/views/test_view_access.py`` checks this covers every route of the app."""


def check_names(views: tuple[View, ...]) -> None:
    """Raise ``ValueError`` if two views share a name or one takes a reserved route segment."""
    names = [v.name for v in views]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"two views of one name: {', '.join(twice)}")
    taken = sorted(set(names) & RESERVED)
    if taken:
        raise ValueError(f"view name(s) {', '.join(taken)} collide with other routes "
                         "(/v1/<name>): choose another name")


def _check() -> None:
    check_names(VIEWS)
    for view in VIEWS:
        assert view.owns or view.events, (f"{view.name}: a view that does not own its topic "
                                          "names the event types it folds")
        assert view.owns or view.name not in OWN_TABLES, view.name
        assert all(t in FAMILIES for t in view.topics), f"{view.name}: no own view of its topic"


_check()
