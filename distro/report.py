"""The report for the people running the migration, rendered with rich.

On a terminal it has colour and boxes; elsewhere the same content is plain
text, so it reads well in a log or a pasted ticket.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from distro.balance import Plan, balance
from distro.pipeline import Tally
from distro.settings import Throughput

# DynamoDB on-demand list price: $0.125 per million read request units (us-east-1,
# since the price cut of November 2024). Other regions cost up to about 30% more.
USD_PER_READ_UNIT = 0.125 / 1_000_000
SIZING_INSTANCES = (1, 2, 3, 4, 5, 6, 8, 10, 15, 20)


def render(
    console: Console,
    tally: Tally,
    *,
    plan: Plan | None,
    throughput: Throughput,
    files: Sequence[Path] = (),
) -> None:
    """Print the whole report for *tally* and, if given, *plan* to *console*."""
    plain = not console.is_terminal
    parts: list[RenderableType] = [_totals(tally, plain), _data_quality(tally, plain)]
    if plan is not None:
        parts += [_instances(plan, throughput, plain), _balance(plan, throughput)]
    else:
        parts.append(_sizing(tally, throughput, plain))
    if files:
        parts.append(
            Text(f"Wrote {len(files)} instance files to {files[0].parent}/", style="green")
        )
    console.print(Group(*parts))


def _duration(days: float) -> str:
    return f"{days * 24:,.1f} hours" if days < 1 else f"{days:,.1f} days"


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


def _totals(tally: Tally, plain: bool) -> RenderableType:
    customers = len(tally.customers)
    average = tally.total_uploads / customers if customers else 0
    rows = [
        ("Total customers", f"{customers:,}"),
        ("Total uploads", f"{tally.total_uploads:,}"),
        ("Spaces with uploads", f"{tally.total_spaces:,}"),
        ("Empty spaces", f"{tally.empty_spaces:,}"),
        ("Average uploads/customer", f"{average:,.0f}"),
    ]
    return _section("Customer Distribution Analysis", _facts(rows), plain)


def _data_quality(tally: Tally, plain: bool) -> RenderableType:
    rows = [
        ("Consumer rows scanned", f"{tally.rows_scanned:,}"),
        ("Rows without a customer (skipped)", f"{tally.orphan_rows:,}"),
        ("Customers on the skip list", f"{len(tally.skipped):,}"),
        ("Customers outside --filter", f"{len(tally.filtered):,}"),
        ("Customers below --min-uploads", f"{len(tally.below_min_uploads):,}"),
        ("Spaces claimed by several customers", f"{len(tally.shared_spaces):,}"),
        (
            "Spaces counted now / from checkpoint",
            f"{tally.spaces_counted:,} / {tally.spaces_resumed:,}",
        ),
        (
            "Read capacity units consumed",
            f"{tally.read_units:,.1f} (${tally.read_units * USD_PER_READ_UNIT:,.4f} on-demand)",
        ),
    ]
    return _section("Data Quality", _facts(rows), plain)


def _instances(plan: Plan, throughput: Throughput, plain: bool) -> RenderableType:
    workers = throughput.workers_per_instance
    table = Table(box=box.ASCII2 if plain else box.SIMPLE_HEAVY)
    for name in ("Instance", "Customers", "Uploads", "Share", "Spaces"):
        table.add_column(name, justify="right")
    table.add_column(f"Est. time ({workers} workers)", justify="right")
    total = plan.total_uploads or 1
    for instance in plan.instances:
        days = throughput.days(instance.uploads)
        table.add_row(
            str(instance.instance_id),
            f"{len(instance.customers):,}",
            f"{instance.uploads:,}",
            f"{instance.uploads / total:.1%}",
            f"{instance.spaces:,}",
            _duration(days),
        )
    empty = sum(1 for i in plan.instances if not i.customers)
    body: list[RenderableType] = [table]
    if empty:
        body.append(
            Text(f"{empty} instance(s) get no customer: there are fewer customers than instances.")
        )
    return _section("Instance Distribution", Group(*body), plain)


def _balance(plan: Plan, throughput: Throughput) -> RenderableType:
    loads = [i.uploads for i in plan.instances]
    days = throughput.days(plan.makespan)
    rows = [
        ("Min uploads/instance", f"{min(loads):,}"),
        ("Max uploads/instance", f"{max(loads):,}"),
        ("Lower bound, max(total/N, largest customer)", f"{plan.lower_bound:,.0f}"),
        ("Plan above the lower bound", f"{plan.gap:.1%}"),
        ("Critical path", _duration(days)),
    ]
    body: list[RenderableType] = [_facts(rows)]
    whale = plan.whale
    if whale is not None:
        body.append(
            Text(
                f"\n{whale.customer} alone holds {whale.uploads:,} uploads, more than the fair "
                f"share of {plan.fair_share:,.0f} per instance. Its instance sets the finish "
                f"line ({_duration(days)}); more instances will not shorten the critical path.",
                style="yellow",
            )
        )
    return Group(Text("\nLoad Balance", style="bold"), *body)


def _sizing(tally: Tally, throughput: Throughput, plain: bool) -> RenderableType:
    table = Table(box=box.ASCII2 if plain else box.SIMPLE_HEAVY)
    for name in ("Instances", "Max uploads/instance", "Above lower bound"):
        table.add_column(name, justify="right")
    table.add_column(f"Est. time ({throughput.workers_per_instance} workers)", justify="right")
    for n in SIZING_INSTANCES:
        plan = balance(tally.customers, n)
        days = throughput.days(plan.makespan)
        table.add_row(str(n), f"{plan.makespan:,}", f"{plan.gap:.1%}", _duration(days))
    hint = Text("Pass --instances N to see the customers each instance would get.")
    return _section("Instances Needed", Group(table, hint), plain)
