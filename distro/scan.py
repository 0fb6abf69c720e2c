"""Segment scanners: every customer and their spaces from the Consumer table."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from distro.census import Census
from distro.checkpoint import Resumed
from distro.dynamo.reader import ScanPage, TableReader
from distro.progress import Progress

Job = tuple[int, str]  # a space's number in the census, and its DID


async def scan_segment(reader: TableReader, segment: int, total: int) -> AsyncIterator[ScanPage]:
    """Yield the pages of one parallel-scan *segment* of *total*.

    Only a missing ``LastEvaluatedKey`` ends a segment: a page may hold no items
    and still carry a key.
    """
    key = None
    while True:
        page = await reader.scan_page(segment, total, key)
        yield page
        key = page.next_key
        if key is None:
            return


async def scan_into(
    reader: TableReader,
    segment: int,
    total: int,
    *,
    census: Census,
    resumed: Resumed,
    queue: asyncio.Queue[Job | None],
    progress: Progress,
) -> None:
    """Scan one *segment* of *total* into *census*: each space claimed once, a new one
    counted from *resumed* (an earlier run's checkpoint) or put on *queue* to be counted.

    The queue is bounded: a scanner waits while the counting workers catch up.
    """
    async for page in scan_segment(reader, segment, total):
        progress.rows_scanned += len(page.rows)
        progress.read_units += page.read_units
        for space, customer in page.rows:
            number = census.claim(space, customer)
            if number < 0:
                continue
            progress.spaces_found += 1
            assert space is not None  # a new space has a DID
            counted = resumed.get_all(space)
            if counted is None:
                await queue.put((number, space))
            else:
                census.set_count(number, *counted)
                progress.spaces_resumed += 1
    progress.segments_done += 1
