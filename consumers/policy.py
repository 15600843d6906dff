"""The one authorisation policy: for every route and stream, who may call it and what they see.

As data: ``ROUTES`` says, per method and path, the audience (public, any participant, the
caller's own organisation, auditors, the platform's operators) and the user roles allowed; the
classification of fields (``schemas.access.RESTRICTED_FIELDS`` for event data, ``VIEW_FIELDS`` for
the views) says which parts of a row only its parties see. ``entitled`` and ``redact_*`` apply it.
A route without an entry is refused (and ``tests/integration/test_policy.py`` fails on it).
Pure: the registry is passed in.
"""

from __future__ import annotations

import copy
import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from consumers.views.declare import Visibility
from consumers.views.registry import BY_NAME, VIEWS
from schemas.access import FieldClass, Principal, UserRole, restricted_fields
from schemas.alerts import PLATFORM_ORG
from schemas.common import Language, Role, Side
from schemas.events.registry import BY_TOPIC
from schemas.registry import OrgRecord, Registry


class Audience(StrEnum):
    PUBLIC = "public"
    """Anyone, without signing in."""
    PARTICIPANT = "participant"
    """A signed-in member of an active organisation: shared rows, restricted fields per row."""
    OWN_ORG = "own_org"
    """A signed-in member, about its own organisation's things only (alerts, webhooks, events)."""
    AUDIT = "audit"
    """Auditor organisations and the platform's operators."""
    OPERATOR = "operator"
    """The platform's operators only."""


_ALL = frozenset(UserRole)
READERS = _ALL
ACTORS = frozenset({UserRole.OFFICER, UserRole.MANAGER, UserRole.MACHINE})
MANAGERS = frozenset({UserRole.MANAGER, UserRole.MACHINE})
AUDITORS = frozenset({UserRole.AUDITOR, UserRole.OPERATOR, UserRole.MACHINE})
OPERATORS = frozenset({UserRole.OPERATOR, UserRole.MACHINE})


@dataclass(frozen=True, slots=True)
class Rule:
    audience: Audience
    roles: frozenset[UserRole] = _ALL
    family: str | None = None
    """The view family whose restricted fields this route can reveal (redacted per row)."""
    acts: bool = False
    """The route changes something on the organisation's behalf: agencies and firms only
    (auditors read, the platform's operator works through its own tools)."""


