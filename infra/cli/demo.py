"""``emining demo``: the platform end to end: broker, services, a year of signed events, audit."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from infra.cli.common import console, deferred, err_console, fail, print_json, run
from schemas.errors import EminingError

if TYPE_CHECKING:
    from rich.panel import Panel
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from infra import compose
    from infra.demo import checkpoints, run_summary, security
    from infra.demo.people import sign_ins
    from infra.demo.run import (
        ScenarioPublisher,
        Services,
        audit_env,
        child_env,
        demo_dir,
        free_port,
        gateway_credentials,
        kafka_env,
    )
    from infra.demo.scenario import generate
    from infra.demo.setup import prepare
    from infra.settings import Settings
    from producers.gateway_auth import ApiKeyStore
else:  # imported when a command first uses them: `emining` starts light
    Panel = deferred("rich.panel", "Panel")
    BarColumn = deferred("rich.progress", "BarColumn")
    MofNCompleteColumn = deferred("rich.progress", "MofNCompleteColumn")
    Progress = deferred("rich.progress", "Progress")
    TextColumn = deferred("rich.progress", "TextColumn")
    TimeElapsedColumn = deferred("rich.progress", "TimeElapsedColumn")
    Table = deferred("rich.table", "Table")
    compose = deferred("infra.compose")
    run_summary = deferred("infra.demo.run_summary")
    security = deferred("infra.demo.security")
    checkpoints = deferred("infra.demo.checkpoints")
    sign_ins = deferred("infra.demo.people", "sign_ins")
    ScenarioPublisher = deferred("infra.demo.run", "ScenarioPublisher")
    Services = deferred("infra.demo.run", "Services")
    audit_env = deferred("infra.demo.run", "audit_env")
    child_env = deferred("infra.demo.run", "child_env")
    demo_dir = deferred("infra.demo.run", "demo_dir")
    free_port = deferred("infra.demo.run", "free_port")
    gateway_credentials = deferred("infra.demo.run", "gateway_credentials")
    kafka_env = deferred("infra.demo.run", "kafka_env")
    generate = deferred("infra.demo.scenario", "generate")
    prepare = deferred("infra.demo.setup", "prepare")
    Settings = deferred("infra.settings", "Settings")
    ApiKeyStore = deferred("producers.gateway_auth", "ApiKeyStore")

CATCH_UP_S = 300.0
"""How long the views may take to catch up with the log before the demo gives up."""


@contextmanager
def _progress(enabled: bool) -> Iterator[Progress]:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True, disable=not enabled) as bar:
        yield bar


async def _demo(settings: Settings, services: Services, seed: int, scale: float,
                bar: Progress) -> dict[str, Any]:
    timings: dict[str, float] = {}
    clock = time.monotonic()
    task = bar.add_task("starting Kafka, applying topics, seeding the registry", total=None)
    dep = await prepare(settings)
    scenario = generate(seed, scale=scale)
    env = child_env(settings, dep.kafka)
    firm, _, auditor = security.refusal_parties(dep)
    bar.update(task, description="applying the registry's ACLs, issuing credentials")
    principals = await security.secure(dep, demo_dir(settings) / "credentials",
                                       [*scenario.organisations("import"), firm, auditor])
    tokens = gateway_credentials(settings, dep, scenario.organisations("http"))
    people = await sign_ins(settings)
    # The demo checks the views as the platform's operator: the one reader who sees every field.
    from schemas.alerts import PLATFORM_ORG  # noqa: PLC0415 - keep start-up light

    operator = {"Authorization": "Bearer " + ApiKeyStore(settings.api_keys_path).issue(
        PLATFORM_ORG, replace=True)}
    timings["broker_and_registry_s"] = time.monotonic() - clock
    bar.update(task, description="starting the gateway and the views consumer")
    if principals is None:
        services.start(env)
    else:  # each service as its own principal, with only the rights its code needs
        services.start(env, {"serve": kafka_env(principals.services["gateway"])
                             | audit_env(principals.services["audit"]),
                             "views": kafka_env(principals.services["alerts"])})
    health = await services.wait_healthy()
    timings["services_s"] = time.monotonic() - clock - sum(timings.values())

    def on_publish(what: str, done: int, total: int) -> None:
        bar.update(task, description=what, completed=done, total=total)

    publisher = ScenarioPublisher(settings, dep, scenario, env, services.url, tokens,
                                  org_access=principals.orgs if principals else {})
    tally = await publisher.publish(on_publish)
    timings["publish_s"] = time.monotonic() - clock - sum(timings.values())

    def on_lag(lag: int, first: int) -> None:
        bar.update(task, description=f"views catching up ({lag} records behind)",
                   completed=max(first - lag, 0), total=max(first, 1))

    await run_summary.wait_caught_up(services.url, CATCH_UP_S, on_lag, services.check_alive,
                                     operator)
    timings["views_catch_up_s"] = time.monotonic() - clock - sum(timings.values())
    bar.update(task, description="reading the views, the alerts; auditing the log",
               completed=0, total=None)
    views = await run_summary.read_views(services.url, operator)
    check = run_summary.compare(views, scenario)
    alerts = await run_summary.settled_alerts(dep.kafka, dep.registry,
                                              compose.trust_anchor(settings),
                                              settings.client_timeout_s)
    auditing = env if principals is None else env | kafka_env(principals.services["audit"])
    audit = await run_summary.audit(scenario, auditing)
    report = await run_summary.write_report(demo_dir(settings) / "report.html", auditing)
    console_verify = await run_summary.console_audit(services.url, people)
    refusals = [] if principals is None else await security.refusals(dep, principals)
    bar.update(task, description="checkpointing the log, cosigning (one witness per side)")
    witnessed = await checkpoints.checkpoint_and_witness(settings, dep, principals)
    timings["summary_and_audit_s"] = time.monotonic() - clock - sum(timings.values())
    timings["total_s"] = time.monotonic() - clock
    url = services.url
    return {
        "seed": seed, "scale": scale, "bootstrap": dep.kafka.bootstrap,
        "state_dir": str(settings.state_dir),
        "organisations": len(dep.registry.orgs), "onboarded_now": dep.onboarded,
        "gateway_health": health,
        "published": {"skipped_already_on_log": tally.skipped, "by_path": tally.published,
                      "attacks": tally.attacks, "resumed_at_batch": tally.resumed_at_batch,
                      "seconds_by_path": {k: round(v, 1) for k, v in tally.path_seconds.items()},
                      "scenario_events": len(scenario.steps),
                      "scenario_by_path": scenario.counts_by_path()},
        "views": {
            "projects": len(views["projects"]), "approvals": len(views["approvals"]),
            "shipments_total": len(views["shipments"]),
            "projects_by_stage": run_summary.projects_by_stage(views),
            "pending_approvals": run_summary.pending_approvals(views, scenario),
            "deemed_approved": scenario.expected.deemed_approved.to_json(),
            "shipments": run_summary.shipments_summary(views),
        },
        "check": {"views_match_scenario": check.ok, "checked": check.checked,
                  "mismatches": check.mismatches[:50],
                  "expected_projects_by_stage": scenario.expected.projects_by_stage(),
                  "expected_held": list(scenario.expected.held())},
        "alerts": alerts,
        "audit": audit,
        "broker_security": {
            "mode": settings.kafka_security,
            "principals": {} if principals is None else {
                "services": {name: a.principal for name, a in principals.services.items()},
                "organisations": len(principals.orgs)},
            "refusals": refusals,
            "all_refused": all(r["refused"] for r in refusals),
        },
        "report": report,
        "checkpoints": witnessed,
        "console_verify": console_verify,
        "urls": {"console": f"{url}/", "docs": f"{url}/docs", "projects": f"{url}/v1/projects",
                 "approvals": f"{url}/v1/approvals", "shipments": f"{url}/v1/shipments",
                 "health": f"{url}/v1/health", "metrics": f"{url}/metrics"},
        "sign_ins": people,
        "logs": str(services.logs),
        "timings": {k: round(v, 1) for k, v in timings.items()},
    }


def demo(
    seed: Annotated[int, typer.Option(help="the scenario's seed (same seed, same year)")] = 2026,
    scale: Annotated[float, typer.Option(help="routine traffic multiplier (0.2: small year)")]
    = 1.0,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
    keep_running: Annotated[
        bool | None,
        typer.Option("--keep-running/--no-keep-running",
                     help="keep the gateway and views up until Ctrl-C (default: on a terminal)"),
    ] = None,
) -> None:
    """Bring the platform up, publish a year of signed events (SDK, CLI import, HTTP), inject
    forged records, wait for the views, then show them, the alerts and the audit's verdict."""
    settings = Settings()
    keep = keep_running if keep_running is not None else (sys.stdout.isatty() and not as_json)
    services = Services(free_port(), demo_dir(settings) / "logs")
    try:
        with _progress(err_console.is_terminal) as bar:
            result = run(_demo(settings, services, seed, scale, bar))
        if as_json:
            print_json(result)
        else:
            show(result)
        if keep:
            console.print(f"\n[bold]running[/]: console at {services.url}/, API at "
                          f"{services.url}/docs; views and gateway "
                          f"logs in {services.logs}. [bold]Ctrl-C[/] stops everything.",
                          highlight=False)
            while True:
                services.check_alive()
                time.sleep(1.0)
    except KeyboardInterrupt:
        err_console.print("\n[yellow]interrupted: stopping the gateway and the views…[/]")
        services.stop()
        raise typer.Exit(130) from None
    except (EminingError, RuntimeError, TimeoutError) as exc:
        services.stop()
        fail(str(exc))
    finally:
        services.stop()


