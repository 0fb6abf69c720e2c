"""``analyze`` and ``generate``: count the tables, plan, commit the files (and records).

The folder's lock is held from before the counting checkpoint is opened until
the files are committed, so a second run on the folder fails at once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from distro import aio, console
from distro.balance import Plan, plan
from distro.files import PlanFolder, output_lock
from distro.options import AnalyzeOptions, CountOptions, GenerateOptions, ReportOptions
from distro.progress import Progress
from distro.settings import (
    SIZING_INSTANCES,
    Throughput,
)
from distro.tally import Tally
from distro.views.analysis import Summary, summarize
from distro.views.steps import (
    NextSteps,
    generate_command,
    next_steps,
)

# The modules that talk to DynamoDB (so import the SDK, a third of a second) are imported
# by the functions that do: verify, --help and usage errors never pay for them.
if TYPE_CHECKING:
    from distro.pipeline import Committed


# --- analyze and generate --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Counted:
    """What a count → plan → commit run made, and the *throughput* its times use."""

    tally: Tally
    planned: Plan | None
    committed: Committed
    throughput: Throughput


def analyze(options: AnalyzeOptions) -> Summary:
    """Count the tables, plan for ``options.instances`` if given, and summarize; write no plan."""
    count = options.count
    counted = aio.run_stoppable(
        _locked_count(count, instances=options.instances, commit=False), count.folder.checkpoint
    )
    summary = summary_of(counted, options.report)
    # The generate to run next: for the instances shown, else the ones recommended.
    advice = summary.recommendation
    instances = options.instances or (advice.instances if advice else None)
    return replace(summary, generate_command=generate_command(count, instances))


def generate(options: GenerateOptions) -> Summary:
    """Count, plan for ``options.instances``, commit the files (and tracking records)."""
    count, table = options.count, options.tracking_table
    counted = aio.run_stoppable(
        _locked_count(
            count,
            instances=options.instances,
            commit=True,
            tracking_table=table,
            force=options.force,
        ),
        count.folder.checkpoint,
    )
    steps = _deploy_steps(count, counted, table)
    return summary_of(counted, options.report, tracking_table=table, steps=steps)


def plan_to_replace(folder: PlanFolder) -> int:
    """How many instance files of *folder*'s environment a new plan would replace."""
    return len(folder.instance_files())


async def _locked_count(
    count: CountOptions,
    *,
    instances: int | None,
    commit: bool,
    tracking_table: str | None = None,
    force: bool = False,
) -> Counted:
    # Held from before the checkpoint is opened until the files are committed and the
    # checkpoint removed: a second run on the folder fails at once instead of racing.
    with output_lock(count.folder) as folder:
        return await count_plan_commit(
            replace(count, folder=folder),
            instances=instances,
            commit=commit,
            tracking_table=tracking_table,
            force=force,
        )


async def count_plan_commit(
    count: CountOptions,
    *,
    instances: int | None,
    commit: bool,
    tracking_table: str | None,
    force: bool = False,
) -> Counted:
    """The three stages in turn: count, plan for *instances* (if given), *commit* the plan.

    Counted shards set the default shard rate (``Throughput.with_counted``), so
    the plan, its manifest and the report use the shards per upload measured.
    """
    from distro.pipeline import Committed, checkpoint_until_committed, commit_plan, count_tables  # noqa: PLC0415 - the SDK where it is used

    connection, progress = count.connection, Progress()
    with (
        checkpoint_until_committed(
            count.folder, count.settings, restart=count.restart
        ) as checkpoint,
        console.show_progress(progress, enabled=not count.quiet),
    ):
        tally = await count_tables(
            count.settings,
            checkpoint,
            progress,
            connection=connection,
            reader=count.reader,
            on_notice=_notice,
            # Without --instances the report sizes up to max(SIZING_INSTANCES) instances.
            split_for=(
                count.throughput.files(instances or max(SIZING_INSTANCES))
                if count.split_large
                else None
            ),
            assignments_table=tracking_table if commit else None,
            force=force,
        )
        throughput = count.throughput
        if tally.counted_shards:
            shards = sum(c.estimated_shards for c in tally.customers)
            throughput = throughput.with_counted(shards, tally.total_uploads)
        planned = (
            plan(
                tally,
                throughput.files(instances),
                split_large=count.split_large,
                by=throughput.unit,
            )
            if instances
            else None
        )
        committed = Committed(())
        if commit and planned is not None:
            committed = await commit_plan(
                planned,
                count.folder,
                settings=count.settings,
                throughput=throughput,
                connection=connection,
                assignments_table=tracking_table,
            )
    return Counted(tally, planned, committed, throughput)


def summary_of(
    counted: Counted,
    report: ReportOptions,
    *,
    tracking_table: str | None = None,
    steps: NextSteps | None = None,
) -> Summary:
    """What *counted* shows, as *report* asks; with the *tracking_table* written and the
    *steps* that deploy the plan, when the run wrote one."""
    committed = counted.committed
    return summarize(
        counted.tally,
        counted.planned,
        throughput=counted.throughput,
        files=committed.files,
        assignments=committed.assignments,
        left_alone=committed.left_alone,
        space_lists=committed.space_lists,
        hourly_cost=report.hourly_cost,
        top=report.top,
        assignments_table=tracking_table,
        report_html=report.html,
        index_cost_per_call=report.index_cost_per_call,
        steps=steps,
    )


def _deploy_steps(count: CountOptions, counted: Counted, table: str | None) -> NextSteps | None:
    """How to deploy the plan *counted*, if the run wrote its files; *table*: tracking table."""
    if counted.planned is None or not counted.committed.files:
        return None
    return next_steps(
        counted.planned,
        folder=count.folder,
        connection=count.connection,
        tracking_table=table,
        runners_per_host=count.throughput.runners_per_host,
    )


def _notice(line: str) -> None:
    # Literal, not markup: the line quotes DynamoDB's error code.
    console.stderr.print(console.note_line(line), soft_wrap=True)
