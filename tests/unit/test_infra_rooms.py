"""The rooms of ``infra/`` stack one way, like the packages do (``test_import_order``).

Bottom first: what every room uses (settings, logs, metrics, a test Postgres), the local Kafka,
the broker access from settings, the cluster's administration, the composition root, the demo,
the command line; ``infra/__init__`` names a few of them at the top. A room imports only from
rooms below it, by any kind of import (module-level, deferred or type-only).
"""

from __future__ import annotations

from tests.unit.test_import_order import graph

ROOMS: tuple[frozenset[str], ...] = (
    frozenset({"settings", "logging", "metrics", "local_postgres"}),
    frozenset({"local_kafka"}),
    frozenset({"kafka_settings"}),
    frozenset({"kafka_admin"}),
    frozenset({"compose"}),
    frozenset({"demo"}),
    frozenset({"cli"}),
    frozenset({"infra"}),
)
"""Each level's rooms (a module ``infra/x.py`` or a package ``infra/x/``), bottom first."""


def _room(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "infra":
        return None
    return parts[1] if len(parts) > 1 else "infra"


def _level(room: str) -> int:
    for level, rooms in enumerate(ROOMS):
        if room in rooms:
            return level
    raise AssertionError(f"infra/{room} is in no level of ROOMS: place it")


def test_every_room_has_its_level() -> None:
    rooms = {_room(e.source) for e in graph()} - {None}
    assert {"compose", "cli", "kafka_admin", "demo"} <= rooms  # the reader saw the rooms
    for room in rooms:
        assert room is not None
        _level(room)


def test_no_room_imports_from_a_room_above_it() -> None:
    upward = sorted(
        f"{e.source}:{e.line} -> {e.target} ({e.kind})" for e in graph()
        if (a := _room(e.source)) and (b := _room(e.target)) and _level(b) > _level(a))
    assert upward == [], "\n".join(upward)


def test_one_composition_root() -> None:
    """Services are assembled in ``infra/compose/`` only: the modules that used to share the
    job (``infra.wiring``, ``infra.app``, ...) are gone, and nothing imports them."""
    gone = {"infra.wiring", "infra.alerts_wiring", "infra.alerts_runtime",
            "infra.checkpoints_wiring", "infra.app", "infra.console_audit"}
    seen = {e.source for e in graph()} | {e.target for e in graph()}
    assert "infra.compose.app" in seen
    assert gone & seen == set()
