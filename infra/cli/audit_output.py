"""What ``emining audit verify`` and ``replay`` print on the terminal (``--json`` prints the
reports themselves).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from infra.cli.common import console, deferred, err_console

if TYPE_CHECKING:
    from rich.table import Table

    from consumers.audit import VerifyReport
else:  # imported when a command first uses them: `emining` starts light
    Table = deferred("rich.table", "Table")

SHOWN = 40
"""Violations listed on the terminal; ``--json`` lists them all."""


def print_verify(report: VerifyReport) -> None:
    if report.records and (report.registry is None or not report.registry.orgs):
        err_console.print("[yellow]note:[/] no registry event is signed by the configured trust "
                          "anchor, so no organisation is known: check EMINING_TRUST_ANCHOR",
                          highlight=False, soft_wrap=True)
    findings = report.violations + report.warnings
    if findings:
        table = Table("topic", "part.", "offset", "kind", "source", "reason", show_lines=False)
        for f in findings[:SHOWN]:
            style = "yellow" if f.is_warning else "red"
            table.add_row(f.topic, str(f.partition), str(f.offset), f"[{style}]{f.kind}[/]",
                          f.source or "-", f.reason)
        console.print(table)
        if len(findings) > SHOWN:
            console.print(f"… and {len(findings) - SHOWN} more (use --json for all)",
                          style="dim")
    print_completeness(report)
    summary = ", ".join(f"{n} {kind}" for kind, n in report.counts().items())
    head = (f"checked {report.records:,} records ({report.events:,} events signed by "
            f"{report.sources} sources) in {report.seconds:.1f}s, {report.rate:,.0f}/s")
    if report.ok:
        tail = f" [yellow]({summary})[/]" if summary else ""
        console.print(f"{head}: [bold green]OK[/]{tail}", highlight=False, soft_wrap=True)
    else:
        console.print(f"{head}: [bold red]{len(report.violations)} violation(s)[/] ({summary})",
                      highlight=False, soft_wrap=True)


def print_completeness(report: VerifyReport) -> None:
    """The checkpoints' part: what they prove, what is not yet checkpointed, uncosigned heads."""
    done = report.completeness
    if done is None or done.topic_missing:
        return
    console.print(
        f"completeness: {done.checkpoints:,} checkpoints of {done.logs} logs ({done.valid:,} "
        f"signed by the platform, {done.cosigned_both:,} cosigned by both sides); "
        f"{done.records_checkpointed:,} records proven, {done.records_pending:,} records not "
        "yet checkpointed", highlight=False, soft_wrap=True)
    bare = done.uncosigned_heads
    for head in bare[:5]:
        console.print(f"[yellow]the newest checkpoint of {head.origin} ({head.time}, "
                      f"{head.size:,} records) has no cosignature from either side[/]",
                      highlight=False, soft_wrap=True)
    if len(bare) > 5:  # noqa: PLR2004
        console.print(f"… and {len(bare) - 5} more newest checkpoints without any cosignature",
                      style="dim")


def print_replay(result: Any, state: dict[str, Any]) -> None:
    if "timeline" in state:
        console.print_json(data=state["view"])
        table = Table("#", "time", "event", "by")
        for e in state["timeline"]:
            table.add_row(str(e["position"]), e["time"][:19], e["summary"], e["source"])
        console.print(table)
    else:
        for family, counts in state.items():
            line = ", ".join(f"{n} {status}" for status, n in counts.items()) or "none"
            console.print(f"[bold]{family}[/]: {line}", highlight=False, soft_wrap=True)
    when = f" as of {result.as_of.isoformat()}" if result.as_of else ""
    console.print(f"replayed {result.records:,} records{when}: {result.applied:,} applied, "
                  f"{result.rejected:,} rejected, {len(result.held):,} held (a gap or fork in "
                  f"their source's chain), {result.skipped:,} left out, {result.later:,} "
                  f"appended later; {result.seconds:.1f}s", highlight=False, soft_wrap=True)
    console.print(f"digest {result.digest.sha256}", highlight=False)
