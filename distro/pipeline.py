"""The whole run: scan, count, checkpoint, balance, emit.

Segment scanners feed a bounded queue of spaces; a fixed pool of counting
workers drains it while the scan goes on; a flusher saves the counts every
second. One TaskGroup owns every task of a run: when one fails, the rest are
cancelled, the checkpoint keeps what was counted, and the failure surfaces as
one ``DistroError``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from distro.aws import DEFAULT_POLICY, RetryPolicy, dynamodb_client
from distro.balance import CustomerLoad, Plan, balance
from distro.checkpoint import Checkpoint
from distro.count import count_worker
from distro.emit import timestamp, write_plan
from distro.errors import DistroError, NothingToPlan
from distro.pacing import PacedReader, TokenBucket
from distro.progress import Progress
from distro.reader import SdkReader, TableReader
from distro.scan import Census, scan_segment
from distro.settings import CountSettings

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
    empty_spaces: int
    rows_scanned: int
    spaces_counted: int
    spaces_resumed: int
    read_units: float

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
    """What a run found, the plan it made, and the files it wrote (none for analyze)."""

    tally: Tally
    plan: Plan | None
    files: tuple[Path, ...]


async def count_uploads(
    reader: TableReader,
    settings: CountSettings,
    checkpoint: Checkpoint,
    progress: Progress,
    *,
    flush_interval: float = FLUSH_INTERVAL,
) -> Tally:
    """Scan, count every space not in *checkpoint*, and total the uploads per customer."""
    census = Census(settings.customer_filter)
    counts = checkpoint.counts
    queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=settings.concurrency * 4)
    progress.segments = settings.parallel_segments

    async def scan(segment: int) -> None:
        async for page in scan_segment(reader, segment, settings.parallel_segments):
            progress.rows_scanned += len(page.rows)
            progress.read_units += page.read_units
            for space, customer in page.rows:
                if census.add(space, customer):
                    progress.spaces_found += 1
                    if space in counts:
                        progress.spaces_resumed += 1
                    else:
                        await queue.put(space)
        progress.segments_done += 1

    async def produce() -> None:
        async with asyncio.TaskGroup() as scanners:
            for segment in range(settings.parallel_segments):
                scanners.create_task(scan(segment))
        # The end of input is a sentinel per worker, so workers finish their
        # current space instead of being cancelled in the middle of it.
        for _ in range(settings.concurrency):
            await queue.put(None)

    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(produce())
            workers = [
                group.create_task(count_worker(reader, queue, checkpoint, progress))
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
    return _tally(census, counts, settings.min_uploads, progress)


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


def _tally(census: Census, counts: dict[str, int], min_uploads: int, progress: Progress) -> Tally:
    loads: list[CustomerLoad] = []
    below: set[str] = set()
    for customer, spaces in census.spaces_of.items():
        space_counts = [counts[s] for s in spaces]
        load = CustomerLoad(customer, sum(space_counts), sum(1 for n in space_counts if n))
        if load.uploads >= min_uploads:
            loads.append(load)
        else:
            below.add(customer)
    planned_spaces = {s for c in loads for s in census.spaces_of[c.customer]}
    planned = {c.customer for c in loads}
    return Tally(
        customers=tuple(loads),
        below_min_uploads=frozenset(below),
        skipped=frozenset(census.skipped),
        filtered=frozenset(census.filtered),
        orphan_rows=census.orphan_rows,
        shared_spaces=frozenset(s for s, who in census.claimants.items() if len(who & planned) > 1),
        empty_spaces=sum(1 for s in planned_spaces if counts[s] == 0),
        rows_scanned=progress.rows_scanned,
        spaces_counted=progress.spaces_counted,
        spaces_resumed=progress.spaces_resumed,
        read_units=progress.read_units,
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
) -> Outcome:
    """Count, plan for *instances* (if given), and write the files when *write*.

    The checkpoint in *output_dir* is resumed (or discarded on *restart*) and
    removed once the run has finished.
    """
    progress = progress or Progress()
    checkpoint = Checkpoint.open(output_dir, settings, restart=restart)
    pool = settings.concurrency + settings.parallel_segments
    async with dynamodb_client(settings.tables, pool_size=pool, policy=policy) as client:
        sdk_reader = SdkReader(client, settings.tables, policy)
        await sdk_reader.check_tables()
        reader: TableReader = sdk_reader
        if settings.max_read_units is not None:
            reader = PacedReader(reader, TokenBucket(settings.max_read_units))
        tally = await count_uploads(reader, settings, checkpoint, progress)
    plan = balance(tally.customers, instances) if instances else None
    files: Sequence[Path] = ()
    if write:
        if plan is None or not tally.customers:
            checkpoint.remove()
            raise NothingToPlan(
                "no customer is left after the filters: check --filter, --skip and --min-uploads"
            )
        files = write_plan(output_dir, plan, created_at=timestamp())
    checkpoint.remove()
    return Outcome(tally, plan, tuple(files))
