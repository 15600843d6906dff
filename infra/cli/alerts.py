"""``emining alerts …``: follow an organisation's alerts, manage subscriptions and webhooks."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from infra.cli.common import (
    chosen,
    completer,
    console,
    deferred,
    err_console,
    fail,
    language,
    print_json,
    run,
)
from schemas.enums import Language, Mineral, ProjectStage, Province

if TYPE_CHECKING:
    from infra.logging import configure_logging
    from infra.settings import Settings
else:  # imported when a command first uses them: `emining` starts light
    configure_logging = deferred("infra.logging", "configure_logging")
    Settings = deferred("infra.settings", "Settings")

alerts_app = typer.Typer(help="Alerts between the two sides: tail, subscriptions, webhooks.",
                         no_args_is_help=True)
webhooks_app = typer.Typer(help="Webhooks that receive an organisation's alerts.",
                           no_args_is_help=True)
alerts_app.add_typer(webhooks_app, name="webhooks")
channels_app = typer.Typer(help="Targets of an organisation on any push channel (webhook, …).",
                           no_args_is_help=True)
alerts_app.add_typer(channels_app, name="channels")

OrgOption = Annotated[str, typer.Option("--org", help="organisation id (urn:emining:…)")]
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON")]


async def _with_service(work: Callable[[Any], Awaitable[Any]], *, registry: bool = False) -> Any:
    """Run ``work(service)`` over the views store (reading the registry only if asked)."""
    from infra import compose  # noqa: PLC0415 - keep start-up light

    async with compose.alerts_service(Settings(), registry=registry) as service:
        return await work(service)


def _line(alert: Any, language: Language | None) -> str:
    lang = language or alert.language
    due = f" (due {alert.due_on})" if alert.due_on else ""
    return (f"[{alert.severity.value}] {alert.raised_at:%Y-%m-%d %H:%M}Z {alert.rule.value} "
            f"{alert.about}{due}: {alert.texts.in_language(lang)}")


@alerts_app.command("tail")
def tail(
    org: OrgOption,
    lang: Annotated[str | None, typer.Option(
        "--lang", autocompletion=completer(Language),
        help="en, zh (or zh-Hans) or ur; default: the organisation's preferred language")] = None,
    from_beginning: Annotated[bool, typer.Option(help="start at the topic's first alert")] = False,
    count: Annotated[int | None, typer.Option(help="stop after this many alerts")] = None,
    as_json: JsonOption = False,
) -> None:
    """Follow an organisation's alerts topic; each alert's platform signature is verified."""
    chosen_language = None if lang is None else language("--lang", lang)
    from consumers.alerts.reader import Received, follow  # noqa: PLC0415
    from infra import compose  # noqa: PLC0415
    from infra.kafka_settings import kafka_access  # noqa: PLC0415

    settings = Settings()

    async def main() -> None:
        seen = 0
        verifier = compose.alert_verifier(settings)
        stream = follow(kafka_access(settings), org, verifier,
                        from_beginning=from_beginning, timeout_s=settings.client_timeout_s)
        async with contextlib.aclosing(stream):
            async for item in stream:
                if not isinstance(item, Received):
                    err_console.print(f"[yellow]refused a record:[/] {item}", highlight=False)
                    continue
                if as_json:
                    sys.stdout.write(item.alert.model_dump_json() + "\n")
                else:
                    sys.stdout.write(_line(item.alert, chosen_language) + "\n")
                sys.stdout.flush()
                seen += 1
                if count is not None and seen >= count:
                    return

    with contextlib.suppress(KeyboardInterrupt):
        run(main())


@alerts_app.command("subscribe")
def subscribe(
    org: OrgOption,
    mineral: Annotated[list[str] | None, typer.Option(
        autocompletion=completer(Mineral), help="repeatable; any of")] = None,
    province: Annotated[list[str] | None, typer.Option(
        autocompletion=completer(Province), help="repeatable; any of (e.g. PK-BA)")] = None,
    stage: Annotated[list[str] | None, typer.Option(
        autocompletion=completer(ProjectStage), help="repeatable; any of")] = None,
    existing: Annotated[bool, typer.Option(help="also alert on matching projects already "
                                           "registered")] = False,
    as_json: JsonOption = False,
) -> None:
    """Hear about new projects matching a mineral, province or stage filter."""
    from consumers.store_read import PROVINCE_NAMES  # noqa: PLC0415

    minerals = [chosen("mineral", m, Mineral) for m in mineral or ()]
    provinces = [chosen("province", p, Province, PROVINCE_NAMES) for p in province or ()]
    stages = [chosen("stage", s, ProjectStage) for s in stage or ()]

    async def work(service: Any) -> Any:
        return await service.subscribe(org, minerals=minerals, provinces=provinces,
                                       stages=stages, include_existing=existing)

    sub, raised = run(_with_service(work, registry=existing))
    if as_json:
        print_json({**sub.as_dict(), "alerts_raised": len(raised)})
        return
    console.print(f"subscription {sub.id} for {org}"
                  + (f"; {len(raised)} alert(s) on existing projects" if existing else ""),
                  highlight=False)


@alerts_app.command("subscriptions")
def subscriptions(org: OrgOption, as_json: JsonOption = False) -> None:
    """An organisation's subscriptions."""
    found = run(_with_service(lambda service: service.subscriptions(org)))
    if as_json:
        print_json([s.as_dict() for s in found])
        return
    for sub in found:
        doc = sub.as_dict()
        console.print(f"{sub.id}  minerals={','.join(doc['minerals']) or 'any'}  "
                      f"provinces={','.join(doc['provinces']) or 'any'}  "
                      f"stages={','.join(doc['stages']) or 'any'}", highlight=False)


