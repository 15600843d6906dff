"""Lead-time statistics, deadline breaches, the EITI register and the HTML page, from known data."""

from __future__ import annotations

import statistics
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser

import pytest

from consumers.audit.dataset import Dataset, Entry
from consumers.audit.exports import LICENCE_REGISTER, tables, to_json, write_csv
from consumers.audit.html import render
from consumers.audit.leadtimes import percentile
from consumers.audit.report import build_report
from consumers.views.facts import day_start
from consumers.views.models import ApprovalKind, ApprovalStatus, ApprovalView, ShipmentView
from schemas.common import Province, TitleType
from schemas.measures import Quantity
from schemas.standards import Standards

BA = "urn:emining:pk:gov:ba-mmdd"
USCC = "91650100MA7XK3P2LA"
RECEIVED = datetime(2025, 1, 6, 5, tzinfo=UTC)
NOW = datetime(2025, 12, 31, tzinfo=UTC)


def _title(n: int, lead_days: int | None, *, due: date | None = None) -> ApprovalView:
    decided = None if lead_days is None else RECEIVED + timedelta(days=lead_days)
    return ApprovalView(
        ref=f"BA-EL-2025-{n:04d}", kind=ApprovalKind.TITLE, holder_uscc=USCC,
        status=ApprovalStatus.ACKNOWLEDGED if decided is None else ApprovalStatus.GRANTED,
        authority=BA, province=Province.BALOCHISTAN, title_type=TitleType.EXPLORATION_LICENCE,
        received_at=RECEIVED, decided_at=decided, minerals=("copper",),
        granted_on=decided.date() if decided else None, area_km2=Decimal("12.5"),
        updated_at=decided or RECEIVED,
    )


def _entry(subject: str, type_name: str, data: dict[str, object]) -> Entry:
    return Entry(subject, 1, type_name, RECEIVED, f"{BA}/app", type_name, data, correction=False)


@pytest.fixture
def data() -> Dataset:
    views = [_title(1, 10), _title(2, 20), _title(3, 30), _title(4, 40), _title(5, None)]
    shipment = ShipmentView(
        shipment_id="SHP-2025-000001", exporter_uscc=USCC, product="copper_concentrate",
        hs_code="26030000", exit_point="port_qasim", updated_at=NOW,
        quantity=Quantity(wmt=Decimal(1000), moisture_pct=Decimal("8.5"), dmt=Decimal(915)))
    timelines = {
        views[3].ref: [_entry(views[3].ref, "approval.licence.application.acknowledged",
                              {"decision_due_on": "2025-02-05"})],
        views[0].ref: [_entry(views[0].ref, "approval.licence.application.received", {
            "boundary": [{"lat": "29.0", "lon": "61.8"}, {"lat": "29.1", "lon": "61.9"},
                         {"lat": "29.0", "lon": "61.9"}, {"lat": "29.0", "lon": "61.8"}],
            "district": "Chagai"}),
                       _entry(views[0].ref, "approval.licence.granted", {"term_years": 3})],
    }
    return Dataset(approvals={v.ref: v for v in views},
                   shipments={shipment.shipment_id: shipment}, timelines=timelines,
                   names={BA: "Mines & Minerals Development Department, Balochistan",
                          USCC: "MCC Chagai Resources Co., Ltd."})


def test_p90_interpolates_like_the_inclusive_quantiles():
    values = [10.0, 20.0, 30.0, 40.0]
    assert percentile(values, 0.9) == pytest.approx(37.0)
    assert percentile(values, 0.9) == pytest.approx(
        statistics.quantiles(values, n=10, method="inclusive")[8])
    assert percentile([5.0], 0.9) == 5.0


def test_lead_times_per_agency_and_title_type(data):
    report = build_report(data, standards=Standards(), as_of=None, digest="d" * 64, records=9,
                          now=NOW)
    [row] = [r for r in report.lead_times if r.kind == "title"]
    assert (row.authority, row.category, row.decided, row.pending) == (BA, "EL", 4, 1)
    assert row.median_days == pytest.approx(25.0)
    assert row.p90_days == pytest.approx(37.0)
    assert row.standard_days == 60  # schemas.standards: EL
    assert row.within_standard == 3  # file 4 was due 2025-02-05, the agency's own date


def test_breaches_name_the_late_and_the_overdue(data):
    report = build_report(data, standards=Standards(), as_of=None, digest="d" * 64, records=9,
                          now=NOW)
    by_ref = {b.ref: b for b in report.breaches}
    assert set(by_ref) == {"BA-EL-2025-0004", "BA-EL-2025-0005"}
    assert by_ref["BA-EL-2025-0004"].days_late == 10  # decided 2025-02-15, due 2025-02-05
    assert by_ref["BA-EL-2025-0004"].what == "decided late"
    overdue = by_ref["BA-EL-2025-0005"]
    assert overdue.due_on == date(2025, 3, 7)  # received (PKT) + 60 days
    assert overdue.days_late == (NOW.date() - date(2025, 3, 7)).days
    assert overdue.what == "overdue, still undecided"


