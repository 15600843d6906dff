"""The local broker's logs: the last lines, or follow them (``tail -f``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from infra.local_kafka.cluster import load_cluster
from infra.local_kafka.config import tail
from infra.local_kafka.errors import BrokerError, ExternalBrokerError
from infra.local_kafka.state import Layout

if TYPE_CHECKING:
    from infra.settings import Settings


def _log_places(settings: Settings, node: int | None) -> list[Layout]:
    layout = Layout.of(settings)
    nodes = load_cluster(layout)
    if nodes is None:
        return [layout]
    ids = [n.node_id for n in nodes]
    if node is not None and node not in ids:
        raise BrokerError(f"the local cluster has nodes {ids}, not {node}")
    return [layout.for_node(i) for i in ids if node in (None, i)]


def logs(settings: Settings, lines: int = 100, node: int | None = None) -> str:
    """The last ``lines`` lines of the local broker's log (each node's, or ``node``'s)."""
    if settings.kafka_bootstrap:
        raise ExternalBrokerError(
            f"EMINING_KAFKA_BOOTSTRAP={settings.kafka_bootstrap} is an external cluster:"
            " its logs are not kept by this project"
        )
    places = _log_places(settings, node)
    parts: list[str] = []
    for here in places:
        for path in (here.log_file, here.stdout_file):
            if path.exists():
                text = "\n".join(tail(path, lines))
                parts.append(text if here.node is None or len(places) == 1
                             else f"==> node {here.node}: {path} <==\n{text}")
                break
    return "\n".join(parts)


def follow(
    settings: Settings, lines: int = 10, poll_s: float = 0.5, node: int | None = None
) -> Iterator[str]:
    """Yield the last ``lines`` log lines, then every new line as it is written (``tail -f``).

    A cluster's node 1 unless ``node`` says which.
    """
    places = _log_places(settings, node)
    here = places[0]
    text = logs(settings, lines, node=here.node)
    yield from text.splitlines()
    path = here.log_file
    position = path.stat().st_size if path.exists() else 0
    pending = b""
    while True:
        size = path.stat().st_size if path.exists() else 0
        if size < position:  # rotated
            position = 0
        if size > position:
            with path.open("rb") as handle:
                handle.seek(position)
                chunk = handle.read(size - position)
            position = size
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for line in complete:
                yield line.decode("utf-8", errors="replace")
        else:
            time.sleep(poll_s)
