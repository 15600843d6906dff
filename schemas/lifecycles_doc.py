"""The lifecycles as a page: one table per kind of file (``python -m schemas.lifecycles_doc``)."""

from __future__ import annotations

import sys

from schemas.lifecycles import MACHINES


def markdown() -> str:
    """``docs/lifecycles.md``: for each event, the statuses it may follow and where it leads."""
    lines = ["# Lifecycles", "",
             ("Generated from `schemas/lifecycles.py` by `python -m schemas.lifecycles_doc`; "
             "a test keeps it equal. A step not listed after a status is refused as "
             "`invalid_transition` by the views, the gateway and the audit replay."), ""]
    for machine in MACHINES.values():
        lines += [f"## {machine.title}", "", "| event | may follow | leads to | note |",
                  "|---|---|---|---|"]
        for name, step in machine.steps.items():
            after = ", ".join(sorted("*(new file)*" if s is None else f"`{s}`"
                                     for s in step.after))
            to = f"`{step.to}`" if step.to else "*(no change)*"
            lines.append(f"| `{name}` | {after} | {to} | {step.note} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    sys.stdout.write(markdown())


if __name__ == "__main__":
    main()
