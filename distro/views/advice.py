"""What ``distro status`` advises, and the one line of ``--check``: from a measured fleet.

``advised`` adds the advice to a status: a replan when instances are idle
while customers wait, or when a replan at the measured speeds (dropping the
stalled instances) finishes more than 10% and more than an hour sooner than
things stand. ``speeds_from`` turns the measured rates into the speeds a
replan plans at, for that estimate and for ``distro replan`` itself.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from distro.errors import EXIT_FAILED_CUSTOMERS, EXIT_STALLED, DistroError
from distro.options import StatusOptions
from distro.replan import (
    Speeds,
    choose_speeds,
    quiet_customers,
    replan as plan_replan,
    with_progress,
)
from distro.settings import Throughput, timestamp
from distro.views.status import FINISHED, STALLED, Advice, FleetStatus, Look
from distro.views.steps import replan_command


def advised(look: Look, measured: FleetStatus, options: StatusOptions) -> FleetStatus:
    """*measured* (from *look*) with its advice, whose command is the replan that takes the
    stalled instances' customers, on the tables and folder of *options*."""
    stalled = tuple(
        int(i.instance) for i in measured.instances if i.state == STALLED and i.instance.isdigit()
    )
    count = max(len(measured.instances), max(stalled, default=0))
    replan = replan_command(
        options.connection,
        options.folder,
        f"--instances {count}",
        *(f"--drop-instance {n}" for n in stalled),
        tracking_table=options.tracking_table,
        progress_table=options.progress_table,
    )
    finishes = _replanned_finish(
        look, measured, instances=count, stalled=stalled, stall_after=options.stall_after
    )
    if finishes is None:
        return advise(measured, replan)
    return advise_replan(measured, replan, *finishes)


def speeds_from(
    measured: FleetStatus,
    mode: str | None,
    *,
    dropped: tuple[int, ...],
    throughput: Throughput | None = None,
    new_rate: float | None = None,
) -> Speeds:
    """The speeds of ``--speeds`` *mode* over the rates *measured*; see ``choose_speeds``."""
    numbered = [i for i in measured.instances if i.instance.isdigit()]
    return choose_speeds(
        mode,
        {int(i.instance): i.rate_per_minute for i in numbered if i.rate_per_minute},
        {
            int(i.instance)
            for i in numbered
            if (i.customers.pending or i.customers.in_progress) and int(i.instance) not in dropped
        },
        assumed=(throughput or Throughput()).instance_uploads_per_minute,
        new_rate=new_rate,
    )


def _replanned_finish(
    look: Look,
    measured: FleetStatus,
    *,
    instances: int,
    stalled: tuple[int, ...],
    stall_after: timedelta,
) -> tuple[float | None, float] | None:
    """Minutes until the fleet ends as things stand (None: never, a stalled instance holds
    work) and after a replan at the measured speeds that drops the *stalled* instances;
    None when the speeds cannot be measured or the replan would refuse."""
    try:
        speeds = speeds_from(measured, "measured", dropped=stalled)
        records, _ = with_progress(look.customers, look.spaces)
        quiet = quiet_customers(
            look.customers,
            look.spaces,
            dropped=stalled,
            cutoff=timestamp(measured.now - stall_after),
        )
        result = plan_replan(records, instances, speeds=speeds, dropped=stalled, reclaimable=quiet)
    except DistroError:
        return None
    return result.finish_before, result.finish_after


WORTH_SAVING = 0.10  # a replan is advised when it saves more than this share of the time left
WORTH_MINUTES = 60.0  # and more than this


def advise_replan(
    status: FleetStatus, replan: str, minutes_as_is: float | None, minutes_after: float
) -> FleetStatus:
    """*status* with replan advice when the *replan* command, whose plan ends *minutes_after*
    the look, saves more than 10% and more than an hour on the *minutes_as_is* it takes as
    things stand (None: never), both at the measured speeds."""
    after = status.now + timedelta(minutes=minutes_after)
    as_is = None if minutes_as_is is None else status.now + timedelta(minutes=minutes_as_is)
    if minutes_as_is is not None:
        saved = minutes_as_is - minutes_after
        if saved <= WORTH_MINUTES or saved <= WORTH_SAVING * minutes_as_is:
            return status
    now_text = (
        "never, as things stand (a stalled instance holds work)"
        if as_is is None
        else f"{_hours(as_is, status.now)} as things stand"
    )
    stalled = [i.instance for i in status.instances if i.state == STALLED]
    dropping = f", taking stalled instance {', '.join(stalled)}'s customers," if stalled else ""
    message = (
        f"A replan at the measured speeds{dropping} finishes in {_hours(after, status.now)}, "
        f"instead of {now_text}"
    )
    advice = Advice(message, replan, as_is, after)
    return replace(status, advice=(*status.advice, advice))


def _hours(moment: datetime, now: datetime) -> str:
    hours = (moment - now).total_seconds() / 3600
    return f"{hours:,.1f} hours ({moment:%Y-%m-%d %H:%M} UTC)"


def advise(status: FleetStatus, replan: str) -> FleetStatus:
    """*status* with its advice: re-plan (with the *replan* command) when some instances are
    finished or stalled while customers still wait on others."""
    idle = [i for i in status.instances if i.state in (FINISHED, STALLED)]
    waiting = [i for i in status.instances if i.customers.pending and i not in idle]
    stalled_waiting = [i for i in idle if i.state == STALLED and i.customers.pending]
    if not idle or not (waiting or stalled_waiting):
        return status
    names = ", ".join(f"{i.instance} ({i.state})" for i in idle)
    pending = sum(i.customers.pending for i in status.instances)
    message = (
        f"Instances {names} are idle while {pending:,} customers wait: a replan gives the "
        "waiting customers to the instances that can take them"
    )
    return replace(status, advice=(*status.advice, Advice(message, replan)))


def check_line(status: FleetStatus) -> tuple[int, str]:
    """``status --check``: one line and its exit code (``errors.EXIT_STALLED`` when an
    instance is stalled, else ``EXIT_FAILED_CUSTOMERS`` when customers failed, else 0)."""
    fleet = status.fleet
    done = f"{fleet.uploads_done:,} of {fleet.uploads_total:,} uploads done"
    stalled = [i.instance for i in status.instances if i.state == STALLED]
    if stalled:
        minutes = status.stall_after.total_seconds() / 60
        return EXIT_STALLED, (
            f"STALLED: instance {', '.join(stalled)} has work left but no record changed within "
            f"{minutes:g} minutes; {done}"
        )
    if status.failed_customers:
        reasons = ", ".join(f"{r} {n:,}" for r, n in status.failures_by_reason.items())
        return EXIT_FAILED_CUSTOMERS, (
            f"FAILED: {len(status.failed_customers):,} customers failed (uploads by reason: "
            f"{reasons or 'none recorded'}); {done}"
        )
    return 0, f"OK: {fleet.state}, {done}, nothing stalled, no customer failed"