def show(r: dict[str, Any]) -> None:
    """The summary for a person at a terminal, section by section."""
    _show_header(r)
    _show_views(r["views"])
    _show_alerts(r["alerts"])
    _show_audit(r["audit"])
    _show_security(r["broker_security"])
    _show_checkpoints(r["checkpoints"])
    _show_footer(r)


def _short(org: str | None) -> str:
    return (org or "-").removeprefix("urn:emining:")


def _show_header(r: dict[str, Any]) -> None:
    pub = r["published"]
    console.rule(f"E-Mining Bus demo · seed {r['seed']} · scale {r['scale']:g}")
    console.print(f"Kafka at [bold]{r['bootstrap']}[/]; {r['organisations']} organisations in "
                  f"the registry ({r['onboarded_now']} onboarded now)", highlight=False)
    if pub["skipped_already_on_log"]:
        console.print(f"the scenario's {pub['scenario_events']} events and its attacks are "
                      "already on the log: nothing published again", highlight=False)
    else:
        paths = ", ".join(f"{n} via {p}" for p, n in pub["by_path"].items())
        console.print(f"published {sum(pub['by_path'].values())} signed events ({paths}); "
                      f"injected {pub['attacks']} forged records", highlight=False)


def _show_views(v: dict[str, Any]) -> None:
    stages = Table("stage", "projects", title=f"projects by stage ({v['projects']})")
    for stage, n in v["projects_by_stage"].items():
        stages.add_row(stage, str(n))
    console.print(stages)
    pending = Table("file", "status", "authority", "deadline", "due on",
                    title=f"pending approvals ({len(v['pending_approvals'])})")
    for p in v["pending_approvals"]:
        due = f"{p['due_on']} [magenta](deemed approved)[/]" if p["deemed"] else str(p["due_on"])
        pending.add_row(p["ref"], str(p["status"]), _short(p["authority"]).split(":")[-1],
                        p["deadline"].removesuffix("_on"), due)
    console.print(pending)
    ships = v["shipments"]
    console.print(f"[bold]shipments[/]: {v['shipments_total']} in all (" + ", ".join(
        f"{s} {n}" for s, n in ships["by_status"].items()) + ")", highlight=False)
    console.print(f"  in transit ({len(ships['in_transit'])}): "
                  f"{', '.join(ships['in_transit']) or 'none at the year end'}", highlight=False)
    for held in ships["held"]:
        console.print(f"  [red]held[/] {held['shipment_id']} at {held['exit_point']}: "
                      f"{held['reason']}", highlight=False)


