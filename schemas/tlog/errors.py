"""The one error of the transparency-log primitives (``schemas.tlog``)."""

from __future__ import annotations


class TlogError(ValueError):
    """A malformed note, checkpoint, signature line or leaf field."""
