"""Upload counters: one ``Select=COUNT`` Query per space, page by page."""

from __future__ import annotations

import asyncio

from distro.census import Census
from distro.checkpoint import Checkpoint
from distro.dynamo.reader import TableReader
from distro.progress import Progress

Job = tuple[int, str]  # a space's number in the census, and its DID


async def count_space(reader: TableReader, space: str, progress: Progress) -> int:
    """Return the number of uploads of *space*, following ``LastEvaluatedKey``.

    Each page is retried on its own, and its count is added only once it has
    arrived, so a retry never counts a page twice.
    """
    total, key = 0, None
    while True:
        page = await reader.count_page(space, key)
        total += page.count
        progress.read_units += page.read_units
        progress.queries += 1
        key = page.next_key
        if key is None:
            return total


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
        uploads = await count_space(reader, space, progress)
        census.set_count(number, uploads)
        checkpoint.record(space, uploads)
        progress.spaces_counted += 1
        progress.uploads_counted += uploads
