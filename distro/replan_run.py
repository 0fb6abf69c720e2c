"""``distro replan``: read the tracking table, re-plan, move the records, commit the files.

The records are moved before the files are written, each move conditional on
the record being as read (``tracking.apply_moves``). A customer the runner
starts in between is not moved: the plan is made again with it pinned, and
only the moves still needed are written, until a round moves everything it
asks for. Then the files, made from that last plan, agree with the records.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from distro.dynamo.handle import Dynamo
from distro.emit import PlanParameters, write_plan
from distro.errors import Fix, NothingToPlan, PlanMismatch, ReplanRefused, SettingsError
from distro.files import PlanFolder
from distro.options import Connection
from distro.reconcile import reconcile
from distro.replan import (
    Correction,
    Replan,
    Speeds,
    quiet_customers,
    replan,
    settle,
    with_progress,
)
from distro.settings import (
    CountSettings,
    Throughput,
    timestamp,
)
from distro.tracking.records import (
    IN_PROGRESS,
    REPLANNABLE,
    Move,
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
    reclaim,
    scan_records,
)
from distro.verify import verify_plan
from distro.written import WrittenPlan, has_plan, read_plan

MAX_ROUNDS = 5  # re-plans after races; each needs the runner to start someone in between

Hook = Callable[[Sequence[TrackingRecord]], Awaitable[None]]
# Each instance's speed, from the records read and the plan the folder holds.
SpeedsOf = Callable[[Sequence[TrackingRecord], Sequence[SpaceRecord], WrittenPlan | None], Speeds]


async def _no_hook(_: Sequence[TrackingRecord]) -> None:
    """Nothing happens between the read and the writes, outside tests."""


@dataclass(frozen=True, slots=True)
class ReplanOutcome:
    """What a replan did: the plan, the records it moved, those that raced it, the files;
    and how much the space records *corrected* the work its customer records said was left.
    No file is written when no customer moves."""

    result: Replan
    table: str
    moved: int
    raced: tuple[TrackingRecord, ...]  # started (or finished) between the read and the write
    files: tuple[Path, ...]
    corrected: Correction = field(default_factory=Correction)
    previous: Mapping[int, tuple[str, ...]] = field(default_factory=dict)  # the old lists
    now: datetime | None = None  # the moment the finishes count from


@dataclass(frozen=True, slots=True)
class Reclaim:
    """Which instances to drop, and how long a runner must have been silent to be gone."""

    dropped: tuple[int, ...] = ()
    stall_after: timedelta = timedelta(minutes=30)


async def run_replan(
    *,
    connection: Connection,
    table: str,
    progress_table: str,
    instances: int,
    folder: PlanFolder,
    throughput: Throughput | None = None,
    speeds_of: SpeedsOf | None = None,
    reclaim: Reclaim = Reclaim(),
    now: datetime | None = None,
    before_writes: Hook = _no_hook,
) -> ReplanOutcome:
    """Re-plan the customers of tracking *table* over *instances*; write the files to *folder*.

    Each started customer's remaining work is read from its records in
    *progress_table* (``replan.with_progress``). *speeds_of* gives each
    instance's speed from what was read (default: all at *throughput*'s rate).
    The in-progress customers of the instances *reclaim* drops move when
    their runner has been silent for its stall time (``tracking.reclaim``).

    The calls go through *connection* (its tables' endpoint, retries and credentials).
    *before_writes* runs between the read and the first write (tests race the
    runner there). When no customer moves, nothing is written.

    Every input is checked before the first write, and a refusal changes
    nothing: a plan folder that does not verify (``PlanMismatch``), a dropped
    instance the fleet does not hold (``SettingsError``), a folder that puts a
    started customer on another instance than its records (``ReplanRefused``).
    """
    _require_intact(folder)
    now = now or datetime.now(UTC)
    created_at = timestamp(now)
    throughput = throughput or Throughput()
    async with Dynamo.connect(
        connection,
        pool_size=WRITE_CONCURRENCY,
        raw_scan_items=True,  # the runner's records: no binary value
    ) as db:
        await check_assignments_table(db, table)
        await db.check_table(
            progress_table, PROGRESS_KEYS, fix=Fix.PROGRESS_TABLE, missing=Fix.PROGRESS_TABLE
        )
        read = await read_records(db, table)
        _require_work(read, table)
        spaces, _ = await scan_records(db, progress_table, read_space)
        written = read_plan(folder)  # what each running runner read, before the files change
        _require_fleet(reclaim.dropped, written, read, spaces)
        _require_agreement(folder, written, read, spaces)
        speeds = (
            speeds_of(read, spaces, written)
            if speeds_of
            else Speeds(default=throughput.instance_uploads_per_minute)
        )
        quiet = quiet_customers(
            read, spaces, dropped=reclaim.dropped, cutoff=timestamp(now - reclaim.stall_after)
        )
        records, corrected = with_progress(read, spaces)
        await before_writes(records)
        rounds = _Rounds(
            db, (table, progress_table), instances, speeds, reclaim.dropped, quiet, spaces
        )
        result, moved, raced = await rounds.settle(
            records, at=created_at, cutoff=timestamp(now - reclaim.stall_after)
        )
    previous = {i.instance: i.customers for i in written.instances} if written else {}
    files: list[Path] = []
    if result.moves or moved:
        parameters = PlanParameters(CountSettings(connection.tables), throughput, False)
        files = write_plan(folder, result.plan, created_at=created_at, parameters=parameters)
    return ReplanOutcome(result, table, moved, tuple(raced), tuple(files), corrected, previous, now)


def _require_intact(folder: PlanFolder) -> None:
    """Refuse a folder whose plan no longer matches its manifest: its lists are not what the
    fleet was given, so neither what stays nor what moves could be told."""
    if not has_plan(folder):
        return
    problems = verify_plan(folder)
    if problems:
        raise PlanMismatch(
            f"the plan in {folder.path}/ does not verify ({len(problems)} problem(s), e.g. "
            f"{problems[0]}): see distro verify --output-dir {folder.path} --env {folder.env}; "
            "replan reads the plan the fleet was given"
        )


def _require_fleet(
    dropped: Sequence[int],
    written: WrittenPlan | None,
    records: Sequence[TrackingRecord],
    spaces: Sequence[SpaceRecord],
) -> None:
    """Refuse to drop an instance that neither the plan nor the records hold (a typo)."""
    fleet = {str(i.instance) for i in written.instances} if written else set()
    fleet.update(part for r in records for part in r.instance_id.split(",") if part)
    fleet.update(s.instance_id for s in spaces)
    unknown = [n for n in dropped if str(n) not in fleet]
    if unknown:
        held = sorted((n for n in fleet if n.isdigit()), key=int)
        raise SettingsError(
            f"drop_instance {unknown[0]} is not an instance of the fleet: the plan and the "
            f"records hold instances {', '.join(held) or 'none'}",
            setting="drop_instance",
        )


def _require_agreement(
    folder: PlanFolder,
    written: WrittenPlan | None,
    records: Sequence[TrackingRecord],
    spaces: Sequence[SpaceRecord],
) -> None:
    """Refuse to write over a plan that lists a started customer on another instance than
    its records: that folder is not the one the fleet runs, and its runners would be told
    to leave alone lists they never had."""
    moved = reconcile(written, records, spaces).started_elsewhere
    if moved:
        customer, listed, recorded = moved[0]
        raise ReplanRefused(
            f"the plan in {folder.path}/ disagrees with the records about {len(moved):,} "
            f"started customers, e.g. {customer}: instance {recorded} in the records, "
            f"{listed} in the files; replan into the folder the fleet was given "
            "(--output-dir), or see distro status --output-dir on this one"
        )


def _require_work(records: Sequence[TrackingRecord], table: str) -> None:
    if not any(r.status in (IN_PROGRESS, *REPLANNABLE) for r in records):
        raise NothingToPlan(
            f"{table} holds no customer to migrate ({len(records)} records, none pending, "
            "in progress or failed)",
            fix=Fix.TRACKING_TABLE,
        )


@dataclass
class _Rounds:
    """Plan and move until a round's moves all land (see the module)."""

    db: Dynamo
    tables: tuple[str, str]  # tracking, progress
    instances: int
    speeds: Speeds
    dropped: tuple[int, ...]
    quiet: frozenset[str]
    spaces: Sequence[SpaceRecord]

    async def settle(
        self, records: Sequence[TrackingRecord], *, at: str, cutoff: str
    ) -> tuple[Replan, int, list[TrackingRecord]]:
        """The last plan, the records moved, and those that changed under the moves."""
        raced: list[TrackingRecord] = []
        moved = 0
        current = list(records)
        quiet = set(self.quiet)
        for _ in range(MAX_ROUNDS):
            result = replan(
                current,
                self.instances,
                speeds=self.speeds,
                dropped=self.dropped,
                reclaimable=quiet,
            )
            changed = await self._move(result.moves, current, at=at, cutoff=cutoff)
            moved += len(result.moves) - len(changed)
            quiet -= {r.customer for r in changed}
            # Read back as written: the progress of a customer started meanwhile is its spaces'.
            current, _ = with_progress(settle(current, result.moves, changed), self.spaces)
            raced += changed
            if not changed:
                return result, moved, raced
        raise ReplanRefused(
            f"the records in {self.tables[0]} kept changing while distro replan moved them "
            f"({len(raced)} customers started meanwhile): run distro replan again"
        )

    async def _move(
        self, moves: Sequence[Move], records: Sequence[TrackingRecord], *, at: str, cutoff: str
    ) -> list[TrackingRecord]:
        """Apply *moves*; the records that changed under them (or whose runner is alive)."""
        taken = [m for m in moves if m.status == IN_PROGRESS]
        changed = await apply_moves(
            self.db, self.tables[0], [m for m in moves if m.status != IN_PROGRESS], at=at
        )
        if taken:
            by_customer = {r.customer: r for r in records}
            under_way: dict[str, list[str]] = defaultdict(list)
            for space in self.spaces:
                if space.status == IN_PROGRESS:
                    under_way[space.customer].append(space.space)
            claims = [(m, by_customer[m.customer], under_way[m.customer]) for m in taken]
            changed += await reclaim(self.db, self.tables, claims, cutoff=cutoff, at=at)
        return sorted(changed, key=lambda r: r.customer)