_VIEW = Rule(Audience.PARTICIPANT, READERS)
ROUTES: dict[tuple[str, str], Rule] = {
    # The views (``consumers.views.registry``): every participant; which rows and restricted
    # fields each sees is the view's declared access (``visible``, ``entitled``).
    **{(method, path): Rule(Audience.PARTICIPANT, READERS, view.name) for view in VIEWS
       for method, path in (("GET", f"/v1/{view.name}"),
                            ("GET", f"/v1/{view.name}/{{{view.id_param}}}"))},
    ("GET", "/v1/projects/{project_id}/timeline"): Rule(Audience.PARTICIPANT, READERS, "timeline"),
    ("GET", "/v1/timeline/{subject}"): Rule(Audience.PARTICIPANT, READERS, "timeline"),
    # Acting: the caller's own organisation, people who act for it.
    ("POST", "/v1/events"): Rule(Audience.OWN_ORG, ACTORS, acts=True),
    # Private to one organisation.
    ("POST", "/v1/subscriptions"): Rule(Audience.OWN_ORG, ACTORS, acts=True),
    ("GET", "/v1/subscriptions"): Rule(Audience.OWN_ORG, READERS),
    ("DELETE", "/v1/subscriptions/{sub_id}"): Rule(Audience.OWN_ORG, ACTORS, acts=True),
    ("POST", "/v1/webhooks"): Rule(Audience.OWN_ORG, MANAGERS),
    ("GET", "/v1/webhooks"): Rule(Audience.OWN_ORG, MANAGERS),
    ("DELETE", "/v1/webhooks/{webhook_id}"): Rule(Audience.OWN_ORG, MANAGERS),
    ("POST", "/v1/alerts/channels/{channel}"): Rule(Audience.OWN_ORG, MANAGERS),
    ("GET", "/v1/alerts/channels/{channel}"): Rule(Audience.OWN_ORG, MANAGERS),
    ("DELETE", "/v1/alerts/channels/{channel}/{target_id}"): Rule(Audience.OWN_ORG, MANAGERS),
    ("GET", "/v1/alerts/stream"): Rule(Audience.OWN_ORG, READERS),
    # Accountability: who read restricted data.
    ("GET", "/v1/audit/reads"): Rule(Audience.AUDIT, AUDITORS),
    # Operations.
    ("GET", "/metrics"): Rule(Audience.OPERATOR, OPERATORS),
    ("GET", "/v1/health"): Rule(Audience.PUBLIC),
    # The public: an EITI-style licence register and agency lead times, no sign-in.
    ("GET", "/v1/public/licences"): Rule(Audience.PUBLIC),
    ("GET", "/v1/public/lead-times"): Rule(Audience.PUBLIC),
    ("GET", "/v1/public/timeline/{ref}"): Rule(Audience.PUBLIC, _ALL, "timeline"),
    # Signing in, and the documentation.
    ("POST", "/v1/auth/login"): Rule(Audience.PUBLIC),
    ("POST", "/v1/auth/logout"): Rule(Audience.PUBLIC),
    ("GET", "/v1/auth/me"): Rule(Audience.PARTICIPANT, READERS),
    # The web console (consumers/console): its pages under the same rules as the JSON they show.
    ("GET", "/"): Rule(Audience.PUBLIC),  # the public register and lead times
    ("GET", "/events/{ref}"): Rule(Audience.PUBLIC, _ALL, "timeline"),
    ("GET", "/static/{name}"): Rule(Audience.PUBLIC),
    ("GET", "/login"): Rule(Audience.PUBLIC),
    ("POST", "/login"): Rule(Audience.PUBLIC),
    ("POST", "/logout"): Rule(Audience.PUBLIC),
    ("GET", "/inbox"): Rule(Audience.OWN_ORG, READERS),
    ("GET", "/projects"): Rule(Audience.PARTICIPANT, READERS, "projects"),
    ("GET", "/projects/{project_id}"): Rule(Audience.PARTICIPANT, READERS, "projects"),
    ("GET", "/approvals"): Rule(Audience.PARTICIPANT, READERS, "approvals"),
    ("GET", "/approvals/{ref}"): Rule(Audience.PARTICIPANT, READERS, "approvals"),
    ("GET", "/approvals/{ref}/history"): Rule(Audience.PARTICIPANT, READERS, "approvals"),
    ("GET", "/lead-times"): Rule(Audience.PUBLIC),  # as /v1/public/lead-times, drawn
    ("GET", "/shipments"): Rule(Audience.PARTICIPANT, READERS, "shipments"),
    ("GET", "/shipments/{shipment_id}"): Rule(Audience.PARTICIPANT, READERS, "shipments"),
    ("GET", "/go/{subject}"): Rule(Audience.PARTICIPANT, READERS),
    # The audit pages: auditors and the platform's operators.
    ("GET", "/audit"): Rule(Audience.AUDIT, AUDITORS),
    ("GET", "/audit/verify"): Rule(Audience.AUDIT, AUDITORS),
    ("GET", "/audit/report.html"): Rule(Audience.AUDIT, AUDITORS),
    # Acting from the console: as POST /v1/events (the gateway's custodial path).
    ("GET", "/act"): Rule(Audience.OWN_ORG, ACTORS, acts=True),
    ("GET", "/act/{form}"): Rule(Audience.OWN_ORG, ACTORS, acts=True),
    ("POST", "/act/{form}"): Rule(Audience.OWN_ORG, ACTORS, acts=True),
    ("GET", "/openapi.json"): Rule(Audience.PUBLIC),
    ("GET", "/docs"): Rule(Audience.PUBLIC),
    ("GET", "/docs/oauth2-redirect"): Rule(Audience.PUBLIC),
    ("GET", "/redoc"): Rule(Audience.PUBLIC),
}
"""(method, path template) → rule. ``HEAD`` follows ``GET``."""

VIEW_FIELDS: dict[str, dict[str, FieldClass]] = {v.name: dict(v.restricted) for v in VIEWS}
"""Per view, the dotted paths of a view document that only the row's parties see."""


