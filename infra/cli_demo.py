"""``emining demo``: bring the platform up and show a signed story travelling through it."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import typer
from rich.table import Table

from infra.cli_common import console, print_json, run
from infra.demo.setup import prepare
from infra.demo.story import publish_story, read_back
from infra.settings import Settings


async def _demo(settings: Settings) -> dict[str, Any]:
    dep = await prepare(settings)
    lines = await publish_story(settings, dep)
    readback = await read_back(settings, dep)
    return {
        "bootstrap": dep.bootstrap,
        "organisations": len(dep.registry.orgs),
        "onboarded_now": dep.onboarded,
        "story": [asdict(line) for line in lines],
        "log": readback,
    }


def demo(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Start Kafka, apply topics, seed the registry, publish a signed story, verify it back."""
    settings = Settings()
    with console.status("starting Kafka, applying topics, seeding the registry", spinner="dots"):
        result = run(_demo(settings))
    if as_json:
        print_json(result)
        return
    console.print(f"Kafka at [bold]{result['bootstrap']}[/]; "
                  f"{result['organisations']} organisations in the registry "
                  f"({result['onboarded_now']} onboarded now)", highlight=False)
    table = Table("organisation", "event", "subject", "where", "outcome", title="the story")
    for line in result["story"]:
        table.add_row(line["org"].removeprefix("urn:emining:"),
                      line["type"].removeprefix("pk.emining."), line["subject"],
                      line["where"].removeprefix("emining."), line["outcome"])
    console.print(table)
    log = result["log"]
    console.print(f"read back {log['records']} records from the shared topics: "
                  f"[green]{log['verified']} verified[/] (signature + authority), "
                  f"[red]{log['rejected']} rejected[/]", highlight=False)
    for reason in log["reasons"][:10]:
        console.print(f"  {reason}", highlight=False)
