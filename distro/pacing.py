"""Gentle reads: cap the read capacity a run consumes per second.

The cost of a DynamoDB read is known only from its reply
(``ReturnConsumedCapacity``), so the bucket works on credit: a call waits
until the bucket is positive, reserves what a call of its kind cost last
time, and settles the difference when the reply says what it really cost.
Over any stretch longer than a second the run consumes at most the cap; the
reservation keeps twenty workers from all starting on the same token.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from distro.reader import CountPage, Key, ScanPage, TableReader

MIN_QUERY_UNITS = 0.5  # an eventually consistent Query costs at least this, even when empty


class TokenBucket:
    """Read units that refill at *rate* per second, holding at most one second's worth."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._rate = rate
        self._tokens = rate
        self._clock = clock
        self._sleep = sleep
        self._last = clock()

    async def reserve(self, units: float) -> None:
        """Wait until the bucket is positive, then take *units* from it."""
        self._refill()
        while self._tokens <= 0:
            await self._sleep(-self._tokens / self._rate + 1e-3)
            self._refill()
        self._tokens -= units

    def settle(self, reserved: float, used: float) -> None:
        """Correct a reservation of *reserved* units by what the call really *used*."""
        self._tokens += reserved - used

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._rate, self._tokens + (now - self._last) * self._rate)
        self._last = now


class PacedReader:
    """A ``TableReader`` that keeps *inner*'s reads within *bucket*."""

    def __init__(self, inner: TableReader, bucket: TokenBucket) -> None:
        self._inner = inner
        self._bucket = bucket
        self._scan_cost = MIN_QUERY_UNITS
        self._count_cost = MIN_QUERY_UNITS

    async def scan_page(self, segment: int, total_segments: int, start_key: Key | None) -> ScanPage:
        """Scan one page once the bucket allows it."""
        reserved = self._scan_cost
        await self._bucket.reserve(reserved)
        page = await self._inner.scan_page(segment, total_segments, start_key)
        self._bucket.settle(reserved, page.read_units)
        self._scan_cost = max(page.read_units, MIN_QUERY_UNITS)
        return page

    async def count_page(self, space: str, start_key: Key | None) -> CountPage:
        """Count one page once the bucket allows it."""
        reserved = self._count_cost
        await self._bucket.reserve(reserved)
        page = await self._inner.count_page(space, start_key)
        self._bucket.settle(reserved, page.read_units)
        self._count_cost = max(page.read_units, MIN_QUERY_UNITS)
        return page
