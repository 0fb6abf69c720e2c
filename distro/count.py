"""The counting stage: settings and a count source in, a ``Tally`` out.

Segment scanners feed a bounded queue of spaces; a fixed pool of counting
workers drains it while the scan goes on, one ``Select=COUNT`` Query per
space, page by page; a flusher saves the counts every second. One TaskGroup
owns every task of a run: when one fails, the rest are cancelled, the
checkpoint keeps what was counted, and the failure surfaces as one
``DistroError``. The source is any ``TableReader``: the SDK's, the lean
path, a test's or a benchmark's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace

from distro.census import Census, release_free_memory
from distro.checkpoint import Checkpoint
from distro.dynamo.reader import TableReader
from distro.errors import DistroError
from distro.progress import Progress
from distro.scan import Job, scan_into
from distro.settings import SHARD_BUCKETS, CountSettings
from distro.tally import Tally, above_fair_share

FLUSH_INTERVAL = 1.0  # seconds of counting a killed run can lose

Counted = tuple[int, int, int]  # a space's uploads, their shards, and uploads with shardsRef


async def count_space(
    reader: TableReader, space: str, progress: Progress, histogram: list[int] | None = None
) -> Counted:
    """Return the uploads of *space*, their shards and ``shardsRef`` uploads, following ``LastEvaluatedKey``.

    Each page is retried on its own, and its count is added only once it has
    arrived, so a retry never counts a page twice. Shards are 0 unless the
    reader counts them; then each page's uploads by shards go into *histogram*.
    """
    total = shards = refs = 0
    key = None
    while True:
        page = await reader.count_page(space, key)
        total += page.count
        shards += page.shards
        refs += page.shard_refs
        if histogram is not None:
            for bucket, uploads in enumerate(page.histogram):
                histogram[bucket] += uploads
        progress.read_units += page.read_units
        progress.queries += 1
        key = page.next_key
        if key is None:
            return total, shards, refs


async def count_worker(
    reader: TableReader,
    queue: asyncio.Queue[Job | None],
    census: Census,
    checkpoint: Checkpoint,
    progress: Progress,
) -> None:
    """Count spaces from *queue* until it yields None, the end of the input.

    Each count goes to the *census* (for the totals) and to the *checkpoint*
    (for a resumed run).
    """
    while (job := await queue.get()) is not None:
        number, space = job
        # The space's uploads by shards reach the checkpoint with its counts, never a
        # page of a space cut short: a resumed run counts that space again, whole.
        histogram = [0] * len(SHARD_BUCKETS) if checkpoint.shards else None
        uploads, shards, refs = await count_space(reader, space, progress, histogram)
        census.set_count(number, uploads, shards, refs)
        checkpoint.record(space, uploads, shards, refs, histogram)
        progress.spaces_counted += 1
        progress.uploads_counted += uploads


async def count(
    settings: CountSettings,
    source: TableReader,
    *,
    checkpoint: Checkpoint,
    progress: Progress,
    split_for: int | None = None,
    flush_interval: float = FLUSH_INTERVAL,
) -> Tally:
    """Scan *source*, count every space not in *checkpoint*, total the uploads per customer.

    *settings* say which customers and how many calls at once; *progress* is
    updated as pages arrive. With *split_for* (N), the tally also holds the
    spaces, and their uploads, of each customer above the fair share of N
    instances: those a plan for up to N instances may split.
    """
    census = Census(
        settings.customer_filter,
        keep_space_dids=split_for is not None,
        count_shards=settings.count_shards,
    )
    queue: asyncio.Queue[Job | None] = asyncio.Queue(maxsize=settings.concurrency * 4)
    progress.segments = settings.parallel_segments

    async def produce() -> None:
        async with asyncio.TaskGroup() as scanners:
            for segment in range(settings.parallel_segments):
                scanners.create_task(
                    scan_into(
                        source,
                        segment,
                        settings.parallel_segments,
                        census=census,
                        resumed=checkpoint.resumed,
                        queue=queue,
                        progress=progress,
                    )
                )
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
                group.create_task(count_worker(source, queue, census, checkpoint, progress))
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
    return _tally(
        census,
        settings.min_uploads,
        progress,
        split_for=split_for,
        count_shards=settings.count_shards,
        histogram=checkpoint.shard_histogram,
    )


async def _flush_periodically(
    checkpoint: Checkpoint, finished: asyncio.Event, every: float
) -> None:
    while not finished.is_set():
        try:
            async with asyncio.timeout(every):
                await finished.wait()
        except TimeoutError:
            checkpoint.flush()


def _above_fair_share(tally: Tally, instances: int, *, shards: bool) -> set[str]:
    """The customers above the fair share of *instances*, in uploads or (if counted) in shards.

    Counting does not know the unit a plan will balance: it keeps the spaces of both.
    """
    uploads = tally.total_uploads
    large = {c.customer for c in tally.customers if above_fair_share(c.uploads, uploads, instances)}
    if shards:
        total = sum(c.estimated_shards for c in tally.customers)
        large |= {
            c.customer
            for c in tally.customers
            if above_fair_share(c.estimated_shards, total, instances)
        }
    return large


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
    census: Census,
    min_uploads: int,
    progress: Progress,
    *,
    split_for: int | None = None,
    count_shards: bool = False,
    histogram: Sequence[int] = (),
) -> Tally:
    tally = census.summarize(min_uploads)
    split_spaces = None
    if split_for is not None:
        large = _above_fair_share(tally, split_for, shards=count_shards)
        split_spaces = census.space_loads(large)
    return replace(
        tally,
        rows_scanned=progress.rows_scanned,
        spaces_counted=progress.spaces_counted,
        spaces_resumed=progress.spaces_resumed,
        read_units=progress.read_units,
        split_spaces=split_spaces,
        counted_shards=count_shards,
        shard_histogram=tuple(histogram),
    )
