"""The lifecycles as tables, one per kind of file: the second half of ``docs/event-types.md``
(``python -m schemas.doc``)."""

from __future__ import annotations

from schemas.lifecycles import MACHINES, Machine, in_order


def _statuses(machine: Machine, statuses: frozenset[str | None]) -> str:
    return ", ".join("*(new file)*" if s is None else f"`{s}`"
                     for s in in_order(machine, statuses))


def markdown() -> str:
    """For each event, the statuses it may follow and where it leads, per lifecycle."""
    lines = ["## Lifecycles", "",
             ("Each event type's step is declared in its registry entry (`lifecycle`) and "
              "gathered by `schemas/lifecycles.py`. A step not listed after a status is refused as "
              "`invalid_transition` (naming from → to) by the views (dead-lettered, the emitter "
              "and the platform alerted), by the gateway before publishing (409), by the audit "
              "replay, and listed by `emining audit verify`."), ""]
    for machine in MACHINES.values():
        lines += [f"### {machine.title}", "",
                  f"The status is the view's `{machine.field}`.", "",
                  "| event | may follow | leads to | note |", "|---|---|---|---|"]
        for name, step in machine.steps.items():
            if step.named_by is None:
                to = f"`{step.to}`" if step.to else "*(no change)*"
                lines.append(f"| `{name}` | {_statuses(machine, step.after)} | {to} | "
                             f"{step.note} |")
                continue
            for at, outcome in enumerate(in_order(machine, step.moves)):
                assert outcome is not None
                note = "" if at else step.note
                lines.append(f"| `{name}` ({step.named_by} `{outcome}`) | "
                             f"{_statuses(machine, step.moves[outcome])} | `{outcome}` | "
                             f"{note} |")
        lines.append("")
    return "\n".join(lines)

