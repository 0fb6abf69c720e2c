"""The application: one function per command, from its options record to the data it shows.

``analyze``, ``generate``, ``replan``, ``verify``, ``check`` and ``demo`` each
take their frozen options record (``distro.options``) and return plain data
(a summary, a comparison, a verification) for the CLI to render. This layer
owns what a run needs around the stages: the folder's lock, the counting
checkpoint, the composition count → plan → commit, and the signals: SIGINT
and SIGTERM cancel the run, which saves the checkpoint, and end as
``Interrupted`` or ``Terminated`` (each with its exit code).

The demo calls the very functions the commands call, on DynamoDB Local.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from distro import aio, console
from distro.balance import Plan, plan
from distro.errors import (
    EXIT_UNREADABLE,
    DistroError,
    Fix,
    PathsDisagree,
    PlanMismatch,
    Stopped,
)
from distro.files import PlanFolder, output_lock
from distro.flags import with_flags
from distro.options import (
    AnalyzeOptions,
    CheckOptions,
    Connection,
    CountOptions,
    GenerateOptions,
    ReplanOptions,
    StatusOptions,
    VerifyOptions,
)
from distro.progress import Progress
from distro.replan import (
    Speeds,
)
from distro.settings import (
    SIZING_INSTANCES,
    Throughput,
    default_progress_table,
)
from distro.snapshots import keep_look, read_looks
from distro.tally import Tally
from distro.tracking.records import Problem, SpaceRecord, TrackingRecord
from distro.verify import (
    Verification,
    WrittenPlan,
    describe_plan,
    has_plan,
    mismatch_line,
    no_plan_line,
    read_plan,
    verify_plan,
)
from distro.views.advice import advised, check_line, speeds_from
from distro.views.analysis import Summary, summarize
from distro.views.replan import ReplanSummary, summarize_replan
from distro.views.status import (
    FleetStatus,
    Look,
    measure,
    require_shown,
    snapshot_of,
)
from distro.views.steps import (
    NextSteps,
    generate_command,
    next_steps,
    replan_steps,
)

# The modules that talk to DynamoDB (so import the SDK, a third of a second) are imported
# by the functions that do: verify, --help and usage errors never pay for them.
if TYPE_CHECKING:
    from distro.check import Comparison
    from distro.pipeline import Committed
    from distro.replan_run import ReplanOutcome

T = TypeVar("T")


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
    counted = _run(_locked_count(count, instances=options.instances, commit=False), count.folder)
    return summary_of(options, counted, steps=None)


def generate(options: GenerateOptions) -> Summary:
    """Count, plan for ``options.instances``, commit the files (and tracking records)."""
    count, table = options.count, options.tracking_table
    counted = _run(
        _locked_count(
            count,
            instances=options.instances,
            commit=True,
            tracking_table=table,
            force=options.force,
        ),
        count.folder,
    )
    return summary_of(options, counted, steps=_deploy_steps(count, counted, table))


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
            policy=connection.policy,
            reader=count.reader,
            on_notice=_notice,
            # Without --instances the report sizes up to max(SIZING_INSTANCES) instances.
            split_for=(
                count.throughput.files(instances or max(SIZING_INSTANCES))
                if count.split_large
                else None
            ),
            credentials=connection.credentials,
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
                policy=connection.policy,
                assignments_table=tracking_table,
                credentials=connection.credentials,
            )
    return Counted(tally, planned, committed, throughput)


def summary_of(
    options: AnalyzeOptions | GenerateOptions, counted: Counted, *, steps: NextSteps | None
) -> Summary:
    count, report, committed = options.count, options.report, counted.committed
    table = options.tracking_table if isinstance(options, GenerateOptions) else None
    summary = summarize(
        counted.tally,
        counted.planned,
        throughput=counted.throughput,
        files=committed.files,
        assignments=committed.assignments,
        left_alone=committed.left_alone,
        space_lists=committed.space_lists,
        hourly_cost=report.hourly_cost,
        top=report.top,
        assignments_table=table,
        report_html=report.html,
        index_cost_per_call=report.index_cost_per_call,
        steps=steps,
    )
    if isinstance(options, GenerateOptions):
        return summary
    # The generate to run next: for the instances shown, else the ones recommended.
    advice = summary.recommendation
    instances = options.instances or (advice.instances if advice else None)
    return replace(summary, generate_command=generate_command(count, instances))


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


# --- replan ------------------------------------------------------------------------------------


def replan(options: ReplanOptions) -> ReplanSummary:
    """Re-plan the tracking table's customers over ``options.instances``; move records, write files."""
    options = _on_plan_hosts(options)
    outcome = _run(_locked_replan(options), options.folder)
    return _replan_summary(options, outcome)


