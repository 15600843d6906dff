"""What ``emining views`` prints on the terminal: pages as tables whose first column is the
key, one approval or project with its timeline, how fresh the views are (``--json`` prints the
answers themselves).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from infra.cli.common import console, deferred, key_table, print_json

if TYPE_CHECKING:
    from rich.table import Table
else:  # imported when a command first uses them: `emining` starts light
    Table = deferred("rich.table", "Table")

Columns = dict[str, Callable[[dict[str, Any]], Any]]


def freshness_line(freshness: dict[str, dict[str, dict[str, Any]]]) -> str:
    parts = [f for ps in freshness.values() for f in ps.values()]
    if not parts:
        return "views: nothing applied yet"
    lags = [f["lag"] for f in parts if f["lag"] is not None]
    applied = sum(f["applied_offset"] + 1 for f in parts if f["applied_offset"] is not None)
    lag = f"lag {sum(lags)} record(s)" if len(lags) == len(parts) else "lag unknown (no broker)"
    return f"views: {applied} record(s) applied over {len(parts)} partition(s), {lag}"


def show_page(answer: dict[str, Any], columns: Columns, as_json: bool) -> None:
    """A page as a table whose first column is the key: printed whole however narrow the
    terminal (the other columns fold), so it can be copied into the next command."""
    if as_json:
        print_json(answer)
        return
    rows = [[cell(fn(item)) for fn in columns.values()] for item in answer["items"]]
    console.print(key_table(list(columns), rows))
    if answer["next_cursor"]:
        console.print(f"more: --cursor {answer['next_cursor']}", highlight=False)
    console.print(freshness_line(answer["freshness"]), style="dim", highlight=False)


def cell(value: Any) -> str:
    return "-" if value is None else str(value)


def english(names: dict[str, Any] | None) -> str | None:
    """A name in English (else any language it has), as the views store ``Names``."""
    if not names:
        return None
    found = names.get("en") or next((v for v in names.values() if v), None)
    return None if found is None else str(found)


def named(names: dict[str, str], party: str | None) -> str | None:
    return None if party is None else names.get(party, party)


def flow(item: dict[str, Any]) -> str | None:
    ins, outs = ", ".join(item["inputs"]), ", ".join(item["outputs"])
    if not ins and not outs:
        return None
    return f"{ins} → {outs}" if ins else f"→ {outs}"


def taken(offtake: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A project's offtake added up by product (over the plants that took it)."""
    from decimal import Decimal  # noqa: PLC0415

    totals: dict[str, dict[str, Any]] = {}
    for line in offtake:
        if not line.get("confirmed", True):
            continue  # the plant named another firm as the supplier: its word only
        entry = totals.setdefault(line["product"], {"dmt": Decimal(0)})
        entry["dmt"] += Decimal(str(line["dmt"]))
    return totals


def tonnes(by_product: dict[str, dict[str, Any]]) -> str | None:
    return ", ".join(f"{p} {t['dmt']}" for p, t in sorted(by_product.items())) or None


def status_of(item: dict[str, Any]) -> str | None:
    effective = item.get("effective_status")
    if effective is not None and effective != item["status"]:
        return f"{effective} (by law; recorded {item['status']})"
    status: str | None = item["status"]
    return status


def print_approval(answer: dict[str, Any]) -> None:
    i = answer["item"]
    console.print(f"[bold]{i['ref']}[/] {i['kind']} — {status_of(i)}, holder "
                  f"{i['holder_uscc']}, authority {i['authority'] or '-'}", highlight=False)
    lines = [(f"as of {i['as_of']}: received {(i['received_at'] or '-')[:10]}, "
             f"decided {(i['decided_at'] or '-')[:10]}")]
    if i["days_pending"] is not None:
        lines.append(f"pending {i['days_pending']} day(s)")
    if i["standard_due_on"]:
        lines.append(f"standard due {i['standard_due_on']}"
                     + (" — BREACHED" if i["breached"] else ""))
    if i["due"]:
        lines.append("due: " + ", ".join(f"{k} {v}" for k, v in sorted(i["due"].items())))
    console.print("\n".join(lines), highlight=False)
    spent = Table("status", "days in status")
    for name, seconds in i["time_in_state"].items():
        spent.add_row(name, f"{seconds / 86400:.1f}")
    if i["status"] is not None:
        spent.add_row(f"{i['status']} (current, since {(i['state_since'] or '-')[:10]})", "-")
    console.print(spent)
    print_timeline(answer)


def print_timeline(answer: dict[str, Any]) -> None:
    """A subject's history as a table, then how fresh the views are."""
    table = Table("#", "time", "event", "by", "note")
    for e in answer["timeline"]:
        note = "superseded by " + e["superseded_by"] if e["superseded_by"] else ""
        table.add_row(str(e["position"]), e["time"][:19], e["summary"], e["source"], note)
    console.print(table)
    console.print(freshness_line(answer["freshness"]), style="dim", highlight=False)


