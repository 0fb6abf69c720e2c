"""Segment scanners: every customer and their spaces from the Consumer table."""

from __future__ import annotations

from collections.abc import AsyncIterator

from distro.dynamo.reader import ScanPage, TableReader


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
