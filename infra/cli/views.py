"""CLI of the synchronized views: run the consumer, query the views, rebuild them from the log."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from infra.cli.common import (
    completer,
    console,
    deferred,
    err_console,
    fail,
    key_table,
    print_json,
    run,
)
from schemas.enums import ProjectStage, Province
from schemas.errors import EminingError

if TYPE_CHECKING:
    from rich.table import Table

    from infra import compose
    from infra.kafka_settings import kafka_access
    from infra.logging import configure_logging
    from infra.settings import Settings
    from transport.access import KafkaAccess
else:  # imported when a command first uses them: `emining` starts light
    Table = deferred("rich.table", "Table")
    compose = deferred("infra.compose")
    kafka_access = deferred("infra.kafka_settings", "kafka_access")
    configure_logging = deferred("infra.logging", "configure_logging")
    Settings = deferred("infra.settings", "Settings")
    KafkaAccess = deferred("transport.access", "KafkaAccess")

views_app = typer.Typer(
    help="Synchronized views: projects, licences and approvals, shipments, timelines.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="print JSON")]
Limit = Annotated[int, typer.Option(help="items per page (at most 500)")]
Cursor = Annotated[str | None, typer.Option(help="next_cursor of the previous page")]
Wide = Annotated[bool, typer.Option(
    "--wide", help="every column, with the ids behind the names (URNs, USCCs, references)")]
Columns = dict[str, Callable[[dict[str, Any]], Any]]


async def _with_store(work: Callable[[Any, Any], Awaitable[Any]]) -> Any:
    """Run ``work(store, freshness)``; freshness answers without a broker (end offsets null)."""
    from consumers.config import ViewTopics  # noqa: PLC0415
    from consumers.freshness import Freshness  # noqa: PLC0415
    from consumers.store import ViewStore  # noqa: PLC0415

    settings = Settings()
    try:
        kafka: KafkaAccess | None = kafka_access(settings)
    except EminingError:
        kafka = None
    store = ViewStore(settings.views_store_url)
    freshness = Freshness(kafka, ViewTopics().consumed(), timeout_s=3.0)
    try:
        await store.open()
        return await work(store, freshness)
    finally:
        await freshness.close()
        await store.close()


async def _page(family: str, filters: dict[str, Any], limit: int, cursor: str | None) -> Any:
    from consumers.store_read import list_views, offsets  # noqa: PLC0415

    async def work(store: Any, freshness: Any) -> Any:
        page = await list_views(store, family, filters, limit=limit, cursor=cursor)
        await _logged(store, family, page.items)
        fresh = await freshness.report(await offsets(store))
        return {"items": page.items, "next_cursor": page.next_cursor,
                "freshness": {t: {p: f.model_dump() for p, f in ps.items()}
                              for t, ps in fresh.items()}}

    return await _with_store(work)


async def _logged(store: Any, family: str, docs: list[dict[str, Any]]) -> None:
    """Restricted fields shown on the operator's terminal go in the read log too."""
    from consumers.readlog import ReadLog  # noqa: PLC0415

    log = ReadLog(store)
    await log.create_table()
    await log.record_local(family, docs, f"emining views {family}")


def _freshness_line(freshness: dict[str, dict[str, dict[str, Any]]]) -> str:
    parts = [f for ps in freshness.values() for f in ps.values()]
    if not parts:
        return "views: nothing applied yet"
    lags = [f["lag"] for f in parts if f["lag"] is not None]
    applied = sum(f["applied_offset"] + 1 for f in parts if f["applied_offset"] is not None)
    lag = f"lag {sum(lags)} record(s)" if len(lags) == len(parts) else "lag unknown (no broker)"
    return f"views: {applied} record(s) applied over {len(parts)} partition(s), {lag}"


def _show(answer: dict[str, Any], columns: Columns, as_json: bool) -> None:
    """A page as a table whose first column is the key: printed whole however narrow the
    terminal (the other columns fold), so it can be copied into the next command."""
    if as_json:
        print_json(answer)
        return
    rows = [[_cell(fn(item)) for fn in columns.values()] for item in answer["items"]]
    console.print(key_table(list(columns), rows))
    if answer["next_cursor"]:
        console.print(f"more: --cursor {answer['next_cursor']}", highlight=False)
    console.print(_freshness_line(answer["freshness"]), style="dim", highlight=False)


@views_app.command("projects")
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
        "in → out": _flow,
        "received (dmt)": lambda i: _tonnes(i["received"]),
        "taken by plants (dmt)": lambda i: _tonnes(_taken(i["offtake"])),
        "latest production": lambda i: (i["latest_production"] or {}).get("period"),
    } if wide else {}
    _show(answer, {
        "project": lambda i: i["project_id"], "name": lambda i: _en(i.get("names")),
        "kind": lambda i: i["kind"], "stage": lambda i: i["stage"],
        "operator": lambda i: _en(i.get("operator_name")) or i["operator_uscc"],
        "province": lambda i: i["province"], "titles": lambda i: ", ".join(i["titles"]),
        **more,
    }, as_json)


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


