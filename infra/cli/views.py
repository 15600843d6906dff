"""CLI of the synchronized views, the reading half: projects, licences and approvals,
shipments, one approval or project with its timeline.

The ``views`` room is two command modules, assembled by ``infra.cli.root``: this one and
``views_run`` (run the consumer, rebuild the views from the log, their digest, what they hold
back); ``views_common`` is what they share, ``views_output`` prints this one's answers.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

import typer

from infra.cli.common import completer, console, deferred, fail, print_json, run
from infra.cli.views_common import JsonOption, with_store
from infra.cli.views_output import (
    Columns,
    english,
    flow,
    named,
    print_approval,
    print_timeline,
    show_page,
    status_of,
    taken,
    tonnes,
)
from schemas.enums import ProjectStage, Province
from schemas.errors import EminingError

if TYPE_CHECKING:
    from infra import compose
    from infra.settings import Settings
else:  # imported when a command first uses them: `emining` starts light
    compose = deferred("infra.compose")
    Settings = deferred("infra.settings", "Settings")

read_app = typer.Typer()
"""Commands of ``emining views`` (the group is made in ``infra.cli.root``)."""

Limit = Annotated[int, typer.Option(help="items per page (at most 500)")]
Cursor = Annotated[str | None, typer.Option(help="next_cursor of the previous page")]
Wide = Annotated[bool, typer.Option(
    "--wide", help="every column, with the ids behind the names (URNs, USCCs, references)")]


async def _page(family: str, filters: dict[str, Any], limit: int, cursor: str | None) -> Any:
    from consumers.store_read import list_views, offsets  # noqa: PLC0415

    async def work(store: Any, freshness: Any) -> Any:
        page = await list_views(store, family, filters, limit=limit, cursor=cursor)
        await _logged(store, family, page.items)
        fresh = await freshness.report(await offsets(store))
        return {"items": page.items, "next_cursor": page.next_cursor,
                "freshness": {t: {p: f.model_dump() for p, f in ps.items()}
                              for t, ps in fresh.items()}}

    return await with_store(work)


async def _logged(store: Any, family: str, docs: list[dict[str, Any]]) -> None:
    """Restricted fields shown on the operator's terminal go in the read log too."""
    from consumers.readlog import ReadLog  # noqa: PLC0415

    log = ReadLog(store)
    await log.create_table()
    await log.record_local(family, docs, f"emining views {family}")


@read_app.command("projects")
def projects(
    province: Annotated[str | None, typer.Option(
        autocompletion=completer(Province), help="e.g. PK-BA")] = None,
    stage: Annotated[str | None, typer.Option(
        autocompletion=completer(ProjectStage), help="e.g. production")] = None,
    operator: Annotated[str | None, typer.Option(help="operator's USCC")] = None,
    kind: Annotated[str | None, typer.Option(
        help="mine, concentrator, smelter, refinery or processing_plant")] = None,
    limit: Limit = 50, cursor: Cursor = None, wide: Wide = False, as_json: JsonOption = False,
) -> None:
    """Projects: name, kind, stage, operator, province, titles.

    The operator by name (as the project's registration gave it); --wide adds its USCC,
    inputs and outputs, deliveries received and taken, and the latest production."""
    from consumers.store_read import project_kind, province_filter, unknown_value  # noqa: PLC0415

    stages = [s.value for s in ProjectStage]
    if stage is not None and stage not in stages:
        fail(unknown_value("stage", stage, stages))
    try:
        project_kind(kind)
        province_filter(province)
    except ValueError as exc:
        fail(str(exc))
    filters = {"province": province, "status": stage, "party": operator, "kind": kind}
    answer = run(_page("projects", filters, limit, cursor))
    more: Columns = {
        "operator USCC": lambda i: i["operator_uscc"],
        "in → out": flow,
        "received (dmt)": lambda i: tonnes(i["received"]),
        "taken by plants (dmt)": lambda i: tonnes(taken(i["offtake"])),
        "latest production": lambda i: (i["latest_production"] or {}).get("period"),
    } if wide else {}
    show_page(answer, {
        "project": lambda i: i["project_id"], "name": lambda i: english(i.get("names")),
        "kind": lambda i: i["kind"], "stage": lambda i: i["stage"],
        "operator": lambda i: english(i.get("operator_name")) or i["operator_uscc"],
        "province": lambda i: i["province"], "titles": lambda i: ", ".join(i["titles"]),
        **more,
    }, as_json)


