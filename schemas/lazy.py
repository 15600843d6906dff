"""A package's public names, imported on first use (PEP 562 ``__getattr__``).

A package ``__init__`` names its surface in ``__all__`` and where each name lives; importing the
package then loads nothing more (the ``emining`` command imports packages on every Tab:
``tests/unit/test_cli_startup.py``), and ``from producers import Publisher`` imports
``producers.publisher`` when it runs. Names are looked up each time, not cached, so a test that
patches the defining module is seen through the package too.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(package: str, modules: Mapping[str, Sequence[str]]) -> tuple[
        Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose public names are defined in
    ``modules`` (``{"producers.publisher": ("Draft", "Publisher"), ...}``, as one would import
    them)."""
    where = {name: module for module, names in modules.items() for name in names}

    def getattr_(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    def dir_() -> list[str]:
        return sorted({*vars(sys.modules[package]), *where})

    return getattr_, dir_
