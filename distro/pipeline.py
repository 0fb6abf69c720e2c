"""The whole run: scan, count, checkpoint, balance, emit.

Segment scanners feed a bounded queue of spaces; a fixed pool of counting
workers drains it while the scan goes on; a flusher saves the counts every
second. One TaskGroup owns every task of a run: when one fails, the rest are
cancelled, the checkpoint keeps what was counted, and the failure surfaces as
one ``DistroError``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from distro.assignments import WRITE_CONCURRENCY, check_assignments_table, write_assignments
from distro.balance import CustomerLoad, Plan, balance
from distro.census import Census, release_free_memory
from distro.checkpoint import Checkpoint
from distro.count import Job, count_worker
from distro.dynamo.fastquery import ReaderChoice, ReadPath, read_path
from distro.dynamo.handle import Dynamo
from distro.dynamo.pacing import TokenBucket
from distro.dynamo.reader import TableReader
from distro.dynamo.retry import DEFAULT_POLICY, RetryPolicy
from distro.emit import PlanParameters, timestamp, write_plan
from distro.errors import DistroError, NothingToPlan
from distro.progress import Progress
from distro.scan import scan_segment
from distro.settings import CountSettings, Credentials, Throughput

FLUSH_INTERVAL = 1.0  # seconds of counting a killed run can lose


@dataclass(frozen=True, slots=True)
class Tally:
    """Every planned customer's uploads, and what the filters and data left out."""

    customers: tuple[CustomerLoad, ...]
    below_min_uploads: frozenset[str]
    skipped: frozenset[str]
    filtered: frozenset[str]
    orphan_rows: int
    shared_spaces: frozenset[str]  # claimed by two or more planned customers
    double_counted_uploads: int  # uploads of shared spaces, once per extra planned claimant
    planned_spaces: int  # distinct spaces of planned customers, empty ones included
    empty_spaces: int
    rows_scanned: int
    spaces_counted: int
    spaces_resumed: int
    read_units: float
    # With --split-large-customers: each customer above total / split_for, its spaces and
    # their uploads (see count_uploads); None when splitting was not asked for.
    space_counts: Mapping[str, Mapping[str, int]] | None = None
    read_path: ReadPath = "sdk"  # which path counted: the lean one, or the SDK's

    @property
    def total_uploads(self) -> int:
        """Uploads of every planned customer."""
        return sum(c.uploads for c in self.customers)

    @property
    def total_spaces(self) -> int:
        """Spaces holding uploads, per planned customer."""
        return sum(c.spaces for c in self.customers)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a run found, the plan it made, the files and assignment records it wrote."""

    tally: Tally
    plan: Plan | None
    files: tuple[Path, ...]
    assignments: int = 0  # records written to the assignments table


async def count_uploads(
    reader: TableReader,
    settings: CountSettings,
    checkpoint: Checkpoint,
    progress: Progress,
    *,
    flush_interval: float = FLUSH_INTERVAL,
    split_for: int | None = None,
) -> Tally:
    """Scan, count every space not in *checkpoint*, and total the uploads per customer.

    With *split_for* (N), the tally also holds the spaces, and their uploads, of
    each customer above total / N: those a plan for up to N instances may split.
    """
    census = Census(settings.customer_filter, keep_space_dids=split_for is not None)
    queue: asyncio.Queue[Job | None] = asyncio.Queue(maxsize=settings.concurrency * 4)
    progress.segments = settings.parallel_segments

    async def scan(segment: int) -> None:
        async for page in scan_segment(reader, segment, settings.parallel_segments):
            progress.rows_scanned += len(page.rows)
            progress.read_units += page.read_units
            for space, customer in page.rows:
                number = census.claim(space, customer)
                if number < 0:
                    continue
                progress.spaces_found += 1
                assert space is not None  # a new space has a DID
                uploads = checkpoint.resumed.get(space)
                if uploads is None:
                    await queue.put((number, space))
                else:
                    census.set_count(number, uploads)
                    progress.spaces_resumed += 1
        progress.segments_done += 1

    async def produce() -> None:
        async with asyncio.TaskGroup() as scanners:
            for segment in range(settings.parallel_segments):
                scanners.create_task(scan(segment))
        # Every space has been looked up: the resumed counts are in the census now.
        checkpoint.forget_resumed()
        release_free_memory()
        # The end of input is a sentinel per worker, so workers finish their
        # current space instead of being cancelled in the middle of it.
        for _ in range(settings.concurrency):
            await queue.put(None)

    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(produce())
            workers = [
                group.create_task(count_worker(reader, queue, census, checkpoint, progress))
                for _ in range(settings.concurrency)
            ]
            finished = asyncio.Event()
            group.create_task(_flush_periodically(checkpoint, finished, flush_interval))
            await asyncio.wait(workers)
            finished.set()
    except BaseExceptionGroup as group_error:
        raise _first_domain_error(group_error) from None
    finally:
        checkpoint.flush()
    return _tally(census, settings.min_uploads, progress, split_for=split_for)


async def _flush_periodically(
    checkpoint: Checkpoint, finished: asyncio.Event, every: float
) -> None:
    while not finished.is_set():
        try:
            async with asyncio.timeout(every):
                await finished.wait()
        except TimeoutError:
            checkpoint.flush()


def _first_domain_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error to report from a failed TaskGroup: a DistroError if there is one."""
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        error = pending.pop()
        if isinstance(error, BaseExceptionGroup):
            pending.extend(reversed(error.exceptions))
        else:
            leaves.append(error)
    for error in leaves:
        if isinstance(error, DistroError):
            return error
    return group


