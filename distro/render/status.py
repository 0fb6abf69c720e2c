"""The status report: the fleet, each instance, failures, stalled work and advice.

Every number comes from ``distro.views.status.FleetStatus``, the same data
``--json`` prints. DIDs are shown literally, never wrapped; commands are
whole lines outside any frame.
"""

from __future__ import annotations

from datetime import datetime

from rich.console import RenderableType
from rich.text import Text

from distro.console import literal
from distro.render.parts import ReportTable, Section, did_column, duration, facts, steps_section
from distro.views.status import Counts, FleetStatus, InstanceStatus, State

STATE_STYLES = {
    State.RUNNING: "green",
    State.FINISHED: "cyan",
    State.STALLED: "bold red",
    State.NOT_STARTED: "",
}


def status_parts(
    status: FleetStatus,
    *,
    instance: str | None = None,
    customer: str | None = None,
    failed: bool = False,
) -> list[RenderableType]:
    """The report's sections; *instance*, *customer* or *failed* narrow it."""
    if customer is not None:
        return [_customer(status, customer)]
    parts: list[RenderableType] = []
    if not failed:
        parts += [_fleet(status), *_disagreements(status), _instances(status, instance)]
    parts += _failures(status, instance)
    if not failed:
        parts += _stalled(status, instance)
        if status.advice:
            parts.append(_advice(status))
    if status.unreadable_count:
        parts.append(_unreadable(status))
    return parts


def _when(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "unknown"
    hours = (moment - now).total_seconds() / 3600
    if hours < 0:
        return f"{moment:%Y-%m-%d %H:%M} UTC ({duration(-hours)} ago)"
    return f"{moment:%Y-%m-%d %H:%M} UTC (in {duration(hours)})"


def _rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:,.1f}"


def _counts(counts: Counts) -> str:
    return (
        f"{counts.completed:,} done, {counts.in_progress:,} under way, "
        f"{counts.pending:,} waiting, {counts.failed:,} failed"
    )


def _fleet(status: FleetStatus) -> RenderableType:
    fleet, now = status.fleet, status.now
    share = fleet.uploads_done / fleet.uploads_total if fleet.uploads_total else 0.0
    last = f" (instance {status.last_instance} finishes last)" if status.last_instance else ""
    finish = _when(fleet.predicted_finish, now) + last
    if fleet.predicted_finish is None and fleet.unknown_because:
        finish = f"unknown: {fleet.unknown_because}"
    rows = [
        ("State", fleet.state),
        ("Uploads", f"{fleet.uploads_done:,} of {fleet.uploads_total:,} ({share:.1%})"),
        ("Measured rate", f"{_rate(fleet.rate_per_minute)} uploads a minute"),
        ("Predicted finish", finish),
        ("Customers", _counts(fleet.customers)),
        ("Spaces", _counts(fleet.spaces)),
    ]
    if not status.planned:
        rows.append(("Plan", "none in the folder: customers placed by their records"))
    title = f"Fleet status ({status.env}), at {now:%Y-%m-%d %H:%M} UTC"
    return Section(title, facts(rows))


def _instances(status: FleetStatus, only: str | None) -> RenderableType:
    table = ReportTable()
    hosts = any(i.machine is not None for i in status.instances)
    names = ("Instance", "State", "Customers", "Uploads", "Rate/min", "Predicted finish")
    for name in ("Machine", *names) if hosts else names:
        # Never wrapped: the section takes the width its rows need, so no number is cut.
        table.add_column(name, justify="left" if name == "State" else "right", no_wrap=True)
    for i in status.instances:
        if only is not None and i.instance != only:
            continue
        machine = [str(i.machine) if i.machine is not None else ""] if hosts else []
        table.add_row(*machine, *_instance_row(i, status.now))
    minutes = status.stall_after.total_seconds() / 60
    notes = [
        f"Customers and uploads: ended out of planned. Stalled: work left, but no record "
        f"changed within {minutes:,.0f} minutes. Rate/min: measured from the records."
    ]
    notes += [
        f"Instance {i.instance}: {i.done_before_move:,} of its {i.uploads_done:,} uploads done "
        "were done by other instances, before a replan moved its customers there."
        for i in status.instances
        if i.done_before_move and (only is None or i.instance == only)
    ]
    assumed = next((i.assumed_per_minute for i in status.instances if i.assumed_per_minute), None)
    if assumed is not None:
        notes.append(
            f"The plan's estimates assumed {assumed:,.0f} uploads a minute an instance "
            "(workers x uploads a minute); one runner process migrates one upload at a time."
        )
    return Section("Instances", table, Text("\n".join(notes)))


