"""The replan report: who stays, who moves, the critical path before and after."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console, Group, RenderableType
from rich.text import Text

from distro.console import literal
from distro.render.parts import ReportTable, Section, did_column, duration, facts, show
from distro.render.steps import next_steps_section
from distro.views.replan import CriticalPath, Finish, ReplanSummary

MOVES_SHOWN = 25


def render_replan(console: Console, summary: ReplanSummary) -> None:
    """Print the replan report of *summary*: who stays, who moves, the critical path."""
    rows = facts(
        [
            ("Completed, out of the plan", f"{summary.finished:,}"),
            ("In progress, kept on their instance", f"{summary.pinned:,}"),
            ("Pending or failed, placed", f"{summary.balanced:,}"),
            (
                "Customers moved",
                f"{len(summary.moves):,} ({summary.uploads_moved:,} uploads left among them)",
            ),
            ("Critical path before", _path_line(summary.before)),
            ("Critical path after", _path_line(summary.after)),
            ("Speeds", summary.speeds_note or "equal, at the assumed rate"),
            ("Predicted finish before", _finish_line(summary.finish_before)),
            ("Predicted finish after", _finish_line(summary.finish_after)),
            ("Earliest possible", _finish_line(summary.bound)),
            (
                "Left, from the space records",
                f"{summary.corrected_customers:,} customers corrected, "
                f"{summary.corrected_uploads:,} uploads fewer than their records said",
            ),
        ]
    )
    title = f"Re-plan over {summary.instances} instances from {summary.table}"
    parts: list[RenderableType] = [Section(title, rows)]
    if summary.nothing_moved:
        parts.append(
            Text(
                "No move makes the fleet finish sooner: no customer moved, nothing written. "
                "Leave the runners as they are."
            )
        )
    else:
        parts.append(Section("Instance distribution (new plan)", _distribution(summary)))
    if summary.moves:
        parts.append(Section("Moves", _moves_table(summary)))
    if summary.next_steps is not None:
        parts.append(next_steps_section(summary.next_steps))
    # What the replan wrote is the session: render_replan_outputs says it on stderr.
    show(console, parts)


def _path_line(path: CriticalPath) -> str:
    return f"{path.uploads:,} uploads on instance {path.instance} ({duration(path.days * 24)})"


def _finish_line(finish: Finish) -> str:
    if finish.hours is None or finish.at is None:
        return "never: a dropped instance holds work"
    return f"in {finish.hours:,.1f} hours, {finish.at:%Y-%m-%d %H:%M} UTC"


def _distribution(summary: ReplanSummary) -> RenderableType:
    table = ReportTable()
    hosts = any(row.machine is not None for row in summary.distribution)
    if hosts:
        table.add_column("Machine", justify="right")
    for name in ("Instance", "Customers", "Uploads left", "Per minute", "Finish", "Runner"):
        table.add_column(name, justify="left" if name in ("Instance", "Runner") else "right")
    for row in summary.distribution:
        name = f"{row.instance} (dropped)" if row.dropped else str(row.instance)
        table.add_row(
            *([str(row.machine)] if hosts else []),
            name,
            f"{row.customers:,}",
            f"{row.uploads:,}",
            f"{row.per_minute:,.1f}",
            duration(row.hours),
            row.change or "",
        )
    return table


def _moves_table(summary: ReplanSummary) -> RenderableType:
    table = ReportTable()
    did_column(table)
    for name in ("Status", "From", "To"):
        table.add_column(name)
    for move in summary.moves[:MOVES_SHOWN]:
        table.add_row(literal(move.customer), move.status, move.source, move.target)
    rest = len(summary.moves) - MOVES_SHOWN
    if rest <= 0:
        return table
    # A screenful says what happened; --json lists every move for a script.
    return Group(table, Text(f"... and {rest:,} more moves (--json lists them all)"))


def render_replan_outputs(console: Console, summary: ReplanSummary) -> None:
    """Print what the replan wrote, and who started while it ran."""
    lines = []
    if summary.files:
        folder = Path(summary.files[0]).parent
        lines.append(f"Wrote {len(summary.files)} instance files to {folder}/")
    if summary.nothing_moved:
        lines.append(f"Nothing written: no record of {summary.table} and no file changed")
    else:
        lines.append(f"Updated {summary.moved:,} tracking records in {summary.table}")
    if summary.raced:
        lines.append(
            f"Kept {len(summary.raced):,} customers where they are: the runner started them "
            "during the replan"
        )
        lines += [f"  {a.customer}: {a.status} on instance {a.instance_id}" for a in summary.raced]
    for line in lines:
        console.print(literal(line, style="green"), soft_wrap=True)