def _tally(
    census: Census, min_uploads: int, progress: Progress, *, split_for: int | None = None
) -> Tally:
    summary = census.summarize(min_uploads)
    space_counts = None
    if split_for is not None:
        total = sum(c.uploads for c in summary.loads)
        large = {c.customer for c in summary.loads if c.uploads * split_for > total}
        space_counts = census.space_counts(large)
    return Tally(
        customers=tuple(summary.loads),
        below_min_uploads=frozenset(summary.below_min_uploads),
        skipped=frozenset(census.skipped),
        filtered=frozenset(census.filtered),
        orphan_rows=census.orphan_rows,
        shared_spaces=summary.shared_spaces,
        double_counted_uploads=summary.double_counted_uploads,
        planned_spaces=summary.planned_spaces,
        empty_spaces=summary.empty_spaces,
        rows_scanned=progress.rows_scanned,
        spaces_counted=progress.spaces_counted,
        spaces_resumed=progress.spaces_resumed,
        read_units=progress.read_units,
        space_counts=space_counts,
    )


async def run(
    *,
    settings: CountSettings,
    instances: int | None,
    output_dir: Path,
    write: bool,
    restart: bool = False,
    progress: Progress | None = None,
    policy: RetryPolicy = DEFAULT_POLICY,
    assignments_table: str | None = None,
    throughput: Throughput | None = None,
    split_for: int | None = None,
    reader: ReaderChoice = "auto",
    on_notice: Callable[[str], None] = lambda _: None,
    credentials: Credentials | None = None,
) -> Outcome:
    """Count, plan for *instances* (if given), and write the files when *write*.

    The checkpoint in *output_dir* is resumed (or discarded on *restart*) and
    removed once the run has finished. With *assignments_table* (and *write*),
    the table is checked before counting and gets one record per customer once
    the files are committed; if that write fails, the checkpoint stays, so a
    re-run counts nothing again. With *split_for* (``--split-large-customers``;
    *instances*, or the most instances the report sizes), customers above the
    fair share are planned space by space. *throughput* goes into the manifest.
    *reader* picks the count path (``--reader``); *on_notice* gets the one line
    saying the run left the lean path for the SDK's, if it does.
    """
    progress = progress or Progress()
    checkpoint = Checkpoint.open(output_dir, settings, restart=restart)
    pool = settings.concurrency + settings.parallel_segments
    bucket = None if settings.max_read_units is None else TokenBucket(settings.max_read_units)
    async with Dynamo.open(
        settings.tables, pool_size=pool, policy=policy, credentials=credentials
    ) as db:
        await db.check_tables()
        if write and assignments_table is not None:
            await check_assignments_table(db, assignments_table)
        # The hot Query loop goes through the lean path when it can sign exactly as the SDK.
        counter = await db.reader(choice=reader, on_fallback=on_notice, bucket=bucket)
        tally = await count_uploads(counter, settings, checkpoint, progress, split_for=split_for)
        tally = replace(tally, read_path=read_path(counter))
    plan = balance(tally.customers, instances, split=tally.space_counts) if instances else None
    files: Sequence[Path] = ()
    records = 0
    if write:
        if plan is None or not tally.customers:
            checkpoint.remove()
            raise NothingToPlan(
                "no customer is left after the filters: check --filter, --skip and --min-uploads"
            )
        created_at = timestamp()
        parameters = PlanParameters(settings, throughput or Throughput(), split_for is not None)
        files = write_plan(output_dir, plan, created_at=created_at, parameters=parameters)
        if assignments_table is not None:
            records = await _assign(
                settings, plan, assignments_table, created_at, policy, credentials=credentials
            )
    checkpoint.remove()
    return Outcome(tally, plan, tuple(files), records)


async def _assign(
    settings: CountSettings,
    plan: Plan,
    table: str,
    created_at: str,
    policy: RetryPolicy,
    *,
    credentials: Credentials | None,
) -> int:
    async with Dynamo.open(
        settings.tables, pool_size=WRITE_CONCURRENCY, policy=policy, credentials=credentials
    ) as db:
        return await write_assignments(
            db, table, plan, include=settings.customer_filter.include, at=created_at
        )
