"""The analysis report: what was counted, how the plan splits it, how long it takes.

Every number comes from a ``distro.views.analysis.Summary``, the same data
``--json`` prints; nothing here computes a figure of its own. Every string read
from a table (DIDs) goes in as ``distro.console.literal``: shown as stored,
never read as markup, control characters escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from distro.console import literal, printable
from distro.render.parts import (
    Bar,
    ReportTable,
    Section,
    did_column,
    duration,
    facts,
    show,
    usd,
)
from distro.render.steps import next_steps_section, would_generate_section
from distro.tracking.records import LeftAlone
from distro.views.analysis import (
    Assumptions,
    Bucket,
    DataQuality,
    Outputs,
    PlanSummary,
    Recommendation,
    ShardSummary,
    Summary,
    Totals,
    Whale,
)

BAR_WIDTH = 20  # a histogram row stays within 80 columns
CHART_WIDTH = 40


def render(console: Console, summary: Summary) -> None:
    """Print the whole report of *summary* to *console*."""
    parts: list[RenderableType] = [
        _totals(summary.totals),
        _histogram(summary.histogram),
    ]
    if summary.top_customers:
        parts.append(_top(summary))
    parts.append(_data_quality(summary.data_quality))
    plan = summary.plan
    if plan is not None:
        parts += [
            _instances(plan, summary.assumptions),
            _balance(plan, summary.assumptions, _unit(summary)[0]),
            _estimates(plan, summary.assumptions, _unit(summary)),
        ]
    else:
        parts.append(_sizing(summary, _unit(summary)))
    if summary.shards is not None:
        parts.append(_shards(summary.shards))
    if summary.next_steps is not None:
        parts.append(next_steps_section(summary.next_steps))
    elif summary.generate_command is not None:
        parts.append(would_generate_section(summary.generate_command))
    # What the run wrote is the session, not the report: render_outputs says it on stderr.
    show(console, parts)


def _totals(totals: Totals) -> RenderableType:
    rows = [
        ("Total customers", f"{totals.customers:,}"),
        ("Total uploads", f"{totals.uploads:,}"),
        ("Spaces (distinct, empty ones included)", f"{totals.spaces:,}"),
        ("  with uploads (distinct)", f"{totals.distinct_spaces_with_uploads:,}"),
        (
            "  empty (distinct)",
            f"{totals.empty_spaces:,} ({totals.empty_space_share:.1%})",
        ),
        # Per customer, a shared space counts once per claimant: a different unit, so
        # it is a line of its own rather than a part of the distinct spaces above.
        (
            "Spaces with uploads, per customer (sum of estimatedSpaces)",
            f"{totals.space_claims_with_uploads:,}",
        ),
        ("Average uploads/customer", f"{totals.average_uploads_per_customer:,.0f}"),
        ("Average spaces with uploads/customer", f"{totals.average_spaces_per_customer:,.1f}"),
    ]
    return Section("Customer Distribution Analysis", facts(rows))


def _histogram(buckets: Sequence[Bucket]) -> RenderableType:
    table = ReportTable()
    table.add_column("Uploads per customer", justify="right")
    table.add_column("Customers", justify="right")
    table.add_column("", justify="left", no_wrap=True)
    table.add_column("Their uploads", justify="right")
    customers = sum(b.customers for b in buckets)
    uploads = sum(b.uploads for b in buckets)
    largest = max((b.customers for b in buckets), default=0)
    for bucket in buckets:
        table.add_row(
            bucket.label,
            f"{bucket.customers:,} ({bucket.customers / (customers or 1):.1%})",
            Bar(bucket.customers, largest, BAR_WIDTH),
            f"{bucket.uploads:,} ({bucket.uploads / (uploads or 1):.1%})",
        )
    return Section("Customers by Uploads", table)


def _top(summary: Summary) -> RenderableType:
    table = ReportTable()  # no rank column: the order says it, and DIDs need the room
    did_column(table)
    for name in ("Uploads", "Share", "Spaces"):
        table.add_column(name, justify="right")
    planned = summary.plan is not None
    if planned:
        table.add_column("Instance", justify="right")
    for c in summary.top_customers:
        # A Text, not a str: a str cell is read as markup, and a DID is not to be trusted.
        row: list[Text | str] = [
            literal(c.customer),
            f"{c.uploads:,}",
            f"{c.share:.1%}",
            f"{c.spaces:,}",
        ]
        if planned:
            row.append(",".join(map(str, c.instances)))
        table.add_row(*row)
    title = f"Top {len(summary.top_customers)} Customers by Uploads"
    return Section(title, table)


def _shards(shards: ShardSummary) -> RenderableType:
    floor = f"{shards.shards_ref_floor:,}"
    rows = facts(
        [
            ("Shards (uploads with shardsRef at " + floor + ")", f"{shards.shards:,}"),
            ("  listed in the table", f"{shards.listed_shards:,}"),
            ("  uploads with shardsRef (list in S3)", f"{shards.uploads_with_shards_ref:,}"),
            ("Average shards/upload", f"{shards.average_shards_per_upload:,.2f}"),
            ("  listed, without shardsRef uploads", f"{shards.average_listed_per_upload:,.2f}"),
            ("Index generation calls (one per shard)", f"{shards.index_calls:,}"),
            (
                f"Index generation cost (${shards.index_cost_per_call:.5f}/call)",
                usd(shards.index_cost_usd),
            ),
        ]
    )
    body: list[RenderableType] = [rows, _shard_histogram(shards)]
    if shards.top_customers:
        body.append(_shard_customers(shards))
    if shards.instances:
        body.append(_shard_instances(shards))
    return Section("Shards: the Work per Upload", Group(*body))


def _shard_histogram(shards: ShardSummary) -> Table:
    table = ReportTable()
    table.title = "Uploads by shards (each counted upload once)"
    table.add_column("Shards per upload", justify="right")
    table.add_column("Uploads", justify="right")
    table.add_column("", justify="left", no_wrap=True)
    total = sum(b.uploads for b in shards.histogram)
    largest = max((b.uploads for b in shards.histogram), default=0)
    for bucket in shards.histogram:
        table.add_row(
            bucket.label,
            f"{bucket.uploads:,} ({bucket.uploads / (total or 1):.2%})",
            Bar(bucket.uploads, largest, BAR_WIDTH),
        )
    return table


def _shard_customers(shards: ShardSummary) -> Table:
    table = ReportTable()
    table.title = f"Top {len(shards.top_customers)} customers by shards"
    did_column(table)
    for name in ("Shards", "Share", "Uploads", "Shards/upload", "shardsRef"):
        table.add_column(name, justify="right")
    for c in shards.top_customers:
        table.add_row(
            literal(c.customer),
            f"{c.shards:,}",
            f"{c.share:.1%}",
            f"{c.uploads:,}",
            f"{c.shards_per_upload:,.2f}",
            f"{c.uploads_with_shards_ref:,}",
        )
    return table


def _shard_instances(shards: ShardSummary) -> Table:
    table = ReportTable()
    table.title = "Shards per instance"
    for name in ("Instance", "Shards", "Share", "Shards/upload"):
        table.add_column(name, justify="right")
    for i in shards.instances:
        table.add_row(
            str(i.instance_id), f"{i.shards:,}", f"{i.share:.1%}", f"{i.shards_per_upload:,.2f}"
        )
    return table


READ_PATHS = {"lean": "the lean Query path", "sdk": "the SDK (aiobotocore)"}


def _data_quality(quality: DataQuality) -> RenderableType:
    rows = [
        ("Consumer rows scanned", f"{quality.rows_scanned:,}"),
        ("Rows without a customer (skipped)", f"{quality.rows_without_customer:,}"),
        ("Customers on the skip list", f"{quality.skipped_customers:,}"),
        ("Customers outside --filter", f"{quality.filtered_customers:,}"),
        ("Customers below --min-uploads", f"{quality.below_min_uploads:,}"),
        ("Spaces claimed by several customers", f"{quality.shared_spaces:,}"),
        (
            "Uploads counted twice because of them",
            f"{quality.double_counted_uploads:,}",
        ),
        (
            "Spaces counted now / from checkpoint",
            f"{quality.spaces_counted:,} / {quality.spaces_resumed:,}",
        ),
        (
            "Read capacity units consumed",
            f"{quality.read_units:,.1f} (${quality.read_cost_usd:,.4f} on-demand)",
        ),
        ("Uploads counted through", READ_PATHS.get(quality.read_path, quality.read_path)),
    ]
    body: list[RenderableType] = [facts(rows)]
    if quality.shared_spaces:
        body.append(
            Text(
                "\nA shared space is migrated with each customer that claims it, so its "
                "uploads count once per customer in the totals above.",
                style="yellow",
            )
        )
    return Section("Data Quality", Group(*body))


def _workers(assumptions: Assumptions) -> str:
    """The workers the times assume, as a column's heading says them."""
    if assumptions.runners_per_host is not None:
        return _count(assumptions.runners_per_host, "runner")
    return _count(assumptions.workers_per_instance, "worker")


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}{'' if n == 1 else 's'}"


