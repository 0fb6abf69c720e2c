"""The report for the people running the migration, rendered with rich.

On a terminal it has colour, boxes and solid bars; elsewhere the same content
is plain text with bars of ``#``, so it reads well in a log or a pasted ticket.
Every number comes from a ``distro.summary.Summary``, the same data ``--json``
prints; nothing here computes a figure of its own. Every string read from a
table (DIDs) goes in as ``distro.console.literal``/``printable``: shown as stored,
never read as markup, control characters escaped.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from distro.console import literal, printable, stderr, stdout, write_json
from distro.errors import Fix, OutputError
from distro.files import atomic_write
from distro.options import ReportOptions
from distro.steps import InstanceStep, NextSteps
from distro.summary import (
    Assumptions,
    Bucket,
    CriticalPath,
    DataQuality,
    Outputs,
    PlanSummary,
    ReplanSummary,
    ShardSummary,
    SizingRow,
    Summary,
    Totals,
    Whale,
    replan_json,
    to_json,
)
from distro.tracking.records import LeftAlone
from distro.verify import Verification

if TYPE_CHECKING:
    from distro.check import Comparison

BAR_WIDTH = 20  # a histogram row stays within 80 columns
CHART_WIDTH = 40
HTML_WIDTH = 110  # columns of the recorded console: wide enough for every table
HTML_PAGE = """<!DOCTYPE html>
<html>
<head>
<meta charset="UTF-8">
<title>{title}</title>
<style>
{{stylesheet}}
body {{{{
    color: {{foreground}};
    background-color: {{background}};
}}}}
</style>
</head>
<body>
    <pre style="font-family:Menlo,'DejaVu Sans Mono',consolas,'Courier New',monospace"><code style="font-family:inherit">{{code}}</code></pre>
