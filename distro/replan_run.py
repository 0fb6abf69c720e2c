"""``distro replan``: read the tracking table, re-plan, move the records, commit the files.

The records are moved before the files are written, each move conditional on
the record being as read (``tracking.apply_moves``). A customer the runner
starts in between is not moved: the plan is made again with it pinned, and
only the moves still needed are written, until a round moves everything it
asks for. Then the files, made from that last plan, agree with the records.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from distro.dynamo.handle import Dynamo
from distro.emit import PlanParameters, write_plan
from distro.errors import Fix, NothingToPlan, ReplanRefused
from distro.files import PlanFolder
from distro.replan import Correction, Replan, replan, settle, with_progress
from distro.settings import (
    DEFAULT_POLICY,
    CountSettings,
    Credentials,
    RetryPolicy,
    Tables,
    Throughput,
    timestamp,
)
from distro.tracking.records import (
    IN_PROGRESS,
    REPLANNABLE,
    SpaceRecord,
    TrackingRecord,
    read_space,
)
from distro.tracking.table import (
    PROGRESS_KEYS,
    WRITE_CONCURRENCY,
    apply_moves,
    check_assignments_table,
    read_records,
    scan_records,
)
from distro.verify import read_plan

MAX_ROUNDS = 5  # re-plans after races; each needs the runner to start someone in between

Hook = Callable[[Sequence[TrackingRecord]], Awaitable[None]]


async def _no_hook(_: Sequence[TrackingRecord]) -> None:
    """Nothing happens between the read and the writes, outside tests."""


@dataclass(frozen=True, slots=True)
class ReplanOutcome:
    """What a replan did: the plan, the records it moved, those that raced it, the files;
    and how much the space records *corrected* the work its customer records said was left."""

    result: Replan
    table: str
    moved: int
    raced: tuple[TrackingRecord, ...]  # started (or finished) between the read and the write
    files: tuple[Path, ...]
    corrected: Correction = field(default_factory=Correction)
    previous: Mapping[int, tuple[str, ...]] = field(default_factory=dict)  # the old lists


async def run_replan(
    *,
    tables: Tables,
    table: str,
    progress_table: str,
    instances: int,
    folder: PlanFolder,
    throughput: Throughput | None = None,
    policy: RetryPolicy = DEFAULT_POLICY,
    credentials: Credentials | None = None,
    before_writes: Hook = _no_hook,
) -> ReplanOutcome:
    """Re-plan the customers of tracking *table* over *instances*; write the files to *folder*.

    Each started customer's remaining work is read from its records in
    *progress_table* (``replan.with_progress``).

    The calls run under *policy*, signed with *credentials* (or the SDK's).
    *before_writes* runs between the read and the first write (tests race the
    runner there).
    """
    created_at = timestamp()
    async with Dynamo.open(
        tables,
        pool_size=WRITE_CONCURRENCY,
        policy=policy,
        credentials=credentials,
        raw_scan_items=True,  # the runner's records: no binary value
    ) as db:
        await check_assignments_table(db, table)
        await db.check_table(
            progress_table, PROGRESS_KEYS, fix=Fix.PROGRESS_TABLE, missing=Fix.PROGRESS_TABLE
        )
        records = await read_records(db, table)
        _require_work(records, table)
        spaces, _ = await scan_records(db, progress_table, read_space)
        records, corrected = with_progress(records, spaces)
        await before_writes(records)
        result, moved, raced = await _settle_moves(
            db, table, records, instances, at=created_at, spaces=spaces
        )
    parameters = PlanParameters(CountSettings(tables), throughput or Throughput(), False)
    written = read_plan(folder)  # what each running runner read, before the files change
    previous = {i.instance: i.customers for i in written.instances} if written else {}
    files = write_plan(folder, result.plan, created_at=created_at, parameters=parameters)
    return ReplanOutcome(result, table, moved, tuple(raced), tuple(files), corrected, previous)


def _require_work(records: Sequence[TrackingRecord], table: str) -> None:
    if not any(r.status in (IN_PROGRESS, *REPLANNABLE) for r in records):
        raise NothingToPlan(
            f"{table} holds no customer to migrate ({len(records)} records, none pending, "
            "in progress or failed)",
            fix=Fix.TRACKING_TABLE,
        )


async def _settle_moves(
    db: Dynamo,
    table: str,
    records: Sequence[TrackingRecord],
    instances: int,
    *,
    at: str,
    spaces: Sequence[SpaceRecord] = (),
) -> tuple[Replan, int, list[TrackingRecord]]:
    """Plan and move until a round's moves all land; the last plan, moves made, races seen."""
    raced: list[TrackingRecord] = []
    moved = 0
    current = list(records)
    for _ in range(MAX_ROUNDS):
        result = replan(current, instances)
        changed = await apply_moves(db, table, result.moves, at=at)
        moved += len(result.moves) - len(changed)
        # Read back as written: the progress of a customer started meanwhile is its spaces'.
        current, _ = with_progress(settle(current, result.moves, changed), spaces)
        raced += changed
        if not changed:
            return result, moved, raced
    raise ReplanRefused(
        f"the records in {table} kept changing while distro replan moved them ({len(raced)} "
        "customers started meanwhile): run distro replan again"
    )
