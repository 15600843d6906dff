"""``emining views projects|approvals|shipments``: names by default, ids with --wide, and the
key column printed whole on an 80-column terminal."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from typer.testing import CliRunner

from consumers.views.models import ApprovalView, ProjectView, ShipmentView
from consumers.views.standing import with_standing
from infra.cli import app
from infra.cli import common as cli_common
from infra.cli import views as cli_views
from infra.logging import configure_logging

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
PROJECT = "PRJ-BA-CHG-0007-NORTH-EXT"
OPERATOR_USCC = "91650100MA7XK3P2LA"
OPERATOR = "Chagai Copper and Gold Mining Company (Private) Limited"
AUTHORITY_URN = "urn:emining:pk:gov:ba-mmdd"
AUTHORITY = "Mines and Minerals Development Department, Balochistan"
TITLE = "BA-EL-2025-0153-AMENDED"
SHIPMENT = "SHP-2026-000123-LOT-A"
NAMES = {OPERATOR_USCC: OPERATOR, AUTHORITY_URN: AUTHORITY}


def _answer(item: dict[str, Any]) -> dict[str, Any]:
    return {"items": [item], "next_cursor": None, "freshness": {}}


def _project() -> dict[str, Any]:
    return ProjectView(project_id=PROJECT, operator_uscc=OPERATOR_USCC, province="PK-BA",
                       names={"en": "Chagai Hills North"}, operator_name={"en": OPERATOR},
                       stage="exploration", titles=(TITLE,),
                       updated_at=NOW).model_dump(mode="json")


def _approval() -> dict[str, Any]:
    doc = ApprovalView(ref=TITLE, kind="title", holder_uscc=OPERATOR_USCC, status="received",
                       authority=AUTHORITY_URN, province="PK-BA", received_at=NOW,
                       application_ref="MMDD/EL/2025/118", updated_at=NOW)
    return with_standing(doc.model_dump(mode="json"), date(2026, 3, 20))


def _shipment() -> dict[str, Any]:
    return ShipmentView(shipment_id=SHIPMENT, exporter_uscc=OPERATOR_USCC, status="planned",
                        project_id=PROJECT, updated_at=NOW).model_dump(mode="json")


@pytest.fixture
def views(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, Any]]:
    """The views store and the registry answer with one item each (no database, no broker)."""
    answers = {"projects": _answer(_project()), "approvals": _answer(_approval()),
               "shipments": _answer(_shipment())}

    async def page(family: str, *_: Any) -> dict[str, Any]:
        return answers[family]

    async def with_store(_work: Any) -> dict[str, Any]:
        return answers["approvals"]

    async def org_names() -> dict[str, str]:
        return NAMES

    monkeypatch.setattr(cli_views, "_page", page)
    monkeypatch.setattr(cli_views, "with_store", with_store)  # from views_common
    monkeypatch.setattr(cli_views, "_org_names", org_names)
    # a console made in this test's runner, so it reads COLUMNS=80
    monkeypatch.setattr(cli_common.console, "_console", None)
    return answers


def _run(*args: str) -> str:
    try:
        result = CliRunner().invoke(app, ["views", *args],
                                    env={"COLUMNS": "80", "EMINING_LOG_LEVEL": None})
    finally:
        configure_logging("warning")
        cli_common.console._console = None  # type: ignore[attr-defined]
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    return str(result.stdout)


def _squeezed(text: str) -> str:
    """The table's one row, cell by cell, without spaces and line breaks (a folded cell spans
    lines), joined by "|"; or a plain text without spaces, to look for in it."""
    if "│" not in text:
        return "".join(text.split())
    cells: list[str] = []
    for line in text.splitlines():
        if not line.startswith("│"):
            continue
        parts = line.strip().strip("│").split("│")
        cells += [""] * (len(parts) - len(cells))
        for n, part in enumerate(parts):
            cells[n] += "".join(part.split())
    return "|".join(cells)


@pytest.mark.parametrize(("family", "key"), [("projects", PROJECT), ("approvals", TITLE),
                                             ("shipments", SHIPMENT)])
def test_the_key_column_is_whole_on_one_line_at_80_columns(
    views: Any, family: str, key: str,
) -> None:
    for wide in ((), ("--wide",)):
        out = _run(family, *wide)
        assert any(key in line for line in out.splitlines()), out


def test_projects_show_the_operator_by_name_and_its_uscc_only_when_wide(views: Any) -> None:
    out = _squeezed(_run("projects"))
    assert _squeezed(OPERATOR) in out
    assert _squeezed("Chagai Hills North") in out
    assert OPERATOR_USCC not in out
    wide = _run("projects", "--wide")
    assert OPERATOR_USCC in _squeezed(wide)


def test_approvals_show_holder_and_authority_by_name_and_ids_only_when_wide(views: Any) -> None:
    out = _squeezed(_run("approvals"))
    assert _squeezed(AUTHORITY) in out
    assert _squeezed(OPERATOR) in out
    assert AUTHORITY_URN not in out
    assert OPERATOR_USCC not in out
    wide = _squeezed(_run("approvals", "--wide"))
    assert AUTHORITY_URN in wide
    assert OPERATOR_USCC in wide
    assert "MMDD/EL/2025/118" in wide


def test_shipments_show_the_exporter_by_name_and_its_uscc_only_when_wide(views: Any) -> None:
    out = _squeezed(_run("shipments"))
    assert _squeezed(OPERATOR) in out
    assert OPERATOR_USCC not in out
    assert OPERATOR_USCC in _squeezed(_run("shipments", "--wide"))


def test_without_the_registry_a_party_is_shown_by_its_id(
    views: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def nothing() -> dict[str, str]:
        return {}

    monkeypatch.setattr(cli_views, "_org_names", nothing)
    assert OPERATOR_USCC in _squeezed(_run("shipments"))


def test_json_is_the_views_answer_whatever_the_width(views: Any) -> None:
    import json  # noqa: PLC0415

    out = _run("approvals", "--json")
    assert json.loads(out)["items"][0]["holder_uscc"] == OPERATOR_USCC