def _instance_row(i: InstanceStatus, now: datetime) -> list[str | Text]:
    c = i.customers
    return [
        i.instance,
        Text(i.state, style=STATE_STYLES.get(i.state, "")),
        f"{c.completed + c.failed:,}/{c.completed + c.failed + c.in_progress + c.pending:,}",
        f"{i.uploads_done:,}/{i.uploads_total:,}",
        _rate(i.rate_per_minute),
        _short_when(i.predicted_finish, now) if i.state != State.FINISHED else "done",
    ]


def _short_when(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "unknown"
    hours = (moment - now).total_seconds() / 3600
    return f"{moment:%m-%d %H:%M} (in {duration(hours)})"


def _failures(status: FleetStatus, only: str | None) -> list[RenderableType]:
    customers = [f for f in status.failed_customers if only is None or f.instance == only]
    if not status.failures_by_reason and not customers:
        return []
    table = ReportTable()
    table.add_column("Reason", no_wrap=True)
    table.add_column("Failed uploads", justify="right", no_wrap=True)
    for reason, uploads in status.failures_by_reason.items():
        table.add_row(literal(reason), f"{uploads:,}")
    parts: list[RenderableType] = [Section("Failures by reason", table)]
    if customers:
        lines = [
            "The runner skips a failed customer's completed spaces and starts its failed ones "
            "again; to retry one:"
        ]
        for failed in customers:
            lines.append(f"  {failed.retry}")
            lines += [
                f"    (left in progress when it failed: space {s.space}, instance {s.instance}, "
                f"idle {duration(s.minutes / 60)})"
                for s in failed.hung
            ]
        parts.append(steps_section(f"Failed customers ({len(customers)})", lines))
    return parts


def _stalled(status: FleetStatus, only: str | None) -> list[RenderableType]:
    stuck = [s for s in status.stalled if only is None or s.instance == only]
    if not stuck:
        return []
    table = ReportTable()
    table.add_column("Instance", justify="right", no_wrap=True)
    did_column(table)
    did_column(table, "Space")
    table.add_column("Last upload", no_wrap=True)
    table.add_column("Idle", justify="right", no_wrap=True)
    for s in stuck:
        table.add_row(
            s.instance,
            literal(s.customer),
            literal(s.space),
            literal(s.last_upload or "-"),
            duration(s.minutes / 60),
        )
    return [Section(f"Stalled spaces ({len(stuck)})", table)]


def _disagreements(status: FleetStatus) -> list[RenderableType]:
    if not status.disagreements:
        return []
    lines = [d.line for d in status.disagreements]
    lines.append(
        "Started customers are shown where the records put them; check that --output-dir "
        "is the folder the fleet was given."
    )
    return [steps_section("The plan folder and the records disagree", lines)]


def _advice(status: FleetStatus) -> RenderableType:
    lines: list[str] = []
    for advice in status.advice:
        lines.append(advice.message)
        if advice.command:
            lines.append(f"  {advice.command}")
    return steps_section("Advice", lines)


def _unreadable(status: FleetStatus) -> RenderableType:
    lines = [
        f"{status.unreadable_count:,} problems in the records (left out or read in part), e.g.:"
    ]
    lines += [f"  {p.table}: {p.key}: {p.why}" for p in status.unreadable]
    return steps_section("Unreadable records", lines)


def _customer(status: FleetStatus, customer: str) -> RenderableType:
    spaces = status.spaces_of.get(customer, ())
    table = ReportTable()
    did_column(table, "Space")
    for name in ("Status", "Instance", "Uploads", "Last upload", "Updated"):
        table.add_column(name, no_wrap=True)
    for s in spaces:
        table.add_row(
            literal(s.space),
            s.status,
            literal(s.instance_id),
            f"{s.done:,}/{s.total_uploads:,}",
            literal(s.last_upload or "-"),
            f"{s.updated_at:%Y-%m-%d %H:%M}",
        )
    title = f"Spaces of {customer}" if spaces else f"No space record of {customer} yet"
    return Section(literal(title), table)
