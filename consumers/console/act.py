"""The console's forms that act: each turns a person's form into one unsigned event for the
gateway's custodial signing path (``producers.gateway.submit``), and the gateway's refusal
back into the form's words. Pure: no I/O.

An agency officer answers a licence application (deficiency notice, grant, refusal) and decides
an IEE/EIA; a firm's staff files a licence application, reports a month's production and files a
customs declaration. The data the gateway signs is the event type's own schema: the form only
gathers it (and takes the file's holder, area and minerals from the view it answers); every check
(schema, authority, lifecycle, time) is the gateway's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from consumers.console.labels import N_
from schemas.common import Mineral, Province, Role, TitleType
from schemas.events.approvals_applications import add_years
from schemas.events.approvals_other import EnvironmentalDecision
from schemas.events.shipments import ExitPoint
from schemas.lifecycles import refusal
from schemas.registry import OrgRecord

Values = Mapping[str, str]


class FormError(ValueError):
    """A form value that cannot be read (a number that is not one): ``field`` names it."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.field = name
        self.message = message


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    label: str
    """A message id (``N_``): translated when shown."""
    kind: str = "text"
    """text, date, number, lines (one item a line), list (comma separated), select, month,
    grades (``Cu 0.52 percent`` a line), outputs (``copper_concentrate 7430.5`` a line)."""
    path: str = ""
    """Where the value goes in the event's data (dotted); default: ``name``."""
    required: bool = True
    choices: tuple[str, ...] = ()
    glossary: str | None = None
    """The glossary table naming the choices (mineral, province, ...), if any."""

    @property
    def target(self) -> str:
        return self.path or self.name


@dataclass(frozen=True, slots=True)
class Context:
    """What a form knows besides its fields: who acts, the file it answers, the day."""

    org: OrgRecord
    today: date
    file: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Form:
    key: str
    type: str
    """The event type the form publishes."""
    side: Role
    title: str
    fields: tuple[Field, ...]
    fixed: Callable[[Context], dict[str, Any]]
    """Data the form does not ask for: the file's subject and party, times."""
    defaults: Callable[[Context], dict[str, str]] = field(default=lambda _: {})
    answers: str | None = None
    """The file kind it answers (``title``, ``environmental``): needs ``?ref=``."""


def _today(ctx: Context) -> str:
    return ctx.today.isoformat()


def _file(ctx: Context) -> Mapping[str, Any]:
    if ctx.file is None:
        raise FormError("ref", N_("Choose the file this answers."))
    return ctx.file


def _title_fixed(ctx: Context) -> dict[str, Any]:
    found = _file(ctx)
    return {"title_number": found["ref"], "holder_uscc": found["holder_uscc"]}


def _grant_fixed(ctx: Context) -> dict[str, Any]:
    out = _title_fixed(ctx)
    if _file(ctx).get("project_id"):
        out["project_id"] = _file(ctx)["project_id"]
    return out


def _grant_defaults(ctx: Context) -> dict[str, str]:
    found = ctx.file or {}
    return {"granted_on": _today(ctx), "term_years": "3",
            "area_km2": str(found.get("area_km2") or ""),
            "minerals": ", ".join(found.get("minerals") or ())}


def _now_utc() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