def _en(names: dict[str, Any] | None) -> str | None:
    """A name in English (else any language it has), as the views store ``Names``."""
    if not names:
        return None
    found = names.get("en") or next((v for v in names.values() if v), None)
    return None if found is None else str(found)


async def _org_names() -> dict[str, str]:
    """Organisations' names by URN and by USCC, from the registry on the log; empty when it
    cannot be read within a few seconds (the tables then show the ids)."""
    settings = Settings()
    try:
        registry = await asyncio.wait_for(compose.load_registry(settings), 3.0)
    except (EminingError, TimeoutError, OSError):
        return {}
    return {party: name for org in registry.orgs.values()
            if (name := _en(org.names))
            for party in org.party_ids}


def _named(names: dict[str, str], party: str | None) -> str | None:
    return None if party is None else names.get(party, party)


def _flow(item: dict[str, Any]) -> str | None:
    ins, outs = ", ".join(item["inputs"]), ", ".join(item["outputs"])
    if not ins and not outs:
        return None
    return f"{ins} → {outs}" if ins else f"→ {outs}"


def _taken(offtake: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A project's offtake added up by product (over the plants that took it)."""
    from decimal import Decimal  # noqa: PLC0415

    totals: dict[str, dict[str, Any]] = {}
    for line in offtake:
        if not line.get("confirmed", True):
            continue  # the plant named another firm as the supplier: its word only
        entry = totals.setdefault(line["product"], {"dmt": Decimal(0)})
        entry["dmt"] += Decimal(str(line["dmt"]))
    return totals


def _tonnes(by_product: dict[str, dict[str, Any]]) -> str | None:
    return ", ".join(f"{p} {t['dmt']}" for p, t in sorted(by_product.items())) or None


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


def _status_of(item: dict[str, Any]) -> str | None:
    effective = item.get("effective_status")
    if effective is not None and effective != item["status"]:
        return f"{effective} (by law; recorded {item['status']})"
    status: str | None = item["status"]
    return status


@views_app.command("approvals")
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

    answer = run(_with_store(work))
    names = {} if as_json else run(_org_names())
    more: Columns = {
        "holder USCC": lambda i: i["holder_uscc"], "authority URN": lambda i: i["authority"],
        "application": lambda i: i.get("application_ref"),
        "received": lambda i: (i["received_at"] or "")[:10] or None,
        "decided": lambda i: (i["decided_at"] or "")[:10] or None,
        "due": lambda i: ", ".join(f"{k} {v}" for k, v in sorted(i["due"].items())) or None,
    } if wide else {}
    _show(answer, {
        "ref": lambda i: i["ref"], "kind": lambda i: i["kind"], "status": _status_of,
        "holder": lambda i: _named(names, i["holder_uscc"]),
        "authority": lambda i: _named(names, i["authority"]),
        "days pending": lambda i: i["days_pending"],
        "standard due": lambda i: i["standard_due_on"] and (
            i["standard_due_on"] + (" BREACHED" if i["breached"] else "")),
        **more,
    }, as_json)


@views_app.command("approval")
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

    answer = run(_with_store(work))
    if answer["item"] is None:
        fail(f"no approval {ref} in the views")
    if as_json:
        print_json(answer)
        return
    _print_approval(answer)


def _print_approval(answer: dict[str, Any]) -> None:
    i = answer["item"]
    console.print(f"[bold]{i['ref']}[/] {i['kind']} — {_status_of(i)}, holder "
                  f"{i['holder_uscc']}, authority {i['authority'] or '-'}", highlight=False)
    lines = [(f"as of {i['as_of']}: received {(i['received_at'] or '-')[:10]}, "
             f"decided {(i['decided_at'] or '-')[:10]}")]
    if i["days_pending"] is not None:
        lines.append(f"pending {i['days_pending']} day(s)")
    if i["standard_due_on"]:
        lines.append(f"standard due {i['standard_due_on']}"
                     + (" — BREACHED" if i["breached"] else ""))
    if i["due"]:
        lines.append("due: " + ", ".join(f"{k} {v}" for k, v in sorted(i["due"].items())))
    console.print("\n".join(lines), highlight=False)
    spent = Table("status", "days in status")
    for name, seconds in i["time_in_state"].items():
        spent.add_row(name, f"{seconds / 86400:.1f}")
    if i["status"] is not None:
        spent.add_row(f"{i['status']} (current, since {(i['state_since'] or '-')[:10]})", "-")
    console.print(spent)
    _print_timeline(answer)


@views_app.command("shipments")
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
    _show(answer, {
        "shipment": lambda i: i["shipment_id"], "status": lambda i: i["status"],
        "exporter": lambda i: _named(names, i["exporter_uscc"]), **more,
        "leg": lambda i: i["leg"] and f"{i['leg']['origin']} → {i['leg']['destination']}",
        "on hold": lambda i: "yes" if i["on_hold"] else "no",
        "approvals": lambda i: ", ".join(i["approvals"]) or None,
        "exceptions": lambda i: ", ".join(i["exceptions"]) or None,
    }, as_json)


@views_app.command("project")
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

    answer = run(_with_store(work))
    if answer["item"] is None:
        fail(f"no project {project_id} in the views")
    if as_json:
        print_json(answer)
        return
    item = answer["item"]
    console.print(f"[bold]{item['project_id']}[/] {(item['names'] or {}).get('en', '')} — "
                  f"{item['kind']}, {item['stage']}, operator {item['operator_uscc']}",
                  highlight=False)
    if _flow(item):
        console.print(f"inputs → outputs: {_flow(item)}", highlight=False)
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
    _print_timeline(answer)


def _print_timeline(answer: dict[str, Any]) -> None:
    """A subject's history as a table, then how fresh the views are."""
    table = Table("#", "time", "event", "by", "note")
    for e in answer["timeline"]:
        note = "superseded by " + e["superseded_by"] if e["superseded_by"] else ""
        table.add_row(str(e["position"]), e["time"][:19], e["summary"], e["source"], note)
    console.print(table)
    console.print(_freshness_line(answer["freshness"]), style="dim", highlight=False)


@views_app.command("rebuild")
def rebuild(
    dlq: Annotated[bool, typer.Option(help="also send rejections to the DLQ again")] = False,
    as_json: JsonOption = False,
) -> None:
    """Replay the log from offset zero into a fresh generation, swap it in, print the digest."""
    from consumers.rebuild import rebuild as replay  # noqa: PLC0415

    config = _config_or_fail()
    # The spinner and any log line go to stderr (stdout is the result); the spinner is drawn
    # only on a terminal, and log lines written while it spins are printed above it.
    with err_console.status("replaying the shared topics from offset 0…"):
        result = run(replay(config, publish_dlq=dlq))
    if as_json:
        print_json(result.as_dict())
        return
    console.print(f"rebuilt generation {result.generation}: {result.applied} applied, "
                  f"{result.rejected} rejected in {result.seconds:.1f}s\n"
                  f"digest {result.digest.sha256}", highlight=False)


@views_app.command("digest")
def digest(as_json: JsonOption = False) -> None:
    """The digest of the live views' content (the same log always gives the same digest)."""
    from consumers.digest import digest as compute  # noqa: PLC0415

    async def work(store: Any, _: Any) -> Any:
        return await compute(store)

    found = run(_with_store(work))
    if as_json:
        print_json(found.as_dict())
        return
    console.print(found.sha256, highlight=False)


def _held_for(held_at: object, now: datetime) -> float | None:
    """Seconds since a stored ``held_at``; ``None`` if it cannot be read."""
    try:
        return round((now - datetime.fromisoformat(str(held_at))).total_seconds(), 1)
    except (TypeError, ValueError):
        return None


@views_app.command("held")
def held(as_json: JsonOption = False) -> None:
    """Records the views hold back: a source's chain has a gap or a fork, or they follow one."""
    from consumers.holding import held_records  # noqa: PLC0415

    async def work(store: Any, _: Any) -> Any:
        async with store.reading() as (conn, tables):
            return await held_records(conn, tables)

    rows = run(_with_store(work))
    now = datetime.now(UTC)
    for r in rows:  # how long: a gap is alerted only past views_gap_grace_s
        r["held_for_s"] = _held_for(r["held_at"], now)
    if as_json:
        print_json({"held": rows})
        return
    table = Table("source", "sequence", "reason", "subject", "event id", "where", "held at",
                  "held for")
    for r in rows:
        table.add_row(r["source"], str(r["sequence"]), r["reason"], r["subject"], r["event_id"],
                      f"{r['topic']}[{r['log_partition']}]@{r['log_offset']}", r["held_at"],
                      "?" if r["held_for_s"] is None else f"{r['held_for_s']:.0f}s")
    console.print(table)
    console.print(f"{len(rows)} record(s) held", highlight=False)


InstanceId = Annotated[str | None, typer.Option(
    "--instance-id", help="static group membership id, one per process (default "
    "EMINING_VIEWS_INSTANCE): a process restarted with it within the session timeout gets its "
    "partitions back without a rebalance")]


@views_app.command("run")
def run_consumer(instance_id: InstanceId = None) -> None:
    """Keep the views in step and raise and deliver the alerts, until SIGINT or SIGTERM.

    Several processes (one --instance-id each) may run on one PostgreSQL store: they share
    the partitions of the group, and the store applies their batches one after the other."""
    settings = Settings()
    configure_logging(settings.log_level or "info", settings.log_format)  # a service: info
    chosen = None if instance_id is None else instance_id.strip()
    config = _config_or_fail(chosen or None)
    if chosen == "":
        fail("--instance-id must not be empty")
    compose.serve_views_metrics(settings)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await compose.run_views(settings, config, stop)

    run(main())


def _config_or_fail(instance_id: str | None = None) -> Any:
    try:
        return compose.views_config(Settings(), instance_id=instance_id)
    except EminingError as exc:
        fail(str(exc))