class Refusal(Exception):  # noqa: N818 - a verdict carried to the HTTP layer, not a failure
    """The policy refuses the call: 401 (sign in) or 403 (not for you), with the reason."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def rule_for(method: str, path: str) -> Rule | None:
    return ROUTES.get(("GET" if method == "HEAD" else method, path))


def admit(rule: Rule | None, principal: Principal, registry: Registry, method: str,
          path: str) -> OrgRecord | None:
    """May ``principal`` call the route? Returns its organisation's record (None if anonymous).

    Raises ``Refusal``: a route without a rule is refused for everyone but the docs' own.
    """
    if rule is None:
        raise Refusal(403, f"{method} {path} has no access rule: refused for everyone")
    if rule.audience is Audience.PUBLIC:
        return _org_of(principal, registry)
    if principal.anonymous:
        raise Refusal(401, "sign in, or send your organisation's API key or token")
    org = _org_of(principal, registry)
    if org is None or not org.active_at(datetime.now(UTC)):
        raise Refusal(403, f"{principal.org} is not an active participant of the platform")
    if not principal.roles & rule.roles:
        wanted = ", ".join(sorted(r.value for r in rule.roles))
        raise Refusal(403, f"{method} {path} needs one of the roles: {wanted}")
    if rule.audience is Audience.AUDIT and org.role not in (Role.AUDITOR, Role.PLATFORM):
        raise Refusal(403, f"{method} {path} is for auditors and the platform's operators")
    if rule.audience is Audience.OPERATOR and org.role is not Role.PLATFORM:
        raise Refusal(403, f"{method} {path} is for the platform's operators")
    if rule.acts and org.role not in (Role.AGENCY, Role.FIRM):
        raise Refusal(403, f"{method} {path} acts for an agency or a firm; a {org.role.value} "
                      "organisation reads")
    return org


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _org_of(principal: Principal, registry: Registry) -> OrgRecord | None:
    if not principal.org:
        return None
    found = registry.orgs.get(principal.org)
    if found is None and principal.org == PLATFORM_ORG:
        # The operator runs the registry rather than sitting in it (it signs every registry
        # event with the trust anchor): it is the platform whether or not it onboarded itself.
        return OrgRecord(id=PLATFORM_ORG, names={"en": "Platform operator"}, side=Side.PK,
                         role=Role.PLATFORM, language=Language.EN, uscc=None,
                         onboarded_at=_EPOCH)
    return found


@dataclass(frozen=True, slots=True)
class Row:
    """What the policy needs to know of one view row or timeline subject."""

    family: str
    party: str | None
    """The subject's registered party (a USCC or URN)."""
    province: str | None
    kind: str | None = None
    """An approval's kind (title, environmental, export): narrows the competent agencies."""


_KIND_PREFIX = {"title": "pk.emining.approval.licence.",
                "environmental": "pk.emining.approval.environmental.",
                "export": "pk.emining.approval.export."}


def visible(org: OrgRecord | None, row: Row) -> bool:
    """May ``org`` (admitted to the route) see ``row`` at all? Every row of a shared view; a
    row of a parties-only view only if it is ``entitled`` to it."""
    view = BY_NAME.get(row.family)
    return view is None or view.visibility is Visibility.SHARED or entitled(org, row)


def entitled(org: OrgRecord | None, row: Row) -> bool:
    """May ``org`` see ``row``'s restricted fields? Its party, a competent agency, an auditor or
    the platform may; every other participant and the public may not."""
    if org is None:
        return False
    if org.role in (Role.AUDITOR, Role.PLATFORM):
        return True
    if row.party is not None and row.party in org.party_ids:
        return True
    return org.role is Role.AGENCY and _competent(org, row)


def visible_parties(org: OrgRecord | None, family: str) -> frozenset[str] | None:
    """What the store may narrow a list of ``family`` to for ``org`` before ``visible`` judges
    each row: ``None``, no narrowing (a shared view; auditors, the platform, agencies, whose
    competence ``visible`` judges per row); else only rows whose party is one of these (a firm
    sees a parties-only view's rows of its own parties only; nobody else's: an empty set)."""
    view = BY_NAME.get(family)
    if view is None or view.visibility is Visibility.SHARED:
        return None
    if org is None:
        return frozenset()
    if org.role in (Role.AUDITOR, Role.PLATFORM, Role.AGENCY):
        return None
    return org.party_ids


