"""The read-capacity cap, on a simulated clock: no test waits for real time."""

from __future__ import annotations

import asyncio

import pytest

from distro.pacing import MIN_QUERY_UNITS, PacedReader, TokenBucket
from distro.reader import CountPage, Key, ScanPage


class Clock:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


class CostlyReader:
    """Answers instantly; each count page costs *units*, as a reply would report."""

    def __init__(self, units: float) -> None:
        self.units = units
        self.calls = 0

    async def scan_page(self, segment: int, total_segments: int, start_key: Key | None) -> ScanPage:
        self.calls += 1
        return ScanPage([], None, self.units)

    async def count_page(self, space: str, start_key: Key | None) -> CountPage:
        self.calls += 1
        return CountPage(0, None, self.units)


@pytest.mark.parametrize(("rate", "units", "workers"), [(10, 0.5, 20), (100, 4.0, 5), (3, 8.0, 2)])
async def test_consumption_stays_within_the_cap(rate: float, units: float, workers: int) -> None:
    clock = Clock()
    inner = CostlyReader(units)
    reader = PacedReader(inner, TokenBucket(rate, clock=clock, sleep=clock.sleep))

    async def worker() -> None:
        for _ in range(40):
            await reader.count_page("did:key:z", None)

    async with asyncio.TaskGroup() as group:
        for _ in range(workers):
            group.create_task(worker())
    consumed = inner.calls * units
    assert inner.calls == 40 * workers
    # One second's burst, plus what calls reserved at the old cost before settling.
    allowance = rate * clock.now + rate + workers * max(units, MIN_QUERY_UNITS)
    assert consumed <= allowance
    # ...and the cap is a pace, not a stall: the run takes about consumed / rate.
    assert clock.now >= (consumed - rate - workers * units) / rate
    assert clock.now <= consumed / rate + 1


async def test_scan_pages_are_paced_too() -> None:
    clock = Clock()
    inner = CostlyReader(50.0)
    reader = PacedReader(inner, TokenBucket(25, clock=clock, sleep=clock.sleep))
    for _ in range(10):
        await reader.scan_page(0, 1, None)
    assert clock.now == pytest.approx(500 / 25 - 1 - 50 / 25, abs=1.0)


async def test_an_idle_bucket_holds_one_second_of_credit() -> None:
    clock = Clock()
    bucket = TokenBucket(10, clock=clock, sleep=clock.sleep)
    clock.now = 3600.0
    for _ in range(20):
        await bucket.reserve(0.5)
    assert clock.now == 3600.0  # 10 units of credit, spent without waiting
    await bucket.reserve(0.5)
    assert clock.now > 3600.0
