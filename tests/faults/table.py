"""Print the fault suite's figures (``build/faults/<scenario>.json``) as the README's table.

    .venv/bin/python -m tests.faults.table            # after the fault suite ran
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "build" / "faults"
TITLES = {
    "leader_kill": "(a) SIGKILL the leader of a shared partition",
    "controller_kill": "(b) SIGKILL the active controller",
    "rolling_restart": "(c) rolling restart of all three",
    "full_restart": "(d) whole cluster stops and starts",
    "partition": "(e) one node partitioned, then healed",
}
CLIENTS = ("sdk", "import", "gateway")


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f}"


def _views(result: dict[str, Any]) -> str:
    views = result.get("views")
    if views is None:
        return "-"
    return "yes" if views.get("equal_to_rebuild") else "NO"


def _alerts(result: dict[str, Any]) -> str:
    """Alerts expected, delivered, missing, duplicated, extra (of them false gap alarms)."""
    alerts = result.get("alerts")
    if alerts is None:
        return "- | - | - | - | -"
    return (f"{alerts['expected']} | {alerts['delivered']} | {alerts['missing']}"
            f" | {alerts['duplicated']} | {alerts['extra']} ({alerts['transient_gap_alerts']})")


def rows(results: list[dict[str, Any]]) -> list[str]:
    lines = [
        ("| fault | events acknowledged | lost | duplicated | reported failed (landed once /"
         " not on log) | recovery s (SDK / import / gateway) | audit verify | views = rebuild"
         " | alerts expected | delivered | missing | duplicated | extra (gap alarms) |"),
        "|---|---:|---:|---:|---|---|---|---|---:|---:|---:|---:|---|",
    ]
    for result in results:
        clients = result["clients"]
        failed = sum(c["reported_failed"] for c in clients.values())
        landed = sum(c["failed_then_landed_once"] for c in clients.values())
        missing = sum(c["failed_not_on_log"] for c in clients.values())
        recovery = " / ".join(_seconds(clients[c]["recovery_s"]) for c in CLIENTS)
        audit = "clean" if result["audit"]["ok"] else f"{result['audit']['violations']} violations"
        lines.append(
            f"| {TITLES.get(result['scenario'], result['scenario'])} | {result['acknowledged']}"
            f" | {result['lost']} | {result['duplicated']} | {failed} ({landed} / {missing})"
            f" | {recovery} | {audit} | {_views(result)} | {_alerts(result)} |")
    return lines


def load(out: Path = OUT) -> list[dict[str, Any]]:
    found = {p.stem: json.loads(p.read_text("utf-8")) for p in out.glob("*.json")}
    return [found[name] for name in TITLES if name in found]


def main() -> int:
    results = load(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
    if not results:
        sys.stderr.write(f"no results in {OUT}: run the fault suite first\n")
        return 1
    sys.stdout.write("\n".join(rows(results)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