def _instances(plan: PlanSummary, assumptions: Assumptions) -> RenderableType:
    time = f"Est. time ({_workers(assumptions)})"
    if plan.machines:
        runners = _count(assumptions.runners_per_host or 1, "runner")
        return _distribution(
            ("Machine", "Instance files", "Customers", "Uploads", "Share", "Spaces", time),
            [
                (
                    str(m.machine),
                    str(m.first) if m.first == m.last else f"{m.first}-{m.last}",
                    f"{m.customers:,}",
                    f"{m.uploads:,}",
                    f"{m.share:.1%}",
                    f"{m.spaces:,}",
                    duration(m.hours),
                )
                for m in plan.machines
            ],
            [(str(m.machine), m.uploads) for m in plan.machines],
            "machine",
            f"Each machine runs {runners}, one instance file each; a machine's time is its "
            "busiest runner's.",
        )
    empty = sum(1 for i in plan.instances if not i.customers)
    return _distribution(
        ("Instance", "Customers", "Uploads", "Share", "Spaces", time),
        [
            (
                str(i.instance_id),
                f"{i.customers:,}",
                f"{i.uploads:,}",
                f"{i.share:.1%}",
                f"{i.spaces:,}",
                duration(i.hours),
            )
            for i in plan.instances
        ],
        [(str(i.instance_id), i.uploads) for i in plan.instances],
        "instance",
        f"{empty} instance(s) get no customer: there are fewer customers than instances."
        if empty
        else "",
    )


