"""The topics' own views (``consumers.views.registry``), by the names older code uses."""

from __future__ import annotations

from consumers.views.declare import View as Family
from consumers.views.registry import BY_NAME, FAMILIES

__all__ = ["BY_NAME", "FAMILIES", "Family"]
