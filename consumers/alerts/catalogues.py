"""The translations of the alerts' words and texts, read from the Babel catalogues the console
and the audit report share (``consumers/console/locale``), as files: the alerts import nothing
of the console."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from types import MappingProxyType

from babel.messages.pofile import read_po

LOCALE = Path(__file__).parents[1] / "console" / "locale"


@cache
def _catalogue(folder: str) -> MappingProxyType[tuple[str | None, str], str]:
    with (LOCALE / folder / "LC_MESSAGES" / "console.po").open("rb") as po:
        catalog = read_po(po)
    return MappingProxyType({(m.context, m.id): str(m.string) for m in catalog
                             if isinstance(m.id, str) and m.id and m.string})


def translated(english: str, folder: str, context: str | None = None) -> str:
    """``english`` (a message id, in ``context``) in the catalogue of ``folder`` (``zh_Hans``,
    ``ur``); a missing translation is an error, never English in its place."""
    text = _catalogue(folder).get((context, english))
    if text is None:
        where = f" (context {context})" if context else ""
        raise LookupError(f"{english!r}{where} has no translation in "
                          f"{LOCALE / folder / 'LC_MESSAGES' / 'console.po'}")
    return text