def _show_alerts(alerts: dict[str, Any]) -> None:
    if not alerts.get("available") or not alerts.get("total"):
        console.print("[bold]alerts[/]: [yellow]not available[/] "
                      f"({alerts.get('reason') or 'no alerts on the alerts topics'})",
                      highlight=False)
        return
    for side, orgs in alerts["by_side"].items():
        total = sum(info["count"] for info in orgs.values())
        table = Table("organisation", "lang", "latest alerts",
                      title=f"alerts to side {side} ({total})")
        for org, info in orgs.items():
            for alert in info["alerts"][-2:]:
                table.add_row(_short(org), info["language"], alert["text"])
        console.print(table)
        for org, info in orgs.items():
            rules = ", ".join(f"{rule} {n}" for rule, n in info["by_rule"].items())
            console.print(f"  {_short(org)}: {info['count']} ({rules})", highlight=False)


def _show_audit(audit: dict[str, Any]) -> None:
    if not audit.get("available"):
        console.print(f"[bold]audit verify[/]: [yellow]not available[/] ({audit.get('reason')})",
                      highlight=False)
        return
    verdict = "[green]log clean[/]" if audit["ok"] else "[red]violations found[/]"
    console.print(f"[bold]audit verify[/]: {verdict} (exit {audit['exit_code']}); "
                  f"{audit['records']} records in {audit['seconds']}s: "
                  + ", ".join(f"{k} {n}" for k, n in (audit["summary"] or {}).items()),
                  highlight=False)
    table = Table("forged record", "named", "at", "as", title="the audit names each attack")
    for a in audit["attacks"]:
        where = (f"{a['topic'].removeprefix('emining.')}[{a['partition']}]@{a['offset']}"
                 if a["found"] else "-")
        table.add_row(a["attack"], "[green]yes[/]" if a["found"] else "[red]NO[/]", where,
                      a["expected_kind"])
    console.print(table)
    if audit["other_findings"]:
        console.print(f"  (+{audit['other_findings']} findings on records that are not the "
                      "demo's: other tenants of this broker)", highlight=False)