async def _org_names() -> dict[str, str]:
    """Organisations' names by URN and by USCC, from the registry on the log; empty when it
    cannot be read within a few seconds (the tables then show the ids)."""
    settings = Settings()
    try:
        registry = await asyncio.wait_for(compose.load_registry(settings), 3.0)
    except (EminingError, TimeoutError, OSError):
        return {}
    return {party: name for org in registry.orgs.values()
            if (name := english(org.names))
            for party in org.party_ids}


AsOf = Annotated[str | None, typer.Option(
    "--as-of", help="the day (YYYY-MM-DD) to compute days pending, breaches and deemed "
    "approvals for; default today in Pakistan")]


def _as_of(value: str | None) -> Any:
    from consumers.views.standing import today_in_pakistan  # noqa: PLC0415

    if value is None:
        return today_in_pakistan()
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"--as-of {value!r} is not a date (YYYY-MM-DD)")


@read_app.command("approvals")
def approvals(
    status: Annotated[list[str] | None, typer.Option(
        help="status; `pending` = undecided; `deemed_approved` includes approval by silence")
    ] = None,
    authority: Annotated[str | None, typer.Option(help="deciding agency's URN")] = None,
    province: Annotated[str | None, typer.Option(
        autocompletion=completer(Province), help="e.g. PK-BA")] = None,
    holder: Annotated[str | None, typer.Option(help="holder's USCC")] = None,
    application: Annotated[str | None, typer.Option(
        help="a licence application's own reference (the authority's file number)")] = None,
    breached: Annotated[bool, typer.Option(
        "--breached", help="only pending files past their service standard")] = False,
    as_of: AsOf = None,
    limit: Limit = 50, cursor: Cursor = None, wide: Wide = False, as_json: JsonOption = False,
) -> None:
    """Licences, environmental approvals and export LPCOs: status, authority, dues, days pending.

    Holder and authority by name (from the registry on the log, when it can be read); --wide
    adds their USCC and URN, the application's own reference, the dates and what is due."""
    from consumers.store_read import (  # noqa: PLC0415
        APPROVAL_STATUSES,
        list_approvals,
        offsets,
        province_filter,
        statuses,
    )

    try:
        statuses(status or [], APPROVAL_STATUSES)
        province_filter(province)
    except ValueError as exc:
        fail(str(exc))
    today = _as_of(as_of)
    filters = {"authority": authority, "province": province, "party": holder,
               "application_ref": application}

    async def work(store: Any, freshness: Any) -> Any:
        page = await list_approvals(store, filters, today=today, status=status or [],
                                    breached=breached, limit=limit, cursor=cursor)
        await _logged(store, "approvals", page.items)
        fresh = await freshness.report(await offsets(store))
        return {"items": page.items, "next_cursor": page.next_cursor,
                "freshness": {t: {p: f.model_dump() for p, f in ps.items()}
                              for t, ps in fresh.items()}}

    answer = run(with_store(work))
    names = {} if as_json else run(_org_names())
    more: Columns = {
        "holder USCC": lambda i: i["holder_uscc"], "authority URN": lambda i: i["authority"],
        "application": lambda i: i.get("application_ref"),
        "received": lambda i: (i["received_at"] or "")[:10] or None,
        "decided": lambda i: (i["decided_at"] or "")[:10] or None,
        "due": lambda i: ", ".join(f"{k} {v}" for k, v in sorted(i["due"].items())) or None,
    } if wide else {}
    show_page(answer, {
        "ref": lambda i: i["ref"], "kind": lambda i: i["kind"], "status": status_of,
        "holder": lambda i: named(names, i["holder_uscc"]),
        "authority": lambda i: named(names, i["authority"]),
        "days pending": lambda i: i["days_pending"],
        "standard due": lambda i: i["standard_due_on"] and (
            i["standard_due_on"] + (" BREACHED" if i["breached"] else "")),
        **more,
    }, as_json)


