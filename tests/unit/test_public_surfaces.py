"""Each package's ``__init__`` names its public surface (``__all__``), imported on first use.

What is checked: every name listed resolves, to the very object its module defines; the lazy
table agrees with the ``TYPE_CHECKING`` imports the type checker reads (so a module moved in
one place and not the other fails here, not at a user's first call); importing the packages
loads nothing heavy; a patch of the defining module is seen through the package.
"""

from __future__ import annotations

import ast
import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAZY = ("schemas", "producers", "consumers", "consumers.alerts", "consumers.checkpoints",
        "infra", "infra.compose")
"""The packages whose surface is imported on first use (``schemas.lazy.lazy_names``)."""
HEAVY = ("aiokafka", "fastapi", "sqlalchemy", "cryptography", "httpx", "structlog",
         "pydantic", "schemas.base", "producers.publisher", "consumers.store",
         "infra.compose.app")


def _type_checking_imports(package: str) -> dict[str, str]:
    """``name → module`` of the imports under ``if TYPE_CHECKING:`` in the package's source."""
    path = ROOT.joinpath(*package.split("."), "__init__.py")
    found: dict[str, str] = {}
    for node in ast.parse(path.read_text("utf-8")).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom), ast.unparse(stmt)
                assert stmt.module, ast.unparse(stmt)
                found.update({alias.name: stmt.module for alias in stmt.names})
    return found


@pytest.mark.parametrize("package", LAZY)
def test_every_public_name_resolves_to_its_modules_object(package: str) -> None:
    module = importlib.import_module(package)
    table = {name: where for where, names in module._MODULES.items() for name in names}
    assert sorted(module.__all__) == sorted(table)
    assert table == _type_checking_imports(package)
    submodules = {info.name for info in pkgutil.iter_modules(module.__path__)}
    assert submodules & set(table) == set()  # once imported, the submodule would shadow the name
    for where in set(table.values()):
        importlib.import_module(where)
    for name in module.__all__:
        assert getattr(module, name) is getattr(importlib.import_module(table[name]), name)
        assert name in dir(module)
    with pytest.raises(AttributeError, match="no attribute 'Publsher'"):
        _ = module.Publsher


def test_importing_the_packages_loads_nothing_heavy() -> None:
    probe = ("import json, sys\n" + "".join(f"import {p}\n" for p in LAZY)
             + "print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    loaded = set(json.loads(out))
    assert "infra.compose" in loaded  # the probe did import them
    assert sorted(m for m in HEAVY if m in loaded) == []


def test_the_sdk_line_of_the_readme_imports() -> None:
    """``from producers import …``: what a publisher needs, in one import."""
    from producers import (  # noqa: PLC0415
        Draft,
        KafkaAccess,
        Publisher,
        load_key,
        model_for,
        read_registry,
    )
    from producers.publisher import Publisher as Defined  # noqa: PLC0415

    assert Publisher is Defined
    assert Draft.__module__ == "producers.publisher"
    assert KafkaAccess.__name__ == "KafkaAccess"
    assert load_key.__module__ == "producers.keys"
    assert read_registry.__module__ == "producers.registry_reader"
    assert model_for("pk.emining.approval.licence.granted").__name__ == "LicenceGranted"


def test_a_patch_of_the_defining_module_is_seen_through_the_package(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import infra.compose  # noqa: PLC0415
    import infra.compose.checkpoints  # noqa: PLC0415

    def stand_in(*_a: object, **_k: object) -> str:
        return "patched"

    monkeypatch.setattr(infra.compose.checkpoints, "checkpointer", stand_in)
    assert infra.compose.checkpointer is stand_in


def test_a_submodule_is_still_imported_by_name() -> None:
    from infra.compose import sdk  # noqa: PLC0415

    assert isinstance(sdk, ModuleType)
    assert sdk.__name__ == "infra.compose.sdk"