def _competent(org: OrgRecord, row: Row) -> bool:
    """An agency's grant covers events of the row's subject in its province: any event type of
    the view's topics (of the approval's kind, for a topic's own view), whichever view the row
    is of. A grant names what an agency itself issues (customs: ``customs.cleared``, ``held``),
    not the firms' events another view folds, so whoever may see a shipment's restricted
    fields sees the rows other views make of its events (``Visibility.PARTIES``)."""
    view = BY_NAME.get(row.family)
    if view is None:
        return False
    prefix = _KIND_PREFIX.get(row.kind or "", "") if view.owns else ""
    types = [cls.TYPE for topic in view.topics for cls in BY_TOPIC.get(topic, ())
             if cls.TYPE.startswith(prefix)]
    now = datetime.now(UTC)
    for grant in org.grants:
        if grant.own_only or not grant.valid_at(now):
            continue
        if grant.provinces and (row.province is None or row.province not in grant.provinces):
            continue
        if any(fnmatch.fnmatchcase(t, p) for t in types for p in grant.event_types):
            return True
    return False


def _drop(doc: dict[str, Any], path: str) -> bool:
    """Remove ``path`` (dotted) from ``doc``; True if something was there."""
    head, _, rest = path.partition(".")
    if head not in doc or doc[head] is None:
        return False
    if not rest:
        doc[head] = None
        return True
    inner = doc[head]
    return isinstance(inner, dict) and _drop(inner, rest)


def redact_view(family: str, doc: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A copy of a view document without its restricted fields, and the paths withheld."""
    out = copy.deepcopy(dict(doc))
    withheld = [p for p in VIEW_FIELDS.get(family, {}) if _drop(out, p)]
    return out, withheld


def _pop(doc: Any, path: str) -> bool:
    """Delete dotted ``path`` from ``doc``; True if it was there."""
    if not isinstance(doc, dict):
        return False
    if path in doc:  # a key spelled with its dots
        del doc[path]
        return True
    head, _, rest = path.partition(".")
    if not rest or head not in doc:
        return False
    return _pop(doc[head], rest)


CORRECTION_FIELDS = ("corrected_type", "replacement")
"""A correction's data: the type it corrects and the corrected fields (``replacement``)."""


def _strip_event_data(ce_type: str, data: Any) -> tuple[Any, list[str]]:
    """``data`` of an event of ``ce_type`` without its restricted fields. A correction's
    ``replacement`` carries fields of the event it corrects: those are withheld by the
    restricted fields of its ``corrected_type`` (``replacement.declared_value``)."""
    if not isinstance(data, dict):
        return data, []
    out = copy.deepcopy(data)
    withheld = [p for p in restricted_fields(ce_type) if _pop(out, p)]
    corrected = out.get(CORRECTION_FIELDS[0])
    if isinstance(corrected, str) and isinstance(out.get(CORRECTION_FIELDS[1]), dict):
        withheld += [f"replacement.{p}" for p in restricted_fields(corrected)
                     if _pop(out["replacement"], p)]
    return out, withheld


def redact_entry(item: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A timeline item (``data`` as signed, ``effective``) without restricted event fields."""
    out = dict(item)
    out["data"], withheld = _strip_event_data(str(item["type"]), item.get("data"))
    out["effective"], more = _strip_event_data(str(item["type"]), item.get("effective"))
    return out, sorted(set(withheld) | set(more))


def row_of(family: str, doc: Mapping[str, Any]) -> Row:
    """The policy's view of a view document."""
    view = BY_NAME.get(family)
    party = doc.get(view.party_field) if view else None
    province = doc.get("province") or doc.get("origin_province")
    return Row(family, party, province, doc.get("kind"))


def subject_of(family: str, doc: Mapping[str, Any]) -> str:
    return str(doc.get(BY_NAME[family].id_field, ""))


def restricted_shown(family: str, docs: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Per subject, the restricted paths ``docs`` carry (what a reader of them is shown)."""
    shown = {subject_of(family, d): redact_view(family, d)[1] for d in docs}
    return {k: v for k, v in shown.items() if v}
