"""Thin compositions of the stages, shared by the command line and the demo.

The stages stand alone: ``count.count`` (settings + any ``TableReader`` →
``Tally``), ``balance.plan`` (``Tally`` → ``Plan``, no I/O), and the commits
``emit.write_plan`` (files and manifest) and ``assignments.write_assignments``
(tracking records). This module only wires them to DynamoDB and the output
folder: ``count_tables`` opens the handle and counts, ``commit_plan`` writes
what a plan commits to, and ``checkpoint_until_committed`` makes the order
explicit: the checkpoint goes only once the plan is committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from distro.balance import Plan
from distro.checkpoint import Checkpoint
from distro.count import count
from distro.dynamo.handle import Dynamo
from distro.dynamo.lean import choose_reader, read_path
from distro.dynamo.pacing import TokenBucket
from distro.emit import PlanParameters, write_plan
from distro.errors import Fix, NothingToPlan
from distro.files import PlanFolder
from distro.options import Connection
from distro.progress import Progress
from distro.settings import DEFAULT_ENV, CountSettings, ReaderChoice, Throughput, timestamp
from distro.tally import Tally
from distro.tracking.records import LeftAlone
from distro.tracking.table import (
    WRITE_CONCURRENCY,
    check_assignments_table,
    refuse_if_started,
    write_assignments,
)


@dataclass(frozen=True, slots=True)
class Committed:
    """What a committed plan wrote: the instance files and manifest, and the records."""

    files: tuple[Path, ...]
    assignments: int = 0  # records written to the assignments table
    left_alone: tuple[LeftAlone, ...] = ()  # records not written: the runner had started them
    space_lists: tuple[Path, ...] = ()  # split plans: the non-empty lists of spaces run one by one


@contextmanager
def checkpoint_until_committed(
    folder: PlanFolder, settings: CountSettings, *, restart: bool
) -> Iterator[Checkpoint]:
    """Open the counting checkpoint in *folder* (discarding it on *restart*).

    It is removed when the block ends normally, which is after the plan is
    committed, or when there was nothing to plan; any other failure leaves it,
    so a re-run counts nothing again.
    """
    checkpoint = Checkpoint.open(folder, settings, restart=restart)
    try:
        yield checkpoint
    except NothingToPlan:
        checkpoint.remove()
        raise
    checkpoint.remove()


async def count_tables(
    settings: CountSettings,
    checkpoint: Checkpoint,
    progress: Progress,
    *,
    connection: Connection | None = None,
    reader: ReaderChoice = "auto",
    on_notice: Callable[[str], None] = lambda _: None,
    split_for: int | None = None,
    assignments_table: str | None = None,
    force: bool = False,
) -> Tally:
    """Check *settings*' tables, then count them (``count.count``) through the chosen *reader*.

    An *assignments_table* a commit will write to is checked too, before an
    hour of counting rather than after it: it must exist and, unless *force*,
    hold no customer the runner has started (``MigrationUnderWay``). *on_notice* gets the one line
    saying the run left the lean path for the SDK's, if it does. The calls go through
    *connection* (default: the settings' tables, the SDK's credentials).
    """
    pool = settings.concurrency + settings.parallel_segments
    bucket = None if settings.max_read_units is None else TokenBucket(settings.max_read_units)
    async with Dynamo.connect(
        connection or _sdk(settings),
        pool_size=pool,
        # The Consumer rows are read as two strings; any other type is no space or customer,
        # whichever parser read it. Skipping botocore's: 8 -> 2 us of CPU a row.
        raw_scan_items=True,
    ) as db:
        await db.check_tables()
        if assignments_table is not None:
            await check_assignments_table(db, assignments_table)
            if not force:
                await refuse_if_started(db, assignments_table)
        # The hot Query loop goes through the lean path when it can sign exactly as the SDK.
        source = await choose_reader(
            db, choice=reader, on_fallback=on_notice, bucket=bucket, shards=settings.count_shards
        )
        tally = await count(
            settings, source, checkpoint=checkpoint, progress=progress, split_for=split_for
        )
        return replace(tally, read_path=read_path(source))


async def commit_plan(
    plan: Plan,
    folder: PlanFolder,
    *,
    settings: CountSettings,
    throughput: Throughput,
    connection: Connection | None = None,
    assignments_table: str | None = None,
) -> Committed:
    """Write *plan*'s instance files and manifest to *folder*, then its records, if asked.

    *settings* and *throughput* go into the manifest; with *assignments_table*,
    each customer gets one ``pending`` record there once the files are committed,
    unless the runner has started it.
    """
    if not any(i.customers or i.split_spaces for i in plan.instances):
        raise NothingToPlan("no customer is left after the filters", fix=Fix.FILTERS)
    created_at = timestamp()
    parameters = PlanParameters(settings, throughput, plan.split_large)
    files = tuple(write_plan(folder, plan, created_at=created_at, parameters=parameters))
    space_lists = _space_lists(folder, plan)
    if assignments_table is None:
        return Committed(files, space_lists=space_lists)
    async with Dynamo.connect(connection or _sdk(settings), pool_size=WRITE_CONCURRENCY) as db:
        records, left_alone = await write_assignments(
            db,
            assignments_table,
            plan,
            include=settings.customer_filter.include,
            at=created_at,
        )
    return Committed(files, records, tuple(left_alone), space_lists)


def _sdk(settings: CountSettings) -> Connection:
    """A connection to *settings*' tables with the SDK's own credentials and the default retries."""
    return Connection.explicit(DEFAULT_ENV, settings.tables)


def _space_lists(folder: PlanFolder, plan: Plan) -> tuple[Path, ...]:
    """A split plan's non-empty lists of spaces, which today's runner runs one by one."""
    if not plan.split_large:
        return ()
    return tuple(
        folder.path / folder.spaces_file_name(i.instance_id)
        for i in plan.instances
        if i.split_spaces
    )