@read_app.command("approval")
def approval(ref: str, as_of: AsOf = None, as_json: JsonOption = False) -> None:
    """One licence, environmental approval or LPCO by its number, or a licence application by
    its own reference: its standing today and its status history."""
    from consumers.store_read import get_view, offsets, timeline  # noqa: PLC0415
    from consumers.views.standing import with_standing  # noqa: PLC0415

    today = _as_of(as_of)

    async def work(store: Any, freshness: Any) -> Any:
        doc = await get_view(store, "approvals", ref)
        await _logged(store, "approvals", [doc] if doc else [])
        history = await timeline(store, doc["ref"] if doc else ref, limit=500)
        fresh = await freshness.report(await offsets(store))
        return {"item": doc and with_standing(doc, today), "timeline": history.items,
                "freshness": {t: {p: f.model_dump() for p, f in ps.items()}
                              for t, ps in fresh.items()}}

    answer = run(with_store(work))
    if answer["item"] is None:
        fail(f"no approval {ref} in the views")
    if as_json:
        print_json(answer)
        return
    print_approval(answer)


@read_app.command("shipments")
def shipments(
    status: Annotated[list[str] | None, typer.Option(help="e.g. held")] = None,
    exporter: Annotated[str | None, typer.Option(help="exporter's USCC")] = None,
    limit: Limit = 50, cursor: Cursor = None, wide: Wide = False, as_json: JsonOption = False,
) -> None:
    """Shipments: status, exporter, current leg, holds, approvals relied on.

    The exporter by name (from the registry on the log, when it can be read); --wide adds its
    USCC and the project the cargo comes from."""
    from consumers.store_read import SHIPMENT_STATUSES, statuses  # noqa: PLC0415

    try:
        wanted = statuses(status or [], SHIPMENT_STATUSES)
    except ValueError as exc:
        fail(str(exc))
    answer = run(_page("shipments", {"status": wanted, "party": exporter}, limit, cursor))
    names = {} if as_json else run(_org_names())
    more: Columns = {"exporter USCC": lambda i: i["exporter_uscc"],
                     "project": lambda i: i.get("project_id")} if wide else {}
    show_page(answer, {
        "shipment": lambda i: i["shipment_id"], "status": lambda i: i["status"],
        "exporter": lambda i: named(names, i["exporter_uscc"]), **more,
        "leg": lambda i: i["leg"] and f"{i['leg']['origin']} → {i['leg']['destination']}",
        "on hold": lambda i: "yes" if i["on_hold"] else "no",
        "approvals": lambda i: ", ".join(i["approvals"]) or None,
        "exceptions": lambda i: ", ".join(i["exceptions"]) or None,
    }, as_json)


@read_app.command("project")
def project(project_id: str, as_json: JsonOption = False) -> None:
    """One project and its timeline."""
    from consumers.store_read import get_view, offsets, timeline  # noqa: PLC0415

    async def work(store: Any, freshness: Any) -> Any:
        doc = await get_view(store, "projects", project_id)
        await _logged(store, "projects", [doc] if doc else [])
        history = await timeline(store, project_id, limit=500)
        fresh = await freshness.report(await offsets(store))
        return {"item": doc, "timeline": history.items,
                "freshness": {t: {p: f.model_dump() for p, f in ps.items()}
                              for t, ps in fresh.items()}}

    answer = run(with_store(work))
    if answer["item"] is None:
        fail(f"no project {project_id} in the views")
    if as_json:
        print_json(answer)
        return
    item = answer["item"]
    console.print(f"[bold]{item['project_id']}[/] {(item['names'] or {}).get('en', '')} — "
                  f"{item['kind']}, {item['stage']}, operator {item['operator_uscc']}",
                  highlight=False)
    if flow(item):
        console.print(f"inputs → outputs: {flow(item)}", highlight=False)
    for line in item["received_from"]:
        console.print(f"received {line['product']} from {line['supplier_project_id']}: "
                      f"{line['dmt']} dmt in {line['deliveries']} deliveries "
                      f"({line['first_on']} to {line['last_on']})", highlight=False)
    for line in item["offtake"]:
        console.print(f"taken by {line['plant_project_id']} ({line['plant_kind']}): "
                      f"{line['dmt']} dmt {line['product']} in {line['deliveries']} deliveries "
                      f"({line['first_on']} to {line['last_on']})"
                      + ("" if line.get("confirmed", True) else
                         "; unconfirmed: the plant named another firm as this project's "
                         "operator"), highlight=False)
    print_timeline(answer)