def _distribution(
    headings: Sequence[str],
    rows: Sequence[Sequence[str]],
    loads: Sequence[tuple[str, int]],
    unit: str,
    note: str,
) -> Section:
    """The Instance Distribution: a table of *rows*, then each *unit*'s uploads as a bar."""
    table = ReportTable()
    for name in headings:
        table.add_column(name, justify="right")
    for row in rows:
        table.add_row(*row)
    # The load as bars, apart from the table so that both fit in 80 columns.
    chart = Table.grid(padding=(0, 1))
    chart.add_column(justify="right")
    chart.add_column(no_wrap=True)
    chart.add_column(justify="right")
    largest = max((uploads for _, uploads in loads), default=0)
    for label, uploads in loads:
        chart.add_row(label, Bar(uploads, largest, CHART_WIDTH), f"{uploads:,}")
    body: list[RenderableType] = [table, Text(f"\nUploads per {unit}", style="bold"), chart]
    if note:
        body.append(Text(note))
    return Section("Instance Distribution", Group(*body))


def _unit(summary: Summary) -> tuple[str, float, str]:
    """What the plan balanced ("uploads", or "shards"), how many one worker does a minute,
    and where that rate comes from."""
    shards, upm = summary.shards, summary.assumptions.uploads_per_minute
    if shards is None or shards.balanced_by == "uploads":
        return "uploads", upm, ""
    per_upload = shards.rate_shards_per_upload
    source = (
        "--shards-per-minute"
        if per_upload is None
        else f"{upm:g} uploads a minute x the {per_upload:,.2f} shards per upload counted, "
        "so the fleet's total time is the same in shards as in uploads"
    )
    return "shards", shards.shards_per_minute, source