MINERALS = tuple(m.value for m in Mineral)
FORMS: Final[dict[str, Form]] = {f.key: f for f in (
    Form("deficiency", "pk.emining.approval.licence.deficiency.notified", Role.AGENCY,
         N_("Notify a deficiency"), (
             Field("notice_ref", N_("Notice reference")),
             Field("notified_on", N_("Notified on"), "date"),
             Field("respond_by", N_("Respond by"), "date"),
             Field("items", N_("What is missing (one item a line)"), "lines"),
         ), _title_fixed,
         lambda ctx: {"notified_on": _today(ctx),
                      "respond_by": (ctx.today + timedelta(days=30)).isoformat()},
         answers="title"),
    Form("grant", "pk.emining.approval.licence.granted", Role.AGENCY, N_("Grant the licence"), (
        Field("granted_on", N_("Granted on"), "date"),
        Field("term_years", N_("Term (years)"), "number"),
        Field("expires_on", N_("Expires on (empty: the term's last day)"), "date",
              required=False),
        Field("area_km2", N_("Area (km²)"), "number"),
        Field("minerals", N_("Minerals (comma separated)"), "list"),
        Field("conditions", N_("Conditions (one a line)"), "lines", required=False),
    ), _grant_fixed, _grant_defaults, answers="title"),
    Form("refusal", "pk.emining.approval.licence.refused", Role.AGENCY,
         N_("Refuse the application"), (
             Field("refused_on", N_("Refused on"), "date"),
             Field("reasons", N_("Reasons (one a line)"), "lines"),
             Field("appealable_until", N_("Appeal possible until"), "date", required=False),
         ), _title_fixed,
         lambda ctx: {"refused_on": _today(ctx),
                      "appealable_until": (ctx.today + timedelta(days=30)).isoformat()},
         answers="title"),
    Form("eia", "pk.emining.approval.environmental.decided", Role.AGENCY,
         N_("Decide the environmental assessment"), (
             Field("decision", N_("Decision"), "select",
                   choices=tuple(d.value for d in EnvironmentalDecision
                                 if d is not EnvironmentalDecision.DEEMED_APPROVED),
                   glossary="decision"),
             Field("decided_on", N_("Decided on"), "date"),
             Field("conditions", N_("Conditions (one a line)"), "lines", required=False),
             Field("reasons", N_("Reasons (one a line)"), "lines", required=False),
             Field("valid_until", N_("Valid until"), "date", required=False),
         ), lambda ctx: {"file_number": _file(ctx)["ref"],
                         "proponent_uscc": _file(ctx)["holder_uscc"]},
         lambda ctx: {"decided_on": _today(ctx)}, answers="environmental"),
    Form("application", "pk.emining.approval.licence.application.received", Role.FIRM,
         N_("File a licence application"), (
             Field("title_number", N_("Title number applied for")),
             Field("title_type", N_("Title type"), "select",
                   choices=tuple(t.value for t in TitleType), glossary="title_type"),
             Field("province", N_("Province"), "select", choices=tuple(p.value for p in Province),
                   glossary="province"),
             Field("district", N_("District")),
             Field("minerals", N_("Minerals (comma separated)"), "list"),
             Field("area_km2", N_("Area (km²)"), "number"),
             Field("boundary", N_("Boundary (one corner a line: latitude longitude; the first "
                                  "again last)"), "points"),
             Field("applicant_name", N_("Applicant company (local)"), path="applicant.name.en"),
             Field("licensing_authority", N_("Licensing authority"), "select"),
             Field("project_id", N_("Project"), required=False),
             Field("application_ref", N_("Your application reference"), required=False),
         ), lambda ctx: {"holder_uscc": ctx.org.uscc, "received_at": _now_utc()}),
    Form("production", "pk.emining.project.production.reported", Role.FIRM,
         N_("Report a month's production"), (
             Field("project_id", N_("Project"), "select"),
             Field("period", N_("Month (YYYY-MM)"), "month"),
             Field("ore_mined_t", N_("Ore mined (t)"), "number"),
             Field("ore_milled_t", N_("Ore milled (t)"), "number"),
             Field("head_grades", N_("Head grades (one a line: element value unit, e.g. Cu 0.52 "
                                     "percent)"), "grades"),
             Field("outputs", N_("Products (one a line: product dry tonnes, e.g. "
                                 "copper_concentrate 7430.5)"), "outputs", required=False),
         ), lambda ctx: {"operator_uscc": ctx.org.uscc},
         lambda ctx: {"period": (ctx.today.replace(day=1) - timedelta(days=1))
                      .strftime("%Y-%m")}),
    Form("declaration", "pk.emining.shipment.customs.declaration.filed", Role.FIRM,
         N_("Declare a shipment to customs"), (
             Field("shipment_id", N_("Shipment"), "select"),
             Field("declaration_number", N_("Goods declaration number")),
             Field("customs_station", N_("Customs station"), "select",
                   choices=tuple(e.value for e in ExitPoint)),
             Field("hs_code", N_("HS code")),
             Field("declared_value", N_("Declared value (USD)"), "number",
                   path="declared_value.amount"),
             Field("wmt", N_("Wet tonnes"), "number", path="quantity.wmt"),
             Field("moisture_pct", N_("Moisture (per cent)"), "number",
                   path="quantity.moisture_pct"),
             Field("dmt", N_("Dry tonnes"), "number", path="quantity.dmt"),
             Field("export_approvals", N_("Export approvals relied on (LPCO numbers, comma "
                                          "separated)"), "list", required=False),
         ), lambda ctx: {"exporter_uscc": ctx.org.uscc, "filed_at": _now_utc(),
                         "declared_value": {"currency": "USD"}, "export_approvals": []}),
)}


def forms_for(org: OrgRecord | None, may_send: Callable[[str], bool]) -> list[Form]:
    """The forms of ``org``'s side whose event type it holds authority for now."""
    if org is None:
        return []
    return [f for f in FORMS.values() if f.side is org.role and may_send(f.type)]


