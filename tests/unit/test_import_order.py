"""The import order holds: ``schemas`` → ``transport`` → ``producers`` → ``consumers`` →
``infra``, no cycles, and only ``transport`` talks to the Kafka client library.

The graph is read from the source with ``ast`` (nothing is imported), one node per module of the
five packages. Each import is one of three kinds:

- ``module``: executed when the module is imported (top level, also inside ``try``/``if`` and
  class bodies);
- ``type``: under ``if TYPE_CHECKING:`` (read by mypy only);
- ``deferred``: inside a function (run when the function is, usually to keep start-up light).

Asserted: no cycle among module-level imports; no cycle at all outside the allow-list below
(a ``type`` or ``deferred`` import closing a loop is a loop all the same: the two modules cannot
be understood, or split, one without the other); no import of any kind from a package to one
above it; a CLI command module (``infra/cli/*.py``) imported only by ``infra.cli.root``, which
assembles them (``infra.cli.common`` is their shared toolbox; ``infra.cli`` names ``app`` and
``main``; a command module's own helper, ``CLI_HELPERS``, only by it, or a room's helper only by
the command modules of that room); ``aiokafka`` and ``faststream.kafka`` imported (in any of the
three kinds) by modules of ``transport`` only. Run this file as a script to print the graph's
deferred and type-only imports.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("schemas", "transport", "producers", "consumers", "infra")
"""Bottom first: a package may import from the ones before it, never from one after it."""

ALLOWED_CYCLES: set[frozenset[str]] = set()
"""Cycles that exist today through ``type`` or ``deferred`` imports only (none since the
console's ``Page`` moved to ``consumers.console.page``); a new one fails."""

ALLOWED_UPWARD: set[tuple[str, str]] = set()
"""(importer, imported) pairs that break the layering and are known; none today."""

CLI_ALIASES: set[tuple[str, str]] = set()
"""(alias, command module) pairs kept for callers outside this change; drop when unused."""

CLI_HELPERS: dict[str, str | tuple[str, ...]] = {
    "infra.cli.audit_output": "infra.cli.audit",
    "infra.cli.participants_common": ("infra.cli.participants", "infra.cli.participants_rights",
                                      "infra.cli.participants_registry"),
    "infra.cli.views_common": ("infra.cli.views", "infra.cli.views_run"),
    "infra.cli.views_output": "infra.cli.views",
}
"""A command module's own helper module → the one command module that may import it; or a
room's helper (a Typer group whose commands are split over several command modules, assembled
into one group by ``infra.cli.root``) → those command modules, and no other."""


def _helper_users(helper: str) -> tuple[str, ...]:
    users = CLI_HELPERS[helper]
    return (users,) if isinstance(users, str) else users

MODULE, TYPE, DEFERRED = "module", "type", "deferred"


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    kind: str
    line: int


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in LAYERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return isinstance(test, ast.Name | ast.Attribute) and ast.unparse(test).endswith(
        "TYPE_CHECKING")


def _targets(node: ast.Import | ast.ImportFrom, package: list[str]) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        parent = package[: len(package) - (node.level - 1)]
        base = ".".join([*parent, base] if base else parent)
    return [f"{base}.{alias.name}" for alias in node.names]


def _imports(body: list[ast.stmt], kind: str) -> list[tuple[ast.Import | ast.ImportFrom, str]]:
    """Every import statement in ``body`` with its kind, ``kind`` unless deeper rules say."""
    found: list[tuple[ast.Import | ast.ImportFrom, str]] = []
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append((node, kind))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.extend((inner, DEFERRED) for inner in ast.walk(node)
                         if isinstance(inner, ast.Import | ast.ImportFrom))
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            found += _imports(node.body, TYPE) + _imports(node.orelse, kind)
        elif isinstance(node, ast.If | ast.Try | ast.With | ast.ClassDef):
            for field in ("body", "orelse", "finalbody"):
                found += _imports(getattr(node, field, []), kind)
            for handler in getattr(node, "handlers", []):
                found += _imports(handler.body, kind)
    return found


@cache
def graph() -> tuple[Edge, ...]:
    modules = _modules()

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    edges: list[Edge] = []
    for name, path in modules.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node, kind in _imports(ast.parse(path.read_text("utf-8")).body, MODULE):
            for target in _targets(node, package):
                resolved = resolve(target)
                if resolved is not None and resolved != name:
                    edges.append(Edge(name, resolved, kind, node.lineno))
    return tuple(edges)


def _cycles(edges: list[Edge]) -> list[frozenset[str]]:
    """The groups of two or more modules that each reach every other (import cycles)."""
    successors: dict[str, set[str]] = defaultdict(set)
    for edge in edges:
        successors[edge.source].add(edge.target)

    def reachable(start: str) -> set[str]:
        seen: set[str] = set()
        todo = [start]
        while todo:
            for nxt in successors[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        return seen

    reach = {node: reachable(node) for node in list(successors)}
    groups = {frozenset({node} | {other for other in reach[node] if node in reach.get(other, ())})
              for node in reach if node in reach[node]}
    return sorted(groups, key=sorted)


def _layer(module: str) -> int:
    return LAYERS.index(module.split(".", maxsplit=1)[0])


def _show(edges: list[Edge]) -> str:
    return "\n".join(sorted({f"  {e.source}:{e.line} -> {e.target} ({e.kind})" for e in edges}))


def test_the_graph_is_read() -> None:
    """The reader sees what is there (a reader that saw nothing would pass every test)."""
    edges = graph()
    assert len({e.source for e in edges}) > 150
    seen = {(e.source, e.target, e.kind) for e in edges}
    assert ("producers.registry_reader", "transport.read", MODULE) in seen
    assert ("infra.kafka_settings", "infra.local_kafka", MODULE) in seen
    assert ("infra.cli.acls", "infra.kafka_admin.admin", TYPE) in seen
    assert ("infra.cli.acls", "infra.kafka_admin.admin", DEFERRED) in seen


def _external_imports(library: str) -> list[tuple[str, int, str]]:
    """(module, line, kind) of every import of ``library`` (or a submodule) in the five
    packages, in any of the three kinds."""
    found: list[tuple[str, int, str]] = []
    for name, path in _modules().items():
        for node, kind in _imports(ast.parse(path.read_text("utf-8")).body, MODULE):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif node.level:  # relative: inside the five packages
                continue
            else:  # ``from faststream import kafka`` imports ``faststream.kafka`` too
                targets = [node.module or ""]
                targets += [f"{node.module}.{alias.name}" for alias in node.names]
            if any(t == library or t.startswith(f"{library}.") for t in targets):
                found.append((name, node.lineno, kind))
    return found


def test_only_transport_imports_aiokafka() -> None:
    """Kafka access has one owner: the rest of the bus names partitions, records and broker
    errors from ``transport.kafka`` and builds clients with ``transport``'s helpers."""
    found = _external_imports("aiokafka")
    assert {kind for module, _, kind in found if module.startswith("transport.")} >= {MODULE}
    assert {module for module, _, _ in found} >= {"transport.kafka", "transport.clients"}
    outside = sorted(f"  {module}:{line} ({kind})" for module, line, kind in found
                     if module.split(".", maxsplit=1)[0] != "transport")
    assert outside == [], "aiokafka imported outside transport/:\n" + "\n".join(outside)


def test_only_transport_imports_faststreams_kafka_broker() -> None:
    """FastStream's Kafka half (``faststream.kafka``: the broker, its message types) is Kafka
    access too: ``transport.faststream`` builds the broker from a ``KafkaAccess``. The rest of
    FastStream (``faststream.AckPolicy``, ``faststream.security`` for ``KafkaAccess``, the app
    and context types) names no broker and may be imported where it is used."""
    found = _external_imports("faststream.kafka")
    assert {module for module, _, _ in found} >= {"transport.faststream"}
    outside = sorted(f"  {module}:{line} ({kind})" for module, line, kind in found
                     if module.split(".", maxsplit=1)[0] != "transport")
    assert outside == [], "faststream.kafka imported outside transport/:\n" + "\n".join(outside)


def test_the_aiokafka_check_sees_every_kind_of_import(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above would pass on a reader blind to deferred or type-only imports."""
    package = tmp_path / "producers"
    package.mkdir()
    (package / "probe.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "import aiokafka.errors\n"
        "if TYPE_CHECKING:\n    from aiokafka import TopicPartition\n"
        "def f() -> None:\n    from aiokafka.structs import ConsumerRecord\n", "utf-8")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    found = _external_imports("aiokafka")
    assert sorted(found) == [("producers.probe", 2, MODULE), ("producers.probe", 4, TYPE),
                             ("producers.probe", 6, DEFERRED)]


def test_the_faststream_check_sees_every_spelling(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """``faststream.kafka`` however it is named; the rest of FastStream is not counted."""
    package = tmp_path / "consumers"
    package.mkdir()
    (package / "probe.py").write_text(
        "from faststream import AckPolicy, kafka\n"
        "from faststream.kafka.message import KafkaMessage\n"
        "from faststream import AckPolicy as Policy\n"
        "import faststream.security\n"
        "def f() -> None:\n    import faststream.kafka\n", "utf-8")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    found = _external_imports("faststream.kafka")
    assert sorted(found) == [("consumers.probe", 1, MODULE), ("consumers.probe", 2, MODULE),
                             ("consumers.probe", 6, DEFERRED)]


def test_no_import_cycle_at_module_level() -> None:
    edges = [e for e in graph() if e.kind == MODULE]
    cycles = _cycles(edges)
    assert cycles == [], "\n".join(
        _show([e for e in edges if e.source in c and e.target in c]) for c in cycles)


def test_no_new_cycle_through_type_or_deferred_imports() -> None:
    edges = list(graph())
    cycles = set(_cycles(edges))
    new = cycles - ALLOWED_CYCLES
    assert not new, "\n".join(
        _show([e for e in edges if e.source in c and e.target in c]) for c in new)
    assert not ALLOWED_CYCLES - cycles, "an allowed cycle is gone: drop it from ALLOWED_CYCLES"


def test_no_package_imports_from_a_package_above_it() -> None:
    upward = [e for e in graph() if _layer(e.target) > _layer(e.source)
              and (e.source, e.target) not in ALLOWED_UPWARD]
    assert upward == [], f"imports against {' → '.join(LAYERS)}:\n{_show(upward)}"


def test_cli_command_modules_are_assembled_only_by_the_cli() -> None:
    def command_module(module: str) -> bool:
        return module.startswith("infra.cli.") and module not in {
            "infra.cli.root", "infra.cli.common"} and module not in CLI_HELPERS

    crossing = [e for e in graph() if command_module(e.target)
                and (e.source, e.target) not in CLI_ALIASES
                and e.source != "infra.cli.root"]
    helped = [e for e in graph() if e.target in CLI_HELPERS
              and e.source not in _helper_users(e.target)]
    assert crossing == [], f"a CLI command module imported elsewhere:\n{_show(crossing)}"
    assert helped == [], f"a CLI command's helper imported by another:\n{_show(helped)}"


if __name__ == "__main__":  # the deferred and type-only imports, for a reader of the layers
    for kind in (DEFERRED, TYPE):
        chosen = sorted({(e.source, e.target) for e in graph() if e.kind == kind})
        sys.stdout.write(f"{kind} imports ({len(chosen)}):\n")
        sys.stdout.writelines(f"  {source} -> {target}\n" for source, target in chosen)