def _balance(plan: PlanSummary, assumptions: Assumptions, unit: str = "uploads") -> RenderableType:
    largest = "largest space" if plan.split_customers else "largest customer"
    rows = [
        (f"Min {unit}/instance", f"{plan.min_uploads:,}"),
        (f"Lower bound, max(total/N, {largest})", f"{plan.lower_bound:,.0f}"),
        (f"Plan makespan (max {unit}/instance)", f"{plan.max_uploads:,}"),
        ("Plan above the lower bound", f"{plan.gap:.2%}"),
        ("Critical path", duration(plan.critical_path_hours)),
    ]
    body: list[RenderableType] = [facts(rows)]
    if plan.split_customers:
        body.append(
            Text(
                f"\nPlanned space by space (--split-large-customers): "
                f"{', '.join(map(printable, plan.split_customers))}."
            )
        )
    if plan.whale is not None:
        body.append(_whale(plan, plan.whale, assumptions, unit))
    return Section("Load Balance", Group(*body))


def _whale(plan: PlanSummary, whale: Whale, assumptions: Assumptions, unit: str) -> Text:
    """Why one customer sets the finish line, and from how many instances on more stop helping."""
    customer = printable(whale.customer)
    who = customer if whale.space is None else f"Space {printable(whale.space)} of {customer}"
    advice = (
        ""
        if plan.split_large or whale.space is not None
        else " --split-large-customers plans its spaces one by one instead."
    )
    # With runners per host, one runner (one worker) migrates it, on one instance file.
    one = "one runner" if assumptions.runners_per_host else _workers(assumptions)
    return Text(
        f"\n{who} alone holds {whale.uploads:,} {unit}, more than the fair share of "
        f"{plan.fair_share:,.0f} per instance: it alone needs "
        f"{duration(whale.hours)} at {one}, and no plan "
        f"finishes sooner. From {whale.saturation:,} instances on (total {unit} / its "
        f"{unit}, rounded up: where the fair share falls to its size) the lower bound is this "
        f"{'space' if whale.space else 'customer'} alone, so more instances do not shorten the "
        f"critical path; this plan has {len(plan.instances)}.{advice}",
        style="yellow",
    )


def _estimates(
    plan: PlanSummary, assumptions: Assumptions, unit: tuple[str, float, str]
) -> RenderableType:
    table = ReportTable()
    hosts = assumptions.runners_per_host
    for name in ("Runners/machine" if hosts else "Workers/instance", "Critical path", "Fleet cost"):
        table.add_column(name, justify="right")
    for estimate in plan.estimates:
        chosen = estimate.workers_per_instance == (hosts or assumptions.workers_per_instance)
        table.add_row(
            f"{estimate.workers_per_instance}{' (chosen)' if chosen else ''}",
            duration(estimate.critical_path_hours),
            usd(estimate.fleet_cost_usd),
            style="bold" if chosen else None,
        )
    machines = len(plan.machines) if hosts else len(plan.instances)
    body: list[RenderableType] = [table, _cost_note(machines, assumptions, unit)]
    if not hosts:
        body.append(Text(ONE_AT_A_TIME, style="yellow"))
    return Section("Time and Cost Estimates", Group(*body))


# Under the guide's estimates: what today's runner really does with one file.
ONE_AT_A_TIME = (
    "Today's runner migrates one upload at a time per process, so one instance file is one "
    "worker: for W workers on each machine, plan W files per machine with --runners-per-host W."
)


def _cost_note(
    instances: int | str, assumptions: Assumptions, unit: tuple[str, float, str]
) -> Text:
    name, rate, source = unit
    why = f" ({source})" if source else ""
    what = "machines" if assumptions.runners_per_host else "instances"
    return Text(
        f"Fleet cost = {instances} {what} x critical path x "
        f"{usd(assumptions.instance_hourly_cost)}/h: every {what[:-1]} runs until the last one "
        f"finishes.\nTimes assume {rate:,.4g} {name} per minute per worker{why}."
    )


