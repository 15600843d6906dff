"""``emining tail TOPIC``: print a topic's records, each with its signature verified."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from infra.cli.common import deferred, err_console, run

if TYPE_CHECKING:
    from infra.settings import Settings
else:  # imported when a command first uses them: `emining` starts light
    Settings = deferred("infra.settings", "Settings")


def tail(
    topic: Annotated[str, typer.Argument(help="any topic your Kafka credential may read, e.g. "
                                         "emining.participants.v1 or emining.alerts.<org>")],
    from_beginning: Annotated[bool, typer.Option(
        "--from-beginning", help="start at the first record (default: only new ones)")] = False,
    until_end: Annotated[bool, typer.Option(
        "--until-end", help="stop at the end the topic had when the command started")] = False,
    max_records: Annotated[int | None, typer.Option(
        "--max-records", help="stop after this many records")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON document per line")] = False,
) -> None:
    """Follow a topic as your own Kafka principal; every record's verdict: ok or why refused.

    The checks are the consumers' own (envelope, schema, topic, partition, signature with the
    key valid at the event's time, time skew, authority; the registry's records against the
    trust anchor, alerts against the platform's key). Ctrl-C stops it.
    """
    from consumers.tail import OK, tail_topic  # noqa: PLC0415 - keep start-up light
    from infra import compose  # noqa: PLC0415
    from infra.kafka_settings import kafka_access  # noqa: PLC0415
    from infra.settings import time_bounds  # noqa: PLC0415

    settings = Settings()
    counted = {"records": 0, "refused": 0}

    async def main() -> None:
        stream = tail_topic(kafka_access(settings), topic, compose.trust_anchor(settings),
                        platform=compose.PLATFORM_ORG, from_beginning=from_beginning,
                        until_end=until_end, bounds=time_bounds(settings),
                        timeout_s=settings.client_timeout_s)
        async with contextlib.aclosing(stream):
            async for item in stream:
                line = (json.dumps(item.as_json(), ensure_ascii=False) if as_json
                        else item.line())
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
                counted["records"] += 1
                counted["refused"] += item.verdict != OK
                if max_records is not None and counted["records"] >= max_records:
                    return

    with contextlib.suppress(KeyboardInterrupt):
        run(main())
    err_console.print(f"{counted['records']} record(s), {counted['refused']} refused",
                      highlight=False)