def _show_security(sec: dict[str, Any]) -> None:
    if not sec["refusals"]:
        console.print(f"[bold]broker security[/]: [yellow]{sec['mode']}[/] (no authentication,"
                      " no ACLs: EMINING_KAFKA_SECURITY=none)", highlight=False)
        return
    services = ", ".join(f"{k} as {v}" for k, v in sec["principals"]["services"].items())
    console.print(f"[bold]broker security[/]: SCRAM-SHA-512 ({sec['mode']}), ACLs from the "
                  f"registry; {services}; {sec['principals']['organisations']} organisations "
                  "with their own credential", highlight=False)
    table = Table("as", "tried", "the broker said", title="the broker refuses")
    for r in sec["refusals"]:
        said = r["got"].removesuffix("Error")
        table.add_row(_short(r["principal"].removeprefix("User:")), r["tried"].replace(
            "emining.", "").replace("urn:emining:", ""),
            f"[green]{said}[/]" if r["refused"] else f"[red]{said} (expected {r['expected']})[/]")
    console.print(table)


def _show_checkpoints(c: dict[str, Any]) -> None:
    witnesses = "; ".join(
        f"{_short(org)} cosigned {w['cosigned_now']} now, {w['heads']} log(s) in all"
        + (f", [red]refused {w['refused']}[/]" if w["refused"] else "")
        for org, w in c["witnesses"].items())
    state = ("[green]every log extends its last checkpoint[/]" if not c["inconsistent"] else
             f"[red]{len(c['inconsistent'])} log(s) inconsistent[/]")
    console.print(f"[bold]checkpoints[/]: {c['logs']} partition log(s), {c['records']} records "
                  f"signed; {state}; witnesses: {witnesses}", highlight=False)


def _show_footer(r: dict[str, Any]) -> None:
    check = r["check"]
    if check["views_match_scenario"]:
        console.print(f"[bold]views match the scenario[/]: [green]yes[/] ({check['checked']} "
                      "subjects checked)", highlight=False)
    else:
        console.print(f"[bold]views match the scenario[/]: [red]no[/] "
                      f"({len(check['mismatches'])} of {check['checked']} differ, e.g. "
                      f"{'; '.join(check['mismatches'][:3])})", highlight=False)
    report = r["report"]
    lines = [f"report     {report['path']}" if report["available"]
             else f"report     not available ({report.get('reason')})"]
    shown = r.get("console_verify") or {}
    if shown.get("available"):
        lines.append(f"{'console':10} the auditor's verify page read {shown['records']:,} "
                     f"records: {shown['violations']} violation(s)")
    lines += [f"{name:10} {url}" for name, url in r["urls"].items()]
    lines.append(f"{'logs':10} {r['logs']}")
    lines += ["", (f"sign in at {r['urls']['console']}login (the console), with POST "
              "/v1/auth/login, or send an API key:")]
    lines += [f"  {p['username']:18} {p['password']}  {p['role']} of {p['org']}"
              for p in r["sign_ins"]]
    console.print(Panel("\n".join(lines), title="open", expand=False), highlight=False)
    t = r["timings"]
    console.print(f"took {t['total_s']}s: " + ", ".join(
        f"{k.removesuffix('_s').replace('_', ' ')} {v}s" for k, v in t.items() if k != "total_s"),
        style="dim", highlight=False)