def test_days_waiting_on_the_applicant_move_the_audits_due_date_as_the_views(data):
    """The audit's deadline is the views' (``standard_due_on``): receipt + 60 days for an EL,
    the days spent deficient added; while deficient, no deadline runs."""
    from consumers.views.standing import standard_due_on  # noqa: PLC0415

    waited = data.approvals["BA-EL-2025-0005"].model_copy(update={
        "status": ApprovalStatus.RESUBMITTED, "time_in_state": {"deficient": 20 * 86400}})
    deficient = waited.model_copy(update={"ref": "BA-EL-2025-0006",
                                          "status": ApprovalStatus.DEFICIENT})
    data.approvals.update({waited.ref: waited, deficient.ref: deficient})
    report = build_report(data, standards=Standards(), as_of=None, digest="d" * 64, records=9,
                          now=NOW)
    by_ref = {b.ref: b for b in report.breaches}
    assert by_ref["BA-EL-2025-0005"].due_on == date(2025, 3, 27) == standard_due_on(waited)
    assert "BA-EL-2025-0006" not in by_ref  # waiting on the applicant


def test_a_standard_can_be_overridden(data):
    report = build_report(data, standards=Standards().with_overrides({"EL": 15}),
                          as_of=None, digest="d" * 64, records=9, now=NOW)
    [row] = [r for r in report.lead_times if r.kind == "title"]
    assert (row.standard_days, row.within_standard) == (15, 1)


class _Cells(HTMLParser):
    """Collects ``data-field`` cells per row (keyed by the row's data attributes) and ids."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[tuple[tuple[str, str | None], ...], dict[str, str]] = {}
        self.ids: dict[str, str] = {}
        self._row: tuple[tuple[str, str | None], ...] = ()
        self._field: str | None = None

    def handle_starttag(self, tag, attrs):
        data = tuple((k, v) for k, v in attrs if k.startswith("data-"))
        if tag == "tr":
            self._row = data
            self.rows.setdefault(data, {})
        self._field = dict(attrs).get("data-field") or dict(attrs).get("id")

    def handle_data(self, text):
        if self._field and text.strip():
            target = self.rows[self._row] if self._row else self.ids
            target[self._field] = text.strip()
            self._field = None


def test_the_page_shows_the_numbers_and_is_self_contained(data):
    report = build_report(data, standards=Standards(), as_of=None, digest="d" * 64, records=9,
                          now=NOW)
    page = render(report)
    cells = _Cells()
    cells.feed(page)
    row = cells.rows[(("data-kind", "title"), ("data-authority", BA), ("data-category", "EL"))]
    assert row == {"decided": "4", "pending": "1", "median_days": "25.0", "p90_days": "37.0",
                   "standard_days": "60", "within_standard": "3 (75%)"}
    assert cells.ids["breach-count"] == "2"
    assert cells.ids["digest"] == "d" * 64
    shipped = cells.rows[(("data-mineral", "copper"), ("data-heading", "2603"),
                          ("data-exit", "port_qasim"))]
    assert shipped == {"shipments": "1", "dmt": "915.000", "delivered": "0"}
    assert "<svg" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page
    assert "<script" not in page


def test_the_licence_register_has_the_eiti_fields(data, tmp_path):
    report = build_report(data, standards=Standards(), as_of=None, digest="d" * 64, records=9,
                          now=NOW)
    register = {row["title_number"]: row for row in tables(report)[LICENCE_REGISTER]}
    first = register["BA-EL-2025-0001"]
    assert first["holder_name"] == "MCC Chagai Resources Co., Ltd."
    assert first["holder_uscc"] == USCC
    assert first["coordinates_wkt"] == "POLYGON((61.8 29.0, 61.9 29.1, 61.9 29.0, 61.8 29.0))"
    assert first["application_date"] == "2025-01-06"
    assert first["award_date"] == "2025-01-16"
    assert first["duration_years"] == "3"
    assert first["commodity"] == "copper"
    written = write_csv(report, tmp_path)
    assert (tmp_path / LICENCE_REGISTER) in written
    header = (tmp_path / LICENCE_REGISTER).read_text(encoding="utf-8-sig").splitlines()[0]
    for column in ("holder_name", "coordinates_wkt", "application_date", "award_date",
                   "duration_years", "commodity"):
        assert column in header
    assert to_json(report)["lead_times"][0]["median_days"] == pytest.approx(25.0)


def test_dates_count_from_midnight_in_pakistan():
    assert day_start(date(2025, 1, 16)) == datetime(2025, 1, 15, 19, tzinfo=UTC)