async def replan_here(options: ReplanOptions) -> ReplanSummary:
    """``replan`` in the caller's event loop (a fleet played alongside it), without signals."""
    options = _on_plan_hosts(options)
    return _replan_summary(options, await _locked_replan(options))


async def replan_held(options: ReplanOptions) -> ReplanSummary:
    """``replan`` in a folder whose lock the caller holds (the demo), without signals."""
    return _replan_summary(options, await _replan(options))


def _on_plan_hosts(options: ReplanOptions) -> ReplanOptions:
    """*options* with the runners per host the plan in place was made with, unless given."""
    written = read_plan(options.folder)
    return options.on_hosts(written.runners_per_host if written else None)


async def _locked_replan(options: ReplanOptions) -> ReplanOutcome:
    with output_lock(options.folder) as folder:
        return await _replan(replace(options, folder=folder))


async def _replan(options: ReplanOptions) -> ReplanOutcome:
    from distro.replan_run import Reclaim, run_replan  # noqa: PLC0415 - the SDK where it is used

    connection = options.connection
    now = options.now or datetime.now(UTC)
    return await run_replan(
        tables=connection.tables,
        table=options.tracking_table,
        progress_table=options.progress_table
        or default_progress_table(options.folder.env, os.environ),
        instances=options.files,
        folder=options.folder,
        throughput=options.throughput,
        speeds_of=functools.partial(_measured_speeds, options, now),
        reclaim=Reclaim(options.drop, options.stall_after),
        now=now,
        policy=connection.policy,
        credentials=connection.credentials,
    )


def _measured_speeds(
    options: ReplanOptions,
    now: datetime,
    records: Sequence[TrackingRecord],
    spaces: Sequence[SpaceRecord],
    written: WrittenPlan | None,
) -> Speeds:
    """The speeds replan plans at: each instance's rate as ``distro status`` measures it."""
    measured = measure(
        Look(records, spaces, written),
        env=options.folder.env,
        now=now,
        stall_after=options.stall_after,
        snapshots=read_looks(options.folder),
    )
    return speeds_from(
        measured,
        options.speeds,
        dropped=options.drop,
        throughput=options.throughput,
        new_rate=options.new_instance_rate,
    )


def _replan_summary(options: ReplanOptions, outcome: ReplanOutcome) -> ReplanSummary:
    steps = (
        replan_steps(
            outcome.result.plan,
            folder=options.folder,
            connection=options.connection,
            tracking_table=options.tracking_table,
            progress_table=options.progress_table or None,
            previous=outcome.previous,
            runners_per_host=options.throughput.runners_per_host,
        )
        if outcome.files
        else None
    )
    return summarize_replan(
        outcome,
        env=options.folder.env,
        steps=steps,
        runners_per_host=options.throughput.runners_per_host,
    )


# --- status -------------------------------------------------------------------------------------


def status(options: StatusOptions) -> FleetStatus:
    """Read the runner's two tables and the plan, and measure the fleet (``views.status``).

    Each look is kept in the folder (bounded), so the next one measures the
    rates of the last hour rather than since the start.
    """
    records = _run(read_fleet(options), folder=None)
    return look_at(options, records)


