"""The read-capacity cap, on a simulated clock: no test waits for real time."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from botocore.exceptions import ClientError
from faultproxy import FaultProxy, Faults

from distro.dynamo.handle import Dynamo, dynamodb_client
from distro.dynamo.lean import LeanReader, lean_reader
from distro.dynamo.pacing import MIN_QUERY_UNITS, TokenBucket
from distro.dynamo.reader import CountPage, SdkReader
from distro.errors import CountingFailed
from distro.local.dataset import Dataset
from distro.local.dynamodb import LocalDynamo
from distro.settings import RetryPolicy, Tables

TABLES = Tables("c", "u", "us-east-2")
INSTANT = RetryPolicy(base=0.0)  # retries without waiting


class Clock:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


class SpyBucket(TokenBucket):
    """A bucket that notes every reservation and settlement, in order."""

    def __init__(self, rate: float, clock: Clock) -> None:
        super().__init__(rate, clock=clock, sleep=clock.sleep)
        self.log: list[tuple[str, float] | tuple[str, float, float]] = []

    async def reserve(self, units: float) -> None:
        await super().reserve(units)
        self.log.append(("reserve", units))

    def settle(self, reserved: float, used: float) -> None:
        super().settle(reserved, used)
        self.log.append(("settle", reserved, used))


def reply(units: float) -> dict[str, Any]:
    return {"Count": 0, "Items": [], "ConsumedCapacity": {"CapacityUnits": units}}


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "Query",
    )


class FakeClient:
    """Answers Scan and Query at once; each reply costs *units*; *failures* come first."""

    def __init__(self, units: float, failures: list[BaseException] | None = None) -> None:
        self.units = units
        self.failures = list(failures or ())
        self.calls = 0

    async def query(self, **_: Any) -> dict[str, Any]:
        return self._answer()

    async def scan(self, **_: Any) -> dict[str, Any]:
        return self._answer()

    def _answer(self) -> dict[str, Any]:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return reply(self.units)


def paced_reader(
    client: FakeClient, bucket: TokenBucket, policy: RetryPolicy = INSTANT
) -> SdkReader:
    return SdkReader(Dynamo(client, TABLES, policy), bucket=bucket)


@pytest.mark.parametrize(("rate", "units", "workers"), [(10, 0.5, 20), (100, 4.0, 5), (3, 8.0, 2)])
async def test_consumption_stays_within_the_cap(rate: float, units: float, workers: int) -> None:
    clock = Clock()
    inner = FakeClient(units)
    reader = paced_reader(inner, TokenBucket(rate, clock=clock, sleep=clock.sleep))

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
    inner = FakeClient(50.0)
    reader = paced_reader(inner, TokenBucket(25, clock=clock, sleep=clock.sleep))
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


async def test_every_retried_attempt_passes_the_bucket() -> None:
    """Two lost replies (charged their reservation, the read may have happened), then a reply."""
    clock = Clock()
    bucket = SpyBucket(10, clock)
    failures: list[BaseException] = [TimeoutError(), client_error("InternalServerError", 500)]
    client = FakeClient(4.0, failures)
    page = await paced_reader(client, bucket).count_page("did:key:z", None)
    assert page == CountPage(0, None, 4.0)
    assert client.calls == 3
    assert bucket.log == [
        ("reserve", 0.5),
        ("settle", 0.5, 0.5),
        ("reserve", 0.5),
        ("settle", 0.5, 0.5),
        ("reserve", 0.5),
        ("settle", 0.5, 4.0),
    ]


async def test_a_throttled_attempt_is_refunded() -> None:
    """DynamoDB refuses a throttled request before reading: it consumed nothing."""
    clock = Clock()
    bucket = SpyBucket(10, clock)
    client = FakeClient(1.0, [client_error("ProvisionedThroughputExceededException", 400)])
    await paced_reader(client, bucket).count_page("did:key:z", None)
    assert bucket.log == [
        ("reserve", 0.5),
        ("settle", 0.5, 0.0),
        ("reserve", 0.5),
        ("settle", 0.5, 1.0),
    ]


async def test_a_call_that_fails_for_good_still_settles_every_attempt() -> None:
    clock = Clock()
    bucket = SpyBucket(10, clock)
    client = FakeClient(1.0, [TimeoutError() for _ in range(3)])
    reader = paced_reader(client, bucket, RetryPolicy(max_tries=3, base=0.0))
    with pytest.raises(CountingFailed):
        await reader.scan_page(0, 1, None)
    assert client.calls == 3
    assert bucket.log == [("reserve", 0.5), ("settle", 0.5, 0.5)] * 3


async def test_the_next_attempt_reserves_what_the_last_reply_cost() -> None:
    clock = Clock()
    bucket = SpyBucket(100, clock)
    client = FakeClient(8.0, [])
    reader = paced_reader(client, bucket)
    await reader.count_page("did:key:a", None)
    client.failures.append(TimeoutError())
    await reader.count_page("did:key:b", None)
    assert bucket.log[2:] == [
        ("reserve", 8.0),
        ("settle", 8.0, 8.0),
        ("reserve", 8.0),
        ("settle", 8.0, 8.0),
    ]


@pytest.mark.db
async def test_the_lean_path_paces_every_attempt(
    dynamo: LocalDynamo, loaded: tuple[Dataset, Tables]
) -> None:
    """Through the fault proxy: three 5xx attempts, each charged; then a real reply, settled."""
    dataset, tables = loaded
    space = next(s for s, n in sorted(dataset.uploads.items()) if 0 < n < 100)  # one page
    bucket = SpyBucket(10, Clock())
    policy = RetryPolicy(max_tries=3, base=0.0)
    with FaultProxy(dynamo.endpoint_url, Faults(server_error=1.0)) as proxy:
        there = Tables(tables.consumer, tables.upload, tables.region, proxy.url)
        async with dynamodb_client(there, pool_size=2, policy=policy) as client:
            reader = await lean_reader(Dynamo(client, there, policy), bucket=bucket)
            assert isinstance(reader, LeanReader)
            with pytest.raises(CountingFailed):
                await reader.count_page(space, None)
            assert bucket.log == [("reserve", 0.5), ("settle", 0.5, 0.5)] * 3
            proxy.faults = Faults()
            page = await reader.count_page(space, None)
    assert (page.count, page.next_key) == (dataset.uploads[space], None)
    assert bucket.log[6:] == [("reserve", 0.5), ("settle", 0.5, page.read_units)]
    assert page.read_units > 0