@alerts_app.command("unsubscribe")
def unsubscribe(org: OrgOption, subscription_id: str) -> None:
    """Delete one of an organisation's subscriptions."""
    if not run(_with_service(lambda service: service.unsubscribe(org, subscription_id))):
        fail(f"{org} has no subscription {subscription_id}")
    console.print(f"deleted subscription {subscription_id}", highlight=False)


@webhooks_app.command("add")
def webhook_add(org: OrgOption, url: str, as_json: JsonOption = False) -> None:
    """Register a URL; the secret (to check the webhook-signature) is printed only now."""
    hook = run(_with_service(lambda service: service.add_webhook(org, url)))
    if as_json:
        print_json({"id": hook.id, "url": hook.url, "secret": hook.secret})
        return
    console.print(f"webhook {hook.id} → {hook.url}\nsecret (shown once): {hook.secret}",
                  highlight=False)


@webhooks_app.command("list")
def webhook_list(org: OrgOption, as_json: JsonOption = False) -> None:
    hooks = run(_with_service(lambda service: service.webhooks(org)))
    if as_json:
        print_json([{"id": h.id, "url": h.url, "delivered": s.delivered,
                     "dead_lettered": s.dead, "pending": s.pending, "last_error": s.last_error}
                    for h, s in hooks])
        return
    for hook, health in hooks:
        failed = f", last failure: {health.last_error}" if health.last_error else ""
        console.print(f"{hook.id}  {hook.url}  delivered {health.delivered}, dead-lettered "
                      f"{health.dead}, pending {health.pending}{failed}", highlight=False)


@webhooks_app.command("remove")
def webhook_remove(org: OrgOption, webhook_id: str) -> None:
    if not run(_with_service(lambda service: service.remove_webhook(org, webhook_id))):
        fail(f"{org} has no webhook {webhook_id}")
    console.print(f"removed webhook {webhook_id}", highlight=False)


ChannelArgument = Annotated[str, typer.Argument(help="the channel's name (webhook, …)")]


def _channel(name: str) -> Any:
    """The registered channel ``name``, else one line naming the known ones."""
    from consumers.alerts.channels import UnknownChannelError, channel  # noqa: PLC0415

    try:
        return channel(name)
    except UnknownChannelError as exc:
        fail(str(exc))


def _options(given: list[str] | None) -> dict[str, str]:
    options: dict[str, str] = {}
    for item in given or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"--option takes KEY=VALUE, not {item!r}")
        options[key.strip()] = value.strip()
    return options


@channels_app.command("add")
def channel_add(
    channel: ChannelArgument, org: OrgOption, url: str,
    option: Annotated[list[str] | None, typer.Option(help="KEY=VALUE, repeatable (the "
                                                     "channel's options)")] = None,
    secret_file: Annotated[Path | None, typer.Option(help="a file holding the secret the "
                                                     "channel's service gave you ('-': stdin)")]
    = None,
    as_json: JsonOption = False,
) -> None:
    """Register a target of a push channel for an organisation's alerts."""
    found, options = _channel(channel), _options(option)
    secret = None
    if secret_file is not None:
        secret = (sys.stdin.read() if str(secret_file) == "-"
                  else secret_file.read_text(encoding="utf-8")).strip()

    target = run(_with_service(lambda service: service.add_target(
        channel, org, url, secret=secret, options=options)))
    shown = target.secret if found.issues_secret else None
    if as_json:
        print_json({"id": target.id, "channel": channel, "url": found.shown(target.url),
                    "options": dict(target.options), "secret": shown})
        return
    console.print(f"{channel} {target.id} → {found.shown(target.url)}"
                  + (f"\nsecret (shown once): {shown}" if shown else ""), highlight=False)


@channels_app.command("list")
def channel_list(channel: ChannelArgument, org: OrgOption, as_json: JsonOption = False) -> None:
    """An organisation's targets on a channel, with how their deliveries went."""
    found = _channel(channel)
    targets = run(_with_service(lambda service: service.targets_of(channel, org)))
    if as_json:
        print_json([{"id": t.id, "url": found.shown(t.url), "options": dict(t.options),
                     "delivered": s.delivered, "dead_lettered": s.dead, "pending": s.pending,
                     "last_error": s.last_error} for t, s in targets])
        return
    for target, health in targets:
        failed = f", last failure: {health.last_error}" if health.last_error else ""
        console.print(f"{target.id}  {found.shown(target.url)}  delivered {health.delivered}, "
                      f"dead-lettered {health.dead}, pending {health.pending}{failed}",
                      highlight=False)


@channels_app.command("remove")
def channel_remove(channel: ChannelArgument, org: OrgOption, target_id: str) -> None:
    if not run(_with_service(lambda service: service.remove_target(channel, org, target_id))):
        fail(f"{org} has no {channel} target {target_id}")
    console.print(f"removed {channel} target {target_id}", highlight=False)


@alerts_app.command("deliver")
def deliver() -> None:
    """Publish the alert outbox to the alerts topics and webhooks until interrupted.

    ``emining views run`` already delivers the alerts it raises; run this for a separate worker.
    """
    settings = Settings()
    configure_logging(settings.log_level or "info", settings.log_format)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        from infra.compose import deliver_forever  # noqa: PLC0415

        await deliver_forever(settings, stop)

    run(main())
