"""Identifier patterns, each written once for both places that read it."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["IdPattern"]


class IdPattern:
    """An identifier's syntax, written once: ``fullmatch`` checks a value here, ``schema`` is the
    same expression anchored as the JSON Schema ``pattern`` other languages validate with. ASCII
    (``\\d`` is 0-9 only), as in JSON Schema's regular expressions."""

    __slots__ = ("_regex", "expression", "schema")

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self._regex = re.compile(expression, re.ASCII)
        self.schema: dict[str, Any] = {"pattern": f"^{expression}$"}

    def fullmatch(self, value: str) -> bool:
        return self._regex.fullmatch(value) is not None