def check_status(options: StatusOptions) -> tuple[int, str, FleetStatus | None]:
    """``status --check``: one line, its exit code, and the status (None when the tables
    cannot be read: ``EXIT_UNREADABLE`` with the error's line, not a failure of the command)."""
    try:
        view = status(options)
    except Stopped:
        raise
    except DistroError as error:
        return EXIT_UNREADABLE, f"UNREADABLE: {with_flags(error)}", None
    return (*check_line(view), view)


def look_at(
    options: StatusOptions,
    records: tuple[list[TrackingRecord], list[SpaceRecord], list[Problem]],
    *,
    now: datetime | None = None,
) -> FleetStatus:
    """The status of *records* at *now* (default: the options' moment, else the clock's)."""
    customers, spaces, problems = records
    folder = options.folder
    moment = now or options.now or datetime.now(UTC)
    look = Look(customers, spaces, read_plan(folder), problems, folder=f"{folder.path}/")
    kept = read_looks(folder)
    measured = measure(
        look,
        env=folder.env,
        now=moment,
        stall_after=options.stall_after,
        snapshots=kept,
        show=[options.customer] if options.customer else [],
    )
    # Before the look is kept: a refused look changes nothing.
    require_shown(look, measured, instance=options.instance, customer=options.customer)
    if folder.path.is_dir():
        keep_look(folder, snapshot_of(look, moment), kept)
    return advised(look, measured, options)


async def read_fleet(
    options: StatusOptions,
) -> tuple[list[TrackingRecord], list[SpaceRecord], list[Problem]]:
    from distro.dynamo.handle import Dynamo  # noqa: PLC0415 - the SDK where it is used
    from distro.tracking.table import SCAN_SEGMENTS, read_fleet  # noqa: PLC0415 - as above

    connection = options.connection
    async with Dynamo.open(
        connection.tables,
        pool_size=SCAN_SEGMENTS,
        policy=connection.policy,
        credentials=connection.credentials,
        raw_scan_items=True,  # the runner's records: big Scans, no binary value
    ) as db:
        return await read_fleet(
            db, customers_table=options.tracking_table, progress_table=options.progress_table
        )


# --- verify and check ---------------------------------------------------------------------------


def verify(options: VerifyOptions) -> Verification:
    """Check the plan in ``options.folder``; raise ``PlanMismatch`` if there is none to check.

    A plan whose files differ from its manifest is not an exception: its
    problems are listed, and ``require_match`` ends the run with them.
    """
    folder = options.folder
    if not has_plan(folder):
        raise PlanMismatch(no_plan_line(folder))
    problems = tuple(verify_plan(folder))
    return Verification(problems, "" if problems else describe_plan(folder))


def require_match(options: VerifyOptions, verification: Verification) -> None:
    """Raise ``PlanMismatch`` with the closing line when *verification* found problems."""
    if verification.problems:
        raise PlanMismatch(mismatch_line(options.folder, list(verification.problems)))


def check(options: CheckOptions) -> Comparison:
    """Describe both tables and count one space on both read paths (``distro.check``).

    Raises ``PathsDisagree`` when analyze and generate should count through the SDK.
    """
    compared = _run(_compare(options.connection, options.space), folder=None)
    if not compared.agree:
        raise PathsDisagree(compared.describe(), fix=Fix.READER_SDK)
    return compared


async def _compare(connection: Connection, space: str) -> Comparison:
    from distro.check import compare_paths  # noqa: PLC0415 - the SDK where it is used
    from distro.dynamo.handle import Dynamo  # noqa: PLC0415 - the SDK where it is used

    async with Dynamo.open(
        connection.tables,
        pool_size=2,
        policy=connection.policy,
        credentials=connection.credentials,
    ) as db:
        return await compare_paths(db, space=space)


# --- running a coroutine ------------------------------------------------------------------------


def _run(coroutine: Coroutine[Any, Any, T], folder: PlanFolder | None) -> T:
    """Run *coroutine* until it ends or a signal stops it, saving *folder*'s checkpoint."""
    return aio.run_stoppable(coroutine, folder.checkpoint if folder is not None else None)