</body>
</html>
"""


def analysis(summary: Summary, options: ReportOptions | None = None) -> None:
    """Show *summary* as *options* ask: the report (or JSON) on stdout, the HTML page, and
    what the run wrote on stderr, apart from the report."""
    options = options or ReportOptions()
    if options.html is not None:
        save_html(summary, options.html)
    if options.json_output:
        write_json(to_json(summary))
    else:
        render(stdout, summary)
    render_outputs(stderr, summary)


def replan(summary: ReplanSummary, *, json_output: bool = False) -> None:
    """Show the replan *summary* (or its JSON) on stdout, and what it wrote on stderr."""
    if json_output:
        write_json(replan_json(summary))
    else:
        render_replan(stdout, summary)
    render_replan_outputs(stderr, summary)


def verification(found: Verification) -> None:
    """Show what ``distro verify`` found: each problem (DIDs literally), or the OK line."""
    for problem in found.problems:
        stdout.print(literal(problem), soft_wrap=True)
    if not found.problems:
        stdout.print(literal(f"OK: {found.described}", style="green"), soft_wrap=True)


def comparison(compared: Comparison) -> None:
    """Show the OK line of a ``distro check`` whose two paths agree."""
    stdout.print(literal(f"OK: {compared.describe()}", style="green"), soft_wrap=True)


def render(console: Console, summary: Summary) -> None:
    """Print the whole report of *summary* to *console*."""
    plain = not console.is_terminal
    parts: list[RenderableType] = [
        _totals(summary.totals, plain),
        _histogram(summary.histogram, plain),
    ]
    if summary.top_customers:
        parts.append(_top(summary, plain))
    parts.append(_data_quality(summary.data_quality, plain))
    plan = summary.plan
    if plan is not None:
        parts += [
            _instances(plan, summary.assumptions, plain),
            _balance(plan, summary.assumptions, plain, _unit(summary)[0]),
            _estimates(plan, summary.assumptions, plain, _unit(summary)),
        ]
    else:
        parts.append(_sizing(summary.sizing, summary.assumptions, plain, _unit(summary)))
    if summary.shards is not None:
        parts.append(_shards(summary.shards, plain))
    if summary.next_steps is not None:
        parts.append(_next_steps(summary.next_steps, plain))
    elif summary.generate_command is not None:
        parts.append(_would_generate(summary.generate_command, plain))
    # What the run wrote is the session, not the report: render_outputs says it on stderr.
    console.print(Group(*parts), crop=not plain)  # plain: commands stay whole lines (_step)


def save_html(summary: Summary, path: Path) -> None:
    """Render the report of *summary* as it looks on a terminal and save it as HTML at *path*."""
    recorder = Console(
        record=True,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        width=HTML_WIDTH,
        highlight=False,
    )
    render(recorder, summary)
    title = html.escape(f"distro report, {summary.generated_at}")
    page = recorder.export_html(code_format=HTML_PAGE.format(title=title), inline_styles=True)
    try:
        atomic_write(path, page.encode())
    except OSError as exc:
        raise OutputError(
            f"cannot write the HTML report to {path} ({exc.strerror})", fix=Fix.REPORT_HTML
        ) from None


def _bar(value: float, largest: float, plain: bool, width: int = BAR_WIDTH) -> Text:
    """A bar of *value* on a scale where *largest* fills *width*; never empty above 0."""
    cells = round(width * value / largest) if largest else 0
    cells = max(cells, 1) if value > 0 else 0
    return Text("#" * cells) if plain else Text("\u2588" * cells, style="cyan")


def _table(plain: bool) -> Table:
    return Table(box=box.ASCII2 if plain else box.SIMPLE_HEAVY)


def _duration(hours: float) -> str:
    return f"{hours:,.1f} hours" if hours < 24 else f"{hours / 24:,.1f} days"


def _usd(amount: float) -> str:
    return f"${amount:,.2f}"


def _section(title: str, body: RenderableType, plain: bool) -> RenderableType:
    if plain:
        return Group(Text(f"\n{title}\n{'=' * 70}", style="bold"), body)
    return Panel(body, title=title, title_align="left", box=box.ROUNDED)


def _facts(rows: Sequence[tuple[str, str]]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(justify="right")
    for name, value in rows:
        table.add_row(name, value)
    return table


def _totals(totals: Totals, plain: bool) -> RenderableType:
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
    return _section("Customer Distribution Analysis", _facts(rows), plain)


def _histogram(buckets: Sequence[Bucket], plain: bool) -> RenderableType:
    table = _table(plain)
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
            _bar(bucket.customers, largest, plain),
            f"{bucket.uploads:,} ({bucket.uploads / (uploads or 1):.1%})",
        )
    return _section("Customers by Uploads", table, plain)


def _top(summary: Summary, plain: bool) -> RenderableType:
    table = _table(plain)  # no rank column: the order says it, and DIDs need the room
    table.add_column("Customer", overflow="fold")
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
    return _section(title, table, plain)


def _shards(shards: ShardSummary, plain: bool) -> RenderableType:
    floor = f"{shards.shards_ref_floor:,}"
    facts = _facts(
        [
            ("Shards (uploads with shardsRef at " + floor + ")", f"{shards.shards:,}"),
            ("  listed in the table", f"{shards.listed_shards:,}"),
            ("  uploads with shardsRef (list in S3)", f"{shards.uploads_with_shards_ref:,}"),
            ("Average shards/upload", f"{shards.average_shards_per_upload:,.2f}"),
            ("  listed, without shardsRef uploads", f"{shards.average_listed_per_upload:,.2f}"),
            ("Index generation calls (one per shard)", f"{shards.index_calls:,}"),
            (
                f"Index generation cost (${shards.index_cost_per_call:.5f}/call)",
                _usd(shards.index_cost_usd),
            ),
        ]
    )
    body: list[RenderableType] = [facts, _shard_histogram(shards, plain)]
    if shards.top_customers:
        body.append(_shard_customers(shards, plain))
    if shards.instances:
        body.append(_shard_instances(shards, plain))
    return _section("Shards: the Work per Upload", Group(*body), plain)


def _shard_histogram(shards: ShardSummary, plain: bool) -> Table:
    table = _table(plain)
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
            _bar(bucket.uploads, largest, plain),
        )
    return table


def _shard_customers(shards: ShardSummary, plain: bool) -> Table:
    table = _table(plain)
    table.title = f"Top {len(shards.top_customers)} customers by shards"
    table.add_column("Customer", overflow="fold")
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


def _shard_instances(shards: ShardSummary, plain: bool) -> Table:
    table = _table(plain)
    table.title = "Shards per instance"
    for name in ("Instance", "Shards", "Share", "Shards/upload"):
        table.add_column(name, justify="right")
    for i in shards.instances:
        table.add_row(
            str(i.instance_id), f"{i.shards:,}", f"{i.share:.1%}", f"{i.shards_per_upload:,.2f}"
        )
    return table


READ_PATHS = {"lean": "the lean Query path", "sdk": "the SDK (aiobotocore)"}


def _data_quality(quality: DataQuality, plain: bool) -> RenderableType:
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
    body: list[RenderableType] = [_facts(rows)]
    if quality.shared_spaces:
        body.append(
            Text(
                "\nA shared space is migrated with each customer that claims it, so its "
                "uploads count once per customer in the totals above.",
                style="yellow",
            )
        )
    return _section("Data Quality", Group(*body), plain)


def _instances(plan: PlanSummary, assumptions: Assumptions, plain: bool) -> RenderableType:
    table = _table(plain)
    for name in ("Instance", "Customers", "Uploads", "Share", "Spaces"):
        table.add_column(name, justify="right")
    table.add_column(f"Est. time ({assumptions.workers_per_instance} workers)", justify="right")
    # The load as bars, apart from the table so that both fit in 80 columns.
    chart = Table.grid(padding=(0, 1))
    chart.add_column(justify="right")
    chart.add_column(no_wrap=True)
    chart.add_column(justify="right")
    largest = max((i.uploads for i in plan.instances), default=0)
    for instance in plan.instances:
        table.add_row(
            str(instance.instance_id),
            f"{instance.customers:,}",
            f"{instance.uploads:,}",
            f"{instance.share:.1%}",
            f"{instance.spaces:,}",
            _duration(instance.hours),
        )
        chart.add_row(
            str(instance.instance_id),
            _bar(instance.uploads, largest, plain, CHART_WIDTH),
            f"{instance.uploads:,}",
        )
    empty = sum(1 for i in plan.instances if not i.customers)
    body: list[RenderableType] = [table, Text("\nUploads per instance", style="bold"), chart]
    if empty:
        body.append(
            Text(f"{empty} instance(s) get no customer: there are fewer customers than instances.")
        )
    return _section("Instance Distribution", Group(*body), plain)


def _unit(summary: Summary) -> tuple[str, float]:
    """What the plan balanced ("uploads", or "shards") and how many one worker does a minute."""
    shards = summary.shards
    if shards is None or shards.balanced_by == "uploads":
        return "uploads", summary.assumptions.uploads_per_minute
    return "shards", shards.shards_per_minute


def _balance(
    plan: PlanSummary, assumptions: Assumptions, plain: bool, unit: str = "uploads"
) -> RenderableType:
    largest = "largest space" if plan.split_customers else "largest customer"
    rows = [
        (f"Min {unit}/instance", f"{plan.min_uploads:,}"),
        (f"Lower bound, max(total/N, {largest})", f"{plan.lower_bound:,.0f}"),
        (f"Plan makespan (max {unit}/instance)", f"{plan.max_uploads:,}"),
        ("Plan above the lower bound", f"{plan.gap:.2%}"),
        ("Critical path", _duration(plan.critical_path_hours)),
    ]
    body: list[RenderableType] = [_facts(rows)]
    if plan.split_customers:
        body.append(
            Text(
                f"\nPlanned space by space (--split-large-customers): "
                f"{', '.join(map(printable, plan.split_customers))}."
            )
        )
    if plan.whale is not None:
        body.append(_whale(plan, plan.whale, assumptions, unit))
    return _section("Load Balance", Group(*body), plain)


def _whale(plan: PlanSummary, whale: Whale, assumptions: Assumptions, unit: str) -> Text:
    """Why one customer sets the finish line, and from how many instances on more stop helping."""
    customer = printable(whale.customer)
    who = customer if whale.space is None else f"Space {printable(whale.space)} of {customer}"
    advice = (
        ""
        if plan.split_large or whale.space is not None
        else " --split-large-customers plans its spaces one by one instead."
    )
    return Text(
        f"\n{who} alone holds {whale.uploads:,} {unit}, more than the fair share of "
        f"{plan.fair_share:,.0f} per instance: it alone needs "
        f"{_duration(whale.hours)} at {assumptions.workers_per_instance} workers, and no plan "
        f"finishes sooner. From {whale.saturation:,} instances on (total {unit} / its "
        f"{unit}, rounded up: where the fair share falls to its size) the lower bound is this "
        f"{'space' if whale.space else 'customer'} alone, so more instances do not shorten the "
        f"critical path; this plan has {len(plan.instances)}.{advice}",
        style="yellow",
    )


def _estimates(
    plan: PlanSummary, assumptions: Assumptions, plain: bool, unit: tuple[str, float]
) -> RenderableType:
    table = _table(plain)
    for name in ("Workers/instance", "Critical path", "Fleet cost"):
        table.add_column(name, justify="right")
    for estimate in plan.estimates:
        chosen = estimate.workers_per_instance == assumptions.workers_per_instance
        table.add_row(
            f"{estimate.workers_per_instance}{' (chosen)' if chosen else ''}",
            _duration(estimate.critical_path_hours),
            _usd(estimate.fleet_cost_usd),
            style="bold" if chosen and not plain else None,
        )
    note = _cost_note(len(plan.instances), assumptions, unit)
    return _section("Time and Cost Estimates", Group(table, note), plain)


def _cost_note(
    instances: int | str, assumptions: Assumptions, unit: tuple[str, float] | None = None
) -> Text:
    name, rate = unit or ("uploads", assumptions.uploads_per_minute)
    return Text(
        f"Fleet cost = {instances} instances x critical path x "
        f"{_usd(assumptions.instance_hourly_cost)}/h: every instance runs until the last one "
        f"finishes.\nTimes assume {rate:g} {name} per minute per worker."
    )


def _sizing(
    rows: Sequence[SizingRow],
    assumptions: Assumptions,
    plain: bool,
    unit: tuple[str, float] | None = None,
) -> RenderableType:
    table = _table(plain)
    for name in ("Instances", f"Max {(unit or ('uploads',))[0]}", "Above lower bound"):
        table.add_column(name, justify="right")
    table.add_column(f"Time ({assumptions.workers_per_instance} workers)", justify="right")
    table.add_column("Fleet cost", justify="right")
    for row in rows:
        table.add_row(
            str(row.instances),
            f"{row.max_uploads:,}",
            f"{row.gap:.1%}",
            _duration(row.critical_path_hours),
            _usd(row.fleet_cost_usd),
        )
    hint = Text("Pass --instances N to see the customers each instance would get.")
    note = _cost_note("N", assumptions, unit)
    return _section("Instances Needed", Group(table, note, hint), plain)


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


MOVES_SHOWN = 25


def step_lines(steps: NextSteps) -> list[str]:
    """The Next Steps of *steps* as lines; a command is a line of its own, indented by two."""
    busy = [i for i in steps.instances if not i.empty]
    lines = [
        f"Replace ec2-instance-N with each instance's host and {steps.runner_dir} with the "
        "runner's folder there.",
        "1. Copy each instance's files to it:",
        *[f"  {i.copy}" for i in busy],
        *[_nothing_to_do(i) for i in steps.instances if i.empty],
        "2. On each instance, check the files are there:",
        f"  {steps.check}",
        "3. Start the runner on each instance:",
        *[f"  {i.start}" for i in busy if i.start is not None],
    ]
    split = [i.spaces for i in busy if i.spaces is not None]
    if split:
        lines += [
            "   Today's runner skips spaceAssignments: on each instance below, also migrate "
            "its share of the split customers' spaces:",
            *[f"  {loop}" for loop in split],
        ]
    return [
        *lines,
        "4. Here, re-check that the files are the ones written:",
        f"  {steps.verify}",
        "5. Mid-migration, to re-balance what is left around what has started:",
        f"  {steps.replan}",
    ]


def _nothing_to_do(instance: InstanceStep) -> str:
    return (
        f"   Instance {instance.instance_id}: nothing to do (the plan gives it no customer and "
        "no space): copy nothing, start no runner"
    )


def _next_steps(steps: NextSteps, plain: bool) -> RenderableType:
    body = Group(*(_step(line, plain) for line in step_lines(steps)))
    return _section("Next Steps", body, plain)


def _step(line: str, plain: bool) -> Text:
    # Literal: paths may hold brackets. In a log a command stays one line whole, to copy it;
    # a panel on a terminal folds it instead, as cropping it would lose its end.
    text = literal(line)
    if plain:
        text.no_wrap, text.overflow = True, "ignore"
    return text


def _would_generate(command: str, plain: bool) -> RenderableType:
    lines = ["This run wrote no instance file. To write the plan and see how to deploy it:"]
    body = Group(*(_step(line, plain) for line in (*lines, f"  {command}")))
    return _section("Next Steps", body, plain)


def _left_alone_line(left: LeftAlone) -> str:
    line = f"  {left.customer}: {left.status} on instance {left.instance_id or '?'}"
    return f"{line} (the files list it on {left.planned})" if left.doubled else line


def render_replan(console: Console, summary: ReplanSummary) -> None:
    """Print the replan report of *summary*: who stays, who moves, the critical path."""
    plain = not console.is_terminal
    facts = _facts(
        [
            ("Completed, out of the plan", f"{summary.finished:,}"),
            ("In progress, kept on their instance", f"{summary.pinned:,}"),
            ("Pending or failed, balanced", f"{summary.balanced:,}"),
            ("Customers moved", f"{len(summary.moves):,}"),
            ("Critical path before", _path_line(summary.before)),
            ("Critical path after", _path_line(summary.after)),
            ("Lower bound", f"{summary.lower_bound:,.0f} uploads"),
        ]
    )
    title = f"Re-plan over {summary.instances} instances from {summary.table}"
    parts: list[RenderableType] = [_section(title, facts, plain)]
    if summary.moves:
        parts.append(_section("Moves", _moves_table(summary, plain), plain))
    if summary.next_steps is not None:
        parts.append(_next_steps(summary.next_steps, plain))
    # What the replan wrote is the session: render_replan_outputs says it on stderr.
    console.print(Group(*parts), crop=not plain)


def _path_line(path: CriticalPath) -> str:
    return f"{path.uploads:,} uploads on instance {path.instance} ({_duration(path.days * 24)})"


def _moves_table(summary: ReplanSummary, plain: bool) -> RenderableType:
    table = _table(plain)
    for name in ("Customer", "Status", "From", "To"):
        table.add_column(name)
    for move in summary.moves[:MOVES_SHOWN]:
        table.add_row(printable(move.customer), move.status, move.source, move.target)
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
    lines.append(f"Updated {summary.moved:,} tracking records in {summary.table}")
    if summary.raced:
        lines.append(
            f"Kept {len(summary.raced):,} customers where they are: the runner started them "
            "during the replan"
        )
        lines += [f"  {a.customer}: {a.status} on instance {a.instance_id}" for a in summary.raced]
    for line in lines:
        console.print(literal(line, style="green"), soft_wrap=True)
