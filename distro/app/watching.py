"""Mid-migration: ``status`` (the fleet measured from the runner's records) and ``replan``
(the work left, re-balanced at the speeds measured).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from distro import aio
from distro.errors import (
    EXIT_UNREADABLE,
    DistroError,
    Stopped,
)
from distro.files import output_lock
from distro.flags import with_flags
from distro.options import (
    ReplanOptions,
    StatusOptions,
)
from distro.replan import (
    Speeds,
)
from distro.snapshots import keep_look, read_looks
from distro.tracking.records import Problem, SpaceRecord, TrackingRecord
from distro.views.advice import advised, check_line, speeds_from
from distro.views.replan import ReplanSummary, summarize_replan
from distro.views.status import (
    FleetStatus,
    Look,
    measure,
    require_shown,
    snapshot_of,
)
from distro.views.steps import (
    replan_steps,
)
from distro.written import WrittenPlan, read_plan

# The modules that talk to DynamoDB (so import the SDK, a third of a second) are imported
# by the functions that do: verify, --help and usage errors never pay for them.
if TYPE_CHECKING:
    from distro.replan_run import ReplanOutcome


# --- replan ------------------------------------------------------------------------------------


def replan(options: ReplanOptions) -> ReplanSummary:
    """Re-plan the tracking table's customers over ``options.instances``; move records, write files."""
    options = _on_plan_hosts(options)
    outcome = aio.run_stoppable(_locked_replan(options), options.folder.checkpoint)
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
        connection=connection,
        table=options.tracking_table,
        progress_table=options.progress_table,
        instances=options.files,
        folder=options.folder,
        throughput=options.throughput,
        speeds_of=functools.partial(_measured_speeds, options, now),
        reclaim=Reclaim(options.drop, options.stall_after),
        now=now,
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
    records = aio.run_stoppable(read_fleet(options))
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
    async with Dynamo.connect(
        connection,
        pool_size=SCAN_SEGMENTS,
        raw_scan_items=True,  # the runner's records: big Scans, no binary value
    ) as db:
        return await read_fleet(
            db, customers_table=options.tracking_table, progress_table=options.progress_table
        )