def _sizing(summary: Summary, unit: tuple[str, float, str]) -> RenderableType:
    assumptions = summary.assumptions
    table = ReportTable()
    hosts = assumptions.runners_per_host
    for name in ("Machines" if hosts else "Instances", f"Max {unit[0]}", "Above lower bound"):
        table.add_column(name, justify="right")
    table.add_column(f"Time ({_workers(assumptions)})", justify="right")
    table.add_column("Fleet cost", justify="right")
    for row in summary.sizing:
        table.add_row(
            str(row.instances),
            f"{row.max_uploads:,}",
            f"{row.gap:.1%}",
            duration(row.critical_path_hours),
            usd(row.fleet_cost_usd),
        )
    body: list[RenderableType] = [table]
    if summary.recommendation is not None:
        what = "machines" if hosts else "instances"
        body.append(Text(recommendation_line(summary.recommendation, what), style="bold"))
        today = todays_runner_line(summary.recommendation)
        if today:
            body.append(Text(today, style="yellow"))
    hint = Text("Pass --instances N to see the customers each instance would get.")
    note = _cost_note("N", assumptions, unit)
    body.append(note)
    if not hosts:
        body.append(Text(ONE_AT_A_TIME, style="yellow"))
    return Section("Instances Needed", *body, hint)


def recommendation_line(advice: Recommendation, what: str = "instances") -> str:
    """The one line that answers "how many instances?" (or *what*: machines), with the
    throughput its time assumed."""
    n = advice.instances
    rate = advice.per_minute * advice.workers
    workers = (
        f"{advice.workers} workers x {advice.per_minute:,.4g}"
        if advice.workers > 1
        else "one runner"
    )
    hours = f"{duration(advice.hours)} at {rate:,.4g} {advice.unit} a minute per file ({workers})"
    if advice.more_help:
        return (
            f"Recommended: {n} {what} or more: {n} take {hours}, and each one added still "
            "shortens the time (no customer alone caps it)."
        )
    if advice.capped_by is None:
        return f"Recommended: {n} {what}, {hours}: the shortest time sized, within 1%."
    who = printable(advice.capped_by)
    if advice.capped_space is not None:
        who = f"space {printable(advice.capped_space)} of {who}"
    split = (
        " --split-large-customers plans its spaces across instances."
        if advice.split_would_help
        else ""
    )
    return (
        f"Recommended: {n} {what}, {hours}. More do not shorten it: {who} alone takes "
        f"that long.{split}"
    )


def todays_runner_line(advice: Recommendation) -> str:
    """With the guide's workers per instance: what today's runner takes, and the runners per
    host that get close to the recommended time ("" when the plan already counts runners)."""
    if advice.one_runner_hours is None or advice.runners_hours is None:
        return ""
    n, w = advice.instances, advice.runners_per_host
    return (
        f"Today's runner migrates one upload at a time per process: {n} instances of one "
        f"runner take {duration(advice.one_runner_hours)}; --instances {n} --runners-per-host "
        f"{w} ({n} machines of {w} runners) take {duration(advice.runners_hours)}."
    )


def render_outputs(console: Console, summary: Summary) -> None:
    """Print what the run wrote: the report's last lines, or all of it with ``--json``."""
    for line in _outputs(summary.outputs):
        # Literal: paths and table names may hold brackets. Unwrapped, so they copy whole.
        console.print(literal(line, style="green"), soft_wrap=True)


def _outputs(outputs: Outputs) -> list[str]:
    said: list[str] = []
    if outputs.files:
        folder = Path(outputs.files[0]).parent
        said.append(f"Wrote {len(outputs.files)} instance files to {folder}/")
    if outputs.assignments_table is not None:
        said.append(
            f"Wrote {outputs.assignment_records:,} tracking records to {outputs.assignments_table}"
        )
    if outputs.left_alone:
        said.append(f"Left {len(outputs.left_alone):,} records alone: the runner has started them")
        said += [_left_alone_line(a) for a in outputs.left_alone]
        doubled = sum(a.doubled for a in outputs.left_alone)
        if doubled:
            said.append(
                f"{doubled:,} of them are listed on another instance than their record: two "
                "instances would migrate them; to change a plan under way, use distro replan"
            )
    if outputs.report_html is not None:
        said.append(f"Saved the report as HTML to {outputs.report_html}")
    return said


def _left_alone_line(left: LeftAlone) -> str:
    line = f"  {left.customer}: {left.status} on instance {left.instance_id or '?'}"
    return f"{line} (the files list it on {left.planned})" if left.doubled else line