def possible(form: Form, current: str | None) -> bool:
    """May the form's step follow a file in status ``current`` (the lifecycle the gateway and
    the views enforce)? A step whose data names its outcome (an EIA's decision) is possible if
    one of the form's outcomes is."""
    outcomes: tuple[str | None, ...] = (None,)
    for item in form.fields:
        if item.kind == "select" and item.choices and item.name == "decision":
            outcomes = item.choices
    return any(refusal(form.type, current, outcome) is None for outcome in outcomes)


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    head, _, rest = path.partition(".")
    if not rest:
        data[head] = value
        return
    _set(data.setdefault(head, {}), rest, value)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _rows(name: str, text: str, width: int, keys: tuple[str, ...], problem: str,
          ) -> list[dict[str, str]]:
    """One dict per line of ``text``: ``width`` words named ``keys`` (commas count as spaces)."""
    out = []
    for line in _lines(text):
        parts = line.replace(",", " ").split()
        if len(parts) != width:
            raise FormError(name, problem)
        out.append(dict(zip(keys, parts, strict=True)))
    return out


_ROWS: Final[Mapping[str, tuple[int, tuple[str, ...], str]]] = {
    "points": (2, ("lat", "lon"), N_("Each line needs a latitude and a longitude.")),
    "grades": (3, ("element", "value", "unit"),
               N_("Each line needs an element, a value and a unit.")),
    "outputs": (2, ("product", "dmt"), N_("Each line needs a product and its dry tonnes.")),
}


def _parsed(item: Field, text: str) -> Any:
    if item.kind in _ROWS:
        width, keys, problem = _ROWS[item.kind]
        return _rows(item.name, text, width, keys, problem)
    if item.kind == "lines":
        return _lines(text)
    if item.kind == "list":
        return [part.strip() for part in text.replace("،", ",").split(",") if part.strip()]
    if item.kind == "number" and item.name == "term_years":
        if not text.isdigit():
            raise FormError(item.name, N_("Give a whole number."))
        return int(text)
    return text


def event_data(form: Form, values: Values, ctx: Context) -> dict[str, Any]:
    """The event's data from the form's values (raises ``FormError`` for one it cannot read;
    the schema's own checks are the gateway's)."""
    data: dict[str, Any] = {}
    for key, value in form.fixed(ctx).items():
        _set(data, key, value)
    for item in form.fields:
        text = (values.get(item.name) or "").strip()
        if not text:
            if item.required:
                raise FormError(item.name, N_("This field is required."))
            continue
        value = _parsed(item, text)
        if item.kind == "lines" and item.name == "conditions":
            value = [{"text": line} for line in value]
        _set(data, item.target, value)
    if form.key == "grant" and "expires_on" not in data:
        try:
            start = date.fromisoformat(str(data["granted_on"]))
        except ValueError as exc:
            raise FormError("granted_on", N_("Give a date.")) from exc
        data["expires_on"] = (add_years(start, int(data["term_years"]))
                              - timedelta(days=1)).isoformat()
    return data


def field_of(form: Form, loc: list[Any]) -> str | None:
    """The form field a gateway problem's ``loc`` (``["body", "data", ...]``) points at."""
    if loc[:2] != ["body", "data"]:
        return None
    path = ".".join(str(p) for p in loc[2:] if isinstance(p, str))
    best = None
    for item in form.fields:
        if path == item.target or path.startswith(item.target + ".") \
                or item.target.startswith(path + "."):
            best = item.name
    return best


REFUSALS: Final[Mapping[str, str]] = {
    "invalid": N_("The gateway refused the form's data: see the fields marked below. Nothing "
                  "was published."),
    "time_skew": N_("The time given is too far from now for the readers to accept it (outside "
                    "any backfill window). Nothing was published."),
    "invalid_transition": N_("This step is not possible for the file in its current status. "
                             "Nothing was published."),
    "authority": N_("Your organisation holds no authority for this event here. Nothing was "
                    "published."),
    "forbidden": N_("You may not act for your organisation. Nothing was published."),
    "no_custody": N_("The gateway holds no signing key of your organisation: ask the operator "
                     "to install one. Nothing was published."),
    "in_progress": N_("This form was sent twice at once: the first is being published."),
    "queued": N_("Signed but not yet acknowledged by the broker: it will be delivered before "
                 "your organisation's next event. Send the form again for its receipt."),
    "unavailable": N_("The broker is unreachable. Nothing was published: try again later."),
    "other": N_("The gateway refused the event. Nothing was published."),
}


def refusal_message(reason: str, status: int) -> str:
    """The message id explaining a gateway refusal (``reason``: the gateway's own)."""
    if reason in REFUSALS:
        return REFUSALS[reason]
    if status == 503:  # noqa: PLR2004
        return REFUSALS["unavailable"]
    if status == 403:  # noqa: PLR2004
        return REFUSALS["authority"]
    return REFUSALS["other"]
